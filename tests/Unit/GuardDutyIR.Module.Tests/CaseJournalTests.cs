using System.Management.Automation;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The case journal through the module against the Lab: what each cmdlet journals, who it says acted, the request
/// IDs it keeps, a re-run that continues, and writers in parallel runspaces and processes.
/// </summary>
public sealed class CaseJournalTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gdir-case-").FullName;
    private string Root => Path.Combine(_folder, "cases");
    private string Keys => Path.Combine(_folder, "keys");

    static CaseJournalTests() => Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string S(PSObject o, string name) => o.Properties[name]?.Value?.ToString() ?? "";

    private List<JsonObject> Journal(string caseId) =>
        File.ReadAllLines(Path.Combine(Root, caseId, "journal.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    private static ScriptResult Ok(ScriptResult result)
    {
        Assert.Null(result.Terminating);
        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        return result;
    }

    private static List<string> Strings(JsonNode? array) => array?.AsArray().Select(n => (string)n!).ToList() ?? new List<string>();

    [Fact]
    public void Containment_under_an_active_case_journals_each_change_with_who_made_it_its_request_IDs_and_what_was_collected()
    {
        using var s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, Seed = 12, SnapshotCompletionSeconds = 0 });
        var lab = s.Lab;
        var started = Ok(s.Run("Start-GdCase -CaseId IR-100 -Title 'Malicious IP caller' -CaseRoot $args[0] -KeyRoot $args[1]", Root, Keys)).Output.Single();
        Assert.Equal(("IR-100", "Open", "True"), (S(started, "CaseId"), S(started, "Status"), S(started, "Active")));

        var run = Ok(s.Run("""
            $findings = @(Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller*')
            $quarantine = @($findings | Set-InstanceQuarantine -ConversionWaitSeconds 0)
            $snapshots = @($quarantine | New-ForensicSnapshot)
            $checks = @($quarantine | Test-InstanceQuarantine)
            [pscustomobject]@{ Findings = $findings; Quarantine = $quarantine; Snapshots = $snapshots; Checks = $checks }
            """)).Output.Single();
        var quarantine = ((object[])run.Properties["Quarantine"].Value).Select(PSObject.AsPSObject).ToList();
        var snapshots = ((object[])run.Properties["Snapshots"].Value).Select(PSObject.AsPSObject).ToList();
        Assert.NotEmpty(quarantine);
        Assert.NotEmpty(snapshots);
        // The instance is tagged with the active case, as if -CaseId had been given.
        Assert.All(quarantine, q => Assert.Equal("IR-100", S(q, "CaseId")));

        var entries = Journal("IR-100");
        Assert.Equal(Enumerable.Range(1, entries.Count).Select(i => (long)i), entries.Select(e => (long)e["seq"]!));
        Assert.Equal(("Case", "Start-GdCase", "Opened"), ((string)entries[0]["kind"]!, (string)entries[0]["action"]!, (string)entries[0]["status"]!));

        var identity = lab.Context.Credentials.Main.Arn;
        foreach (var q in quarantine)
        {
            var id = S(q, "InstanceId");
            var entry = Assert.Single(entries, e => (string?)e["action"] == "Set-InstanceQuarantine" && (string?)e["target"] == id);
            Assert.Equal(("Change", "Quarantined", identity), ((string)entry["kind"]!, (string)entry["status"]!, (string)entry["caller"]!));
            // Every request ID on the returned object is in the journal, and the full result with it.
            var onObject = ((System.Collections.IEnumerable)q.Properties["RequestIds"].Value).Cast<object>().Select(o => o.ToString()!).ToList();
            Assert.NotEmpty(onObject);
            Assert.Equal(onObject.Distinct().Order(), Strings(entry["requestIds"]).Order());
            Assert.Equal(id, (string)entry["result"]!["InstanceId"]!);
            Assert.Equal("Quarantined", (string)entry["result"]!["Status"]!);
            Assert.Equal("0", entry["parameters"]!["ConversionWaitSeconds"]!.ToString());
        }
        foreach (var snap in snapshots)
        {
            var entry = Assert.Single(entries, e => (string?)e["action"] == "New-ForensicSnapshot" && (string?)e["target"] == S(snap, "SnapshotId"));
            Assert.NotEmpty(Strings(entry["requestIds"]));
        }

        // Collected things are stored under their hash, and the hash is what the journal says.
        var findings = Assert.Single(entries, e => (string?)e["action"] == "Get-GdFinding");
        var checks = entries.Where(e => (string?)e["action"] == "Test-InstanceQuarantine").ToList();
        Assert.Equal(quarantine.Count, checks.Count);
        foreach (var collected in checks.Append(findings))
        {
            Assert.Equal("Artifact", (string)collected["kind"]!);
            var artifact = collected["artifacts"]!.AsArray().Single()!;
            var stored = Path.Combine(Root, "IR-100", (string)artifact["path"]!);
            Assert.Equal((string)artifact["sha256"]!, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(stored))).ToLowerInvariant());
        }
        Assert.Contains(lab.World.CompromisedInstanceId!, File.ReadAllText(Path.Combine(Root, "IR-100", (string)findings["artifacts"]![0]!["path"]!)));

        var check = Ok(s.Run("Test-GdCaseJournal")).Output.Single();
        Assert.True((bool)check.Properties["Valid"].Value, S(check, "Problems"));
        Assert.Equal(entries.Count, (int)check.Properties["Entries"].Value);

        var closed = Ok(s.Run("Stop-GdCase -PassThru")).Output.Single();
        Assert.Equal("Closed", S(closed, "Status"));
        Assert.Empty(Ok(s.Run("Get-GdCase -Active")).Output);
        Assert.Equal("Closed", (string)Journal("IR-100")[^1]["status"]!);
        var listed = Ok(s.Run("Get-GdCase -CaseRoot $args[0] -KeyRoot $args[1] | Test-GdCaseJournal -Quiet -KeyRoot $args[1]", Root, Keys)).Output;
        Assert.Equal(new object[] { true }, listed.Select(o => o.BaseObject));
    }

    [Fact]
    public void The_caller_is_the_assumed_role_when_RoleArn_is_used()
    {
        using var s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, Seed = 13 });
        var role = $"arn:aws:iam::{s.Lab.MemberAccountId}:role/{LabCredentialStore.ResponderRoleName}";
        // -CaseId without Start-GdCase: the case is created where GUARDDUTYIR_CASE_ROOT says (this test run's folder).
        Ok(s.Run("New-GdSampleFinding -RoleArn $args[0] -ExternalId $args[1] -RoleSessionName ir-case -CaseId IR-ROLE-CALLER -Confirm:$false",
            role, LabCredentialStore.ResponderExternalId));
        var entry = Assert.Single(JournalIn(HostedDefaultRoot, "IR-ROLE-CALLER"), e => (string?)e["action"] == "New-GdSampleFinding");
        Assert.Equal($"arn:aws:sts::{s.Lab.MemberAccountId}:assumed-role/{LabCredentialStore.ResponderRoleName}/ir-case", (string)entry["caller"]!);
        Assert.Equal("SamplesCreated", (string)entry["status"]!);
        Assert.Equal(role, (string)entry["parameters"]!["RoleArn"]!);
    }

    private static string HostedDefaultRoot => Environment.GetEnvironmentVariable("GUARDDUTYIR_CASE_ROOT")!;

    private static List<JsonObject> JournalIn(string root, string caseId) =>
        File.ReadAllLines(Path.Combine(root, caseId, "journal.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    [Fact]
    public void A_bulk_quarantine_stopped_midway_resumes_under_the_same_case_and_says_what_it_skipped()
    {
        using var s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Scale, Instances = 40, Vpcs = 2, Faults = new FaultOptions { LatencyMs = 5 } });
        var lab = s.Lab;
        var ids = lab.World.Instances.Where(i => i.AccountId == lab.AccountId).Select(i => i.InstanceId).ToArray();
        Ok(s.Run("Start-GdCase -CaseId IR-RESUME -CaseRoot $args[0] -KeyRoot $args[1]", Root, Keys));
        s.Host.Runspace.SessionStateProxy.SetVariable("ids", ids);

        // Stopped once some instances are done and others are not.
        int Done() => ids.Count(id => lab.Ec2.ViewInstance(id).DisableApiStop);
        var stopped = s.Host.RunAndStopWhen("$ids | Set-InstanceQuarantine -ConversionWaitSeconds 0 -ThrottleLimit 4", () => Done() >= 8, TimeSpan.FromSeconds(120));
        Assert.IsType<PipelineStoppedException>(stopped.Terminating);
        var first = Journal("IR-RESUME").Where(e => (string?)e["action"] == "Set-InstanceQuarantine").ToList();
        var finished = first.Where(e => (string?)e["status"] == "Quarantined").Select(e => (string)e["target"]!).ToHashSet();
        Assert.InRange(finished.Count, 1, ids.Length - 1);
        // Every instance that was changed before the stop is in the journal, also those that finished after Ctrl+C.
        var isolated = ids.Where(id => lab.Ec2.GroupsOf(lab.World.Instance(id).NetworkInterfaces[0].NetworkInterfaceId)
            .SequenceEqual(lab.Ec2.GroupsNamed("GuardDutyIR-Isolation").Where(g => g.VpcId == lab.World.Instance(id).VpcId).Select(g => g.GroupId))).ToHashSet();
        // Every instance changed before the stop is in the journal: those done, and those Ctrl+C interrupted after
        // some steps (status Stopped, their ENIs rolled forward to isolation), with the request IDs of what they did.
        var journaled = first.Select(e => (string)e["target"]!).ToHashSet();
        Assert.Subset(journaled, isolated);
        Assert.All(first, e => Assert.Contains((string)e["status"]!, new[] { "Quarantined", "Stopped" }));
        // Each entry carries the request IDs of every step it confirmed. One stopped while its first call was still
        // unanswered has confirmed nothing (that call may or may not have landed) and is journaled Stopped, without IDs.
        Assert.All(first, e => Assert.Equal(
            e["result"]!["Steps"]!.AsArray().SelectMany(step => Strings(step!["RequestIds"])).Distinct().Order(),
            Strings(e["requestIds"]).Order()));
        Assert.All(first.Where(e => (string?)e["status"] == "Quarantined"), e => Assert.NotEmpty(Strings(e["requestIds"])));

        lab.Counters.Reset();
        var rerun = Ok(s.Run("$ids | Set-InstanceQuarantine -ConversionWaitSeconds 0 -ThrottleLimit 4 -Verbose"));
        var skippedOutput = rerun.Output.Where(o => o.Properties["Skipped"] is not null).Select(o => S(o, "InstanceId")).ToHashSet();
        Assert.Equal(finished.Order(), skippedOutput.Order());
        Assert.All(finished, id => Assert.Contains(rerun.Verbose, v => v.Message.StartsWith(id + ": skipped: quarantined in case IR-RESUME by journal entry", StringComparison.Ordinal)));
        Assert.Equal(finished.Count, rerun.Information.Count(i => i.Tags.Contains("Skipped")));

        var all = Journal("IR-RESUME").Where(e => (string?)e["action"] == "Set-InstanceQuarantine").ToList();
        // Each instance is quarantined exactly once across both runs; the re-run journals the rest as skipped.
        Assert.Equal(ids.Order(), all.Where(e => (string?)e["status"] == "Quarantined").Select(e => (string)e["target"]!).Order());
        Assert.Equal(finished.Order(), all.Where(e => (string?)e["kind"] == "Skip").Select(e => (string)e["target"]!).Order());
        Assert.All(all.Where(e => (string?)e["kind"] == "Skip"), e => Assert.Equal("AlreadyQuarantined", (string)e["status"]!));
        Assert.True((bool)Ok(s.Run("Test-GdCaseJournal -Quiet")).Output.Single().BaseObject);
    }

    [Fact]
    public async Task Writers_in_parallel_runspaces_and_processes_never_corrupt_a_case()
    {
        using var host = new HostedPowerShell();
        Ok(host.Run("Start-GdCase -CaseId IR-PAR -CaseRoot $args[0] -KeyRoot $args[1]", Root, Keys));

        // Four processes and, in this one, eight runspaces at once, each appending through the module.
        var environment = new Dictionary<string, string?> { ["GUARDDUTYIR_CASE_ROOT"] = Root, ["GUARDDUTYIR_CASE_KEY_ROOT"] = Keys };
        var processes = Enumerable.Range(0, 4).Select(p => Task.Run(() =>
            FreshProcess.Run($"1..25 | ForEach-Object {{ Start-GdCase -CaseId IR-PAR -Title 'process {p}' | Out-Null }}; 'done'", environment))).ToList();
        var runspaces = host.Run("""
            param($manifest, $root, $keys)
            1..40 | ForEach-Object -ThrottleLimit 8 -Parallel {
                Import-Module $using:manifest
                Start-GdCase -CaseId IR-PAR -CaseRoot $using:root -KeyRoot $using:keys | Out-Null
            }
            """, ModuleLayout.ManifestPath, Root, Keys);
        Ok(runspaces);
        foreach (var process in processes)
        {
            var outcome = await process;
            Assert.True(outcome.ExitCode == 0 && outcome.Output.Contains("done"), outcome.All);
        }

        var check = Ok(host.Run("Test-GdCaseJournal -CaseId IR-PAR")).Output.Single();
        Assert.True((bool)check.Properties["Valid"].Value, S(check, "Problems"));
        Assert.Equal(1 + 4 * 25 + 40, (int)check.Properties["Entries"].Value);
    }
}
