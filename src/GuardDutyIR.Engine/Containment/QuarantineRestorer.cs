using System.Globalization;
using System.Text;
using Amazon.EC2.Model;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// Undo-InstanceQuarantine: puts back every original the quarantine recorded in the instance's tags, per ENI, and
/// removes the record only when everything is back, so a failed restore can be run again. Each step compares the
/// described state with the recorded one and makes no call when they agree.
/// </summary>
internal static class QuarantineRestorer
{
    private static QuarantineRecord RecordOf(InstanceFacts f) => QuarantineTags.FromTags(f.Tags, f.InstanceId)
        ?? throw new GuardDutyIRException("NoQuarantineRecord", ErrorKind.ObjectNotFound,
            $"{f.InstanceId} has no quarantine record ({QuarantineTags.OriginPrefix}* tags); there is nothing to restore.", f.InstanceId);

    /// <summary>Describes the instance and returns what a restore would change, for ShouldProcess.</summary>
    public static async Task<(string Plan, QuarantineRecord Record)> PlanAsync(ContainmentRegion ctx, string instanceId, CancellationToken ct)
    {
        var record = RecordOf(await ctx.DescribeAsync(instanceId, withAttributes: false, ct).ConfigureAwait(false));
        var sb = new StringBuilder($"Restore {instanceId} to its state of {record.RecordedAt:u}:");
        foreach (var (eni, groups) in record.NetworkInterfaceGroups) sb.Append($"\n  - {eni}: security groups [{string.Join(", ", groups)}]");
        foreach (var (alloc, eni) in record.ElasticIps)
            sb.Append($"\n  - Elastic IP {record.ElasticIpAddresses.GetValueOrDefault(alloc)} ({alloc}) on {eni} ({record.ElasticIpPrivateAddresses.GetValueOrDefault(alloc) ?? "primary private IP"})");
        foreach (var (eni, timeouts) in record.ConnectionTracking) sb.Append($"\n  - {eni}: connection-tracking timeouts {timeouts} s");
        sb.Append($"\n  - instance profile: {record.InstanceProfileArn ?? "none"}");
        sb.Append($"\n  - DisableApiTermination={record.DisableApiTermination}, DisableApiStop={record.DisableApiStop}, shutdown behaviour {record.ShutdownBehavior}");
        foreach (var (device, dot) in record.DeleteOnTermination) sb.Append($"\n  - {device} DeleteOnTermination={dot}");
        if (record.AutoScalingGroupName is { } asg) sb.Append($"\n  - back into Auto Scaling group {asg} ({record.AutoScalingAction})");
        return (sb.ToString(), record);
    }

