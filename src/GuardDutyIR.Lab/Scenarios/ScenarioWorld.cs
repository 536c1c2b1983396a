namespace GuardDutyIR.Lab.Scenarios;

public static class ScenarioNames
{
    public const string Workshop = "Workshop";
    public const string CompromisedInstance = "CompromisedInstance";
    public const string CloudTrailInvestigation = "CloudTrailInvestigation";
    public const string Empty = "Empty";
    public const string Scale = "Scale";
    public static readonly IReadOnlyList<string> All = new[] { Workshop, CompromisedInstance, CloudTrailInvestigation, Empty, Scale };
}

/// <summary>Size of the Scale scenario (other scenarios ignore it, except Findings which GuardDuty may read).</summary>
public sealed record ScaleOptions(int Instances = 100, int Vpcs = 4, int Findings = 100);

public enum FlowDirection { Outbound, Inbound }

public sealed record WorldVpc(string AccountId, string VpcId, string CidrBlock, bool IsDefault, string DefaultSecurityGroupId, IReadOnlyDictionary<string, string> Tags)
{
    public string? Name => Tags.TryGetValue("Name", out var n) ? n : null;
}

public sealed record WorldSubnet(string AccountId, string SubnetId, string VpcId, string CidrBlock, string AvailabilityZone, IReadOnlyDictionary<string, string> Tags);

/// <summary>One security group rule as authored; exactly one of the CIDR/group/prefix-list targets is set.</summary>
public sealed record WorldSecurityGroupRule(
    bool IsEgress, string IpProtocol, int? FromPort, int? ToPort,
    string? CidrIpv4 = null, string? CidrIpv6 = null, string? ReferencedGroupId = null, string? PrefixListId = null, string? Description = null);

public sealed record WorldSecurityGroup(
    string AccountId, string GroupId, string GroupName, string Description, string VpcId,
    IReadOnlyList<WorldSecurityGroupRule> Rules, IReadOnlyDictionary<string, string> Tags);

public sealed record WorldNetworkInterface(
    string NetworkInterfaceId, string AttachmentId, int DeviceIndex, string SubnetId, string VpcId, string PrivateIp,
    string MacAddress, IReadOnlyList<string> GroupIds, string? PublicIp, string? AllocationId, string? AssociationId, string Description);

public sealed record WorldVolume(string VolumeId, string DeviceName, int SizeGiB, string VolumeType, bool DeleteOnTermination, bool Encrypted, string? SnapshotId);

public sealed record WorldInstance(
    string AccountId,
    string InstanceId,
    string Name,
    /// <summary>The instance's part in the story: compromised, malicious, bastion, asg-worker, investigated, workload…</summary>
    string Role,
    string VpcId,
    string SubnetId,
    string AvailabilityZone,
    string PrivateIp,
    string? PublicIp,
    IReadOnlyList<WorldNetworkInterface> NetworkInterfaces,
    IReadOnlyList<WorldVolume> Volumes,
    string? IamRoleName,
    string? InstanceProfileArn,
    string? InstanceProfileId,
    DateTimeOffset LaunchTime,
    string ImageId,
    string InstanceType,
    string KeyName,
    string ReservationId,
    IReadOnlyDictionary<string, string> Tags,
    bool DisableApiTermination = false)
{
    public WorldNetworkInterface PrimaryNetworkInterface => NetworkInterfaces[0];
    /// <summary>The instance-level groupSet as EC2 reports it: the primary ENI's groups.</summary>
    public IReadOnlyList<string> SecurityGroupIds => NetworkInterfaces[0].GroupIds;
    public string RootDeviceName => Volumes[0].DeviceName;
    public string PrivateDnsName => "ip-" + PrivateIp.Replace('.', '-') + ".ec2.internal";
}

public sealed record WorldElasticIp(string AccountId, string AllocationId, string PublicIp, string? InstanceId, string? NetworkInterfaceId, string? AssociationId, IReadOnlyDictionary<string, string> Tags);

public sealed record WorldRole(string AccountId, string RoleName, string RoleId, string? InstanceProfileName, string? InstanceProfileArn, string? InstanceProfileId)
{
    public string Arn => $"arn:aws:iam::{AccountId}:role/{RoleName}";
}

public sealed record WorldUser(string AccountId, string UserName, string UserId, string AccessKeyId)
{
    public string Arn => $"arn:aws:iam::{AccountId}:user/{UserName}";
}

/// <summary>
/// A connection that exists when the scenario starts, seen from one ENI. Outbound: the instance opened it to
/// RemoteIp:RemotePort; inbound: RemoteIp opened it to LocalPort. For ICMP the ports hold the ICMP type (8 = echo).
/// </summary>
public sealed record WorldFlow(
    string FlowId, string InstanceId, string NetworkInterfaceId, string LocalIp, int LocalPort, string RemoteIp, int RemotePort,
    string Protocol, FlowDirection Direction, DateTimeOffset EstablishedAt, string Description);

public sealed record WorldAutoScalingGroup(
    string AccountId, string Name, string LaunchTemplateId, string LaunchTemplateName, int MinSize, int MaxSize, int DesiredCapacity,
    IReadOnlyList<string> InstanceIds, IReadOnlyList<string> AvailabilityZones, IReadOnlyList<string> SubnetIds);

