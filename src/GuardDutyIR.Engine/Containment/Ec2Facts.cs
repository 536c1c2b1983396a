using Amazon.EC2;
using Amazon.EC2.Model;
using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Engine.Containment;

/// <summary>Everything containment reads about one instance before it decides anything.</summary>
internal sealed class InstanceFacts
{
    public required Instance Instance { get; init; }
    public required IReadOnlyDictionary<string, string> Tags { get; init; }
    public IamInstanceProfileAssociation? ProfileAssociation { get; init; }
    public IReadOnlyList<Address> ElasticIps { get; init; } = Array.Empty<Address>();
    public AutoScalingMembership? AutoScaling { get; init; }
    /// <summary>Why the Auto Scaling membership is unknown (the lookup failed); <see cref="AutoScaling"/> is then null.</summary>
    public GuardDutyIRException? AutoScalingError { get; init; }
    public bool DisableApiTermination { get; set; }
    public bool DisableApiStop { get; set; }
    public string ShutdownBehavior { get; set; } = "stop";

    public void Apply(ProtectionAttributes attributes)
    {
        DisableApiTermination = attributes.DisableApiTermination;
        DisableApiStop = attributes.DisableApiStop;
        ShutdownBehavior = attributes.ShutdownBehavior;
    }

    public string InstanceId => Instance.InstanceId;
    public string StateName => Instance.State?.Name?.Value ?? "";

    /// <summary>Terminated or on its way there: nothing left to contain.</summary>
    public static bool IsGone(Instance instance) => instance.State?.Name?.Value is "terminated" or "shutting-down";

    /// <summary>Attached ENIs in device order (every ENI, not just the primary one: each ENI has security groups of its own).</summary>
    public IReadOnlyList<InstanceNetworkInterface> NetworkInterfaces =>
        (Instance.NetworkInterfaces ?? new()).OrderBy(e => e.Attachment?.DeviceIndex ?? 0).ToList();

    public IReadOnlyList<InstanceBlockDeviceMapping> Volumes => (Instance.BlockDeviceMappings ?? new()).Where(b => b.Ebs is not null).ToList();

    public static IReadOnlyList<string> GroupsOf(InstanceNetworkInterface eni) => (eni.Groups ?? new()).Select(g => g.GroupId).ToList();

    /// <summary>
    /// An ENI's idle timeouts as "tcp/udpStream/udp" seconds. An ENI that never had its own reports none, and AWS's
    /// defaults apply to it: TCP established 432000 s, UDP stream 180 s, UDP 30 s
    /// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html#connection-tracking-timeouts).
    /// </summary>
    public static string TrackingOf(InstanceNetworkInterface eni)
    {
        var c = eni.ConnectionTrackingConfiguration;
        return $"{c?.TcpEstablishedTimeout ?? 432000}/{c?.UdpStreamTimeout ?? 180}/{c?.UdpTimeout ?? 30}";
    }
}

/// <summary>The evidence protections an instance has before containment changes them; DescribeInstances does not carry them.</summary>
internal readonly record struct ProtectionAttributes(bool DisableApiTermination, bool DisableApiStop, string ShutdownBehavior);

/// <summary>Batched reads: one DescribeInstances (instance-id filter, paginated) and one call per related API for many instances.</summary>
internal static class Ec2Facts
{
    /// <summary>Filter values per call; DescribeInstances accepts up to 200, we keep batches modest.</summary>
    public const int BatchSize = 50;

    public static async Task<Dictionary<string, InstanceFacts>> DescribeAsync(Ec2Gateway ec2, AutoScalingClient? autoScaling,
        IReadOnlyCollection<string> instanceIds, bool withAttributes, CancellationToken ct)
    {
        var instances = await DescribeInstancesAsync(ec2, instanceIds, ct).ConfigureAwait(false);
        // The attributes need the instance's ID, not its related facts: read beside them, one round trip instead of two.
        var attributes = withAttributes ? instances.Keys.Select(id => (Id: id, Read: ReadProtectionAsync(ec2, id, ct))).ToList() : new();
        var related = RelatedAsync(ec2, autoScaling, instances, ct);
        // A failure is rethrown below, the related facts' before the attributes', as when the calls ran one after another.
        await EndedAsync(attributes.Select(a => (Task)a.Read).Append(related)).ConfigureAwait(false);
        var facts = await related.ConfigureAwait(false);
        foreach (var (id, read) in attributes) facts[id].Apply(await read.ConfigureAwait(false));
        return facts;
    }

