using System.Globalization;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.Ec2;

/// <summary>
/// EC2 (ec2 query protocol) over a mutable model that the scenario fills: instances with their ENIs, volumes,
/// security groups and rules, Elastic IPs, snapshots, IAM instance-profile associations, tags and connection tracking.
/// One lock serializes state changes; HTTP requests are still accepted concurrently.
/// </summary>
public sealed partial class Ec2Service : ILabService, ILabAdminEndpoints, IModeledService
{
    private static readonly ServiceModel s_model = ServiceModel.For("ec2");
    private readonly LabContext _ctx;
    private readonly object _gate = new();
    private Random _ids;

    private readonly Dictionary<string, Vpc> _vpcs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Subnet> _subnets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SecurityGroup> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NetworkInterface> _enis = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Instance> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Volume> _volumes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Snapshot> _snapshots = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Address> _addresses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IamAssociation> _iam = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, string>> _tags = new(StringComparer.Ordinal);
    /// <summary>Known instance profiles by ARN → (name, id).</summary>
    private readonly Dictionary<string, (string Name, string Id)> _profiles = new(StringComparer.Ordinal);
    private readonly ConnectionTracker _tracker;

    private delegate IEnumerable<object?> Handler(Ec2Call call);
    private readonly Dictionary<string, Handler> _handlers;

    public Ec2Service(LabContext context)
    {
        _ctx = context;
        _ids = new Random(context.Options.Seed ^ 0x5EED);
        _tracker = new ConnectionTracker(this, context.Options.IcmpAlwaysTracked);
        _handlers = new Dictionary<string, Handler>(StringComparer.Ordinal)
        {
            ["DescribeInstances"] = DescribeInstances,
            ["DescribeInstanceAttribute"] = DescribeInstanceAttribute,
            ["ModifyInstanceAttribute"] = ModifyInstanceAttribute,
            ["DescribeNetworkInterfaces"] = DescribeNetworkInterfaces,
            ["ModifyNetworkInterfaceAttribute"] = ModifyNetworkInterfaceAttribute,
            ["DescribeSecurityGroups"] = DescribeSecurityGroups,
            ["DescribeSecurityGroupRules"] = DescribeSecurityGroupRules,
            ["CreateSecurityGroup"] = CreateSecurityGroup,
            ["DeleteSecurityGroup"] = DeleteSecurityGroup,
            ["AuthorizeSecurityGroupIngress"] = c => Authorize(c, egress: false),
            ["AuthorizeSecurityGroupEgress"] = c => Authorize(c, egress: true),
            ["RevokeSecurityGroupIngress"] = c => Revoke(c, egress: false),
            ["RevokeSecurityGroupEgress"] = c => Revoke(c, egress: true),
            ["DescribeVpcs"] = DescribeVpcs,
            ["DescribeSubnets"] = DescribeSubnets,
            ["DescribeAddresses"] = DescribeAddresses,
            ["AssociateAddress"] = AssociateAddress,
            ["AssignPrivateIpAddresses"] = AssignPrivateIpAddresses,
            ["DisassociateAddress"] = DisassociateAddress,
            ["DescribeVolumes"] = DescribeVolumes,
            ["CreateTags"] = CreateTags,
            ["DeleteTags"] = DeleteTags,
            ["DescribeTags"] = DescribeTags,
            ["CreateSnapshot"] = CreateSnapshot,
            ["CreateSnapshots"] = CreateSnapshots,
            ["DescribeSnapshots"] = DescribeSnapshots,
            ["CopySnapshot"] = CopySnapshot,
            ["ModifySnapshotAttribute"] = ModifySnapshotAttribute,
            ["DescribeSnapshotAttribute"] = DescribeSnapshotAttribute,
            ["DescribeIamInstanceProfileAssociations"] = DescribeIamInstanceProfileAssociations,
            ["AssociateIamInstanceProfile"] = AssociateIamInstanceProfile,
            ["DisassociateIamInstanceProfile"] = DisassociateIamInstanceProfile,
            ["ReplaceIamInstanceProfileAssociation"] = ReplaceIamInstanceProfileAssociation,
            ["GetConsoleOutput"] = GetConsoleOutput,
            ["GetConsoleScreenshot"] = GetConsoleScreenshot,
            ["StopInstances"] = StopInstances,
            ["StartInstances"] = StartInstances,
            ["TerminateInstances"] = TerminateInstances,
            ["DescribeRegions"] = DescribeRegions,
            ["ModifyInstanceMetadataOptions"] = ModifyInstanceMetadataOptions,
            ["DescribeKeyPairs"] = DescribeKeyPairs,
        };
    }

