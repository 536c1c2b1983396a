using System.Globalization;
using System.Xml.Linq;

namespace GuardDutyIR.Engine.Aws;

/// <summary>One instance's membership of an Auto Scaling group.</summary>
public sealed record AutoScalingMembership(string InstanceId, string GroupName, string LifecycleState);

/// <summary>
/// EC2 Auto Scaling over awsQuery (.member.N lists, Result wrapper): just what containment needs to take an instance
/// out of its group before the network cut (an isolated instance fails its health checks and the group would
/// replace, that is terminate, it) and to put it back.
/// </summary>
public sealed class AutoScalingClient : ServiceClientBase
{
    /// <summary>DescribeAutoScalingInstances takes at most 50 instance IDs.</summary>
    public const int MaxDescribeIds = 50;

    internal AutoScalingClient(AwsProtocolClient client, string region) : base(client, region) { }

    /// <summary>The Auto Scaling memberships of these instances (instances in no group are absent).</summary>
    public async Task<IReadOnlyList<AutoScalingMembership>> DescribeInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        var found = new List<AutoScalingMembership>();
        foreach (var chunk in instanceIds.Chunk(MaxDescribeIds))
        {
            string? next = null;
            do
            {
                var parameters = Members("InstanceIds", chunk);
                parameters.Add(new("MaxRecords", "50"));
                if (next is not null) parameters.Add(new("NextToken", next));
                var (result, _) = await CallQueryAsync("DescribeAutoScalingInstances", parameters, cancellationToken).ConfigureAwait(false);
                foreach (var member in Child(result, "AutoScalingInstances")?.Elements().Where(e => e.Name.LocalName == "member") ?? Enumerable.Empty<XElement>())
                    found.Add(new AutoScalingMembership(Text(member, "InstanceId") ?? "", Text(member, "AutoScalingGroupName") ?? "", Text(member, "LifecycleState") ?? ""));
                next = Text(result, "NextToken");
            }
            while (!string.IsNullOrEmpty(next));
        }
        return found;
    }

    /// <summary>(MinSize, DesiredCapacity, MaxSize) of a group.</summary>
    public async Task<(int Min, int Desired, int Max)> DescribeCapacityAsync(string groupName, CancellationToken cancellationToken)
    {
        var parameters = Members("AutoScalingGroupNames", new[] { groupName });
        var (result, _) = await CallQueryAsync("DescribeAutoScalingGroups", parameters, cancellationToken).ConfigureAwait(false);
        var group = Child(result, "AutoScalingGroups")?.Elements().FirstOrDefault(e => e.Name.LocalName == "member")
            ?? throw new GuardDutyIRException("AutoScalingGroupNotFound", ErrorKind.ObjectNotFound, $"Auto Scaling group {groupName} not found.", groupName);
        int Int(string name) => int.Parse(Text(group, name) ?? "0", CultureInfo.InvariantCulture);
        return (Int("MinSize"), Int("DesiredCapacity"), Int("MaxSize"));
    }

    public Task<string?> EnterStandbyAsync(string groupName, string instanceId, bool decrementDesiredCapacity, CancellationToken cancellationToken) =>
        ActAsync("EnterStandby", groupName, instanceId, decrementDesiredCapacity, cancellationToken);

    public Task<string?> ExitStandbyAsync(string groupName, string instanceId, CancellationToken cancellationToken) =>
        ActAsync("ExitStandby", groupName, instanceId, null, cancellationToken);

    public Task<string?> DetachInstanceAsync(string groupName, string instanceId, bool decrementDesiredCapacity, CancellationToken cancellationToken) =>
        ActAsync("DetachInstances", groupName, instanceId, decrementDesiredCapacity, cancellationToken);

    public Task<string?> AttachInstanceAsync(string groupName, string instanceId, CancellationToken cancellationToken) =>
        ActAsync("AttachInstances", groupName, instanceId, null, cancellationToken);

    private async Task<string?> ActAsync(string operation, string groupName, string instanceId, bool? decrement, CancellationToken cancellationToken)
    {
        var parameters = new List<KeyValuePair<string, string>> { new("AutoScalingGroupName", groupName) };
        parameters.AddRange(Members("InstanceIds", new[] { instanceId }));
        if (decrement is { } d) parameters.Add(new("ShouldDecrementDesiredCapacity", d ? "true" : "false"));
        var (_, requestId) = await CallQueryAsync(operation, parameters, cancellationToken).ConfigureAwait(false);
        return requestId;
    }

    private static List<KeyValuePair<string, string>> Members(string name, IEnumerable<string> values) =>
        values.Select((v, i) => new KeyValuePair<string, string>($"{name}.member.{i + 1}", v)).ToList();

    private static XElement? Child(XElement parent, string name) => parent.Elements().FirstOrDefault(e => e.Name.LocalName == name);
    private static string? Text(XElement parent, string name) => Child(parent, name)?.Value;
}
