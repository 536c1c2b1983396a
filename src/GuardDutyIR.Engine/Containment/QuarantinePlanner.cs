using System.Globalization;
using Amazon.EC2.Model;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// Decides what quarantining one instance takes, from what was read about it and its VPCs' isolation groups and from
/// the options; it makes no call. Every step compares the described state with the wanted one, so an instance that
/// is already quarantined gets an empty plan and a re-run changes nothing.
/// </summary>
internal static class QuarantinePlanner
{
    public static QuarantinePlan Plan(InstanceFacts f, IReadOnlyDictionary<string, VpcIsolation> isolation, QuarantineRequest req, QuarantineOptions o, DateTime now)
    {
        var existing = QuarantineTags.FromTags(f.Tags, f.InstanceId);
        var amended = existing is null ? null : Amend(existing, f, o);
        var plan = new QuarantinePlan
        {
            Facts = f, Record = amended?.Record ?? existing ?? BuildRecord(f, o, now), RecordExists = existing is not null, RecordAmendment = amended?.What,
        };
        if (existing is null || amended is not null)
            foreach (var (k, v) in QuarantineTags.ToTags(plan.Record)) plan.StartTags[k] = v;
        if (existing is null)
        {
            plan.StartTags[QuarantineTags.State] = "Quarantining";
            plan.StartTags[QuarantineTags.QuarantinedAt] = plan.Record.RecordedAt.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        }
        if (req.CaseId is { Length: > 0 } c && f.Tags.GetValueOrDefault(QuarantineTags.Case) != c) plan.StartTags[QuarantineTags.Case] = c;
        var findingId = req.FindingId ?? req.Finding?.Id;
        if (findingId is { Length: > 0 } fid && f.Tags.GetValueOrDefault(QuarantineTags.Finding) != fid) plan.StartTags[QuarantineTags.Finding] = fid;

        plan.AutoScalingUnknown = f.AutoScalingError;
        if (f.AutoScaling is { LifecycleState: "InService" or "Pending" } m) plan.LeaveGroup = m;
        plan.SetTermination = o.TerminationProtection && !f.DisableApiTermination;
        plan.SetStop = o.StopProtection && !f.DisableApiStop;
        plan.SetShutdown = o.ShutdownBehaviorStop && f.ShutdownBehavior != "stop";
        if (o.PreserveVolumes) plan.KeepVolumes.AddRange(f.Volumes.Where(v => v.Ebs.DeleteOnTermination == true).Select(v => v.DeviceName));

        foreach (var vpc in f.NetworkInterfaces.Select(e => e.VpcId).Distinct())
        {
            var found = isolation[vpc];
            plan.IsolationGroups[vpc] = found.GroupId;
            if (found.StrayRules.Count > 0) plan.StrayRules[vpc] = found.StrayRules;
        }
        foreach (var eni in f.NetworkInterfaces)
        {
            var iso = plan.IsolationGroups[eni.VpcId];
            var groups = InstanceFacts.GroupsOf(eni);
            if (iso is null || groups.Count != 1 || groups[0] != iso) plan.MoveEnis.Add(eni);
            if (o.LowerConnectionTracking && NeedsLowering(eni)) plan.LowerTracking.Add(eni);
        }
        if (o.DisassociateElasticIps) plan.DropEips.AddRange(f.ElasticIps.Where(a => a.AssociationId is not null));
        plan.ProfileChange = ProfileChange(f.ProfileAssociation, o);
        return plan;
    }

    private static StepText? ProfileChange(IamInstanceProfileAssociation? current, QuarantineOptions o)
    {
        if (o.ReplacementInstanceProfileArn is { } replacement)
        {
            if (current is null) return new StepText($"associated instance profile {replacement}", $"associate instance profile {replacement}");
            if (current.IamInstanceProfile?.Arn != replacement)
                return new StepText($"replaced instance profile {current.IamInstanceProfile?.Arn} with {replacement}", $"replace instance profile {current.IamInstanceProfile?.Arn} with {replacement}");
            return null;
        }
        return o.DisassociateInstanceProfile && current is not null
            ? new StepText($"disassociated instance profile {current.IamInstanceProfile?.Arn} ({current.AssociationId})",
                $"disassociate instance profile {current.IamInstanceProfile?.Arn} ({current.AssociationId})")
            : null;
    }