    /// <summary>Puts back every recorded original, per ENI, and removes the record.</summary>
    public static async Task<QuarantineResult> RestoreAsync(ContainmentRegion ctx, string instanceId, CancellationToken ct)
    {
        var f = await ctx.DescribeAsync(instanceId, withAttributes: true, ct).ConfigureAwait(false);
        var record = RecordOf(f);
        var log = new StepLog();
        var ec2 = ctx.Ec2;

        Task<QuarantineStep> ModifyInstance(string name, StepText text, Action<ModifyInstanceAttributeRequest> set) =>
            log.MutateAsync(ec2, name, instanceId, text, "ModifyInstanceAttribute", Ec2Calls.ModifyInstance(instanceId, set), ct);
        Task<QuarantineStep> ModifyEni(string name, string eniId, StepText text, Action<ModifyNetworkInterfaceAttributeRequest> set) =>
            log.MutateAsync(ec2, name, eniId, text, "ModifyNetworkInterfaceAttribute", Ec2Calls.ModifyEni(eniId, set), ct);

        var enis = new List<EniQuarantine>();
        foreach (var eni in f.NetworkInterfaces)
        {
            var current = InstanceFacts.GroupsOf(eni);
            if (!record.NetworkInterfaceGroups.TryGetValue(eni.NetworkInterfaceId, out var original)) continue;
            var entry = new EniQuarantine { NetworkInterfaceId = eni.NetworkInterfaceId, VpcId = eni.VpcId, DeviceIndex = eni.Attachment?.DeviceIndex ?? 0, OriginalGroups = original, NewGroups = current };
            enis.Add(entry);
            if (current.SequenceEqual(original)) continue;
            var groups = original.ToList();
            var what = $"{eni.NetworkInterfaceId} to [{string.Join(", ", groups)}]";
            var step = await ModifyEni("RestoreGroups", eni.NetworkInterfaceId, new StepText("restored " + what, "restore " + what), r => r.Groups = groups).ConfigureAwait(false);
            if (step.Status == StepStatus.Done) entry.NewGroups = groups;
        }
        foreach (var (eniId, timeouts) in record.ConnectionTracking)
        {
            if (f.NetworkInterfaces.FirstOrDefault(e => e.NetworkInterfaceId == eniId) is { } now && InstanceFacts.TrackingOf(now) == timeouts) continue;
            var parts = timeouts.Split('/').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
            var what = $"connection-tracking timeouts of {eniId} to {timeouts} s";
            await ModifyEni("RestoreConnectionTracking", eniId, new StepText("restored " + what, "restore " + what), r => r.ConnectionTrackingSpecification =
                new ConnectionTrackingSpecificationRequest { TcpEstablishedTimeout = parts[0], UdpStreamTimeout = parts[1], UdpTimeout = parts[2] }).ConfigureAwait(false);
        }
        foreach (var (alloc, eniId) in record.ElasticIps)
        {
            // Back on the private IP it was on; a record made before private IPs were kept has none: the primary one.
            var privateIp = record.ElasticIpPrivateAddresses.GetValueOrDefault(alloc);
            if (f.ElasticIps.Any(a => a.AllocationId == alloc && a.NetworkInterfaceId == eniId && (privateIp is null || a.PrivateIpAddress == privateIp))) continue;
            var what = $"Elastic IP {record.ElasticIpAddresses.GetValueOrDefault(alloc)} ({alloc}) with {eniId} ({privateIp ?? "primary private IP"}) again";
            await log.MutateAsync(ec2, "RestoreElasticIp", alloc, new StepText("associated " + what, "associate " + what), "AssociateAddress",
                (c, dry, t) => c.AssociateAddressAsync(new AssociateAddressRequest
                { AllocationId = alloc, NetworkInterfaceId = eniId, PrivateIpAddress = privateIp, AllowReassociation = false, DryRun = dry }, t), ct).ConfigureAwait(false);
        }
        await RestoreProfileAsync(log, ec2, f, record.InstanceProfileArn, ct).ConfigureAwait(false);
        if (f.DisableApiTermination != record.DisableApiTermination)
            await ModifyInstance("RestoreTerminationProtection", Back($"DisableApiTermination back to {record.DisableApiTermination}"), r => r.DisableApiTermination = record.DisableApiTermination).ConfigureAwait(false);
        if (f.DisableApiStop != record.DisableApiStop)
            await ModifyInstance("RestoreStopProtection", Back($"DisableApiStop back to {record.DisableApiStop}"), r => r.DisableApiStop = record.DisableApiStop).ConfigureAwait(false);
        if (f.ShutdownBehavior != record.ShutdownBehavior)
            await ModifyInstance("RestoreShutdownBehavior", Back($"shutdown behaviour back to {record.ShutdownBehavior}"), r => r.InstanceInitiatedShutdownBehavior = record.ShutdownBehavior).ConfigureAwait(false);
        var dots = f.Volumes.Where(v => record.DeleteOnTermination.TryGetValue(v.DeviceName, out var want) && (v.Ebs.DeleteOnTermination ?? false) != want)
            .Select(v => new InstanceBlockDeviceMappingSpecification { DeviceName = v.DeviceName, Ebs = new EbsInstanceBlockDeviceSpecification { DeleteOnTermination = record.DeleteOnTermination[v.DeviceName] } }).ToList();
        if (dots.Count > 0)
            await ModifyInstance("RestoreDeleteOnTermination", Back("DeleteOnTermination back to its original value on " + string.Join(", ", dots.Select(d => d.DeviceName))),
                r => r.BlockDeviceMappings = dots).ConfigureAwait(false);
        if (record.AutoScalingGroupName is { } asg) await RestoreAutoScalingAsync(log, ctx, f, asg, record.AutoScalingAction, ct).ConfigureAwait(false);
        if (!log.Any(StepStatus.Failed))
        {
            // The record goes only when everything is back, so a failed restore can be run again.
            var keys = QuarantineTags.RecordKeys(f.Tags).Select(k => new Tag { Key = k }).ToList();
            await log.MutateAsync(ec2, "RemoveRecord", instanceId, new StepText($"removed the quarantine record ({keys.Count} tag(s))", $"remove the quarantine record ({keys.Count} tag(s))"), "DeleteTags",
                (c, dry, t) => c.DeleteTagsAsync(new DeleteTagsRequest { Resources = new List<string> { instanceId }, Tags = keys, DryRun = dry }, t), ct).ConfigureAwait(false);
            await log.MutateAsync(ec2, "TagState", instanceId, new StepText($"tagged {QuarantineTags.State}=Released", $"tag {QuarantineTags.State}=Released"), "CreateTags",
                (c, dry, t) => c.CreateTagsAsync(new CreateTagsRequest { Resources = new List<string> { instanceId }, Tags = new List<Tag> { new(QuarantineTags.State, "Released") }, DryRun = dry }, t), ct).ConfigureAwait(false);
        }
        return new QuarantineResult
        {
            InstanceId = instanceId, Region = ctx.Name, CaseId = f.Tags.GetValueOrDefault(QuarantineTags.Case), FindingId = f.Tags.GetValueOrDefault(QuarantineTags.Finding),
            Steps = log.Steps, Actions = log.Actions, NetworkInterfaces = enis, Original = record, OriginalDescription = Ec2Gateway.ToJson(f.Instance),
            Status = log.Any(StepStatus.Failed) ? QuarantineStatus.PartiallyQuarantined : QuarantineStatus.Released,
        };
    }

