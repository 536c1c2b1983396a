using Amazon.EC2;
using Amazon.EC2.Model;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// Carries out one instance's plan in the order AWS's incident-response guidance gives
/// (https://docs.aws.amazon.com/security-ir/latest/userguide/ec2-containment.html): record the original state first,
/// leave the Auto Scaling group, protect the evidence, then per ENI the untracked conversion and the no-rule isolation
/// group, then the optional timeouts, Elastic IPs and instance profile, and the verdict.
/// Every step goes into one <see cref="StepLog"/>. A failed step never throws (it is in the log); only cancellation
/// ends a run early, and even then no ENI is left on the all-open conversion group.
/// </summary>
internal sealed partial class QuarantineExecutor
{
    private readonly ContainmentRegion _ctx;
    private readonly QuarantinePlan _plan;
    private readonly QuarantineOptions _o;
    private readonly StepLog _log = new();

    public QuarantineExecutor(ContainmentRegion ctx, QuarantinePlan plan, QuarantineOptions options)
    {
        _ctx = ctx;
        _plan = plan;
        _o = options;
    }

    private InstanceFacts F => _plan.Facts;

    private List<EniQuarantine> _enis = new();
    private readonly Dictionary<string, string> _isolationGroups = new(StringComparer.Ordinal);

    /// <summary>
    /// Quarantines the instance. Stopped by Ctrl+C, it still returns what it did (status Stopped, with every step and
    /// request ID so far), after the ENIs were rolled forward to isolation: a stop must not lose the record of a change.
    /// </summary>
    public async Task<QuarantineResult> RunAsync(QuarantineRequest req, CancellationToken ct)
    {
        try
        {
            return await RunStepsAsync(req, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return Result(req, QuarantineStatus.Stopped, _enis, _isolationGroups);
        }
    }

    private async Task<QuarantineResult> RunStepsAsync(QuarantineRequest req, CancellationToken ct)
    {
        // Without a record nothing could be restored: change nothing else (a DryRun has nothing to lose).
        if (!await RecordAsync(ct).ConfigureAwait(false))
            return Result(req, QuarantineStatus.Failed, new List<EniQuarantine>(), new Dictionary<string, string>());

        // The VPCs' containment groups are made ready while the instance leaves its Auto Scaling group and its evidence
        // is protected: they change nothing on the instance, and the first instance of a VPC would otherwise wait for
        // the groups' calls (find, create, read and fix the rules) after its own, with every instance behind it in a
        // bulk run waiting too. Every run makes each VPC's isolation group ready (found or created, its rules read and
        // repaired), even when every ENI is already on it: a rule added to the group since must not survive a re-run.
        var ready = new GroupsInFlight(_ctx.Groups, F.NetworkInterfaces.Select(e => e.VpcId).Distinct(), _plan.MoveEnis.Select(e => e.VpcId).Distinct(), ct);
        var unknownGroup = await LeaveAutoScalingGroupAsync(ct).ConfigureAwait(false);
        var keep = await ProtectAsync(ct).ConfigureAwait(false);
        if (unknownGroup is not null) ExplainUnknownGroup(unknownGroup, keep);

        // The network, per ENI.
        var isolationGroups = _isolationGroups;
        foreach (var (vpc, task) in ready.Isolation)
        {
            var iso = await task.ConfigureAwait(false);
            iso.ReportTo(_log, F.InstanceId);
            if (iso.GroupId is not null && iso.Error is null) isolationGroups[vpc] = iso.GroupId;
        }
        var enis = _enis = F.NetworkInterfaces.Select(e => new EniQuarantine
        {
            NetworkInterfaceId = e.NetworkInterfaceId, VpcId = e.VpcId, DeviceIndex = e.Attachment?.DeviceIndex ?? 0,
            OriginalGroups = _plan.Record.NetworkInterfaceGroups.TryGetValue(e.NetworkInterfaceId, out var og) ? og : InstanceFacts.GroupsOf(e),
            NewGroups = InstanceFacts.GroupsOf(e),
            IsolationGroupId = isolationGroups.GetValueOrDefault(e.VpcId) ?? _plan.IsolationGroups.GetValueOrDefault(e.VpcId),
        }).ToList();
        if (_plan.MoveEnis.Count > 0) await IsolateAsync(enis, isolationGroups, ready.Conversion, ct).ConfigureAwait(false);
        else _log.Skip("Isolate", F.InstanceId, "every ENI is already only on its VPC's isolation group");

        await OptionalStepsAsync(ct).ConfigureAwait(false);

        // The verdict, and the state tag when it changed.
        var status = _o.DryRun ? QuarantineStatus.DryRun
            : !_log.Any(StepStatus.Failed) ? QuarantineStatus.Quarantined
            : enis.All(e => e.NewGroups.Count == 1 && e.NewGroups[0] == e.IsolationGroupId) ? QuarantineStatus.PartiallyQuarantined
            : _log.Any(StepStatus.Done) ? QuarantineStatus.PartiallyQuarantined : QuarantineStatus.Failed;
        var state = status.ToString();
        if (!_o.DryRun && F.Tags.GetValueOrDefault(QuarantineTags.State) != state)
            await Tag("TagState", new StepText($"tagged {QuarantineTags.State}={state}", $"tag {QuarantineTags.State}={state}"),
                new List<Tag> { new(QuarantineTags.State, state) }, ct).ConfigureAwait(false);
        return Result(req, status, enis, isolationGroups);
    }

    private QuarantineResult Result(QuarantineRequest req, QuarantineStatus status, List<EniQuarantine> enis, Dictionary<string, string> isolationGroups) => new()
    {
        InstanceId = F.InstanceId, Region = _ctx.Name, CaseId = req.CaseId ?? F.Tags.GetValueOrDefault(QuarantineTags.Case),
        FindingId = req.FindingId ?? req.Finding?.Id ?? F.Tags.GetValueOrDefault(QuarantineTags.Finding), Finding = req.Finding,
        Steps = _log.Steps, Actions = _log.Actions, Original = _plan.Record, OriginalDescription = Ec2Gateway.ToJson(F.Instance),
        Status = status, NetworkInterfaces = enis, IsolationGroups = isolationGroups,
    };

    private Task<QuarantineStep> Tag(string name, StepText text, List<Tag> tags, CancellationToken ct) =>
        _log.MutateAsync(_ctx.Ec2, name, F.InstanceId, text, "CreateTags",
            (c, dry, t) => c.CreateTagsAsync(new CreateTagsRequest { Resources = new List<string> { F.InstanceId }, Tags = tags, DryRun = dry }, t), ct);

    /// <summary>Step 1: the record (and the case tags), before anything changes. False when there is no record and none could be written.</summary>
    private async Task<bool> RecordAsync(CancellationToken ct)
    {
        if (_plan.StartTags.Count == 0)
        {
            _log.Skip("RecordOriginalState", F.InstanceId, "the original state was recorded by an earlier run");
            return true;
        }
        var tags = _plan.StartTags.Select(t => new Tag(t.Key, t.Value)).ToList();
        var text = !_plan.RecordExists ? new StepText($"recorded the original state in {tags.Count} tag(s)", $"record the original state in {tags.Count} tag(s)")
            : _plan.RecordAmendment is { } what ? new StepText($"added to the recorded original state: {what}", $"add to the recorded original state: {what}")
            : new StepText("tagged the case", "tag the case");
        var rec = await Tag("RecordOriginalState", text, tags, ct).ConfigureAwait(false);
        return rec.Status != StepStatus.Failed || _plan.RecordExists;
    }

    /// <summary>
    /// Step 2: out of the Auto Scaling group before the network cut: an isolated instance fails its health checks and
    /// the group would terminate it. Returns the failed step when the membership could not be read.
    /// </summary>
    private async Task<QuarantineStep?> LeaveAutoScalingGroupAsync(CancellationToken ct)
    {
        // Not knowing must not keep the instance on the network: step 3 keeps its volumes on termination, so the
        // evidence outlives a termination by the group; the step says so once step 3 is done.
        if (_plan.AutoScalingUnknown is not null)
            return _log.Fail("LeaveAutoScalingGroup", F.InstanceId, "find and leave the instance's Auto Scaling group", null);
        if (_plan.LeaveGroup is not { } asg) return null;
        var detach = _o.AutoScaling == AutoScalingAction.Detach;
        var name = detach ? "DetachFromAutoScalingGroup" : "EnterAutoScalingStandby";
        var planned = (detach ? "detach from " : "put in standby in ") + asg.GroupName;
        if (_o.DryRun)
        {
            _log.Skip(name, asg.GroupName, $"would {planned} (Auto Scaling has no DryRun; not checked)");
            return null;
        }
        await _log.RunAsync(name, asg.GroupName, new StepText(planned, planned), async t =>
        {
            // Decrement the desired capacity only when the group's minimum allows it; otherwise the group launches a replacement.
            var (min, desired, _) = await _ctx.AutoScaling.DescribeCapacityAsync(asg.GroupName, t).ConfigureAwait(false);
            var decrement = desired - 1 >= min;
            var id = detach
                ? await _ctx.AutoScaling.DetachInstanceAsync(asg.GroupName, F.InstanceId, decrement, t).ConfigureAwait(false)
                : await _ctx.AutoScaling.EnterStandbyAsync(asg.GroupName, F.InstanceId, decrement, t).ConfigureAwait(false);
            return new StepOutcome(StepStatus.Done, id,
                Detail: (detach ? "detached from " : "put in standby in ") + asg.GroupName + (decrement ? " (desired capacity decremented)" : " (the group may launch a replacement)"));
        }, ct).ConfigureAwait(false);
        return null;
    }

    /// <summary>Step 3: protect the evidence, one attribute per ModifyInstanceAttribute call, the independent ones at once. Returns the volumes step.</summary>
    private async Task<QuarantineStep?> ProtectAsync(CancellationToken ct)
    {
        Task<QuarantineStep> Modify(string name, StepText text, Action<ModifyInstanceAttributeRequest> set) =>
            _log.MutateAsync(_ctx.Ec2, name, F.InstanceId, text, "ModifyInstanceAttribute", Ec2Calls.ModifyInstance(F.InstanceId, set), ct);

        var protections = new List<Task<QuarantineStep>>();
        if (_plan.SetTermination)
            protections.Add(Modify("EnableTerminationProtection", new StepText("enabled termination protection", "enable termination protection"), r => r.DisableApiTermination = true));
        if (_plan.SetStop)
            protections.Add(Modify("EnableStopProtection", new StepText("enabled stop protection", "enable stop protection"), r => r.DisableApiStop = true));
        if (_plan.SetShutdown)
            protections.Add(Modify("SetShutdownBehaviorStop", new StepText("set shutdown behaviour to stop", "set shutdown behaviour to stop"), r => r.InstanceInitiatedShutdownBehavior = "stop"));
        Task<QuarantineStep>? keep = null;
        if (_plan.KeepVolumes.Count > 0)
        {
            var mappings = _plan.KeepVolumes.Select(d => new InstanceBlockDeviceMappingSpecification { DeviceName = d, Ebs = new EbsInstanceBlockDeviceSpecification { DeleteOnTermination = false } }).ToList();
            var devices = string.Join(", ", _plan.KeepVolumes);
            protections.Add(keep = Modify("KeepVolumesOnTermination", new StepText("set DeleteOnTermination=false on " + devices, "set DeleteOnTermination=false on " + devices),
                r => r.BlockDeviceMappings = mappings));
        }
        await Task.WhenAll(protections).ConfigureAwait(false);
        return keep is null ? null : await keep.ConfigureAwait(false);
    }

    private void ExplainUnknownGroup(QuarantineStep unknownGroup, QuarantineStep? keep)
    {
        var kept = F.Volumes.All(v => v.Ebs.DeleteOnTermination != true) || keep?.Status is StepStatus.Done or StepStatus.DryRunAllowed;
        unknownGroup.Error = $"The Auto Scaling lookup failed ({_plan.AutoScalingUnknown!.Message}). If the instance is in a group it is still in service there, and the group may " +
            "terminate it once the isolated instance fails its health checks. " +
            (kept ? "Its EBS volumes are kept on termination (DeleteOnTermination=false), so the evidence survives that. "
                  : "Not all of its EBS volumes are kept on termination: snapshot them now (New-ForensicSnapshot). ") +
            "The network was cut anyway; run Set-InstanceQuarantine again once Auto Scaling answers.";
    }

    /// <summary>Step 5, as asked: shorter idle timeouts, no Elastic IPs, another or no instance profile.</summary>
    private async Task OptionalStepsAsync(CancellationToken ct)
    {
        var ec2 = _ctx.Ec2;
        foreach (var eni in _plan.LowerTracking)
        {
            var what = $"connection-tracking timeouts of {eni.NetworkInterfaceId} from {InstanceFacts.TrackingOf(eni)} to 60/60/30 s";
            await _log.MutateAsync(ec2, "LowerConnectionTracking", eni.NetworkInterfaceId, new StepText("lowered " + what, "lower " + what), "ModifyNetworkInterfaceAttribute",
                Ec2Calls.ModifyEni(eni.NetworkInterfaceId, r => r.ConnectionTrackingSpecification =
                    new ConnectionTrackingSpecificationRequest { TcpEstablishedTimeout = 60, UdpStreamTimeout = 60, UdpTimeout = 30 }), ct).ConfigureAwait(false);
        }
        foreach (var a in _plan.DropEips)
        {
            var what = $"Elastic IP {a.PublicIp} ({a.AllocationId}) from {a.NetworkInterfaceId} ({a.PrivateIpAddress})";
            await _log.MutateAsync(ec2, "DisassociateElasticIp", a.AllocationId, new StepText("disassociated " + what, "disassociate " + what), "DisassociateAddress",
                (c, dry, t) => c.DisassociateAddressAsync(new DisassociateAddressRequest { AssociationId = a.AssociationId, DryRun = dry }, t), ct).ConfigureAwait(false);
        }
        if (_plan.ProfileChange is not { } text) return;
        var current = F.ProfileAssociation;
        if (_o.ReplacementInstanceProfileArn is { } arn && current is not null)
            await _log.MutateAsync(ec2, "ReplaceInstanceProfile", current.AssociationId, text, "ReplaceIamInstanceProfileAssociation",
                (c, dry, t) => c.ReplaceIamInstanceProfileAssociationAsync(new ReplaceIamInstanceProfileAssociationRequest
                { AssociationId = current.AssociationId, IamInstanceProfile = new IamInstanceProfileSpecification { Arn = arn } }, t), ct).ConfigureAwait(false);
        else if (_o.ReplacementInstanceProfileArn is { } arn2)
            await _log.MutateAsync(ec2, "AssociateInstanceProfile", F.InstanceId, text, "AssociateIamInstanceProfile",
                (c, dry, t) => c.AssociateIamInstanceProfileAsync(new AssociateIamInstanceProfileRequest
                { InstanceId = F.InstanceId, IamInstanceProfile = new IamInstanceProfileSpecification { Arn = arn2 } }, t), ct).ConfigureAwait(false);
        else if (current is not null)
            await _log.MutateAsync(ec2, "DisassociateInstanceProfile", current.AssociationId, text, "DisassociateIamInstanceProfile",
                (c, dry, t) => c.DisassociateIamInstanceProfileAsync(new DisassociateIamInstanceProfileRequest { AssociationId = current.AssociationId }, t), ct).ConfigureAwait(false);
    }
}