    internal static QuarantineRecord BuildRecord(InstanceFacts f, QuarantineOptions o, DateTime now) => new()
    {
        DisableApiTermination = f.DisableApiTermination,
        DisableApiStop = f.DisableApiStop,
        ShutdownBehavior = f.ShutdownBehavior,
        RecordedAt = now,
        NetworkInterfaceGroups = f.NetworkInterfaces.ToDictionary(e => e.NetworkInterfaceId, e => InstanceFacts.GroupsOf(e), StringComparer.Ordinal),
        DeleteOnTermination = f.Volumes.ToDictionary(v => v.DeviceName, v => v.Ebs.DeleteOnTermination ?? false, StringComparer.Ordinal),
        InstanceProfileArn = f.ProfileAssociation?.IamInstanceProfile?.Arn,
        ElasticIps = f.ElasticIps.ToDictionary(a => a.AllocationId, a => a.NetworkInterfaceId, StringComparer.Ordinal),
        ElasticIpAddresses = f.ElasticIps.ToDictionary(a => a.AllocationId, a => a.PublicIp, StringComparer.Ordinal),
        ElasticIpPrivateAddresses = f.ElasticIps.Where(a => a.PrivateIpAddress is not null).ToDictionary(a => a.AllocationId, a => a.PrivateIpAddress, StringComparer.Ordinal),
        ConnectionTracking = o.LowerConnectionTracking
            ? f.NetworkInterfaces.ToDictionary(e => e.NetworkInterfaceId, InstanceFacts.TrackingOf, StringComparer.Ordinal)
            : new Dictionary<string, string>(),
        AutoScalingGroupName = f.AutoScaling is { LifecycleState: "InService" or "Pending" } ? f.AutoScaling.GroupName : null,
        AutoScalingAction = f.AutoScaling is { LifecycleState: "InService" or "Pending" } ? o.AutoScaling.ToString() : null,
    };

    /// <summary>
    /// An earlier run's record extended by what this run is about to change that it does not cover (an Auto Scaling
    /// group that run could not read, timeouts or Elastic IPs it left alone), so an undo can still put them back; null
    /// when the record covers everything.
    /// </summary>
    internal static (QuarantineRecord Record, string What)? Amend(QuarantineRecord r, InstanceFacts f, QuarantineOptions o)
    {
        var asg = r.AutoScalingGroupName is null && f.AutoScaling is { LifecycleState: "InService" or "Pending" } m ? m : null;
        var eips = o.DisassociateElasticIps ? f.ElasticIps.Where(a => a.AssociationId is not null && !r.ElasticIps.ContainsKey(a.AllocationId)).ToList() : new List<Address>();
        var tracking = o.LowerConnectionTracking ? f.NetworkInterfaces.Where(e => NeedsLowering(e) && !r.ConnectionTracking.ContainsKey(e.NetworkInterfaceId)).ToList() : new List<InstanceNetworkInterface>();
        if (asg is null && eips.Count == 0 && tracking.Count == 0) return null;
        var what = new List<string>();
        if (asg is not null) what.Add($"Auto Scaling group {asg.GroupName}");
        if (eips.Count > 0) what.Add("Elastic IP(s) " + string.Join(", ", eips.Select(a => a.AllocationId)));
        if (tracking.Count > 0) what.Add("tracking timeouts of " + string.Join(", ", tracking.Select(e => e.NetworkInterfaceId)));
        static Dictionary<string, T> With<T>(IReadOnlyDictionary<string, T> d, IEnumerable<KeyValuePair<string, T>> more)
        {
            var copy = new Dictionary<string, T>(d, StringComparer.Ordinal);
            foreach (var (k, v) in more) copy[k] = v;
            return copy;
        }
        var record = new QuarantineRecord
        {
            DisableApiTermination = r.DisableApiTermination, DisableApiStop = r.DisableApiStop, ShutdownBehavior = r.ShutdownBehavior, RecordedAt = r.RecordedAt,
            NetworkInterfaceGroups = r.NetworkInterfaceGroups, DeleteOnTermination = r.DeleteOnTermination, InstanceProfileArn = r.InstanceProfileArn,
            ElasticIps = With(r.ElasticIps, eips.Select(a => KeyValuePair.Create(a.AllocationId, a.NetworkInterfaceId))),
            ElasticIpAddresses = With(r.ElasticIpAddresses, eips.Select(a => KeyValuePair.Create(a.AllocationId, a.PublicIp))),
            ElasticIpPrivateAddresses = With(r.ElasticIpPrivateAddresses, eips.Where(a => a.PrivateIpAddress is not null).Select(a => KeyValuePair.Create(a.AllocationId, a.PrivateIpAddress))),
            ConnectionTracking = With(r.ConnectionTracking, tracking.Select(e => KeyValuePair.Create(e.NetworkInterfaceId, InstanceFacts.TrackingOf(e)))),
            AutoScalingGroupName = asg?.GroupName ?? r.AutoScalingGroupName,
            AutoScalingAction = asg is not null ? o.AutoScaling.ToString() : r.AutoScalingAction,
        };
        return (record, string.Join("; ", what));
    }

    internal static bool NeedsLowering(InstanceNetworkInterface eni) => (eni.ConnectionTrackingConfiguration?.TcpEstablishedTimeout ?? 432000) > 60;
}