    // "X back to Y" once done; "set X back to Y" while only planned or failed.
    private static StepText Back(string done) => new(done, "set " + done);

    private static async Task RestoreProfileAsync(StepLog log, Ec2Gateway ec2, InstanceFacts f, string? arn, CancellationToken ct)
    {
        var assoc = f.ProfileAssociation;
        var profile = new IamInstanceProfileSpecification { Arn = arn };
        if (arn is not null && assoc is null)
            await log.MutateAsync(ec2, "RestoreInstanceProfile", f.InstanceId, new StepText($"associated instance profile {arn} again", $"associate instance profile {arn} again"),
                "AssociateIamInstanceProfile", (c, dry, t) => c.AssociateIamInstanceProfileAsync(new AssociateIamInstanceProfileRequest { InstanceId = f.InstanceId, IamInstanceProfile = profile }, t), ct).ConfigureAwait(false);
        else if (arn is not null && assoc is not null && assoc.IamInstanceProfile?.Arn != arn)
            await log.MutateAsync(ec2, "RestoreInstanceProfile", assoc.AssociationId,
                new StepText($"replaced the instance profile with the original {arn}", $"replace the instance profile with the original {arn}"), "ReplaceIamInstanceProfileAssociation",
                (c, dry, t) => c.ReplaceIamInstanceProfileAssociationAsync(new ReplaceIamInstanceProfileAssociationRequest { AssociationId = assoc.AssociationId, IamInstanceProfile = profile }, t), ct).ConfigureAwait(false);
        else if (arn is null && assoc is not null)
            await log.MutateAsync(ec2, "RestoreInstanceProfile", assoc.AssociationId,
                new StepText("removed the replacement instance profile (there was none before)", "remove the replacement instance profile (there was none before)"), "DisassociateIamInstanceProfile",
                (c, dry, t) => c.DisassociateIamInstanceProfileAsync(new DisassociateIamInstanceProfileRequest { AssociationId = assoc.AssociationId }, t), ct).ConfigureAwait(false);
    }

    private static async Task RestoreAutoScalingAsync(StepLog log, ContainmentRegion ctx, InstanceFacts f, string asg, string? action, CancellationToken ct)
    {
        // Without the membership no restore can be chosen safely (attaching an instance that is in service fails).
        if (f.AutoScalingError is { } unknown)
        {
            log.Fail("RestoreAutoScaling", asg, $"put the instance back in {asg}", $"Auto Scaling membership could not be read: {unknown.Message}");
            return;
        }
        await log.RunAsync("RestoreAutoScaling", asg, new StepText($"back in service in {asg}", $"put the instance back in {asg}"), async t =>
        {
            string? id = null;
            if (action == nameof(AutoScalingAction.Detach) && f.AutoScaling is null) id = await ctx.AutoScaling.AttachInstanceAsync(asg, f.InstanceId, t).ConfigureAwait(false);
            else if (f.AutoScaling?.LifecycleState == "Standby") id = await ctx.AutoScaling.ExitStandbyAsync(asg, f.InstanceId, t).ConfigureAwait(false);
            return id is null ? new StepOutcome(StepStatus.Skipped, Detail: "already back in the group") : new StepOutcome(StepStatus.Done, id);
        }, ct).ConfigureAwait(false);
    }
}