    public string SigningName => "ec2";

    public IReadOnlyCollection<string> Actions => _handlers.Keys;

    public IReadOnlyCollection<string> Operations => _handlers.Keys;

    // ------------------------------------------------------------------ dispatch

    public Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken)
    {
        var p = new Ec2Params(request.Form);
        var action = p["Action"];
        if (string.IsNullOrEmpty(action))
            return Task.FromResult(ProtocolErrors.Ec2(400, "MissingAction", "The request must contain the parameter Action", request.RequestId));
        request.Action = action;
        request.Mutating = Ec2Throttling.IsMutating(action);
        if (!_handlers.TryGetValue(action, out var handler))
            return Task.FromResult(ProtocolErrors.Ec2(400, "InvalidAction", $"The action {action} is not valid for this web service.", request.RequestId));

        if (!_ctx.Throttle.TryAcquireAll(Ec2Throttling.Buckets(request.AccountId, action, p)))
            return Task.FromResult(ProtocolErrors.Ec2(503, "RequestLimitExceeded", "Request limit exceeded.", request.RequestId));

        var principal = request.Principal!;
        if (_ctx.IsDenied("ec2", action))
            return Task.FromResult(ProtocolErrors.Ec2(403, "UnauthorizedOperation",
                $"You are not authorized to perform this operation. {LabContext.DenialMessage(principal.Arn, "ec2", action)}. Encoded authorization failure message: {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("lab-denied:" + action))}",
                request.RequestId));

        if (s_model.ValidateForm(action, request.Form) is { Count: > 0 } violations)
            return Task.FromResult(Invalid(violations[0], request.RequestId));

        var call = new Ec2Call(request, p, request.AccountId, _ctx.Clock.GetUtcNow(), action);
        try
        {
            List<object?> content;
            lock (_gate)
            {
                Advance(call.Now);
                content = handler(call).ToList();
            }
            return Task.FromResult(Ec2Xml.Response(action, request.RequestId, content));
        }
        catch (Ec2Exception ex)
        {
            return Task.FromResult(ProtocolErrors.Ec2(ex.Status, ex.Code, ex.Message, request.RequestId));
        }
    }

    /// <summary>
    /// EC2 answers a request that breaks its model with MissingParameter or InvalidParameterValue, one error at a
    /// time (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
    /// </summary>
    private static LabResponse Invalid(ModelViolation v, string requestId)
    {
        var parameter = ModelValidator.Camel(v.WireName);
        var message = v.Kind switch
        {
            ViolationKind.Missing => $"The request must contain the parameter {v.WirePath}",
            ViolationKind.Range when v.Min is { } lo && v.Max is { } hi => $"Value ( {v.Value} ) for parameter {parameter} is invalid. Parameter must be between {lo} and {hi}.",
            ViolationKind.Range => $"Value ( {v.Value} ) for parameter {parameter} is invalid. {v.Constraint}.",
            ViolationKind.Length => $"Value for parameter {parameter} is invalid. {v.Constraint}.",
            ViolationKind.Enum => $"Value ({v.Value}) for parameter {parameter} is invalid. Unknown value; expected one of: {string.Join(", ", v.Allowed!)}.",
            _ => $"Value ({v.Value}) for parameter {parameter} is invalid. Expected a value of type {v.ExpectedType}.",
        };
        return ProtocolErrors.Ec2(400, v.Kind == ViolationKind.Missing ? "MissingParameter" : "InvalidParameterValue", message, requestId);
    }

    internal sealed class Ec2Call
    {
        public Ec2Call(LabRequest request, Ec2Params p, string account, DateTimeOffset now, string action)
        {
            Request = request;
            P = p;
            Account = account;
            Now = now;
            Action = action;
        }

        public LabRequest Request { get; }
        public Ec2Params P { get; }
        public string Account { get; }
        public DateTimeOffset Now { get; }
        public string Action { get; }

        /// <summary>Called once validation passed: a DryRun stops here with the "would have succeeded" error.</summary>
        public void CommitPoint()
        {
            if (P.Bool("DryRun"))
                throw new Ec2Exception("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412);
        }
    }

    // ------------------------------------------------------------------ time

    /// <summary>Completes transitions whose time has come (pending→running, stopping→stopped, shutting-down→terminated).</summary>
    private void Advance(DateTimeOffset now)
    {
        foreach (var i in _instances.Values)
        {
            if (i.TransitionAt is not { } at || now < at) continue;
            i.TransitionAt = null;
            switch (i.State)
            {
                case "pending": i.State = "running"; break;
                case "stopping": i.State = "stopped"; break;
                case "shutting-down": FinishTermination(i); break;
            }
        }
    }

    private DateTimeOffset TransitionEnd(DateTimeOffset now) => now.AddSeconds(_ctx.Options.InstanceTransitionSeconds);

    // ------------------------------------------------------------------ ids

    private string NewId(string prefix)
    {
        string id;
        do { id = prefix + "-0" + string.Concat(Enumerable.Range(0, 16).Select(_ => "0123456789abcdef"[_ids.Next(16)])); }
        while (Exists(id));
        return id;
    }

    private bool Exists(string id) =>
        _groups.ContainsKey(id) || _enis.ContainsKey(id) || _instances.ContainsKey(id) || _volumes.ContainsKey(id) ||
        _snapshots.ContainsKey(id) || _addresses.ContainsKey(id) || _iam.ContainsKey(id) || _tags.ContainsKey(id);

    // ------------------------------------------------------------------ tags

    private IReadOnlyDictionary<string, string> TagsOf(string id) =>
        _tags.TryGetValue(id, out var t) ? t : (IReadOnlyDictionary<string, string>)new Dictionary<string, string>();

    private void SetTags(string id, IEnumerable<KeyValuePair<string, string>> tags)
    {
        if (!_tags.TryGetValue(id, out var t)) _tags[id] = t = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var kv in tags)
        {
            if (kv.Key.StartsWith("aws:", StringComparison.Ordinal) && !t.ContainsKey(kv.Key))
                throw new Ec2Exception("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use");
            t[kv.Key] = kv.Value;
        }
        if (t.Count > 50) throw new Ec2Exception("TagLimitExceeded", $"The maximum number of Tags for a resource has been reached.");
    }

    // ------------------------------------------------------------------ loading (what a scenario puts in place before the Lab serves)

    /// <summary>A resource ID from the Lab's seeded sequence, so the same seed always yields the same IDs.</summary>
    internal string NewResourceId(string prefix)
    {
        lock (_gate) return NewId(prefix);
    }

    internal void Add(Vpc vpc, IReadOnlyDictionary<string, string> tags)
    {
        lock (_gate) { _vpcs[vpc.VpcId] = vpc; LoadTags(vpc.VpcId, tags); }
    }

    internal void Add(Subnet subnet, IReadOnlyDictionary<string, string> tags)
    {
        lock (_gate) { _subnets[subnet.SubnetId] = subnet; LoadTags(subnet.SubnetId, tags); }
    }

    internal void Add(SecurityGroup group, IReadOnlyDictionary<string, string> tags)
    {
        lock (_gate) { _groups[group.GroupId] = group; LoadTags(group.GroupId, tags); }
    }

    internal void AddInstanceProfile(string arn, string name, string id)
    {
        lock (_gate) _profiles[arn] = (name, id);
    }

    internal void Add(NetworkInterface eni)
    {
        lock (_gate) _enis[eni.NetworkInterfaceId] = eni;
    }

    internal void Add(Volume volume, IReadOnlyDictionary<string, string> tags)
    {
        lock (_gate) { _volumes[volume.VolumeId] = volume; LoadTags(volume.VolumeId, tags); }
    }

    internal void Add(IamAssociation association)
    {
        lock (_gate) _iam[association.AssociationId] = association;
    }

    internal void Add(Instance instance, IReadOnlyDictionary<string, string> tags)
    {
        lock (_gate) { _instances[instance.InstanceId] = instance; LoadTags(instance.InstanceId, tags); }
    }

    internal void Add(Address address, IReadOnlyDictionary<string, string> tags)
    {
        lock (_gate) { _addresses[address.AllocationId] = address; LoadTags(address.AllocationId, tags); }
    }

    /// <summary>Connections already open, admitted and tracked as the ENIs' current groups say.</summary>
    internal void AddFlows(IEnumerable<WorldFlow> flows)
    {
        lock (_gate) _tracker.Seed(flows);
    }

    private void LoadTags(string id, IReadOnlyDictionary<string, string> tags)
    {
        if (tags.Count == 0) return;
        _tags[id] = new Dictionary<string, string>(tags, StringComparer.Ordinal);
    }

    // ------------------------------------------------------------------ lookups (account-scoped, AWS error codes)

    private Instance GetInstance(Ec2Call c, string id)
    {
        Ec2Params.ValidateId(id, "i", "InvalidInstanceID.Malformed", "");
        if (!_instances.TryGetValue(id, out var i) || i.AccountId != c.Account)
            throw new Ec2Exception("InvalidInstanceID.NotFound", $"The instance ID '{id}' does not exist");
        return i;
    }

    private List<Instance> GetInstances(Ec2Call c, IEnumerable<string> ids)
    {
        var list = ids.ToList();
        foreach (var id in list) Ec2Params.ValidateId(id, "i", "InvalidInstanceID.Malformed", "");
        var missing = list.Where(id => !_instances.TryGetValue(id, out var i) || i.AccountId != c.Account).ToList();
        if (missing.Count == 1) throw new Ec2Exception("InvalidInstanceID.NotFound", $"The instance ID '{missing[0]}' does not exist");
        if (missing.Count > 1) throw new Ec2Exception("InvalidInstanceID.NotFound", $"The instance IDs '{string.Join(", ", missing)}' do not exist");
        return list.Distinct().Select(id => _instances[id]).ToList();
    }

    private SecurityGroup GetGroup(Ec2Call c, string id)
    {
        if (!id.StartsWith("sg-", StringComparison.Ordinal))
            throw new Ec2Exception("InvalidGroupId.Malformed", $"Invalid id: \"{id}\" (expecting \"sg-...\")");
        if (!_groups.TryGetValue(id, out var g) || g.AccountId != c.Account)
            throw new Ec2Exception("InvalidGroup.NotFound", $"The security group '{id}' does not exist");
        return g;
    }

    private NetworkInterface GetEni(Ec2Call c, string id)
    {
        Ec2Params.ValidateId(id, "eni", "InvalidNetworkInterfaceID.Malformed", "expecting \"eni-...\"");
        if (!_enis.TryGetValue(id, out var e) || e.AccountId != c.Account)
            throw new Ec2Exception("InvalidNetworkInterfaceID.NotFound", $"The networkInterface ID '{id}' does not exist");
        return e;
    }

    private Volume GetVolume(Ec2Call c, string id)
    {
        Ec2Params.ValidateId(id, "vol", "InvalidVolumeID.Malformed", "expecting \"vol-...\"");
        if (!_volumes.TryGetValue(id, out var v) || v.AccountId != c.Account || v.Deleted)
            throw new Ec2Exception("InvalidVolume.NotFound", $"The volume '{id}' does not exist.");
        return v;
    }

    private Snapshot GetSnapshot(Ec2Call c, string id)
    {
        Ec2Params.ValidateId(id, "snap", "InvalidSnapshotID.Malformed", "expecting \"snap-...\"");
        if (!_snapshots.TryGetValue(id, out var s) || (s.AccountId != c.Account && !s.CreateVolumeUserIds.Contains(c.Account) && !s.CreateVolumePublic))
            throw new Ec2Exception("InvalidSnapshot.NotFound", $"The snapshot '{id}' does not exist.");
        return s;
    }

    private IEnumerable<NetworkInterface> EnisOf(Instance i) => i.NetworkInterfaceIds.Where(_enis.ContainsKey).Select(id => _enis[id]).OrderBy(e => e.DeviceIndex);

    private IEnumerable<Volume> VolumesOf(Instance i) =>
        _volumes.Values.Where(v => v.InstanceId == i.InstanceId && !v.Deleted).OrderBy(v => v.Device == i.RootDeviceName ? 0 : 1).ThenBy(v => v.Device, StringComparer.Ordinal);

    private string GroupName(string groupId) => _groups.TryGetValue(groupId, out var g) ? g.GroupName : groupId;

    internal static string NormalizeProtocol(string? p) => (p ?? "").ToLowerInvariant() switch
    {
        "-1" or "all" => "-1",
        "6" or "tcp" => "tcp",
        "17" or "udp" => "udp",
        "1" or "icmp" => "icmp",
        "58" or "icmpv6" => "icmpv6",
        var other => other,
    };

    internal string DnsName(string? publicIp) => publicIp is null ? "" :
        _ctx.Region == "us-east-1" ? $"ec2-{publicIp.Replace('.', '-')}.compute-1.amazonaws.com" : $"ec2-{publicIp.Replace('.', '-')}.{_ctx.Region}.compute.amazonaws.com";

    internal string PrivateDns(string ip) =>
        _ctx.Region == "us-east-1" ? $"ip-{ip.Replace('.', '-')}.ec2.internal" : $"ip-{ip.Replace('.', '-')}.{_ctx.Region}.compute.internal";

    // ------------------------------------------------------------------ admin and lab-only views

    public void RegisterAdminEndpoints(LabAdminRouter router)
    {
        router.Map("/_lab/flows", r => r.Query["instanceId"] is { } id ? Flows().Where(f => f.InstanceId == id).ToList() : Flows());
    }

    /// <summary>Connection-tracking view: every scenario flow and whether it would still pass now.</summary>
    public IReadOnlyList<FlowStatus> Flows()
    {
        lock (_gate) return _tracker.Snapshot();
    }

    /// <summary>Whether a new connection with these properties would be admitted by the ENI's current groups.</summary>
    public bool WouldAllowNewConnection(string networkInterfaceId, string remoteIp, string protocol, int port, FlowDirection direction)
    {
        lock (_gate)
        {
            var eni = _enis[networkInterfaceId];
            return _tracker.Permits(eni.Groups, eni.AccountId, direction == FlowDirection.Outbound, remoteIp, NormalizeProtocol(protocol), port);
        }
    }

    /// <summary>The current security groups of an ENI (lab-side check for tests).</summary>
    public IReadOnlyList<string> GroupsOf(string networkInterfaceId)
    {
        lock (_gate) return _enis[networkInterfaceId].Groups.ToList();
    }

    /// <summary>The current state name of an instance (after pending transitions are applied).</summary>
    public string InstanceState(string instanceId)
    {
        lock (_gate)
        {
            Advance(_ctx.Clock.GetUtcNow());
            return _instances[instanceId].State;
        }
    }

    /// <summary>
    /// What containment changes on an instance, as the Lab holds it (tests compare it before and after a restore).
    /// ElasticIps: "allocation@eni@private-ip" for every Elastic IP on the instance's ENIs.
    /// </summary>
    public sealed record InstanceView(string State, bool DisableApiTermination, bool DisableApiStop, string ShutdownBehavior,
        IReadOnlyDictionary<string, bool> DeleteOnTermination, string? ProfileArn, IReadOnlyList<string> ElasticIps,
        IReadOnlyDictionary<string, string> EniGroups);

    public InstanceView ViewInstance(string instanceId)
    {
        lock (_gate)
        {
            Advance(_ctx.Clock.GetUtcNow());
            var i = _instances[instanceId];
            return new InstanceView(i.State, i.DisableApiTermination, i.DisableApiStop, i.ShutdownBehavior,
                new SortedDictionary<string, bool>(VolumesOf(i).ToDictionary(v => v.Device!, v => v.DeleteOnTermination), StringComparer.Ordinal),
                _iam.Values.FirstOrDefault(a => a.InstanceId == instanceId)?.ProfileArn,
                _addresses.Values.Where(a => a.NetworkInterfaceId is not null && i.NetworkInterfaceIds.Contains(a.NetworkInterfaceId))
                    .Select(a => $"{a.AllocationId}@{a.NetworkInterfaceId}@{a.PrivateIp}").OrderBy(x => x, StringComparer.Ordinal).ToList(),
                new SortedDictionary<string, string>(EnisOf(i).ToDictionary(e => e.NetworkInterfaceId, e => string.Join(",", e.Groups)), StringComparer.Ordinal));
        }
    }

    /// <summary>Security groups with this name, and their VPC (tests look for duplicates).</summary>
    public IReadOnlyList<(string GroupId, string VpcId, int Rules)> GroupsNamed(string name)
    {
        lock (_gate) return _groups.Values.Where(g => g.GroupName == name).Select(g => (g.GroupId, g.VpcId, g.Rules.Count)).ToList();
    }

    /// <summary>One snapshot as the Lab holds it now (tests compare what the module claims with what exists).</summary>
    public sealed record SnapshotView(string SnapshotId, string VolumeId, string State, IReadOnlyDictionary<string, string> Tags);

    /// <summary>Every snapshot of every account, with its state at the Lab's current time.</summary>
    public IReadOnlyList<SnapshotView> Snapshots()
    {
        lock (_gate)
        {
            var now = _ctx.Clock.GetUtcNow();
            return _snapshots.Values.Select(s => new SnapshotView(s.SnapshotId, s.VolumeId, s.State(now),
                new Dictionary<string, string>(TagsOf(s.SnapshotId), StringComparer.Ordinal))).ToList();
        }
    }

    /// <summary>The tags of any resource, as the Lab holds them.</summary>
    public IReadOnlyDictionary<string, string> ResourceTags(string resourceId)
    {
        lock (_gate) return new Dictionary<string, string>(TagsOf(resourceId), StringComparer.Ordinal);
    }

    /// <summary>
    /// Adds an all-ports rule to a group, as another principal's AuthorizeSecurityGroupIngress/Egress would, for tests
    /// of what the module finds changed behind its back. Returns the new rule's ID.
    /// </summary>
    public string AddRule(string groupId, bool egress, string protocol, string cidrIpv4)
    {
        lock (_gate)
        {
            var proto = NormalizeProtocol(protocol);
            var all = proto == "-1";
            var rule = new SgRule
            {
                RuleId = NewId("sgr"), GroupId = groupId, IsEgress = egress, Protocol = proto,
                FromPort = all ? null : 0, ToPort = all ? null : 65535, CidrIpv4 = cidrIpv4,
            };
            _groups[groupId].Rules.Add(rule);
            GroupRulesChanged(groupId);
            return rule.RuleId;
        }
    }

    /// <summary>The connection-tracking timeouts an ENI holds (null where none was ever set: AWS's defaults apply).</summary>
    public (int? Tcp, int? UdpStream, int? Udp) ConnectionTrackingOf(string networkInterfaceId)
    {
        lock (_gate)
        {
            var e = _enis[networkInterfaceId];
            return (e.TcpEstablishedTimeout, e.UdpStreamTimeout, e.UdpTimeout);
        }
    }

    /// <summary>ENIs currently using a group.</summary>
    public IReadOnlyList<string> NetworkInterfacesUsing(string groupId)
    {
        lock (_gate) return _enis.Values.Where(e => e.Groups.Contains(groupId)).Select(e => e.NetworkInterfaceId).ToList();
    }

    /// <summary>
    /// A plain one-step group swap, exactly what ModifyNetworkInterfaceAttribute does to the ENI and its tracked flows,
    /// for tests that contrast it with the two-step untracked conversion.
    /// </summary>
    public void SwapGroups(string networkInterfaceId, IReadOnlyList<string> groups)
    {
        lock (_gate) SetEniGroups(_enis[networkInterfaceId], groups.ToList());
    }

    public bool InstanceExists(string accountId, string instanceId)
    {
        lock (_gate) return _instances.TryGetValue(instanceId, out var i) && i.AccountId == accountId && i.State != "terminated";
    }

    internal (string Az, string Type)? InstanceFacts(string instanceId)
    {
        lock (_gate) return _instances.TryGetValue(instanceId, out var i) ? (i.AvailabilityZone, i.InstanceType) : null;
    }

    // Accessors for the connection tracker (called under the lock).
    internal IReadOnlyList<SgRule> RulesOf(IEnumerable<string> groupIds) =>
        groupIds.Where(_groups.ContainsKey).SelectMany(g => _groups[g].Rules).ToList();

    internal bool IpHasGroup(string accountId, string ip, string groupId) =>
        _enis.Values.Any(e => e.AccountId == accountId && e.PrivateIp == ip && e.Groups.Contains(groupId));

    internal NetworkInterface? EniById(string id) => _enis.TryGetValue(id, out var e) ? e : null;

    internal Instance? InstanceById(string id) => _instances.TryGetValue(id, out var i) ? i : null;

    private static string Inv(int v) => v.ToString(CultureInfo.InvariantCulture);
}
