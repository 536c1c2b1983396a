using System.Management.Automation;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Iam;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;
using Xunit.Abstractions;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The whole response, as a responder runs it, against a Lab that fails a fifth of the calls, drops connections,
/// answers late and throttles EC2 by its documented buckets: the rule, the finding, the CloudTrail questions on Lake
/// and Athena, the quarantine, the revoked role sessions, the snapshots waited for, the notification, the journal and
/// the report. Each step either finishes or says what failed with a stable ErrorId; whatever happened, the Lab shows
/// nothing half-changed; and the same runbook with the faults off finishes the job.
/// </summary>
public sealed class FaultSoakTests : IDisposable
{
    private readonly ITestOutputHelper _log;
    private readonly string _folder = Directory.CreateTempSubdirectory("gdir-soak-").FullName;

    public FaultSoakTests(ITestOutputHelper log) => _log = log;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Root => Path.Combine(_folder, "cases");
    private string Keys => Path.Combine(_folder, "keys");

    /// <summary>
    /// One step per line; each keeps its output, its non-terminating errors and the terminating one, so a failed step
    /// is reported and the runbook goes on to the next one, as a responder's would.
    /// </summary>
    private const string Runbook = """
        param($caseId, $root, $keys, $topic, $functionArn, $eds, $athenaOutput, $investigated)
        $steps = [System.Collections.Generic.List[object]]::new()
        function Step([string] $Name, [scriptblock] $Body) {
            $all = @(); $stop = $null
            try { $all = @(& $Body 2>&1) } catch { $stop = $_ }
            $errors = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
            if ($stop) { $errors += $stop }
            $output = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] })
            $steps.Add([pscustomobject]@{ Name = $Name; Output = $output; Errors = $errors })
            , $output
        }
        $case = Step Case { Start-GdCase -CaseId $caseId -Title 'Fault soak' -CaseRoot $root -KeyRoot $keys }
        $null = Step Rule { New-GdResponseRule -TopicArn $topic -FunctionArn $functionArn -Confirm:$false }
        $findings = Step Findings { Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom' }
        $queries = [ordered]@{}
        $queries.InstanceActivity = Step LakeQuery { Invoke-LakeQuery -Template InstanceActivity -Parameter @{ InstanceId = $investigated } -EventDataStore $eds }
        $queries.InstanceActivitySummary = Step AthenaQuery { Invoke-LakeQuery -Template InstanceActivitySummary -Parameter @{ InstanceId = $investigated } -Athena -OutputLocation $athenaOutput }
        $quarantine = Step Quarantine { $findings | Set-InstanceQuarantine -ConversionWaitSeconds 0 }
        $null = Step Revoke { Revoke-InstanceRoleSession -InstanceId $investigated -Force }
        $snapshots = Step Snapshot { $quarantine | New-ForensicSnapshot -Wait -PollIntervalSeconds 1 -TimeoutMinutes 1 }
        $null = Step Notify { $snapshots | Send-GdNotification -TopicArn $topic }
        $null = Step Report { $findings | Export-GdCaseReport -Query $queries }
        $null = Step Journal { Test-GdCaseJournal -CaseId $caseId -CaseRoot $root -KeyRoot $keys }
        $null = Stop-GdCase -ErrorAction SilentlyContinue
        $steps
        """;

    private static LabOptions Faulty(int seed, double errorRate, double dropRate) => new()
    {
        Scenario = ScenarioNames.Workshop, Seed = 42, SnapshotCompletionSeconds = 1, InstanceTransitionSeconds = 0.2,
        Throttling = true,
        Faults = new FaultOptions { ErrorRate = errorRate, DropRate = dropRate, LatencyMs = 10, Seed = seed },
    };

    private sealed record StepResult(string Name, IReadOnlyList<PSObject> Output, IReadOnlyList<ErrorRecord> Errors);

    private static IReadOnlyList<StepResult> Steps(ScriptResult result)
    {
        Assert.Null(result.Terminating);
        return result.Output.Select(o => new StepResult((string)o.Properties["Name"].Value,
            ((object[])o.Properties["Output"].Value).Select(PSObject.AsPSObject).ToList(),
            ((object[])o.Properties["Errors"].Value).Select(e => (ErrorRecord)PSObject.AsPSObject(e).BaseObject).ToList())).ToList();
    }