public sealed record WorldS3Object(string Bucket, string Key, long Size, DateTimeOffset Time);

/// <summary>
/// The deterministic facts of a scenario: everything here follows from (scenario, seed, scale) alone, so two Labs
/// started alike agree on every ID, address and time. Services seed their state from it; tests assert against it.
/// </summary>
public sealed class ScenarioWorld
{
    public required string Scenario { get; init; }
    public required int Seed { get; init; }
    public required string Region { get; init; }
    /// <summary>The main (responder's) account.</summary>
    public required string AccountId { get; init; }
    /// <summary>A second Lab account for cross-account (AssumeRole) work.</summary>
    public required string MemberAccountId { get; init; }
    /// <summary>The scenario's "now" at creation: events and flows are placed relative to it.</summary>
    public required DateTimeOffset BaseTime { get; init; }
    public required ScaleOptions Scale { get; init; }

    public IReadOnlyList<WorldVpc> Vpcs { get; init; } = Array.Empty<WorldVpc>();
    public IReadOnlyList<WorldSubnet> Subnets { get; init; } = Array.Empty<WorldSubnet>();
    public IReadOnlyList<WorldSecurityGroup> SecurityGroups { get; init; } = Array.Empty<WorldSecurityGroup>();
    public IReadOnlyList<WorldInstance> Instances { get; init; } = Array.Empty<WorldInstance>();
    public IReadOnlyList<WorldElasticIp> ElasticIps { get; init; } = Array.Empty<WorldElasticIp>();
    public IReadOnlyList<WorldRole> Roles { get; init; } = Array.Empty<WorldRole>();
    public IReadOnlyList<WorldUser> Users { get; init; } = Array.Empty<WorldUser>();
    public IReadOnlyList<WorldFlow> Flows { get; init; } = Array.Empty<WorldFlow>();
    public IReadOnlyList<WorldAutoScalingGroup> AutoScalingGroups { get; init; } = Array.Empty<WorldAutoScalingGroup>();

    // ---- Scenario 1: compromised instance talking to a threat-listed IP ----
    public string? CompromisedInstanceId { get; init; }
    public string? MaliciousInstanceId { get; init; }
    public string? BastionInstanceId { get; init; }
    /// <summary>
    /// Elastic IP of the malicious instance, in a real public range (44.192.0.0/11, an AWS us-east-1 EC2 block) because
    /// GuardDuty threat lists only match publicly routable addresses; documentation ranges would never fire.
    /// </summary>
    public string? MaliciousEip { get; init; }
    public string? MaliciousEipAllocationId { get; init; }
    public string ThreatListName { get; init; } = "Example-Threat-List";
    public string? ThreatListBucket { get; init; }
    public string? ThreatListKey { get; init; }
    public string? SnsTopicName { get; init; }
    /// <summary>The administrator's address holding the SSH session to the bastion (198.51.100.0/24, documentation range).</summary>
    public string? AdminSourceIp { get; init; }
    public string? AutoScalingGroupName { get; init; }
    public string? AutoScalingInstanceId { get; init; }

    // ---- Scenario 2: instance-role credentials used from outside ----
    public string? InvestigatedInstanceId { get; init; }
    public string? InvestigatedRoleName { get; init; }
    public string? InvestigatedRoleId { get; init; }
    /// <summary>"AROA…:i-…": the role session of the instance profile (session name = instance ID).</summary>
    public string? InvestigatedPrincipalId { get; init; }
    public string? InvestigatedRoleArn { get; init; }
    /// <summary>The ASIA key of the instance-profile session that was stolen (deterministic).</summary>
    public string? InvestigatedSessionAccessKeyId { get; init; }
    /// <summary>The outside address (45.0.0.0/8, a non-AWS public block) that used the stolen credentials.</summary>
    public string? ExfilSourceIp { get; init; }
    public string? ExfilBucket { get; init; }
    public IReadOnlyList<WorldS3Object> ExfilObjects { get; init; } = Array.Empty<WorldS3Object>();

    public WorldInstance Instance(string instanceId) =>
        Instances.FirstOrDefault(i => i.InstanceId == instanceId) ?? throw new KeyNotFoundException(instanceId);

    public WorldInstance? CompromisedInstance => CompromisedInstanceId is null ? null : Instance(CompromisedInstanceId);
    public WorldInstance? InvestigatedInstance => InvestigatedInstanceId is null ? null : Instance(InvestigatedInstanceId);

    public IEnumerable<WorldInstance> InstancesIn(string accountId) => Instances.Where(i => i.AccountId == accountId);

    public WorldSecurityGroup Group(string groupId) =>
        SecurityGroups.FirstOrDefault(g => g.GroupId == groupId) ?? throw new KeyNotFoundException(groupId);

    public static ScenarioWorld Create(string scenario, int seed, ScaleOptions? scale = null, string region = "us-east-1") =>
        ScenarioWorldFactory.Create(scenario, seed, scale ?? new ScaleOptions(), region);
}
