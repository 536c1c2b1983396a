using System.Diagnostics;
using System.IO.Compression;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The packages the build makes for unattended use (out/packages): the Lambda layer and function, and the SSM runbook
/// attachment. They must fit where they are uploaded, carry the built module less DuckDB's native libraries, and the
/// module must work from them.
/// </summary>
public sealed class AutomationPackageTests
{
    private const long MiB = 1024 * 1024;
    // https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: a .zip uploaded directly, 50 MB; a
    // function with all its layers and custom runtimes, 250 MB unzipped (Lambda counts these MB as MiB).
    private const long LambdaDirectUpload = 50 * MiB;
    private const long LambdaUnzippedWithLayers = 250 * MiB;
    // https://docs.aws.amazon.com/general/latest/gr/ssm.html: an Automation runbook attachment, 256 MB.
    private const long SsmRunbookAttachment = 256 * MiB;

    private sealed record Package(long Zipped, long Unzipped, IReadOnlyList<string> Entries);

    private static Package Measure(string zip)
    {
        var path = AutomationPackages.PathOf(zip);
        using var archive = ZipFile.OpenRead(path);
        return new Package(new FileInfo(path).Length, archive.Entries.Sum(e => e.Length), archive.Entries.Select(e => e.FullName).ToList());
    }

    [Fact]
    public void Every_package_fits_where_it_is_uploaded_and_carries_the_module_without_DuckDB_native_libraries()
    {
        var layer = Measure(AutomationPackages.LayerZip);
        var function = Measure(AutomationPackages.FunctionZip);
        var automation = Measure(AutomationPackages.AutomationZip);

        Assert.True(layer.Zipped <= LambdaDirectUpload, $"the layer is {layer.Zipped} bytes zipped");
        Assert.True(function.Zipped <= LambdaDirectUpload, $"the function is {function.Zipped} bytes zipped");
        Assert.True(layer.Unzipped + function.Unzipped <= LambdaUnzippedWithLayers, $"function and layer unzip to {layer.Unzipped + function.Unzipped} bytes");
        Assert.True(automation.Zipped <= SsmRunbookAttachment, $"the attachment is {automation.Zipped} bytes");
        // The PowerShell runtime's own layer counts against the same 250 MB: ours leaves it most of it.
        Assert.True(layer.Unzipped + function.Unzipped <= 50 * MiB, $"function and layer unzip to {layer.Unzipped + function.Unzipped} bytes, more than a fifth of Lambda's limit");

        // Exactly the built module, less the native query engine: nothing stale, nothing missing.
        var version = ModuleLayout.Version;
        var layout = PackagedLayout.Built();
        Assert.Contains(layout, f => PackagedLayout.DuckDbNatives.Contains(Path.GetFileName(f)));
        Assert.Contains(layout, f => f.EndsWith(".pdb", StringComparison.Ordinal));
        var expected = PackagedLayout.Expected();
        Assert.DoesNotContain(expected, f => f.EndsWith(".pdb", StringComparison.Ordinal) || f.StartsWith("deps/runtimes/", StringComparison.Ordinal));
        // The pins a separately installed DuckDB library is checked against travel with every copy of the module.
        Assert.Contains("deps/GuardDutyIR.DuckDB.json", expected);
        Assert.Equal(expected.Select(f => $"modules/GuardDutyIR/{version}/{f}"), layer.Entries.OrderBy(e => e, StringComparer.Ordinal));
        Assert.Equal(expected.Select(f => $"GuardDutyIR/{version}/{f}"), automation.Entries.OrderBy(e => e, StringComparer.Ordinal));
        using (var archive = ZipFile.OpenRead(AutomationPackages.PathOf(AutomationPackages.LayerZip)))
            foreach (var f in expected)
                Assert.Equal(new FileInfo(Path.Combine(ModuleLayout.Directory, f)).Length, archive.GetEntry($"modules/GuardDutyIR/{version}/{f}")!.Length);
        Assert.Equal(new[] { "Invoke-GdAutoResponse.ps1" }, function.Entries);
    }

