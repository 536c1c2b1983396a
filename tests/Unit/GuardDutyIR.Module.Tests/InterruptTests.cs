using System.Collections;
using System.Management.Automation;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Athena;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Iam;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;
using Xunit.Abstractions;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// Ctrl+C at the moments a responder presses it: in a bulk quarantine, while snapshots complete, while a Lake or
/// Athena query runs, while local trail files are parsed, while a report is written, while role sessions are revoked.
/// The moment is one the Lab (or the session) has been seen to reach, never a sleep. Each command ends within a second
/// of the stop, leaves nothing half-changed, and the same command again finishes the job.
/// </summary>
public sealed class InterruptTests(ITestOutputHelper log)
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(1);

    private ScriptResult Stop(LabSession s, string script, Func<bool> when, string what)
    {
        var stopped = s.Host.RunAndStopWhen(script, when, TimeSpan.FromSeconds(120));
        log.WriteLine($"{what}: stop to end {stopped.StopToEnd!.Value.TotalMilliseconds:F0} ms");
        AssertStopped(stopped, what);
        return stopped;
    }

    private static void AssertStopped(ScriptResult stopped, string what)
    {
        // A stop is a stop: never a wrapped cancellation reported as an error.
        Assert.IsType<PipelineStoppedException>(stopped.Terminating);
        Assert.True(stopped.Errors.Count == 0, what + ": " + string.Join("; ", stopped.Errors));
        Assert.True(stopped.StopToEnd < Prompt, $"{what}: the pipeline ended {stopped.StopToEnd!.Value.TotalMilliseconds:F0} ms after the stop");
    }

    private static ScriptResult Ok(ScriptResult result)
    {
        Assert.Null(result.Terminating);
        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        return result;
    }

    private static List<JsonObject> Journal(string caseId)
    {
        var path = Path.Combine(Environment.GetEnvironmentVariable("GUARDDUTYIR_CASE_ROOT")!, caseId, "journal.jsonl");
        return File.Exists(path) ? File.ReadAllLines(path).Select(l => JsonNode.Parse(l)!.AsObject()).ToList() : new List<JsonObject>();
    }

    private static void AssertJournalValid(LabSession s, string caseId) =>
        Assert.Equal("True", Ok(s.Run("Test-GdCaseJournal -CaseId $args[0]", caseId)).Output.Single().Properties["Valid"].Value.ToString());

    private static void AssertIsolated(LabHost lab, IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            var instance = lab.World.Instance(id);
            var iso = Assert.Single(lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"), g => g.VpcId == instance.VpcId).GroupId;
            foreach (var eni in instance.NetworkInterfaces) Assert.Equal(new[] { iso }, lab.Ec2.GroupsOf(eni.NetworkInterfaceId));
        }
    }

    public static TheoryData<string> QuarantineMoments => new() { "groups", "moving", "protected" };

    [Theory]
    [MemberData(nameof(QuarantineMoments))]
    public void A_bulk_quarantine_stopped_ends_within_a_second_leaves_nothing_half_changed_and_a_rerun_finishes(string moment)
    {
        using var s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Scale, Instances = 30, Vpcs = 3, Faults = new FaultOptions { LatencyMs = 5 } });
        var lab = s.Lab;
        var ids = lab.World.Instances.Where(i => i.AccountId == lab.AccountId).Select(i => i.InstanceId).ToArray();
        s.Host.Runspace.SessionStateProxy.SetVariable("ids", ids);
        var caseId = "IR-INT-Q-" + moment;
        Func<bool> when = moment switch
        {
            "groups" => () => lab.Counters.Snapshot().CallsOf("ec2", "CreateSecurityGroup") > 0,
            "moving" => () => lab.Counters.Snapshot().CallsOf("ec2", "ModifyNetworkInterfaceAttribute") >= 6,
            _ => () => ids.Count(id => lab.Ec2.ViewInstance(id).DisableApiStop) >= 10,
        };
        Stop(s, $"$ids | Set-InstanceQuarantine -CaseId {caseId} -ConversionWaitSeconds 1 -ThrottleLimit 8", when, "bulk quarantine at " + moment);
        FaultSoakTests.AssertNothingHalfChanged(lab, Journal(caseId));
        AssertJournalValid(s, caseId);

        Ok(s.Run($"$ids | Set-InstanceQuarantine -CaseId {caseId} -ConversionWaitSeconds 0"));
        FaultSoakTests.AssertNothingHalfChanged(lab, Journal(caseId));
        AssertIsolated(lab, ids);
        Assert.All(Ok(s.Run("$ids | Test-InstanceQuarantine")).Output, t => Assert.True((bool)t.Properties["Passed"].Value));
    }

    [Fact]
    public void Snapshots_waited_for_and_stopped_are_never_recorded_complete_and_a_rerun_waits_them_out()
    {
        using var s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, SnapshotCompletionSeconds = 5 });
        var lab = s.Lab;
        var id = lab.World.CompromisedInstanceId!;
        const string caseId = "IR-INT-SNAP";
        Stop(s, $"New-ForensicSnapshot -InstanceId {id} -CaseId {caseId} -Wait -PollIntervalSeconds 1 -Confirm:$false",
            () => lab.Counters.Snapshot().CallsOf("ec2", "DescribeSnapshots") > 0, "snapshot wait");
        FaultSoakTests.AssertNothingHalfChanged(lab, Journal(caseId));
        Assert.DoesNotContain(Journal(caseId), e => (string?)e["action"] == "New-ForensicSnapshot" && (string?)e["status"] == "completed");

        var rerun = Ok(s.Run($"New-ForensicSnapshot -InstanceId {id} -CaseId {caseId} -Wait -PollIntervalSeconds 1 -Confirm:$false")).Output;
        var volumes = lab.World.Instance(id).Volumes.Select(v => v.VolumeId).Order().ToList();
        Assert.Equal(volumes, rerun.Select(o => (string)o.Properties["VolumeId"].Value).Order().ToList());
        var snapshots = lab.Ec2.Snapshots().ToDictionary(x => x.SnapshotId);
        Assert.All(rerun, o => Assert.Equal("completed", snapshots[(string)o.Properties["SnapshotId"].Value].State));
        // The snapshots the stopped run started are the ones kept: none taken twice.
        Assert.Equal(volumes.Count, snapshots.Values.Count(x => x.Tags.GetValueOrDefault("ir:case") == caseId));
        FaultSoakTests.AssertNothingHalfChanged(lab, Journal(caseId));
        AssertJournalValid(s, caseId);
    }

    [Fact]
    public void A_Lake_query_stopped_while_it_runs_ends_within_a_second_is_cancelled_on_the_service_and_a_rerun_answers()
    {
        using var s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.CloudTrailInvestigation, Seed = 33 });
        var cloudTrail = s.Lab.GetService<CloudTrailService>()!;
        cloudTrail.QueryDelay = TimeSpan.FromMinutes(10);
        var query = $"Invoke-LakeQuery -Template InstancesListingBuckets -EventDataStore '{cloudTrail.EventDataStoreArn}'";
        Stop(s, query, () => s.Lab.Counters.Snapshot().CallsOf("cloudtrail", "DescribeQuery") > 0, "Lake poll");
        Assert.Equal(TrailQueryState.Cancelled, Assert.Single(cloudTrail.Queries.All).State);

        cloudTrail.QueryDelay = TimeSpan.Zero;
        Assert.NotEmpty(Ok(s.Run(query)).Output);
    }

    [Fact]
    public void An_Athena_query_stopped_while_it_runs_ends_within_a_second_is_stopped_on_the_service_and_a_rerun_answers()
    {
        using var s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.CloudTrailInvestigation, Seed = 33 });
        var athena = s.Lab.GetService<AthenaService>()!;
        athena.QueryDelay = TimeSpan.FromMinutes(10);
        var query = $"Invoke-LakeQuery -Template InstancesListingBuckets -Athena -OutputLocation 's3://{s.Lab.GetService<S3Service>()!.EvidenceBucket}/athena-results/'";
        Stop(s, query, () => s.Lab.Counters.Snapshot().CallsOf("athena", "GetQueryExecution") > 0, "Athena poll");
        var calls = s.Lab.Counters.Snapshot();
        Assert.True(calls.CallsOf("athena", "StopQueryExecution") == 1, "Athena calls: " + string.Join(", ", calls.Calls.Where(kv => kv.Key.StartsWith("athena:", StringComparison.Ordinal)).Select(kv => $"{kv.Key}={kv.Value}")));

        athena.QueryDelay = TimeSpan.Zero;
        Assert.NotEmpty(Ok(s.Run(query)).Output);
    }

    [Fact]
    public void A_local_query_stopped_while_it_parses_ends_within_a_second_and_a_rerun_answers()
    {
        Assert.True(OperatingSystem.IsLinux(), "the moment (the file open in this process) is read from /proc");
        var folder = Directory.CreateTempSubdirectory("gdir-int-local-").FullName;
        try
        {
            // A few MB on disk that inflate to gigabytes of records: the parse is long and the stop has to cut it.
            var big = Path.Combine(folder, "big", "AWSLogs", "endless.json.gz");
            TrailLogWriter.WriteEndlessGzip(big, endlessRecord: false, gigabytes: 4);
            bool Parsing() => Directory.EnumerateFiles("/proc/self/fd").Any(fd =>
            {
                try { return new FileInfo(fd).LinkTarget == big; }
                catch (IOException) { return false; }
            });
            using var host = new HostedPowerShell();
            var keys = "-Region us-east-1 -Credential @{AccessKey='AKIDEXAMPLE'; SecretKey='s'}";
            var stopped = host.RunAndStopWhen($"Invoke-LakeQuery -Query 'select count(*) as n from EDS_ID' -Path '{Path.GetDirectoryName(big)}' {keys}", Parsing, TimeSpan.FromSeconds(120));
            log.WriteLine($"local parse: stop to end {stopped.StopToEnd!.Value.TotalMilliseconds:F0} ms");
            AssertStopped(stopped, "local parse");

            var small = Path.Combine(folder, "small");
            TrailLogWriter.WriteInvestigation(small, "i-0123456789abcdef0");
            var rerun = host.Run($"Invoke-LakeQuery -Template InstanceActivitySummary -Parameter @{{ InstanceId = 'i-0123456789abcdef0' }} -Path '{small}' {keys}");
            Assert.Empty(rerun.Errors);
            Assert.NotEmpty(rerun.Output);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void A_report_export_stopped_ends_within_a_second_and_the_journal_stays_valid_and_a_rerun_writes_it()
    {
        using var s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Empty });
        const string caseId = "IR-INT-REPORT";
        Ok(s.Run($"Start-GdCase -CaseId {caseId} -Title 'Interrupted report'"));
        // A big table: the report's work is after the last row has come in, in the cmdlet's end.
        var rows = Enumerable.Range(0, 200_000).Select(i => (object)new Hashtable { ["eventname"] = "ListBuckets", ["n"] = i, ["principal"] = "AROA:i-" + i }).ToArray();
        var ended = Hashtable.Synchronized(new Hashtable());
        s.Host.Runspace.SessionStateProxy.SetVariable("rows", rows);
        s.Host.Runspace.SessionStateProxy.SetVariable("ended", ended);
        var stopped = s.Host.RunAndStopWhen(
            "$rows | ForEach-Object -Process { $_ } -End { $ended['input'] = $true } | Export-GdCaseReport -CaseId " + caseId,
            () => ended.ContainsKey("input"), TimeSpan.FromSeconds(120));
        log.WriteLine($"report: stop to end {stopped.StopToEnd!.Value.TotalMilliseconds:F0} ms");
        AssertStopped(stopped, "report export");
        AssertJournalValid(s, caseId);

        var rerun = Ok(s.Run($"Export-GdCaseReport -CaseId {caseId}"));
        Assert.Equal(2, rerun.Output.Count);
        AssertJournalValid(s, caseId);
        Ok(s.Run("Stop-GdCase"));
    }

    // Moments with IAM calls still to come (each held 150 ms): a moment after the last call could see the command end
    // before the stop.
    public static TheoryData<string, string, string> RevokeMoments => new()
    {
        { "plain", "iam", "GetInstanceProfile" },
        { "plain", "iam", "ListRolePolicies" },
        { "replace", "iam", "CreateRole" },
    };

    [Theory]
    [MemberData(nameof(RevokeMoments))]
    public void A_revocation_stopped_ends_within_a_second_leaves_the_role_whole_and_a_rerun_revokes(string mode, string service, string action)
    {
        using var s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, Seed = 31, Faults = new FaultOptions { LatencyMs = 150, Services = new[] { "iam" } } });
        var lab = s.Lab;
        var iam = lab.Context.GetService<IamService>()!;
        var servers = lab.World.Instances.Where(i => i.AccountId == lab.AccountId && i.Role == "workload" && i.InstanceProfileArn is not null).ToList();
        var (instance, other) = mode == "replace" ? (servers[0].InstanceId, (string?)servers[1].InstanceId) : (lab.World.InvestigatedInstanceId!, null);
        var role = lab.World.Instance(instance).IamRoleName!;
        var ec2 = lab.Context.GetService<GuardDutyIR.Lab.Ec2.Ec2Service>()!;
        var otherProfile = other is null ? null : ec2.AssociatedProfileArn(other);
        var command = $"Revoke-InstanceRoleSession -InstanceId {instance} -Force" + (mode == "replace" ? " -ReplaceRole" : "");

        Stop(s, command, () => lab.Counters.Snapshot().CallsOf(service, action) > 0, $"revocation at {action}");
        // The role has our policy whole or not at all; another instance is on the original profile or on a whole copy.
        if (iam.InlinePolicies(lab.AccountId, role).TryGetValue("GuardDutyIR-RevokeOlderSessions", out var policy))
            Assert.Contains("aws:TokenIssueTime", Uri.UnescapeDataString(policy));
        if (other is not null)
        {
            var now = ec2.AssociatedProfileArn(other);
            if (now != otherProfile)
            {
                var name = now!;
                var copy = iam.FindRole(lab.AccountId, name[(name.LastIndexOf('/') + 1)..]);
                Assert.NotNull(copy);
                Assert.Equal(iam.FindRole(lab.AccountId, role)!.AttachedPolicyArns, copy!.AttachedPolicyArns);
            }
        }

        lab.Faults.LatencyMs = 0;
        var rerun = Ok(s.Run(command)).Output.Single();
        Assert.Equal("Revoked", rerun.Properties["Status"].Value.ToString());
        Assert.Contains("GuardDutyIR-RevokeOlderSessions", iam.InlinePolicies(lab.AccountId, role).Keys);
    }
}
