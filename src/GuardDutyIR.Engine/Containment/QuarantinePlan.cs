using System.Globalization;
using System.Text;
using Amazon.EC2.Model;
using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Engine.Containment;

/// <summary>A VPC's isolation group as found before planning: its ID (null when none exists yet) and the rules added to it since it was made.</summary>
internal sealed record VpcIsolation(string? GroupId, IReadOnlyList<SecurityGroupRule> StrayRules);

/// <summary>What has to change on one instance, computed from its described state; empty when it is quarantined.</summary>
internal sealed class QuarantinePlan
{
    public required InstanceFacts Facts { get; init; }
    public required QuarantineRecord Record { get; init; }
    public bool RecordExists { get; init; }
    /// <summary>The earlier run's record lacks something this run changes; its tags are written again with it.</summary>
    public string? RecordAmendment { get; init; }
    public Dictionary<string, string> StartTags { get; } = new(StringComparer.Ordinal);
    public AutoScalingMembership? LeaveGroup { get; set; }
    /// <summary>The Auto Scaling lookup failed: membership unknown, isolate anyway.</summary>
    public GuardDutyIRException? AutoScalingUnknown { get; set; }
    public bool SetTermination { get; set; }
    public bool SetStop { get; set; }
    public bool SetShutdown { get; set; }
    public List<string> KeepVolumes { get; } = new();
    /// <summary>ENIs not yet only on their VPC's isolation group.</summary>
    public List<InstanceNetworkInterface> MoveEnis { get; } = new();
    public Dictionary<string, string?> IsolationGroups { get; } = new(StringComparer.Ordinal);
    /// <summary>Rules found on an existing isolation group (added since it was made); every run revokes them.</summary>
    public Dictionary<string, IReadOnlyList<SecurityGroupRule>> StrayRules { get; } = new(StringComparer.Ordinal);
    public List<InstanceNetworkInterface> LowerTracking { get; } = new();
    public List<Address> DropEips { get; } = new();
    public StepText? ProfileChange { get; set; }

    /// <summary>The plan put to ShouldProcess: one line per change, ENI by ENI.</summary>
    public string Describe(QuarantineOptions o, string region)
    {
        var f = Facts;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Quarantine {f.InstanceId} in {region} ({f.StateName}, {f.NetworkInterfaces.Count} ENI(s)):");
        void Line(string s) => sb.Append("\n  - ").Append(s);
        if (!RecordExists) Line($"record the original state in tags {QuarantineTags.OriginPrefix}1..n");
        else if (RecordAmendment is not null) Line($"add to the recorded original state: {RecordAmendment}");
        var caseTags = StartTags.Where(t => !t.Key.StartsWith(QuarantineTags.OriginPrefix, StringComparison.Ordinal)).ToList();
        if (RecordExists && caseTags.Count > 0) Line("tag " + string.Join(", ", caseTags.Select(t => $"{t.Key}={t.Value}")));
        if (AutoScalingUnknown is not null)
            Line($"Auto Scaling membership unknown ({AutoScalingUnknown.Message}): isolate anyway, with the volumes kept on termination");
        if (LeaveGroup is not null) Line($"{(o.AutoScaling == AutoScalingAction.Detach ? "detach from" : "put in standby in")} Auto Scaling group {LeaveGroup.GroupName}");
        if (SetTermination) Line("enable termination protection (DisableApiTermination=true)");
        if (SetStop) Line("enable stop protection (DisableApiStop=true)");
        if (SetShutdown) Line($"set instance-initiated shutdown behaviour to stop (was {f.ShutdownBehavior})");
        if (KeepVolumes.Count > 0) Line("keep volumes on termination (DeleteOnTermination=false): " + string.Join(", ", KeepVolumes));
        foreach (var (vpc, rules) in StrayRules)
            Line($"revoke the {rules.Count} rule(s) added to isolation group {IsolationGroups[vpc]} in {vpc}: " + string.Join(", ", rules.Select(ContainmentGroups.Describe)));
        foreach (var eni in MoveEnis)
        {
            var iso = IsolationGroups.GetValueOrDefault(eni.VpcId);
            Line($"{eni.NetworkInterfaceId} (device {eni.Attachment?.DeviceIndex}, {eni.VpcId}): [{string.Join(", ", InstanceFacts.GroupsOf(eni))}] -> " +
                 $"{o.ConversionGroupName} (all traffic, IPv4+IPv6) for {o.ConversionWait.TotalSeconds:0.#} s -> {o.IsolationGroupName} {iso ?? "(to be created, no rules)"}");
        }
        foreach (var eni in LowerTracking) Line($"{eni.NetworkInterfaceId}: connection tracking timeouts TCP 60 s, UDP stream 60 s, UDP 30 s (now {InstanceFacts.TrackingOf(eni)})");
        foreach (var a in DropEips) Line($"disassociate Elastic IP {a.PublicIp} ({a.AllocationId}) from {a.NetworkInterfaceId} ({a.PrivateIpAddress})");
        if (ProfileChange is { } profile) Line(profile.Planned);
        if (sb.ToString().IndexOf("\n", StringComparison.Ordinal) < 0) Line("nothing: already quarantined");
        return sb.ToString();
    }
}
