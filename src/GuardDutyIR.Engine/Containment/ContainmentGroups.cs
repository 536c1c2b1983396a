using System.Collections.Concurrent;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Engine.Containment;

/// <summary>The module's two kinds of security group: no rules at all, or everything open both ways.</summary>
public enum GroupPurpose { Isolation, Conversion }

/// <summary>
/// One isolation group and one conversion group per VPC, found by tag before anything is created (so re-runs and
/// concurrent instances never duplicate them), created when missing (InvalidGroup.Duplicate means another run won:
/// find it again), and verified every time: the isolation group has zero rules in either direction (IPv4, IPv6,
/// prefix lists, group references; the default egress rule of a new group revoked by rule ID), the conversion
/// group allows all traffic for 0.0.0.0/0 and ::/0 both ways, which makes TCP/UDP flows untracked.
/// </summary>
internal sealed class ContainmentGroups
{
    private readonly Ec2Gateway _ec2;
    private readonly QuarantineOptions _options;
    private readonly ConcurrentDictionary<(string Vpc, GroupPurpose Purpose), Lazy<Task<GroupState>>> _ensured = new();
    private readonly ConcurrentDictionary<(string Vpc, GroupPurpose Purpose), Lazy<Task<string?>>> _found = new();

    public ContainmentGroups(Ec2Gateway ec2, QuarantineOptions options)
    {
        _ec2 = ec2;
        _options = options;
    }

    /// <summary>The group made ready, and the steps it took (empty when it was already right).</summary>
    internal sealed record GroupState(string? GroupId, IReadOnlyList<QuarantineStep> Steps, GuardDutyIRException? Error);

    private string NameOf(GroupPurpose p) => p == GroupPurpose.Isolation ? _options.IsolationGroupName : _options.ConversionGroupName;

    /// <summary>Finds the group without changing anything (plans, tests, dry runs).</summary>
    public Task<string?> FindAsync(string vpcId, GroupPurpose purpose, CancellationToken ct)
    {
        var lazy = _found.GetOrAdd((vpcId, purpose), k => new Lazy<Task<string?>>(() => FindUncachedAsync(k.Vpc, k.Purpose, ct)));
        return Evicting(_found, (vpcId, purpose), lazy);
    }

    /// <summary>Finds or creates the group and checks its rules; once per VPC and run, shared by every instance.</summary>
    public Task<GroupState> EnsureAsync(string vpcId, GroupPurpose purpose, CancellationToken ct)
    {
        var lazy = _ensured.GetOrAdd((vpcId, purpose), k => new Lazy<Task<GroupState>>(() => EnsureUncachedAsync(k.Vpc, k.Purpose, ct)));
        return EvictingState(vpcId, purpose, lazy);
    }

    // A failed attempt is not cached: the next instance in the same VPC tries again (a re-run must finish the job).
    private static async Task<string?> Evicting<TKey>(ConcurrentDictionary<TKey, Lazy<Task<string?>>> cache, TKey key, Lazy<Task<string?>> lazy) where TKey : notnull
    {
        try { return await lazy.Value.ConfigureAwait(false); }
        catch { cache.TryRemove(new KeyValuePair<TKey, Lazy<Task<string?>>>(key, lazy)); throw; }
    }

    private async Task<GroupState> EvictingState(string vpcId, GroupPurpose purpose, Lazy<Task<GroupState>> lazy)
    {
        GroupState state;
        try { state = await lazy.Value.ConfigureAwait(false); }
        catch { _ensured.TryRemove(new KeyValuePair<(string, GroupPurpose), Lazy<Task<GroupState>>>((vpcId, purpose), lazy)); throw; }
        if (state.Error is not null) _ensured.TryRemove(new KeyValuePair<(string, GroupPurpose), Lazy<Task<GroupState>>>((vpcId, purpose), lazy));
        return state;
    }

    private async Task<string?> FindUncachedAsync(string vpcId, GroupPurpose purpose, CancellationToken ct)
    {
        var request = new DescribeSecurityGroupsRequest
        {
            Filters = new List<Filter>
            {
                new("vpc-id", new List<string> { vpcId }),
                new("tag:" + QuarantineTags.Purpose, new List<string> { purpose.ToString() }),
            },
            MaxResults = 1000,
        };
        var response = await _ec2.ReadAsync("DescribeSecurityGroups", vpcId, (c, t) => c.DescribeSecurityGroupsAsync(request, t), ct).ConfigureAwait(false);
        // Oldest ID first, so two finders always agree on one group even if an earlier bug had made two.
        return (response.SecurityGroups ?? new()).Select(g => g.GroupId).OrderBy(g => g, StringComparer.Ordinal).FirstOrDefault();
    }

