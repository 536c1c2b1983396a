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
    internal sealed class GroupState(GroupPurpose purpose, string name, string vpcId, string? groupId, StepLog steps, GuardDutyIRException? error)
    {
        private string? _reporter;

        public string? GroupId { get; } = groupId;
        public GuardDutyIRException? Error { get; } = error;

        /// <summary>Puts the steps into the log of the instance that asks: the steps themselves for the first, one line for the others.</summary>
        public void ReportTo(StepLog log, string instanceId)
        {
            var first = Interlocked.CompareExchange(ref _reporter, instanceId, null);
            if (first is null || first == instanceId) log.Add(steps.Steps);
            else if (Error is not null) log.Fail("Create" + purpose + "Group", vpcId, $"make {name} ready in {vpcId}", Error.Message);
            else
                log.Skip("Create" + purpose + "Group", vpcId, GroupId is null
                    ? $"would use the {name} group this run would create (reported with {first})"
                    : $"reused {name} {GroupId} (made ready in this run, reported with {first})");
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

    /// <summary>What a plan needs to know of these VPCs' isolation groups (found, and the rules added to them), changing nothing.</summary>
    public async Task<IReadOnlyDictionary<string, VpcIsolation>> ReadIsolationAsync(IEnumerable<string> vpcIds, CancellationToken ct)
    {
        var found = new Dictionary<string, VpcIsolation>(StringComparer.Ordinal);
        foreach (var vpc in vpcIds)
        {
            var iso = await FindAsync(vpc, GroupPurpose.Isolation, ct).ConfigureAwait(false);
            var stray = iso is null ? Array.Empty<SecurityGroupRule>() : await StrayRulesAsync(iso, GroupPurpose.Isolation, ct).ConfigureAwait(false);
            found[vpc] = new VpcIsolation(iso, stray);
        }
        return found;
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
        var log = new StepLog();
        GroupState State(string? id, GuardDutyIRException? error) => new(purpose, name, vpcId, id, log, error);
        var found = await FindUncachedAsync(vpcId, purpose, ct).ConfigureAwait(false);
        string? groupId = found?.GroupId;
        if (found is not null) log.Skip("Create" + purpose + "Group", vpcId, $"reused {found.GroupName} {groupId} (found by its {QuarantineTags.Purpose} tag)");
        else
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
            AwsServiceException? duplicate = null;
            var create = await log.RunAsync("Create" + purpose + "Group", vpcId,
                new StepText($"created {name}", $"create {name} in {vpcId} " + (purpose == GroupPurpose.Isolation ? "(no rules)" : "(all traffic both ways)")),
                async t =>
                {
                    var m = await _ec2.MutateAsync("CreateSecurityGroup", vpcId, (c, dry, tt) => { request.DryRun = dry; return c.CreateSecurityGroupAsync(request, tt); }, t).ConfigureAwait(false);
                    groupId = m.Response?.GroupId;
                    return StepOutcome.Of(m) with { Detail = m.Status == StepStatus.Done ? $"created {name} {groupId}" : null };
                }, ct,
                // Another run created it between our find and our create: use that one, and say that we did (below).
                expected: (e, _) =>
                {
                    if (e.ErrorCode != "InvalidGroup.Duplicate") return null;
                    duplicate = e;
                    return new StepOutcome(StepStatus.Skipped, Detail: $"reused {name} (created by another run at the same time)");
                }).ConfigureAwait(false);
            if (create.Status == StepStatus.Failed) return State(null, new GuardDutyIRException("ContainmentGroupNotReady", ErrorKind.InvalidOperation, create.Error ?? "", vpcId));
            if (duplicate is not null)
            {
                var other = await FindByNameAsync(vpcId, name, ct).ConfigureAwait(false);
                groupId = other?.GroupId;
                create.Detail = $"reused {name} {groupId} (created by another run at the same time)";
                if (other is null) return State(null, duplicate);
                // A group of that name without our tag (made by hand, or by a run that failed before tagging): tag it,
                // so the next run finds it by tag instead of failing a create first. Its rules are fixed below either way.
                if (!(other.Tags ?? new()).Any(t => t.Key == QuarantineTags.Purpose && t.Value == purpose.ToString()))
                    await log.MutateAsync(_ec2, "Tag" + purpose + "Group", other.GroupId,
                        new StepText($"tagged {other.GroupId} {QuarantineTags.Purpose}={purpose}", $"tag {other.GroupId} {QuarantineTags.Purpose}={purpose}"), "CreateTags",
                        (c, dry, t) => c.CreateTagsAsync(new CreateTagsRequest
                        {
                            Resources = new List<string> { other.GroupId },
                            Tags = new List<Tag> { new(QuarantineTags.Purpose, purpose.ToString()), new(QuarantineTags.ManagedBy, "GuardDutyIR") }, DryRun = dry,
                        }, t), ct, expected: Raced).ConfigureAwait(false);
            }
            // DryRun: nothing was created, so there is nothing to verify.
            else if (create.Status != StepStatus.Done) return State(null, null);
        }

        try
        {
            await FixRulesAsync(log, groupId!, purpose, ct).ConfigureAwait(false);
        }
        catch (GuardDutyIRException e)
        {
            log.Fail("Verify" + purpose + "Group", groupId!, $"read the rules of {groupId}", e.Message);
            return State(groupId, e);
        }
        var failed = log.Steps.FirstOrDefault(s => s.Status == StepStatus.Failed);
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

    private const int FixAttempts = 3;

    private async Task FixRulesAsync(StepLog log, string groupId, GroupPurpose purpose, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            if (!await FixRulesOnceAsync(log, groupId, purpose, ct).ConfigureAwait(false)) return;
            if (attempt == FixAttempts)
            {
                log.Fail("Verify" + purpose + "Group", groupId, $"settle the rules of {groupId}",
                    $"the rules kept changing under {FixAttempts} attempts to fix them (another run at work?)");
                return;
            }
        }
    }

    /// <summary>One pass over the rules; true when another run changed them under it (read them again).</summary>
    private async Task<bool> FixRulesOnceAsync(StepLog log, string groupId, GroupPurpose purpose, CancellationToken ct)
    {
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
                var step = await log.MutateAsync(_ec2, action, groupId, new StepText("revoked " + what, "revoke " + what), action,
                    (c, dry, t) => egress
                        ? Up(c.RevokeSecurityGroupEgressAsync(new RevokeSecurityGroupEgressRequest { GroupId = groupId, SecurityGroupRuleIds = ids, DryRun = dry }, t))
                        : Up(c.RevokeSecurityGroupIngressAsync(new RevokeSecurityGroupIngressRequest { GroupId = groupId, SecurityGroupRuleIds = ids, DryRun = dry }, t)),
                    ct, Raced).ConfigureAwait(false);
                raced |= step.Status == StepStatus.Skipped;
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
                    var step = await log.MutateAsync(_ec2, action, groupId, new StepText("allowed " + what, "allow " + what), action,
                        (c, dry, t) => egress
                            ? Up(c.AuthorizeSecurityGroupEgressAsync(new AuthorizeSecurityGroupEgressRequest { GroupId = groupId, IpPermissions = new List<IpPermission> { permission }, DryRun = dry }, t))
                            : Up(c.AuthorizeSecurityGroupIngressAsync(new AuthorizeSecurityGroupIngressRequest { GroupId = groupId, IpPermissions = new List<IpPermission> { permission }, DryRun = dry }, t)),
                        ct, Raced).ConfigureAwait(false);
                    raced |= step.Status == StepStatus.Skipped;
                }
            }
        }
        return raced;
    }

    // One call type for the two directions of a rule change.
    private static async Task<AmazonWebServiceResponse> Up<T>(Task<T> task) where T : AmazonWebServiceResponse => await task.ConfigureAwait(false);

    // The codes EC2 answers when another run changed the same rules first: not a failure, a reason to look again.
    private static StepOutcome? Raced(AwsServiceException e, StepText text) =>
        e.ErrorCode is "InvalidSecurityGroupRuleId.NotFound" or "InvalidPermission.NotFound" or "InvalidPermission.Duplicate"
            ? new StepOutcome(StepStatus.Skipped, e.RequestId, Detail: $"did not {text.Planned}: another run changed these rules first ({e.ErrorCode}); read them again")
            : null;
}

/// <summary>
/// The containment groups one instance needs, their making started at once (each shared with the run's other
/// instances through <see cref="ContainmentGroups"/>), awaited where the instance needs them.
/// </summary>
internal sealed class GroupsInFlight
{
    public GroupsInFlight(ContainmentGroups groups, IEnumerable<string> isolationVpcs, IEnumerable<string> conversionVpcs, CancellationToken ct)
    {
        Isolation = isolationVpcs.Select(v => (v, Observed(groups.EnsureAsync(v, GroupPurpose.Isolation, ct)))).ToList();
        Conversion = conversionVpcs.Select(v => (v, Observed(groups.EnsureAsync(v, GroupPurpose.Conversion, ct)))).ToList();
    }

    public IReadOnlyList<(string Vpc, Task<ContainmentGroups.GroupState> Ready)> Isolation { get; }
    public IReadOnlyList<(string Vpc, Task<ContainmentGroups.GroupState> Ready)> Conversion { get; }

    // An instance stopped (Ctrl+C) before it awaited a group must not leave that group's failure unobserved.
    private static Task<T> Observed<T>(Task<T> task)
    {
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return task;
    }
}
