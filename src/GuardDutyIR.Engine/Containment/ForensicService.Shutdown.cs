using Amazon.EC2;
using Amazon.EC2.Model;

namespace GuardDutyIR.Engine.Containment;

public sealed partial class ForensicService
{
    // ------------------------------------------------------------------ guarded stop / terminate

    /// <summary>
    /// The evidence gate. Reads the instance and its evidence, changing nothing, and refuses (EvidenceIncomplete) unless every volume has a
    /// completed snapshot of the case or <paramref name="force"/> is given: a refusal needs no confirmation.
    /// </summary>
    public async Task<ShutdownPlan> PlanShutdownAsync(string instanceId, string region, string? caseId, bool terminate, bool force, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        var ec2 = Gateway(region);
        var f = await DescribeOneAsync(ec2, instanceId, ct).ConfigureAwait(false);
        var covered = new Dictionary<string, string>(StringComparer.Ordinal);
        var snaps = caseId is null ? new List<Snapshot>() : await SnapshotsOfCaseAsync(ec2, caseId, null, ct).ConfigureAwait(false);
        foreach (var v in f.Volumes)
            if (snaps.FirstOrDefault(s => s.VolumeId == v.Ebs.VolumeId && s.State?.Value == "completed") is { } s) covered[v.Ebs.VolumeId] = s.SnapshotId;
        var missing = f.Volumes.Select(v => v.Ebs.VolumeId).Where(v => !covered.ContainsKey(v)).ToList();
        if (missing.Count > 0 && !force)
            throw new GuardDutyIRException("EvidenceIncomplete", ErrorKind.InvalidOperation,
                $"Refusing to {(terminate ? "terminate" : "stop")} {instanceId}: no completed snapshot of case {caseId ?? "(none given)"} for volume(s) {string.Join(", ", missing)}. " +
                "Run New-ForensicSnapshot -Wait first, or pass -Force.", instanceId);
        return new ShutdownPlan(f, region) { CaseId = caseId, Terminate = terminate, Covered = covered, Missing = missing };
    }

    private static async Task<string> WaitForStateAsync(Ec2Gateway ec2, string instanceId, string want, TimeSpan timeout, TimeSpan pollInterval, Action<string>? progress, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var state = (await DescribeOneAsync(ec2, instanceId, ct).ConfigureAwait(false)).StateName;
            progress?.Invoke($"{instanceId}: {state}");
            if (state == want) return state;
            if (DateTime.UtcNow >= deadline)
                throw new GuardDutyIRException("InstanceStateWaitTimedOut", ErrorKind.OperationTimeout, $"{instanceId} is {state}, not {want}, after {timeout}.", instanceId);
            await Task.Delay(pollInterval, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Stops or terminates after the gate: lifts the protections only now, then waits for the final state.</summary>
    public async Task<InstanceShutdown> ShutdownAsync(ShutdownPlan plan, TimeSpan timeout, TimeSpan pollInterval, Action<string>? progress, CancellationToken ct)
    {
        var (instanceId, region, caseId, terminate, covered, missing, f) = (plan.InstanceId, plan.Region, plan.CaseId, plan.Terminate, plan.Covered, plan.Missing, plan.Facts);
        var ec2 = Gateway(region);
        var want = terminate ? "terminated" : "stopped";
        if (f.StateName == want || (terminate && f.StateName == "shutting-down") || (!terminate && f.StateName == "stopping"))
        {
            // Already there (several snapshots of one instance piped in): no call, just wait for the final state.
            var state0 = await WaitForStateAsync(ec2, instanceId, want, timeout, pollInterval, progress, ct).ConfigureAwait(false);
            var already = new StepLog();
            already.Skip(terminate ? "TerminateInstance" : "StopInstance", instanceId, $"already {f.StateName}");
            return new InstanceShutdown
            {
                InstanceId = instanceId, Region = region, CaseId = caseId, Action = terminate ? "Terminate" : "Stop", PreviousState = f.StateName, State = state0,
                EvidenceSnapshots = covered, Forced = false, Steps = already.Steps,
            };
        }
        await Ec2Facts.ReadAttributesAsync(ec2, f, ct).ConfigureAwait(false);
        var log = new StepLog();
        Task<QuarantineStep> Step<T>(string name, StepText text, string action, Func<IAmazonEC2, bool, CancellationToken, Task<T>> call) where T : Amazon.Runtime.AmazonWebServiceResponse =>
            log.MutateAsync(ec2, name, instanceId, text, action, call, ct, throwOnFailure: true);
        // Protections come off only right before the call that needs them, so a shutdown that fails leaves them on.
        if (f.DisableApiTermination && terminate)
            await Step("DisableTerminationProtection", new StepText("lifted termination protection", "lift termination protection"), "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = instanceId, DisableApiTermination = false }, t)).ConfigureAwait(false);
        if (f.DisableApiStop)
            await Step("DisableStopProtection", new StepText("lifted stop protection", "lift stop protection"), "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = instanceId, DisableApiStop = false }, t)).ConfigureAwait(false);
        var previous = f.StateName;
        if (terminate)
            await Step("TerminateInstance", new StepText("terminated the instance", "terminate the instance"), "TerminateInstances",
                (c, dry, t) => c.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = new List<string> { instanceId } }, t)).ConfigureAwait(false);
        else
            await Step("StopInstance", new StepText("stopped the instance", "stop the instance"), "StopInstances",
                (c, dry, t) => c.StopInstancesAsync(new StopInstancesRequest { InstanceIds = new List<string> { instanceId } }, t)).ConfigureAwait(false);
        var state = await WaitForStateAsync(ec2, instanceId, want, timeout, pollInterval, progress, ct).ConfigureAwait(false);
        return new InstanceShutdown
        {
            InstanceId = instanceId, Region = region, CaseId = caseId, Action = terminate ? "Terminate" : "Stop", PreviousState = previous, State = state,
            EvidenceSnapshots = covered, Forced = missing.Count > 0, Steps = log.Steps,
        };
    }
}
