using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// What containment works with in one region for a service's lifetime: the paced EC2 gateway, Auto Scaling, and the
/// containment groups found or made there (shared by every instance of a run, so a group is made once per VPC).
/// </summary>
internal sealed class ContainmentRegion
{
    public ContainmentRegion(Ec2Gateway ec2, AutoScalingClient autoScaling, QuarantineOptions options)
    {
        Ec2 = ec2;
        AutoScaling = autoScaling;
        Groups = new ContainmentGroups(ec2, options);
    }

    public Ec2Gateway Ec2 { get; }
    public AutoScalingClient AutoScaling { get; }
    public ContainmentGroups Groups { get; }
    public string Name => Ec2.Region;

    /// <summary>The instance described with its attributes, or InstanceNotFound.</summary>
    public async Task<InstanceFacts> DescribeAsync(string instanceId, bool withAttributes, CancellationToken ct)
    {
        var facts = await Ec2Facts.DescribeAsync(Ec2, AutoScaling, new[] { instanceId }, withAttributes, ct).ConfigureAwait(false);
        return facts.TryGetValue(instanceId, out var f) ? f : throw Ec2Facts.NotFound(instanceId, Name);
    }
}
