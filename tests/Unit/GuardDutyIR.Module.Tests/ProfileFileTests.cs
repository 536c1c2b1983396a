using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// A malformed shared credentials file, as a user meets it in a new session: a stable ProfileInvalid naming the file
/// and the line, never the line itself (it is often a secret key), and the session keeps working once it is fixed
/// instead of AWSSDK.Core's process-wide configuration failing for good.
/// </summary>
public sealed class ProfileFileTests
{
    private const string Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYLEAKEDKEY";

    [Fact]
    public void A_malformed_default_credentials_file_is_ProfileInvalid_with_file_and_line_and_no_secret()
    {
        var home = Directory.CreateTempSubdirectory("gdir-home-").FullName;
        try
        {
            var credentials = Path.Combine(home, "credentials");
            File.WriteAllText(credentials, $"[ir]\naws_access_key_id = AKIDLEAK\naws_secret_access_key = x\n{Secret}\n");
            var config = Path.Combine(home, "config");
            File.WriteAllText(config, "");

            var outcome = FreshProcess.Run("""
                function Show($script) { try { & $script } catch { 'ERROR {0}|{1}|{2}|{3}' -f $_.FullyQualifiedErrorId, $_.CategoryInfo.Category, $_.TargetObject, $_.Exception.Message } }
                $keys = @{ AccessKey = 'AKIDEXAMPLE'; SecretKey = 'example' }
                Show { Get-GdCallerIdentity -Region us-east-1 -EndpointUrl http://127.0.0.1:9 -Credential $keys -ErrorAction Stop }
                Show { Get-GdFinding -Region us-east-1 -ErrorAction Stop }
                Show { Set-GdDefault -ProfileName ir -ErrorAction Stop }
                # Fixed: the same session works (the SDK's process-wide configuration was never poisoned).
                Set-Content -Path $env:AWS_SHARED_CREDENTIALS_FILE -Value "[ir]`naws_access_key_id = AKIDFIXED`naws_secret_access_key = fixed"
                Show { Set-GdDefault -ProfileName ir -ErrorAction Stop; 'FIXED ok' }
                Show { Get-GdCallerIdentity -Region us-east-1 -EndpointUrl http://127.0.0.1:9 -ErrorAction Stop }
                """, new Dictionary<string, string?>
            {
                ["AWS_SHARED_CREDENTIALS_FILE"] = credentials,
                ["AWS_CONFIG_FILE"] = config,
                ["HOME"] = home,
                ["AWS_ACCESS_KEY_ID"] = null,
                ["AWS_SECRET_ACCESS_KEY"] = null,
                ["AWS_PROFILE"] = null,
            });

            Assert.DoesNotContain(Secret, outcome.All, StringComparison.Ordinal);
            var errors = outcome.Output.Split('\n').Where(l => l.StartsWith("ERROR ", StringComparison.Ordinal)).ToList();
            Assert.True(errors.Count >= 3, outcome.All);
            foreach (var line in errors.Take(3))
            {
                Assert.Matches(@"^ERROR ProfileInvalid,GuardDutyIR\.Commands\.\w+Command\|InvalidData\|", line);
                Assert.Contains($"|{credentials}:4|", line, StringComparison.Ordinal);
                Assert.Contains("Line 4 of", line, StringComparison.Ordinal);
            }
            Assert.Contains("FIXED ok", outcome.Output, StringComparison.Ordinal);
            // After the fix the call goes out (and finds nothing listening): a transport error, not a broken SDK.
            Assert.Contains("ERROR ConnectionError,", errors.Last(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }
}
