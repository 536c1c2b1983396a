using Amazon.EC2.Model;

namespace GuardDutyIR.Engine.Containment;

/// <summary>A VPC's isolation group as Test-InstanceQuarantine reads it: its ID (null when there is none) and all its rules.</summary>
internal sealed record IsolationGroupRules(string? GroupId, IReadOnlyList<SecurityGroupRule> Rules);

/// <summary>
/// Test-InstanceQuarantine: reads the instance and its VPCs' isolation groups, then checks every guarantee a
/// quarantine gives, one check per guarantee and resource, so a failure names what is not as it should be.
/// </summary>
internal static class QuarantineVerifier
{
    public static async Task<QuarantineTestResult> VerifyAsync(ContainmentRegion ctx, string instanceId, QuarantineOptions o,
        bool expectProfileRemoved, bool expectEipRemoved, CancellationToken ct)
    {
        var f = await ctx.DescribeAsync(instanceId, withAttributes: true, ct).ConfigureAwait(false);
        var isolation = new Dictionary<string, IsolationGroupRules>(StringComparer.Ordinal);
        foreach (var vpc in f.NetworkInterfaces.Select(e => e.VpcId).Distinct())
        {
            var id = await ctx.Groups.FindAsync(vpc, GroupPurpose.Isolation, ct).ConfigureAwait(false);
            isolation[vpc] = new IsolationGroupRules(id, id is null ? Array.Empty<SecurityGroupRule>() : await ctx.Groups.RulesAsync(id, ct).ConfigureAwait(false));
        }
        return Check(f, isolation, ctx.Name, o, expectProfileRemoved, expectEipRemoved);
    }

    internal static QuarantineTestResult Check(InstanceFacts f, IReadOnlyDictionary<string, IsolationGroupRules> isolation, string region, QuarantineOptions o,
        bool expectProfileRemoved, bool expectEipRemoved)
    {
        var instanceId = f.InstanceId;
        var checks = new List<QuarantineCheck>();
        void Check(string name, string target, bool passed, string detail) => checks.Add(new QuarantineCheck { Name = name, Target = target, Passed = passed, Detail = detail });

        QuarantineRecord? record = null;
        try { record = QuarantineTags.FromTags(f.Tags, instanceId); }
        catch (GuardDutyIRException e) { Check("OriginalStateRecorded", instanceId, false, e.Message); }
        if (record is not null) Check("OriginalStateRecorded", instanceId, true, $"recorded {record.RecordedAt:u}: {record.NetworkInterfaceGroups.Count} ENI(s)");
        else if (checks.Count == 0) Check("OriginalStateRecorded", instanceId, false, $"no {QuarantineTags.OriginPrefix}* tags: nothing could be restored");

        foreach (var (vpc, group) in isolation)
        {
            if (group.GroupId is null) { Check("IsolationGroupHasNoRules", vpc, false, "no isolation group in this VPC"); continue; }
            var rules = group.Rules;
            Check("IsolationGroupHasNoRules", group.GroupId, rules.Count == 0, rules.Count == 0 ? "no inbound or outbound rules"
                : $"{rules.Count(r => r.IsEgress == false)} inbound and {rules.Count(r => r.IsEgress == true)} outbound rule(s): " +
                  string.Join(", ", rules.Select(ContainmentGroups.Describe)));
        }
        foreach (var eni in f.NetworkInterfaces)
        {
            var groups = InstanceFacts.GroupsOf(eni);
            var iso = isolation.GetValueOrDefault(eni.VpcId)?.GroupId;
            Check("OnlyIsolationGroup", eni.NetworkInterfaceId, iso is not null && groups.Count == 1 && groups[0] == iso, "groups: " + string.Join(", ", groups));
        }
        Check("TerminationProtection", instanceId, f.DisableApiTermination, $"DisableApiTermination={f.DisableApiTermination}");
        Check("StopProtection", instanceId, f.DisableApiStop, $"DisableApiStop={f.DisableApiStop}");
        Check("ShutdownBehaviorStop", instanceId, f.ShutdownBehavior == "stop", $"InstanceInitiatedShutdownBehavior={f.ShutdownBehavior}");
        foreach (var v in f.Volumes)
            Check("VolumeKeptOnTermination", v.Ebs.VolumeId, v.Ebs.DeleteOnTermination != true, $"{v.DeviceName} DeleteOnTermination={v.Ebs.DeleteOnTermination}");
        var profile = f.ProfileAssociation?.IamInstanceProfile?.Arn;
        Check("InstanceProfile", instanceId, !expectProfileRemoved || profile is null || (o.ReplacementInstanceProfileArn is not null && profile == o.ReplacementInstanceProfileArn),
            profile is null ? "no instance profile associated" : $"associated: {profile}");
        Check("ElasticIps", instanceId, !expectEipRemoved || f.ElasticIps.Count == 0,
            f.ElasticIps.Count == 0 ? "no Elastic IP associated" : "associated: " + string.Join(", ", f.ElasticIps.Select(a => $"{a.PublicIp} ({a.AllocationId})")));
        if (f.AutoScalingError is { } unknown)
            Check("OutOfAutoScalingGroup", instanceId, false, $"Auto Scaling membership could not be read: {unknown.Message}");
        else if (record?.AutoScalingGroupName is { } asg)
            Check("OutOfAutoScalingGroup", asg, f.AutoScaling is null || f.AutoScaling.LifecycleState.StartsWith("Standby", StringComparison.Ordinal) || f.AutoScaling.LifecycleState.Contains("Standby", StringComparison.Ordinal),
                f.AutoScaling is null ? "not in any group" : $"{f.AutoScaling.GroupName}: {f.AutoScaling.LifecycleState}");
        Check("StateTag", instanceId, f.Tags.GetValueOrDefault(QuarantineTags.State) == "Quarantined", $"{QuarantineTags.State}={f.Tags.GetValueOrDefault(QuarantineTags.State) ?? "(none)"}");
        return new QuarantineTestResult { InstanceId = instanceId, Region = region, CaseId = f.Tags.GetValueOrDefault(QuarantineTags.Case), Checks = checks };
    }
}