    private ScriptResult RunRunbook(LabSession s, string caseId)
    {
        var lab = s.Lab;
        var topic = lab.GetService<SnsService>()!.ScenarioTopicArn!;
        var eds = lab.GetService<CloudTrailService>()!.EventDataStoreArn;
        var athena = $"s3://{lab.GetService<S3Service>()!.EvidenceBucket}/athena-results/";
        // Only a hang guard: with nearly half the calls failing, EC2's nine attempts and the SDK's backoff (up to 20 s a
        // wait) made a faulty run take 47-80 s on a quiet machine, and the tail is long.
        return s.Host.RunWithin(TimeSpan.FromMinutes(6), Runbook, caseId, Root, Keys, topic, lab.Facts["RemediationFunctionArn"], eds, athena, lab.World.InvestigatedInstanceId);
    }

    // Ours (PascalCase) or the service's own code after its name (EC2.InternalError, IAM.ServiceUnavailable).
    private static readonly Regex StableId = new("^[A-Z][A-Za-z0-9]+(\\.[A-Za-z0-9]+)?$", RegexOptions.CultureInvariant);

    /// <summary>A failure said precisely: a stable PascalCase ErrorId (not an exception's type), a real category, a target.</summary>
    private static void AssertPrecise(StepResult step, ErrorRecord error)
    {
        var id = error.FullyQualifiedErrorId.Split(',')[0];
        var what = $"{step.Name}: {id} {error.CategoryInfo.Category} [{error.TargetObject}] {error.Exception?.GetType().Name}: {error.Exception?.Message}";
        Assert.True(StableId.IsMatch(id), "not a stable ErrorId: " + what);
        Assert.False(id.StartsWith("System", StringComparison.Ordinal) || (!id.Contains('.') && id.EndsWith("Exception", StringComparison.Ordinal))
            || id == error.Exception?.GetType().FullName, "an exception type as ErrorId: " + what);
        Assert.NotEqual(ErrorCategory.NotSpecified, error.CategoryInfo.Category);
        Assert.True(error.TargetObject is not null, "no target: " + what);
    }

    private List<JsonObject> Journal(string caseId)
    {
        var path = Path.Combine(Root, caseId, "journal.jsonl");
        return File.Exists(path) ? File.ReadAllLines(path).Select(l => JsonNode.Parse(l)!.AsObject()).ToList() : new List<JsonObject>();
    }

    /// <summary>What must hold after any run, faulty, stopped or not, read from the Lab and the journal on disk.</summary>
    internal static void AssertNothingHalfChanged(LabHost lab, IEnumerable<JsonObject> journal)
    {
        foreach (var conversion in lab.Ec2.GroupsNamed("GuardDutyIR-Conversion"))
            Assert.True(lab.Ec2.NetworkInterfacesUsing(conversion.GroupId).Count == 0,
                $"ENIs left on the conversion group {conversion.GroupId}: {string.Join(", ", lab.Ec2.NetworkInterfacesUsing(conversion.GroupId))}");
        foreach (var vpc in lab.Ec2.GroupsNamed("GuardDutyIR-Isolation").GroupBy(g => g.VpcId))
            Assert.True(vpc.Count() == 1, $"{vpc.Count()} isolation groups in {vpc.Key}");
        // A snapshot the journal calls completed is complete in EC2; one it calls anything else is never counted as evidence.
        var snapshots = lab.Ec2.Snapshots().ToDictionary(x => x.SnapshotId);
        foreach (var entry in journal.Where(e => (string?)e["action"] == "New-ForensicSnapshot" && ((string?)e["target"])?.StartsWith("snap-", StringComparison.Ordinal) == true))
        {
            var id = (string)entry["target"]!;
            Assert.True(snapshots.ContainsKey(id), $"the journal names {id}, which EC2 does not have");
            if ((string?)entry["status"] == "completed") Assert.Equal("completed", snapshots[id].State);
        }
    }

