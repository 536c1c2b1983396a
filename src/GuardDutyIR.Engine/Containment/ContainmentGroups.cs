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
/// find it again), and verified by every run: the isolation group has zero rules in either direction (IPv4, IPv6,
/// prefix lists, group references; the default egress rule of a new group revoked by rule ID), the conversion
/// group allows all traffic for 0.0.0.0/0 and ::/0 both ways, which makes TCP/UDP flows untracked.
/// </summary>
internal sealed class ContainmentGroups
{
    private readonly Ec2Gateway _ec2;
    private readonly QuarantineOptions _options;
    private readonly ConcurrentDictionary<(string Vpc, GroupPurpose Purpose), Lazy<Task<GroupState>>> _ensured = new();
    private readonly ConcurrentDictionary<(string Vpc, GroupPurpose Purpose), Lazy<Task<string?>>> _found = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<SecurityGroupRule>>>> _rules = new(StringComparer.Ordinal);

    public ContainmentGroups(Ec2Gateway ec2, QuarantineOptions options)
    {
        _ec2 = ec2;
        _options = options;
    }

    /// <summary>
    /// A group made ready once per VPC and run and shared by the run's instances. The steps it took are reported once,
    /// by the first instance that asks (<see cref="StepsFor"/>); the others say they reused it, so a bulk run does not
    /// claim one creation per instance.
    /// </summary>
    internal sealed class GroupState(GroupPurpose purpose, string name, string vpcId, string? groupId, IReadOnlyList<QuarantineStep> steps, GuardDutyIRException? error)
    {
        private string? _reporter;

        public string? GroupId { get; } = groupId;
        public IReadOnlyList<QuarantineStep> Steps { get; } = steps;
        public GuardDutyIRException? Error { get; } = error;

        public IReadOnlyList<QuarantineStep> StepsFor(string instanceId)
        {
            var first = Interlocked.CompareExchange(ref _reporter, instanceId, null);
            if (first is null || first == instanceId) return Steps;
            var step = new QuarantineStep { Name = "Create" + purpose + "Group", Target = vpcId };
            if (Error is not null)
            {
                step.Status = StepStatus.Failed;
                step.Detail = $"make {name} ready in {vpcId}";
                step.Error = Error.Message;
            }
            else
            {
                step.Status = StepStatus.Skipped;
                step.Detail = GroupId is null
                    ? $"would use the {name} group this run would create (reported with {first})"
                    : $"reused {name} {GroupId} (made ready in this run, reported with {first})";
            }
            return new[] { step };
        }
    }

    private string NameOf(GroupPurpose p) => p == GroupPurpose.Isolation ? _options.IsolationGroupName : _options.ConversionGroupName;

    /// <summary>Finds the group without changing anything (plans, tests).</summary>
    public Task<string?> FindAsync(string vpcId, GroupPurpose purpose, CancellationToken ct)
    {
        var lazy = _found.GetOrAdd((vpcId, purpose), k => new Lazy<Task<string?>>(async () => (await FindUncachedAsync(k.Vpc, k.Purpose, ct).ConfigureAwait(false))?.GroupId));
        return Evicting(_found, (vpcId, purpose), lazy);
    }

    /// <summary>The rules of a group that its purpose does not allow, read once per run (plans).</summary>
    public async Task<IReadOnlyList<SecurityGroupRule>> StrayRulesAsync(string groupId, GroupPurpose purpose, CancellationToken ct)
    {
        var lazy = _rules.GetOrAdd(groupId, id => new Lazy<Task<IReadOnlyList<SecurityGroupRule>>>(() => RulesAsync(id, ct)));
        var rules = await Evicting(_rules, groupId, lazy).ConfigureAwait(false);
        return rules.Where(r => !Wanted(r, purpose)).ToList();
    }

    /// <summary>Finds or creates the group and checks and repairs its rules; once per VPC and run, shared by every instance.</summary>
    public Task<GroupState> EnsureAsync(string vpcId, GroupPurpose purpose, CancellationToken ct)
    {
        var lazy = _ensured.GetOrAdd((vpcId, purpose), k => new Lazy<Task<GroupState>>(() => EnsureUncachedAsync(k.Vpc, k.Purpose, ct)));
        return EvictingState(vpcId, purpose, lazy);
    }

    // A failed attempt is not cached: the next instance in the same VPC tries again (a re-run must finish the job).
    private static async Task<T> Evicting<TKey, T>(ConcurrentDictionary<TKey, Lazy<Task<T>>> cache, TKey key, Lazy<Task<T>> lazy) where TKey : notnull
    {
        try { return await lazy.Value.ConfigureAwait(false); }
        catch { cache.TryRemove(new KeyValuePair<TKey, Lazy<Task<T>>>(key, lazy)); throw; }
    }

    private async Task<GroupState> EvictingState(string vpcId, GroupPurpose purpose, Lazy<Task<GroupState>> lazy)
    {
        var state = await Evicting(_ensured, (vpcId, purpose), lazy).ConfigureAwait(false);
        if (state.Error is not null) _ensured.TryRemove(new KeyValuePair<(string, GroupPurpose), Lazy<Task<GroupState>>>((vpcId, purpose), lazy));
        return state;
    }