    [Fact]
    public void The_packaged_runbook_names_the_SHA_256_of_the_attachment_Systems_Manager_will_check()
    {
        var runbook = File.ReadAllText(AutomationPackages.PathOf("GuardDutyIR-Isolate.yaml"));
        using var zip = File.OpenRead(AutomationPackages.PathOf(AutomationPackages.AutomationZip));
        var sha256 = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(zip)).ToLowerInvariant();

        Assert.Contains($"sha256: '{sha256}'", runbook);
        // The rest is the source document as written.
        var source = File.ReadAllText(Path.Combine(GuardDutyIR.TestSupport.TestPaths.RepoRoot, "module", "ssm", "GuardDutyIR-Isolate.yaml"));
        Assert.Equal(source.Replace("'" + new string('0', 64) + "'", $"'{sha256}'", StringComparison.Ordinal), runbook);
    }

    [Fact]
    public async Task The_automation_package_finds_contains_and_notifies_without_DuckDB_and_refuses_a_local_query_clearly()
    {
        await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Workshop });
        var root = Directory.CreateTempSubdirectory("gdir-ssm-").FullName;
        try
        {
            // As an SSM step would have it: the attachment unpacked, only its folder on PSModulePath.
            var attachment = AutomationPackages.Extract(AutomationPackages.AutomationZip, root, "attachment");
            var logs = Path.Combine(root, "logs");
            TrailLogWriter.WriteInvestigation(logs, "i-0123456789abcdef0");
            var script = Path.Combine(root, "runbook.ps1");
            File.WriteAllText(script, """
                param($Topic, $Logs)
                Import-Module GuardDutyIR -ErrorAction Stop
                'base=' + (Get-Module GuardDutyIR).ModuleBase
                $q = Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom' | Set-InstanceQuarantine -CaseId IR-SSM -ConversionWaitSeconds 0
                'status=' + $q.Status
                'message=' + ($q | Send-GdNotification -TopicArn $Topic).MessageId
                try { Invoke-LakeQuery -Query 'select count(*) as n from EDS_ID' -Path $Logs -ErrorAction Stop | Out-Null; 'lake=answered' }
                catch { 'lake=' + $_.FullyQualifiedErrorId; 'lakemessage=' + $_.Exception.Message }
                """);
            var topic = lab.GetService<SnsService>()!.ScenarioTopicArn!;
            var start = new ProcessStartInfo("dotnet", new[] { "exec", AutomationPackages.RuntimeDll, "--module-path", attachment, "--script", script, topic, logs })
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            AutomationPackages.SetEnvironment(start, new Dictionary<string, string>
            {
                ["AWS_REGION"] = lab.Region,
                ["AWS_ACCESS_KEY_ID"] = lab.AccessKeyId,
                ["AWS_SECRET_ACCESS_KEY"] = lab.SecretAccessKey,
                ["AWS_ENDPOINT_URL"] = lab.Endpoint,
                ["GUARDDUTYIR_EC2_RATE_SCALE"] = "off",
            });
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the script did not end");
            var text = await output + await errors;
            var lines = (await output).Split('\n', StringSplitOptions.TrimEntries).Where(l => l.Contains('=')).ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);

            Assert.True(lines.TryGetValue("base", out var moduleBase), text);
            Assert.StartsWith(attachment, moduleBase);
            Assert.Equal("Quarantined", lines["status"]);
            var instance = lab.World.Instance(lab.World.CompromisedInstanceId!);
            var iso = Assert.Single(lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"), g => g.VpcId == instance.VpcId).GroupId;
            foreach (var eni in instance.NetworkInterfaces) Assert.Equal(new[] { iso }, lab.Ec2.GroupsOf(eni.NetworkInterfaceId));
            Assert.Equal(Assert.Single(lab.GetService<SnsService>()!.Messages).MessageId, lines["message"]);
            Assert.Equal("LocalQueryEngineUnavailable,GuardDutyIR.Commands.InvokeLakeQueryCommand", lines["lake"]);
            Assert.Contains("-EventDataStore", lines["lakemessage"]);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