    private async Task<string?> FindByNameAsync(string vpcId, string name, CancellationToken ct)
    {
        var request = new DescribeSecurityGroupsRequest
        {
            Filters = new List<Filter> { new("vpc-id", new List<string> { vpcId }), new("group-name", new List<string> { name }) },
            MaxResults = 1000,
        };
        var response = await _ec2.ReadAsync("DescribeSecurityGroups", vpcId, (c, t) => c.DescribeSecurityGroupsAsync(request, t), ct).ConfigureAwait(false);
        return (response.SecurityGroups ?? new()).Select(g => g.GroupId).FirstOrDefault();
    }

    private async Task<GroupState> EnsureUncachedAsync(string vpcId, GroupPurpose purpose, CancellationToken ct)
    {
        var steps = new List<QuarantineStep>();
        var groupId = await FindUncachedAsync(vpcId, purpose, ct).ConfigureAwait(false);
        if (groupId is null)
        {
            var name = NameOf(purpose);
            var step = new QuarantineStep { Name = "Create" + purpose + "Group", Target = vpcId };
            steps.Add(step);
            try
            {
                var request = new CreateSecurityGroupRequest
                {
                    GroupName = name,
                    Description = purpose == GroupPurpose.Isolation
                        ? "GuardDutyIR isolation: no inbound or outbound rules (ForensicSecurityGroup)"
                        : "GuardDutyIR conversion: all traffic both ways so tracked flows become untracked, then isolation",
                    VpcId = vpcId,
                    TagSpecifications = new List<TagSpecification>
                    {
                        new()
                        {
                            ResourceType = ResourceType.SecurityGroup,
                            Tags = new List<Tag> { new("Name", name), new(QuarantineTags.Purpose, purpose.ToString()), new(QuarantineTags.ManagedBy, "GuardDutyIR") },
                        },
                    },
                };
                var m = await _ec2.MutateAsync("CreateSecurityGroup", vpcId, (c, dry, t) => { request.DryRun = dry; return c.CreateSecurityGroupAsync(request, t); }, ct).ConfigureAwait(false);
                step.Status = m.Status;
                step.Error = m.Error;
                if (m.RequestId is not null) ((List<string>)step.RequestIds).Add(m.RequestId);
                if (m.Status != StepStatus.Done) return new GroupState(null, steps, null);
                groupId = m.Response!.GroupId;
                step.Detail = $"created {name} {groupId}";
            }
            catch (AwsServiceException e) when (e.ErrorCode == "InvalidGroup.Duplicate")
            {
                // Another run (or instance) created it between our find and our create: use that one.
                groupId = await FindByNameAsync(vpcId, name, ct).ConfigureAwait(false);
                step.Status = StepStatus.Skipped;
                step.Detail = $"{name} already existed ({groupId})";
                if (groupId is null) return new GroupState(null, steps, e);
                // A group of that name without our tag (made by hand, or by a run that failed before tagging): tag it,
                // so the next run finds it by tag instead of failing a create first. Its rules are fixed below either way.
                var id = groupId;
                var tag = new QuarantineStep { Name = "Tag" + purpose + "Group", Target = id, Detail = $"tagged {id} {QuarantineTags.Purpose}={purpose}" };
                steps.Add(tag);
                try
                {
                    var m = await _ec2.MutateAsync("CreateTags", id, (c, dry, t) => c.CreateTagsAsync(new CreateTagsRequest
                    {
                        Resources = new List<string> { id }, Tags = new List<Tag> { new(QuarantineTags.Purpose, purpose.ToString()), new(QuarantineTags.ManagedBy, "GuardDutyIR") }, DryRun = dry,
                    }, t), ct).ConfigureAwait(false);
                    tag.Status = m.Status;
                    if (m.RequestId is not null) ((List<string>)tag.RequestIds).Add(m.RequestId);
                }
                catch (GuardDutyIRException te)
                {
                    tag.Status = StepStatus.Failed;
                    tag.Error = te.Message;
                }
            }
            catch (GuardDutyIRException e)
            {
                step.Status = StepStatus.Failed;
                step.Error = e.Message;
                return new GroupState(null, steps, e);
            }
        }

        try
        {
            steps.AddRange(await FixRulesAsync(groupId, purpose, ct).ConfigureAwait(false));
        }
        catch (GuardDutyIRException e)
        {
            steps.Add(new QuarantineStep { Name = "Verify" + purpose + "Group", Target = groupId, Status = StepStatus.Failed, Error = e.Message });
            return new GroupState(groupId, steps, e);
        }
        var failed = steps.FirstOrDefault(s => s.Status == StepStatus.Failed);
        return new GroupState(groupId, steps, failed is null ? null
            : new GuardDutyIRException("ContainmentGroupNotReady", ErrorKind.InvalidOperation, $"{purpose} group {groupId} is not ready: {failed.Error}", groupId));
    }