    private async Task<SecurityGroup?> FindUncachedAsync(string vpcId, GroupPurpose purpose, CancellationToken ct)
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
        return (response.SecurityGroups ?? new()).OrderBy(g => g.GroupId, StringComparer.Ordinal).FirstOrDefault();
    }

    private async Task<SecurityGroup?> FindByNameAsync(string vpcId, string name, CancellationToken ct)
    {
        var request = new DescribeSecurityGroupsRequest
        {
            Filters = new List<Filter> { new("vpc-id", new List<string> { vpcId }), new("group-name", new List<string> { name }) },
            MaxResults = 1000,
        };
        var response = await _ec2.ReadAsync("DescribeSecurityGroups", vpcId, (c, t) => c.DescribeSecurityGroupsAsync(request, t), ct).ConfigureAwait(false);
        return (response.SecurityGroups ?? new()).FirstOrDefault();
    }

    private async Task<GroupState> EnsureUncachedAsync(string vpcId, GroupPurpose purpose, CancellationToken ct)
    {
        var name = NameOf(purpose);
        var steps = new List<QuarantineStep>();
        GroupState State(string? id, GuardDutyIRException? error) => new(purpose, name, vpcId, id, steps, error);
        var step = new QuarantineStep { Name = "Create" + purpose + "Group", Target = vpcId };
        steps.Add(step);
        var found = await FindUncachedAsync(vpcId, purpose, ct).ConfigureAwait(false);
        string? groupId = found?.GroupId;
        if (found is not null)
        {
            step.Status = StepStatus.Skipped;
            step.Detail = $"reused {found.GroupName} {groupId} (found by its {QuarantineTags.Purpose} tag)";
        }
        else
        {
            var text = new StepText($"created {name}", $"create {name} in {vpcId} " + (purpose == GroupPurpose.Isolation ? "(no rules)" : "(all traffic both ways)"));
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
                step.Detail = text.For(m.Status);
                if (m.RequestId is not null) ((List<string>)step.RequestIds).Add(m.RequestId);
                // DryRun: nothing was created, so there is nothing to verify.
                if (m.Status != StepStatus.Done) return State(null, null);
                groupId = m.Response!.GroupId;
                step.Detail = $"created {name} {groupId}";
            }
            catch (AwsServiceException e) when (e.ErrorCode == "InvalidGroup.Duplicate")
            {
                // Another run created it between our find and our create: use that one, and say that we did.
                var other = await FindByNameAsync(vpcId, name, ct).ConfigureAwait(false);
                groupId = other?.GroupId;
                step.Status = StepStatus.Skipped;
                step.Detail = $"reused {name} {groupId} (created by another run at the same time)";
                if (other is null) return State(null, e);
                // A group of that name without our tag (made by hand, or by a run that failed before tagging): tag it,
                // so the next run finds it by tag instead of failing a create first. Its rules are fixed below either way.
                if (!(other.Tags ?? new()).Any(t => t.Key == QuarantineTags.Purpose && t.Value == purpose.ToString()))
                    steps.Add(await StepAsync("Tag" + purpose + "Group", other.GroupId,
                        new StepText($"tagged {other.GroupId} {QuarantineTags.Purpose}={purpose}", $"tag {other.GroupId} {QuarantineTags.Purpose}={purpose}"),
                        (c, dry, t) => Up(c.CreateTagsAsync(new CreateTagsRequest
                        {
                            Resources = new List<string> { other.GroupId },
                            Tags = new List<Tag> { new(QuarantineTags.Purpose, purpose.ToString()), new(QuarantineTags.ManagedBy, "GuardDutyIR") }, DryRun = dry,
                        }, t)), ct).ConfigureAwait(false));
            }
            catch (GuardDutyIRException e)
            {
                step.Status = StepStatus.Failed;
                step.Detail = text.For(StepStatus.Failed);
                step.Error = e.Message;
                return State(null, e);
            }
        }

        try
        {
            steps.AddRange(await FixRulesAsync(groupId!, purpose, ct).ConfigureAwait(false));
        }
        catch (GuardDutyIRException e)
        {
            steps.Add(new QuarantineStep { Name = "Verify" + purpose + "Group", Target = groupId!, Status = StepStatus.Failed, Detail = $"read the rules of {groupId}", Error = e.Message });
            return State(groupId, e);
        }
        var failed = steps.FirstOrDefault(s => s.Status == StepStatus.Failed);
        return State(groupId, failed is null ? null
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

    private static bool Wanted(SecurityGroupRule r, GroupPurpose purpose) =>
        purpose == GroupPurpose.Conversion && (IsOpenAll(r, "0.0.0.0/0") || IsOpenAll(r, "::/0"));

    /// <summary>How a rule reads in a plan or a step: direction, protocol, peer, ID.</summary>
    public static string Describe(SecurityGroupRule r) =>
        $"{(r.IsEgress == true ? "out" : "in")} {r.IpProtocol} {r.CidrIpv4 ?? r.CidrIpv6 ?? r.PrefixListId ?? r.ReferencedGroupInfo?.GroupId} ({r.SecurityGroupRuleId})";

    // The codes EC2 answers when another run changed the same rules first: not a failure, a reason to look again.
    private static bool IsRace(AwsServiceException e) =>
        e.ErrorCode is "InvalidSecurityGroupRuleId.NotFound" or "InvalidPermission.NotFound" or "InvalidPermission.Duplicate";

    private const int FixAttempts = 3;

    private async Task<List<QuarantineStep>> FixRulesAsync(string groupId, GroupPurpose purpose, CancellationToken ct)
    {
        var steps = new List<QuarantineStep>();
        for (int attempt = 1; ; attempt++)
        {
            var (made, raced) = await FixRulesOnceAsync(groupId, purpose, ct).ConfigureAwait(false);
            steps.AddRange(made);
            if (!raced) return steps;
            if (attempt == FixAttempts)
            {
                steps.Add(new QuarantineStep
                {
                    Name = "Verify" + purpose + "Group", Target = groupId, Status = StepStatus.Failed, Detail = $"settle the rules of {groupId}",
                    Error = $"the rules kept changing under {FixAttempts} attempts to fix them (another run at work?)",
                });
                return steps;
            }
        }
    }

    private async Task<(List<QuarantineStep> Steps, bool Raced)> FixRulesOnceAsync(string groupId, GroupPurpose purpose, CancellationToken ct)
    {
        var steps = new List<QuarantineStep>();
        var raced = false;
        var rules = await RulesAsync(groupId, ct).ConfigureAwait(false);
        foreach (var egress in new[] { true, false })
        {
            var extra = rules.Where(r => (r.IsEgress ?? false) == egress && !Wanted(r, purpose)).ToList();
            if (extra.Count > 0)
            {
                var ids = extra.Select(r => r.SecurityGroupRuleId).ToList();
                var action = egress ? "RevokeSecurityGroupEgress" : "RevokeSecurityGroupIngress";
                var what = $"{extra.Count} {(egress ? "outbound" : "inbound")} rule(s) of {groupId}: {string.Join(", ", extra.Select(Describe))}";
                var step = await StepAsync(action, groupId, new StepText("revoked " + what, "revoke " + what),
                    (c, dry, t) => egress
                        ? Up(c.RevokeSecurityGroupEgressAsync(new RevokeSecurityGroupEgressRequest { GroupId = groupId, SecurityGroupRuleIds = ids, DryRun = dry }, t))
                        : Up(c.RevokeSecurityGroupIngressAsync(new RevokeSecurityGroupIngressRequest { GroupId = groupId, SecurityGroupRuleIds = ids, DryRun = dry }, t)),
                    ct).ConfigureAwait(false);
                raced |= step.Status == StepStatus.Skipped;
                steps.Add(step);
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
                    var what = $"all {(egress ? "outbound" : "inbound")} traffic for {families} on {groupId}";
                    var step = await StepAsync(action, groupId, new StepText("allowed " + what, "allow " + what),
                        (c, dry, t) => egress
                            ? Up(c.AuthorizeSecurityGroupEgressAsync(new AuthorizeSecurityGroupEgressRequest { GroupId = groupId, IpPermissions = new List<IpPermission> { permission }, DryRun = dry }, t))
                            : Up(c.AuthorizeSecurityGroupIngressAsync(new AuthorizeSecurityGroupIngressRequest { GroupId = groupId, IpPermissions = new List<IpPermission> { permission }, DryRun = dry }, t)),
                        ct).ConfigureAwait(false);
                    raced |= step.Status == StepStatus.Skipped;
                    steps.Add(step);
                }
            }
        }
        return (steps, raced);
    }

    private static async Task<AmazonWebServiceResponse> Up<T>(Task<T> task) where T : AmazonWebServiceResponse => await task.ConfigureAwait(false);

    private async Task<QuarantineStep> StepAsync(string action, string target, StepText text,
        Func<IAmazonEC2, bool, CancellationToken, Task<AmazonWebServiceResponse>> call, CancellationToken ct)
    {
        var step = new QuarantineStep { Name = action, Target = target, Detail = text.Planned };
        try
        {
            var m = await _ec2.MutateAsync(action, target, call, ct).ConfigureAwait(false);
            step.Status = m.Status;
            step.Error = m.Error;
            step.Detail = text.For(m.Status);
            if (m.RequestId is not null) ((List<string>)step.RequestIds).Add(m.RequestId);
        }
        catch (AwsServiceException e) when (IsRace(e))
        {
            step.Status = StepStatus.Skipped;
            step.Detail = $"did not {text.Planned}: another run changed these rules first ({e.ErrorCode}); read them again";
            if (e.RequestId is not null) ((List<string>)step.RequestIds).Add(e.RequestId);
        }
        catch (GuardDutyIRException e)
        {
            step.Status = StepStatus.Failed;
            step.Detail = text.For(StepStatus.Failed);
            step.Error = e.Message;
        }
        return step;
    }
}