    /// <summary>The instances that exist, by ID: one DescribeInstances chain per batch; an unknown ID is simply absent.</summary>
    public static async Task<Dictionary<string, Instance>> DescribeInstancesAsync(Ec2Gateway ec2, IReadOnlyCollection<string> instanceIds, CancellationToken ct)
    {
        var instances = new Dictionary<string, Instance>(StringComparer.Ordinal);
        foreach (var chunk in instanceIds.Distinct().Chunk(BatchSize))
        {
            string? next = null;
            do
            {
                // A Filter and MaxResults, never InstanceId.N: EC2 rejects MaxResults with IDs, and unfiltered,
                // unpaginated describes draw on the smaller 50/10 bucket (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).
                var request = new DescribeInstancesRequest
                {
                    Filters = new List<Filter> { new("instance-id", chunk.ToList()) },
                    MaxResults = 1000,
                    NextToken = next,
                };
                var response = await ec2.ReadAsync("DescribeInstances", string.Join(",", chunk), (c, t) => c.DescribeInstancesAsync(request, t), ct).ConfigureAwait(false);
                foreach (var i in (response.Reservations ?? new()).SelectMany(r => r.Instances ?? new()))
                    instances[i.InstanceId] = i;
                next = response.NextToken;
            }
            while (!string.IsNullOrEmpty(next));
        }
        return instances;
    }

    /// <summary>The described instances with what other calls know of them: profile associations, Elastic IPs, Auto Scaling membership.</summary>
    public static async Task<Dictionary<string, InstanceFacts>> RelatedAsync(Ec2Gateway ec2, AutoScalingClient? autoScaling,
        IReadOnlyDictionary<string, Instance> instances, CancellationToken ct)
    {
        var ids = instances.Keys.ToList();
        var associations = new Dictionary<string, IamInstanceProfileAssociation>(StringComparer.Ordinal);
        var addresses = new List<Address>();
        var asg = new Dictionary<string, AutoScalingMembership>(StringComparer.Ordinal);
        var asgErrors = new Dictionary<string, GuardDutyIRException>(StringComparer.Ordinal);
        foreach (var chunk in ids.Chunk(BatchSize))
        {
            // The profile associations, the Elastic IPs and the Auto Scaling membership need the instances (and their
            // ENIs), not each other: one round trip for the three instead of three after one another, which a bulk
            // run pays before each batch's instances can start.
            var enis = chunk.SelectMany(id => instances[id].NetworkInterfaces ?? new()).Select(e => e.NetworkInterfaceId).ToList();
            var associated = AssociationsAsync(ec2, chunk, ct);
            var addressed = enis.Count > 0 ? AddressesAsync(ec2, enis, ct) : Task.FromResult(new List<Address>());
            var membership = autoScaling is null ? Task.FromResult<(IReadOnlyList<AutoScalingMembership>?, GuardDutyIRException?)>((null, null))
                : MembershipAsync(autoScaling, chunk, ct);
            // A failure is rethrown below, the associations' before the addresses', as when the calls ran one after another.
            await EndedAsync(new Task[] { associated, addressed, membership }).ConfigureAwait(false);
            foreach (var a in await associated.ConfigureAwait(false)) associations[a.InstanceId] = a;
            addresses.AddRange(await addressed.ConfigureAwait(false));
            var (members, error) = await membership.ConfigureAwait(false);
            foreach (var m in members ?? Array.Empty<AutoScalingMembership>()) asg[m.InstanceId] = m;
            if (error is not null)
                foreach (var id in chunk) asgErrors[id] = error;
        }

        var facts = new Dictionary<string, InstanceFacts>(StringComparer.Ordinal);
        foreach (var (id, instance) in instances)
        {
            var eniIds = (instance.NetworkInterfaces ?? new()).Select(e => e.NetworkInterfaceId).ToHashSet(StringComparer.Ordinal);
            facts[id] = new InstanceFacts
            {
                Instance = instance,
                Tags = (instance.Tags ?? new()).ToDictionary(t => t.Key, t => t.Value ?? "", StringComparer.Ordinal),
                ProfileAssociation = associations.GetValueOrDefault(id),
                ElasticIps = addresses.Where(a => a.NetworkInterfaceId is not null && eniIds.Contains(a.NetworkInterfaceId) && a.AllocationId is not null).ToList(),
                AutoScaling = asg.GetValueOrDefault(id),
                AutoScalingError = asgErrors.GetValueOrDefault(id),
            };
        }
        return facts;
    }

