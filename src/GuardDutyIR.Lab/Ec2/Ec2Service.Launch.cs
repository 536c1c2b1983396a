using System.Globalization;
using System.Net;

namespace GuardDutyIR.Lab.Ec2;

/// <summary>
/// Seeding hooks for tests and rehearsals: state a scenario does not start with but a real account often has (a fleet of
/// instances sharing one instance profile, a profile associated after launch), put in place as RunInstances and
/// AssociateIamInstanceProfile would have left it. The Lab serves neither RunInstances nor IAM's CreateInstanceProfile.
/// </summary>
public sealed partial class Ec2Service
{
    /// <summary>
    /// <paramref name="count"/> running copies of an instance, launched now by one RunInstances call (one reservation): the
    /// same subnet, security groups, image, type, key pair and metadata options, each with a primary ENI of its own (next
    /// free address of the subnet, no public address) and an 8 GiB root volume, and <paramref name="instanceProfileArn"/>
    /// associated when given. Returns the new instance IDs in launch order.
    /// </summary>
    public IReadOnlyList<string> LaunchCopiesOf(string instanceId, int count, string? instanceProfileArn = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_gate)
        {
            var source = _instances.GetValueOrDefault(instanceId) ?? throw new KeyNotFoundException(instanceId);
            var primary = EnisOf(source).First(e => e.DeviceIndex == 0);
            var subnet = _subnets[source.SubnetId];
            var free = FreeAddresses(subnet).GetEnumerator();
            var now = _ctx.Clock.GetUtcNow();
            var launched = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, TimeSpan.Zero);
            var reservation = NewId("r");
            var name = TagsOf(source.InstanceId).GetValueOrDefault("Name") ?? source.InstanceId;
            var ids = new List<string>(count);
            for (int n = 1; n <= count; n++)
            {
                if (!free.MoveNext()) throw new InvalidOperationException($"Subnet {subnet.SubnetId} ({subnet.CidrBlock}) has no free address for copy {n}.");
                var copy = new Instance
                {
                    AccountId = source.AccountId, InstanceId = NewId("i"), ReservationId = reservation, ImageId = source.ImageId,
                    InstanceType = source.InstanceType, KeyName = source.KeyName, AvailabilityZone = source.AvailabilityZone,
                    SubnetId = source.SubnetId, VpcId = source.VpcId, PrivateIp = free.Current, LaunchTime = launched,
                    RootDeviceName = source.RootDeviceName, HttpTokens = source.HttpTokens,
                    HttpPutResponseHopLimit = source.HttpPutResponseHopLimit, HttpEndpoint = source.HttpEndpoint,
                };
                var eni = new NetworkInterface
                {
                    AccountId = copy.AccountId, NetworkInterfaceId = NewId("eni"), SubnetId = copy.SubnetId, VpcId = copy.VpcId,
                    AvailabilityZone = copy.AvailabilityZone, PrivateIp = copy.PrivateIp, MacAddress = Mac(copy.InstanceId), Description = "Primary network interface",
                    Groups = primary.Groups.ToList(), InstanceId = copy.InstanceId, AttachmentId = NewId("eni-attach"), DeviceIndex = 0,
                    DeleteOnTermination = true, AttachTime = launched,
                };
                _enis[eni.NetworkInterfaceId] = eni;
                copy.NetworkInterfaceIds.Add(eni.NetworkInterfaceId);
                var volume = new Volume
                {
                    AccountId = copy.AccountId, VolumeId = NewId("vol"), Size = 8, VolumeType = "gp3", AvailabilityZone = copy.AvailabilityZone,
                    CreateTime = launched, InstanceId = copy.InstanceId, Device = copy.RootDeviceName, AttachTime = launched.AddSeconds(1),
                    DeleteOnTermination = true,
                };
                _volumes[volume.VolumeId] = volume;
                _instances[copy.InstanceId] = copy;
                LoadTags(copy.InstanceId, new Dictionary<string, string> { ["Name"] = $"{name} copy {n}" });
                if (instanceProfileArn is not null) Associate(copy, instanceProfileArn, launched);
                ids.Add(copy.InstanceId);
            }
            return ids;
        }
    }

    /// <summary>
    /// Associates an instance profile with an instance that has none, as AssociateIamInstanceProfile does (the Lab completes
    /// the association at once). The profile's ID is the one the scenario gave it, else a stable one derived from the ARN.
    /// </summary>
    public void AssociateInstanceProfile(string instanceId, string instanceProfileArn)
    {
        lock (_gate)
        {
            var instance = _instances.GetValueOrDefault(instanceId) ?? throw new KeyNotFoundException(instanceId);
            if (_iam.Values.Any(a => a.InstanceId == instanceId && a.State is "associated" or "associating"))
                throw new InvalidOperationException($"Instance {instanceId} already has an instance profile.");
            Associate(instance, instanceProfileArn, _ctx.Clock.GetUtcNow());
        }
    }

    private void Associate(Instance instance, string profileArn, DateTimeOffset at)
    {
        if (!_profiles.TryGetValue(profileArn, out var profile))
        {
            var name = profileArn[(profileArn.LastIndexOf('/') + 1)..];
            profile = (name, "AIPA" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(profileArn)))[..17]);
            _profiles[profileArn] = profile;
        }
        var a = new IamAssociation
        {
            AssociationId = NewId("iip-assoc"), InstanceId = instance.InstanceId, AccountId = instance.AccountId, ProfileArn = profileArn,
            ProfileId = profile.Id, Timestamp = at,
        };
        _iam[a.AssociationId] = a;
    }

    // The subnet's host addresses not held by any ENI, lowest first; AWS reserves the first four and the last
    // (https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html).
    private IEnumerable<string> FreeAddresses(Subnet subnet)
    {
        var parts = subnet.CidrBlock.Split('/');
        var bytes = IPAddress.Parse(parts[0]).GetAddressBytes();
        uint network = (uint)bytes[0] << 24 | (uint)bytes[1] << 16 | (uint)bytes[2] << 8 | bytes[3];
        uint size = 1u << (32 - int.Parse(parts[1], CultureInfo.InvariantCulture));
        var used = _enis.Values.Where(e => e.SubnetId == subnet.SubnetId).SelectMany(e => e.PrivateIps).ToHashSet(StringComparer.Ordinal);
        for (uint host = 4; host < size - 1; host++)
        {
            var a = network + host;
            var ip = $"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}";
            if (used.Add(ip)) yield return ip;
        }
    }

    // Locally administered (02:), unique as the instance ID's hex digits are.
    private static string Mac(string instanceId) => "02:" + string.Join(":", instanceId[3..13].Chunk(2).Select(p => new string(p)));
}
