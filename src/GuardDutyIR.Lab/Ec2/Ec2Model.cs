namespace GuardDutyIR.Lab.Ec2;

// The mutable EC2 state of the Lab. All access happens under Ec2Service's lock.

internal sealed class SgRule
{
    public required string RuleId { get; init; }
    public required string GroupId { get; init; }
    public required bool IsEgress { get; init; }
    /// <summary>Normalized: "-1", "tcp", "udp", "icmp", "icmpv6" or a protocol number.</summary>
    public required string Protocol { get; init; }
    public int? FromPort { get; init; }
    public int? ToPort { get; init; }
    public string? CidrIpv4 { get; init; }
    public string? CidrIpv6 { get; init; }
    public string? ReferencedGroupId { get; init; }
    public string? ReferencedUserId { get; init; }
    public string? PrefixListId { get; init; }
    public string? Description { get; set; }

    /// <summary>Identity for "already exists" and exact-match revoke (description does not take part, as on AWS).</summary>
    public bool SameAs(SgRule o) =>
        IsEgress == o.IsEgress && Protocol == o.Protocol && PortsKey == o.PortsKey && CidrIpv4 == o.CidrIpv4 && CidrIpv6 == o.CidrIpv6 &&
        ReferencedGroupId == o.ReferencedGroupId && PrefixListId == o.PrefixListId;

    /// <summary>Ports only matter for tcp/udp/icmp; "-1" rules have none.</summary>
    public string PortsKey => Protocol == "-1" ? "" : $"{FromPort}:{ToPort}";
}

internal sealed class SecurityGroup
{
    public required string AccountId { get; init; }
    public required string GroupId { get; init; }
    public required string GroupName { get; init; }
    public required string Description { get; init; }
    public required string VpcId { get; init; }
    public List<SgRule> Rules { get; } = new();
}

internal sealed class NetworkInterface
{
    public required string AccountId { get; init; }
    public required string NetworkInterfaceId { get; init; }
    public required string SubnetId { get; init; }
    public required string VpcId { get; init; }
    public required string AvailabilityZone { get; init; }
    public required string PrivateIp { get; init; }
    /// <summary>Secondary private IPv4 addresses (AssignPrivateIpAddresses); each can carry its own Elastic IP.</summary>
    public List<string> SecondaryPrivateIps { get; } = new();
    public IEnumerable<string> PrivateIps => SecondaryPrivateIps.Prepend(PrivateIp);
    public required string MacAddress { get; init; }
    public required string Description { get; init; }
    public List<string> Groups { get; set; } = new();
    public string? InstanceId { get; set; }
    public string? AttachmentId { get; set; }
    public int DeviceIndex { get; set; }
    public bool DeleteOnTermination { get; set; } = true;
    public DateTimeOffset AttachTime { get; set; }
    /// <summary>The public IP of the primary private IP (the Elastic IP of a secondary one lives only on its <see cref="Address"/>).</summary>
    public string? PublicIp { get; set; }
    /// <summary>Set when the public IP is an Elastic IP (then it survives stop/start and has an association).</summary>
    public string? AllocationId { get; set; }
    public string? AssociationId { get; set; }
    public int? TcpEstablishedTimeout { get; set; }
    public int? UdpStreamTimeout { get; set; }
    public int? UdpTimeout { get; set; }
    public string Status => InstanceId is null ? "available" : "in-use";
}

internal sealed class Volume
{
    public required string AccountId { get; init; }
    public required string VolumeId { get; init; }
    public required int Size { get; init; }
    public required string VolumeType { get; init; }
    public required string AvailabilityZone { get; init; }
    public required DateTimeOffset CreateTime { get; init; }
    public string? SnapshotId { get; init; }
    public bool Encrypted { get; init; }
    public string? InstanceId { get; set; }
    public string? Device { get; set; }
    public DateTimeOffset AttachTime { get; set; }
    public bool DeleteOnTermination { get; set; }
    public bool Deleted { get; set; }
    public string Status => InstanceId is null ? "available" : "in-use";
}

internal sealed class Instance
{
    public required string AccountId { get; init; }
    public required string InstanceId { get; init; }
    public required string ReservationId { get; init; }
    public required string ImageId { get; init; }
    public required string InstanceType { get; init; }
    public required string KeyName { get; init; }
    public required string AvailabilityZone { get; init; }
    public required string SubnetId { get; init; }
    public required string VpcId { get; init; }
    public required string PrivateIp { get; init; }
    public required DateTimeOffset LaunchTime { get; set; }
    public required string RootDeviceName { get; init; }
    public string State { get; set; } = "running";
    public string Reason { get; set; } = "";
    /// <summary>When the current transitional state (pending/stopping/shutting-down) ends.</summary>
    public DateTimeOffset? TransitionAt { get; set; }
    public bool DisableApiTermination { get; set; }
    public bool DisableApiStop { get; set; }
    public string ShutdownBehavior { get; set; } = "stop";
    public bool SourceDestCheck { get; set; } = true;
    public List<string> NetworkInterfaceIds { get; } = new();
    /// <summary>An auto-assigned (non-EIP) public IP; released on stop, as on AWS.</summary>
    public string? AutoPublicIp { get; set; }
    /// <summary>Instance metadata options (ModifyInstanceMetadataOptions): "optional" allows IMDSv1, "required" demands a token.</summary>
    public string HttpTokens { get; set; } = "required";
    public int HttpPutResponseHopLimit { get; set; } = 2;
    public string HttpEndpoint { get; set; } = "enabled";

    public static int Code(string state) => state switch
    {
        "pending" => 0, "running" => 16, "shutting-down" => 32, "terminated" => 48, "stopping" => 64, "stopped" => 80, _ => 16,
    };
}

internal sealed class Snapshot
{
    public required string AccountId { get; init; }
    public required string SnapshotId { get; init; }
    public required string VolumeId { get; init; }
    public required int VolumeSize { get; init; }
    public required DateTimeOffset StartTime { get; init; }
    public required DateTimeOffset CompleteAt { get; init; }
    public string Description { get; init; } = "";
    public bool Encrypted { get; init; }
    public string AvailabilityZone { get; init; } = "";
    public List<string> CreateVolumeUserIds { get; } = new();
    public bool CreateVolumePublic { get; set; }

    public string State(DateTimeOffset now) => now >= CompleteAt ? "completed" : "pending";

    public string Progress(DateTimeOffset now)
    {
        if (now >= CompleteAt) return "100%";
        var total = (CompleteAt - StartTime).TotalSeconds;
        var pct = total <= 0 ? 99 : (int)Math.Clamp((now - StartTime).TotalSeconds / total * 100, 0, 99);
        return pct + "%";
    }
}

internal sealed class Address
{
    public required string AccountId { get; init; }
    public required string AllocationId { get; init; }
    public required string PublicIp { get; init; }
    public string? InstanceId { get; set; }
    public string? NetworkInterfaceId { get; set; }
    public string? AssociationId { get; set; }
    public string? PrivateIp { get; set; }
}

internal sealed class IamAssociation
{
    public required string AssociationId { get; init; }
    public required string InstanceId { get; init; }
    public required string AccountId { get; init; }
    public required string ProfileArn { get; init; }
    public required string ProfileId { get; init; }
    public string State { get; set; } = "associated";
    public DateTimeOffset Timestamp { get; set; }
}

internal sealed record Vpc(string AccountId, string VpcId, string CidrBlock, bool IsDefault, string CidrAssociationId);

internal sealed record Subnet(string AccountId, string SubnetId, string VpcId, string CidrBlock, string AvailabilityZone, bool DefaultForAz);