    public async Task<IReadOnlyList<SecurityGroupRule>> RulesAsync(string groupId, CancellationToken ct)
    {
        var rules = new List<SecurityGroupRule>();
        string? next = null;
        do
        {
            var request = new DescribeSecurityGroupRulesRequest
            {
                Filters = new List<Filter> { new("group-id", new List<string> { groupId }) },
                MaxResults = 1000,
                NextToken = next,
            };
            var response = await _ec2.ReadAsync("DescribeSecurityGroupRules", groupId, (c, t) => c.DescribeSecurityGroupRulesAsync(request, t), ct).ConfigureAwait(false);
            rules.AddRange(response.SecurityGroupRules ?? new());
            next = response.NextToken;
        }
        while (!string.IsNullOrEmpty(next));
        return rules;
    }

    private static bool IsOpenAll(SecurityGroupRule r, string cidr) =>
        r.IpProtocol == "-1" && (r.CidrIpv4 == cidr || r.CidrIpv6 == cidr);

    private async Task<List<QuarantineStep>> FixRulesAsync(string groupId, GroupPurpose purpose, CancellationToken ct)
    {
        var steps = new List<QuarantineStep>();
        var rules = await RulesAsync(groupId, ct).ConfigureAwait(false);
        bool Wanted(SecurityGroupRule r) => purpose == GroupPurpose.Conversion && (IsOpenAll(r, "0.0.0.0/0") || IsOpenAll(r, "::/0"));
        foreach (var egress in new[] { true, false })
        {
            var extra = rules.Where(r => (r.IsEgress ?? false) == egress && !Wanted(r)).Select(r => r.SecurityGroupRuleId).ToList();
            if (extra.Count > 0)
            {
                var action = egress ? "RevokeSecurityGroupEgress" : "RevokeSecurityGroupIngress";
                steps.Add(await StepAsync(action, groupId, $"revoked {extra.Count} {(egress ? "outbound" : "inbound")} rule(s) of {groupId} ({string.Join(", ", extra)})",
                    (c, dry, t) => egress
                        ? Up(c.RevokeSecurityGroupEgressAsync(new RevokeSecurityGroupEgressRequest { GroupId = groupId, SecurityGroupRuleIds = extra, DryRun = dry }, t))
                        : Up(c.RevokeSecurityGroupIngressAsync(new RevokeSecurityGroupIngressRequest { GroupId = groupId, SecurityGroupRuleIds = extra, DryRun = dry }, t)),
                    ct).ConfigureAwait(false));
            }
            if (purpose == GroupPurpose.Conversion)
            {
                var have = rules.Where(r => (r.IsEgress ?? false) == egress).ToList();
                var permission = new IpPermission { IpProtocol = "-1" };
                if (!have.Any(r => IsOpenAll(r, "0.0.0.0/0"))) permission.Ipv4Ranges = new List<IpRange> { new() { CidrIp = "0.0.0.0/0" } };
                if (!have.Any(r => IsOpenAll(r, "::/0"))) permission.Ipv6Ranges = new List<Ipv6Range> { new() { CidrIpv6 = "::/0" } };
                if (permission.Ipv4Ranges is not null || permission.Ipv6Ranges is not null)
                {
                    var action = egress ? "AuthorizeSecurityGroupEgress" : "AuthorizeSecurityGroupIngress";
                    var families = string.Join(" and ", new[] { permission.Ipv4Ranges is null ? null : "0.0.0.0/0", permission.Ipv6Ranges is null ? null : "::/0" }.OfType<string>());
                    steps.Add(await StepAsync(action, groupId, $"allowed all {(egress ? "outbound" : "inbound")} traffic for {families} on {groupId}",
                        (c, dry, t) => egress
                            ? Up(c.AuthorizeSecurityGroupEgressAsync(new AuthorizeSecurityGroupEgressRequest { GroupId = groupId, IpPermissions = new List<IpPermission> { permission }, DryRun = dry }, t))
                            : Up(c.AuthorizeSecurityGroupIngressAsync(new AuthorizeSecurityGroupIngressRequest { GroupId = groupId, IpPermissions = new List<IpPermission> { permission }, DryRun = dry }, t)),
                        ct).ConfigureAwait(false));
                }
            }
        }
        return steps;
    }

    private static async Task<AmazonWebServiceResponse> Up<T>(Task<T> task) where T : AmazonWebServiceResponse => await task.ConfigureAwait(false);

    private async Task<QuarantineStep> StepAsync(string action, string target, string detail,
        Func<IAmazonEC2, bool, CancellationToken, Task<AmazonWebServiceResponse>> call, CancellationToken ct)
    {
        var step = new QuarantineStep { Name = action, Target = target, Detail = detail };
        try
        {
            var m = await _ec2.MutateAsync(action, target, call, ct).ConfigureAwait(false);
            step.Status = m.Status;
            step.Error = m.Error;
            if (m.RequestId is not null) ((List<string>)step.RequestIds).Add(m.RequestId);
        }
        catch (GuardDutyIRException e)
        {
            step.Status = StepStatus.Failed;
            step.Error = e.Message;
        }
        return step;
    }
}
