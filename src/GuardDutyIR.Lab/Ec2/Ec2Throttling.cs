using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Lab.Ec2;

/// <summary>
/// EC2's documented token buckets, one request bucket per API action sized by its category (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html), per account:
/// request buckets by action category, uncategorized actions with their own buckets, and resource buckets
/// (one token per instance) for Stop/Start/TerminateInstances.
/// </summary>
internal static class Ec2Throttling
{
    public static readonly BucketSpec NonMutating = new(100, 20);
    public static readonly BucketSpec UnfilteredDescribe = new(50, 10);
    public static readonly BucketSpec Mutating = new(50, 5);
    public static readonly BucketSpec ResourceIntensive = new(50, 5);

    private static readonly Dictionary<string, BucketSpec> s_uncategorized = new(StringComparer.Ordinal)
    {
        ["CreateSnapshot"] = new(100, 5),
        ["CreateSnapshots"] = new(100, 5),
        ["CreateTags"] = new(100, 10),
        ["AssociateIamInstanceProfile"] = new(100, 5),
        ["DisassociateIamInstanceProfile"] = new(100, 5),
        ["ModifyNetworkInterfaceAttribute"] = new(100, 5),
        ["TerminateInstances"] = new(100, 5),
        ["StartInstances"] = new(5, 2),
    };

    private static readonly HashSet<string> s_resourceIntensive = new(StringComparer.Ordinal)
    {
        "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress",
    };

    private static readonly Dictionary<string, BucketSpec> s_resourceBuckets = new(StringComparer.Ordinal)
    {
        ["TerminateInstances"] = new(1000, 20),
        ["StopInstances"] = new(1000, 20),
        ["StartInstances"] = new(1000, 2),
    };

    /// <summary>The describe calls the page names for the smaller "unfiltered and unpaginated" bucket.</summary>
    private static readonly HashSet<string> s_unfilteredSensitive = new(StringComparer.Ordinal)
    {
        "DescribeInstances", "DescribeInstanceStatus", "DescribeNetworkInterfaces", "DescribeSecurityGroups",
        "DescribeSnapshots", "DescribeSpotInstanceRequests", "DescribeVolumes",
    };

    public static bool IsMutating(string action) => !LabCounters.IsReadOnlyAction(action);

    public static List<(string Key, BucketSpec Spec, double Tokens)> Buckets(string account, string action, Ec2Params p)
    {
        var list = new List<(string, BucketSpec, double)>();
        string prefix = account + ":ec2:";
        if (s_uncategorized.TryGetValue(action, out var own)) list.Add((prefix + "action:" + action, own, 1));
        else if (s_resourceIntensive.Contains(action)) list.Add((prefix + "resource-intensive:" + action, ResourceIntensive, 1));
        else if (!IsMutating(action))
        {
            // "Unfiltered and unpaginated": no Filter and no MaxResults. Whether an ID list counts as a filter is not
            // defined by the page; the Lab treats IDs as unfiltered (the cautious reading).
            bool unfiltered = s_unfilteredSensitive.Contains(action) && !p.HasPrefix("Filter.") && !p.Has("MaxResults");
            list.Add(unfiltered ? (prefix + "unfiltered:" + action, UnfilteredDescribe, 1) : (prefix + "non-mutating:" + action, NonMutating, 1));
        }
        else list.Add((prefix + "mutating:" + action, Mutating, 1));

        if (s_resourceBuckets.TryGetValue(action, out var res))
        {
            var n = Math.Max(1, p.List("InstanceId").Count);
            list.Add((prefix + "resource:" + action, res, n));
        }
        return list;
    }
}