    /// <summary>A snapshot step that reports an instance without an error for it reports every volume, each complete in EC2.</summary>
    private static void AssertSnapshotSetsWhole(LabHost lab, StepResult step)
    {
        var snapshots = lab.Ec2.Snapshots().ToDictionary(x => x.SnapshotId);
        foreach (var instance in step.Output.GroupBy(o => (string)o.Properties["InstanceId"].Value))
        {
            if (step.Errors.Any(e => e.TargetObject?.ToString() == instance.Key)) continue;
            var volumes = lab.World.Instance(instance.Key).Volumes.Select(v => v.VolumeId).Order().ToList();
            Assert.Equal(volumes, instance.Select(o => (string)o.Properties["VolumeId"].Value).Order().ToList());
            foreach (var o in instance)
            {
                var id = (string)o.Properties["SnapshotId"].Value;
                Assert.Equal("completed", (string)o.Properties["State"].Value);
                Assert.Equal("completed", snapshots[id].State);
            }
        }
    }

    private void AssertFinished(LabHost lab, IReadOnlyList<StepResult> steps, string caseId)
    {
        foreach (var step in steps) Assert.True(step.Errors.Count == 0, $"{step.Name} failed with faults off: {string.Join("; ", step.Errors)}");
        var instance = lab.World.CompromisedInstanceId!;
        var vpc = lab.World.Instance(instance).VpcId;
        var iso = Assert.Single(lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"), g => g.VpcId == vpc).GroupId;
        foreach (var eni in lab.World.Instance(instance).NetworkInterfaces) Assert.Equal(new[] { iso }, lab.Ec2.GroupsOf(eni.NetworkInterfaceId));
        Assert.Equal("Quarantined", steps.Single(x => x.Name == "Quarantine").Output.Single().Properties["Status"].Value.ToString());
        var role = lab.World.InvestigatedRoleName!;
        Assert.Contains("GuardDutyIR-RevokeOlderSessions", lab.Context.GetService<IamService>()!.InlinePolicies(lab.AccountId, role).Keys);
        var snapshots = lab.Ec2.Snapshots();
        foreach (var volume in lab.World.Instance(instance).Volumes)
            Assert.Contains(snapshots, x => x.VolumeId == volume.VolumeId && x.State == "completed" && x.Tags.GetValueOrDefault("ir:case") == caseId);
        Assert.Equal("True", steps.Single(x => x.Name == "Journal").Output.Single().Properties["Valid"].Value.ToString());
    }

    [Theory]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(29)]
    public void The_whole_response_under_faults_finishes_or_says_what_failed_leaves_nothing_half_changed_and_a_rerun_finishes(int seed) =>
        Soak(seed, errorRate: 0.2, dropRate: 0.05);

    internal void Soak(int seed, double errorRate, double dropRate)
    {
        using var s = LabSession.Start(Faulty(seed, errorRate, dropRate));
        var lab = s.Lab;
        var caseId = $"IR-SOAK-{seed}";
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var faulty = Steps(RunRunbook(s, caseId));
        var faultyTime = watch.Elapsed;
        var counters = lab.Counters.Snapshot();
        _log.WriteLine($"seed {seed}: {counters.TotalCalls} calls, {counters.TotalThrottled} throttled, {faultyTime.TotalSeconds:F1} s");
        foreach (var step in faulty)
        {
            _log.WriteLine($"  {step.Name}: {step.Output.Count} out, {step.Errors.Count} errors {string.Join("; ", step.Errors.Select(e => $"{e.FullyQualifiedErrorId} [{e.TargetObject}] {e.Exception?.Message}"))}");
            foreach (var error in step.Errors) AssertPrecise(step, error);
        }
        // The faults were real: the Lab answered some calls with errors or dropped them.
        Assert.Contains(lab.Counters.Snapshot().Faults, e => e.Value > 0);
        // Nearly half the calls failing is more than three attempts absorb: some step must have said what failed.
        if (errorRate + dropRate >= 0.5) Assert.Contains(faulty, step => step.Errors.Count > 0);

        lab.Faults.ErrorRate = 0;
        lab.Faults.DropRate = 0;
        lab.Faults.LatencyMs = 0;
        AssertNothingHalfChanged(lab, Journal(caseId));
        AssertSnapshotSetsWhole(lab, faulty.Single(x => x.Name == "Snapshot"));
        var journalStep = faulty.Single(x => x.Name == "Journal");
        if (journalStep.Errors.Count == 0) Assert.Equal("True", journalStep.Output.Single().Properties["Valid"].Value.ToString());

        // The same runbook again, the faults off (EC2 still throttles): it finishes what the faulty run left.
        var rerun = Steps(RunRunbook(s, caseId));
        AssertNothingHalfChanged(lab, Journal(caseId));
        AssertFinished(lab, rerun, caseId);
        var test = s.Run("Test-InstanceQuarantine -InstanceId $args[0]", lab.World.CompromisedInstanceId);
        Assert.Empty(test.Errors);
        Assert.True((bool)test.Output.Single().Properties["Passed"].Value);
        _log.WriteLine($"seed {seed}: whole test {watch.Elapsed.TotalSeconds:F1} s");
    }
}