    /// <summary>
    /// Waits until every call has ended, failed or not, so the caller can await each in the order whose first failure
    /// it wants to report, with none of them still running.
    /// </summary>
    private static async Task EndedAsync(IEnumerable<Task> calls)
    {
        try { await Task.WhenAll(calls).ConfigureAwait(false); }
        catch (Exception) { /* each call's own failure is rethrown where the caller awaits it */ }
    }

    /// <summary>Reads the protection attributes into the instance's facts.</summary>
    public static async Task ReadAttributesAsync(Ec2Gateway ec2, InstanceFacts f, CancellationToken ct) =>
        f.Apply(await ReadProtectionAsync(ec2, f.InstanceId, ct).ConfigureAwait(false));

    /// <summary>The three protection attributes DescribeInstances does not carry (one attribute per call).</summary>
    public static async Task<ProtectionAttributes> ReadProtectionAsync(Ec2Gateway ec2, string instanceId, CancellationToken ct)
    {
        Task<InstanceAttribute> Read(InstanceAttributeName name) => ec2.ReadAsync("DescribeInstanceAttribute", instanceId, async (c, t) =>
            (await c.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = instanceId, Attribute = name }, t).ConfigureAwait(false)).InstanceAttribute, ct);
        var dat = Read(InstanceAttributeName.DisableApiTermination);
        var das = Read(InstanceAttributeName.DisableApiStop);
        var sib = Read(InstanceAttributeName.InstanceInitiatedShutdownBehavior);
        await Task.WhenAll(dat, das, sib).ConfigureAwait(false);
        return new ProtectionAttributes(
            (await dat.ConfigureAwait(false))?.DisableApiTermination ?? false,
            (await das.ConfigureAwait(false))?.DisableApiStop ?? false,
            (await sib.ConfigureAwait(false))?.InstanceInitiatedShutdownBehavior ?? "stop");
    }

    private static async Task<List<IamInstanceProfileAssociation>> AssociationsAsync(Ec2Gateway ec2, string[] chunk, CancellationToken ct)
    {
        var found = new List<IamInstanceProfileAssociation>();
        string? next = null;
        do
        {
            var request = new DescribeIamInstanceProfileAssociationsRequest
            {
                Filters = new List<Filter> { new("instance-id", chunk.ToList()), new("state", new List<string> { "associating", "associated" }) },
                MaxResults = 1000,
                NextToken = next,
            };
            var response = await ec2.ReadAsync("DescribeIamInstanceProfileAssociations", null, (c, t) => c.DescribeIamInstanceProfileAssociationsAsync(request, t), ct).ConfigureAwait(false);
            found.AddRange(response.IamInstanceProfileAssociations ?? new());
            next = response.NextToken;
        }
        while (!string.IsNullOrEmpty(next));
        return found;
    }

    private static async Task<List<Address>> AddressesAsync(Ec2Gateway ec2, List<string> enis, CancellationToken ct)
    {
        var request = new DescribeAddressesRequest { Filters = new List<Filter> { new("network-interface-id", enis) } };
        var response = await ec2.ReadAsync("DescribeAddresses", null, (c, t) => c.DescribeAddressesAsync(request, t), ct).ConfigureAwait(false);
        return response.Addresses ?? new();
    }

    /// <summary>The Auto Scaling membership, or the failure each instance carries: an unknown membership must not stop containment.</summary>
    private static async Task<(IReadOnlyList<AutoScalingMembership>?, GuardDutyIRException?)> MembershipAsync(AutoScalingClient autoScaling, string[] chunk, CancellationToken ct)
    {
        try
        {
            return (await autoScaling.DescribeInstancesAsync(chunk, ct).ConfigureAwait(false), null);
        }
        catch (Exception e) when (e is not OperationCanceledException && e is not AwsServiceException { Kind: ErrorKind.AuthenticationError })
        {
            // The caller decides (quarantine isolates anyway and reports it; test and undo say they cannot check).
            return (null, e as GuardDutyIRException ?? new GuardDutyIRException("AutoScalingLookupFailed", ErrorKind.ConnectionError,
                $"Auto Scaling DescribeAutoScalingInstances failed: {e.Message}", null, e));
        }
    }

    public static GuardDutyIRException NotFound(string instanceId, string region) =>
        new("InstanceNotFound", ErrorKind.ObjectNotFound, $"Instance {instanceId} was not found in {region}.", instanceId);
}
