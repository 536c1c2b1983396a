using System.Text;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// No secret reaches a case: a full scenario run under a case, with every stream on (verbose, debug, information,
/// warnings, errors), an assumed role among the steps, CloudTrail rows that name access keys; then the journal, the
/// stored artifacts, the report, the evidence bundle (folder and zip) and everything the run printed are searched for
/// each secret key, session token and the journal key.
/// </summary>
public sealed class CaseSecretTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gdir-secrets-").FullName;

    static CaseSecretTests() => Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_full_scenario_under_a_case_leaves_no_secret_in_the_journal_the_files_or_any_stream()
    {
        using var s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, Seed = 21, SnapshotCompletionSeconds = 0 });
        var lab = s.Lab;
        var root = Path.Combine(_folder, "cases");
        var keys = Path.Combine(_folder, "keys");
        var topic = lab.GetService<SnsService>()!.ScenarioTopicArn!;
        var role = $"arn:aws:iam::{lab.MemberAccountId}:role/{LabCredentialStore.ResponderRoleName}";

        var printed = s.Run("""
            param($root, $keys, $topic, $role, $externalId, $evidence, $secret, $accessKey, $bundle)
            $eds = (Get-LakeEventDataStore | Select-Object -First 1).EventDataStore
            $VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; $InformationPreference = 'Continue'
            & {
                Start-GdCase -CaseId IR-SECRET -CaseRoot $root -KeyRoot $keys
                # Explicit keys on the command line: the journal records that a credential was given, never its value.
                $findings = Get-GdFinding -Credential @{ AccessKey = $accessKey; SecretKey = $secret }
                $q = $findings | Where-Object InstanceId | Set-InstanceQuarantine -ConversionWaitSeconds 0
                $q | New-ForensicSnapshot -Wait -PollIntervalSeconds 0.2
                $q | Save-InstanceEvidence -Path $evidence
                $q | Test-InstanceQuarantine
                $q | Send-GdNotification -TopicArn $topic
                New-GdSampleFinding -RoleArn $role -ExternalId $externalId -Confirm:$false
                Set-InstanceQuarantine -InstanceId i-0123456789abcdef0 -ConversionWaitSeconds 0
                $calls = Invoke-LakeQuery -Query 'select eventtime, eventsource, eventname, sourceipaddress, useridentity, requestparameters from EDS_ID' -EventDataStore $eds
                $findings | Export-GdCaseReport -Query @{ 'CloudTrail calls' = $calls }
                @($findings) + @($q) | Export-GdCaseEvidence -Path $bundle -Zip -Query @{ 'CloudTrail calls' = $calls } -ConsoleOutput 'console text'
                Test-GdCaseEvidence -Path $bundle
                Test-GdCaseJournal
                Get-GdCase | Format-List *
                Stop-GdCase -PassThru
            } *>&1 | Out-String -Width 400
            """, root, keys, topic, role, LabCredentialStore.ResponderExternalId, Path.Combine(_folder, "evidence"),
            lab.SecretAccessKey, lab.AccessKeyId, Path.Combine(_folder, "bundle"));
        Assert.Null(printed.Terminating);
        var text = string.Concat(printed.Output.Select(o => o.ToString())) + string.Concat(printed.Errors.Select(e => e.ToString()));
        // The run did what the scan is about: changes, artifacts, an assumed role, a failure.
        Assert.Contains("Quarantined", text);
        Assert.True(text.Contains("i-0123456789abcdef0 was not found", StringComparison.Ordinal), text);
        var journal = File.ReadAllText(Path.Combine(root, "IR-SECRET", "journal.jsonl"));
        Assert.Contains("assumed-role/" + LabCredentialStore.ResponderRoleName, journal);
        Assert.Contains("\"Credential\":\"(given)\"", journal);

        var secrets = Secrets(lab, keys);
        Assert.Contains(secrets, x => x.Name.Contains("session token", StringComparison.Ordinal));
        var places = new List<(string Name, string Content)> { ("everything the run printed", text) };
        // The case folder (journal, artifacts, report), the captured evidence and the bundle, and the zip's entries.
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(root, "IR-SECRET", "report"), "*.html"));
        using var zip = System.IO.Compression.ZipFile.OpenRead(Path.Combine(_folder, "bundle.zip"));
        foreach (var entry in zip.Entries)
        {
            using var reader = new StreamReader(entry.Open());
            places.Add(("bundle.zip/" + entry.FullName, reader.ReadToEnd()));
        }
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                     .Concat(Directory.EnumerateFiles(Path.Combine(_folder, "evidence"), "*", SearchOption.AllDirectories))
                     .Concat(Directory.EnumerateFiles(Path.Combine(_folder, "bundle"), "*", SearchOption.AllDirectories)))
            places.Add((file, Encoding.UTF8.GetString(File.ReadAllBytes(file)) + Convert.ToHexString(File.ReadAllBytes(file))));
        Assert.True(places.Count > 20, $"only {places.Count} places to search");
        foreach (var (name, content) in places)
            foreach (var secret in secrets)
                Assert.False(content.Contains(secret.Value, StringComparison.OrdinalIgnoreCase), $"{secret.Name} found in {name}");
    }

    /// <summary>Every secret the run could have leaked: each principal's secret key and session token, and the journal key in each spelling.</summary>
    private static List<(string Name, string Value)> Secrets(LabHost lab, string keyRoot)
    {
        var secrets = new List<(string, string)>();
        foreach (var principal in lab.Context.Credentials.Principals)
        {
            secrets.Add(($"secret key of {principal.Arn}", principal.SecretAccessKey));
            if (principal.SessionToken is { } token) secrets.Add(($"session token of {principal.Arn}", token));
        }
        foreach (var keyFile in Directory.EnumerateFiles(keyRoot))
        {
            var key = File.ReadAllBytes(keyFile);
            secrets.Add(("journal key (hex)", Convert.ToHexString(key)));
            secrets.Add(("journal key (base64)", Convert.ToBase64String(key)));
        }
        return secrets;
    }
}