/// <summary>
/// A fifth of the calls failing is mostly absorbed by the SDK's retries; this harsher run makes steps fail for real, so
/// what a failure leaves behind is checked too. A class of its own so it runs beside the other soak runs.
/// </summary>
public sealed class HarshFaultSoakTests(ITestOutputHelper log)
{
    [Fact]
    public void Under_nearly_half_the_calls_failing_steps_fail_precisely_nothing_is_half_changed_and_a_rerun_finishes()
    {
        using var soak = new FaultSoakTests(log);
        soak.Soak(41, errorRate: 0.45, dropRate: 0.1);
    }
}

/// <summary>One service always failing, one way: what the soak's random faults hit now and then, made certain.</summary>
public sealed class ServiceFaultTests
{
    public static TheoryData<string, string, string> Cases => new()
    {
        { "iam", "drop", "Revoke-InstanceRoleSession -InstanceId $args[0] -Force" },
        { "iam", "error", "Revoke-InstanceRoleSession -InstanceId $args[0] -Force" },
        { "ec2", "drop", "New-ForensicSnapshot -InstanceId $args[0] -Confirm:$false" },
        { "ec2", "error", "New-ForensicSnapshot -InstanceId $args[0] -Confirm:$false" },
        { "events", "drop", "New-GdResponseRule -TopicArn $args[1] -Confirm:$false" },
        { "events", "error", "New-GdResponseRule -TopicArn $args[1] -Confirm:$false" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_service_that_keeps_failing_is_one_precise_error(string service, string fault, string command)
    {
        using var s = LabSession.Start(new LabOptions
        {
            Scenario = ScenarioNames.Workshop,
            Faults = new FaultOptions { DropRate = fault == "drop" ? 1 : 0, ErrorRate = fault == "error" ? 1 : 0, Services = new[] { service } },
        });
        // Only a hang guard: an EC2 call that fails all nine attempts spends most of its time in the SDK's backoff (43-74 s
        // seen on a quiet machine).
        var result = s.Host.RunWithin(TimeSpan.FromMinutes(4), command, s.Lab.World.InvestigatedInstanceId, s.Lab.GetService<SnsService>()!.ScenarioTopicArn);
        var error = result.SingleError();
        var id = error.FullyQualifiedErrorId.Split(',')[0];
        var what = $"{id} {error.CategoryInfo.Category} [{error.TargetObject}] {error.Exception?.GetType()}: {error.Exception?.Message}";
        // A dropped connection, on every attempt, is the endpoint that cannot be reached; a 5xx on every attempt is the
        // service's own error code (after the SDK's retries), never a parse failure of an answer that never came.
        if (fault == "drop")
        {
            Assert.True(id == "ConnectionError", what);
            Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
            Assert.Equal(s.Lab.Endpoint, error.TargetObject?.ToString());
        }
        else
        {
            Assert.Matches("^[A-Za-z0-9]+\\.(InternalError|Unavailable|InternalFailure|ServiceUnavailable|ServiceUnavailableException)$", id);
            Assert.NotNull(error.TargetObject);
        }
        Assert.True(s.Lab.Counters.Snapshot().Faults.Values.Sum() >= 3, "the SDK's usual attempts");
    }
}
