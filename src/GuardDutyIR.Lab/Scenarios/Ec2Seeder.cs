using GuardDutyIR.Lab.Ec2;

namespace GuardDutyIR.Lab.Scenarios;

/// <summary>Puts a scenario's network, instances and addresses into the Lab's EC2 and its groups into Auto Scaling.</summary>
internal static class Ec2Seeder
{
    public static void Seed(Ec2Service ec2, ScenarioWorld world)
    {
        foreach (var v in world.Vpcs)
            ec2.Add(new Vpc(v.AccountId, v.VpcId, v.CidrBlock, v.IsDefault, "vpc-cidr-assoc-" + v.VpcId[4..]), v.Tags);
        foreach (var s in world.Subnets)
            ec2.Add(new Subnet(s.AccountId, s.SubnetId, s.VpcId, s.CidrBlock, s.AvailabilityZone, world.Vpcs.First(v => v.VpcId == s.VpcId).IsDefault), s.Tags);
        foreach (var g in world.SecurityGroups)
            ec2.Add(Group(ec2, g), g.Tags);
        foreach (var role in world.Roles.Where(r => r.InstanceProfileArn is not null))
            ec2.AddInstanceProfile(role.InstanceProfileArn!, role.InstanceProfileName!, role.InstanceProfileId!);
        foreach (var wi in world.Instances)
            AddInstance(ec2, wi);
        var enis = world.Instances.SelectMany(i => i.NetworkInterfaces).ToDictionary(e => e.NetworkInterfaceId, StringComparer.Ordinal);
        foreach (var a in world.ElasticIps)
            ec2.Add(new Address
            {
                AccountId = a.AccountId, AllocationId = a.AllocationId, PublicIp = a.PublicIp, InstanceId = a.InstanceId,
                NetworkInterfaceId = a.NetworkInterfaceId, AssociationId = a.AssociationId,
                PrivateIp = a.NetworkInterfaceId is null ? null : enis[a.NetworkInterfaceId].PrivateIp,
            }, a.Tags);
        ec2.AddFlows(world.Flows);
    }

    public static void Seed(AutoScalingService autoScaling, ScenarioWorld world)
    {
        foreach (var g in world.AutoScalingGroups)
        {
            var group = new AutoScalingGroup
            {
                AccountId = g.AccountId, Name = g.Name, LaunchTemplateId = g.LaunchTemplateId, LaunchTemplateName = g.LaunchTemplateName,
                Min = g.MinSize, Max = g.MaxSize, Desired = g.DesiredCapacity, Zones = g.AvailabilityZones.ToList(), Subnets = g.SubnetIds.ToList(),
                Created = world.BaseTime.AddDays(-30),
            };
            foreach (var i in g.InstanceIds) group.Instances[i] = "InService";
            autoScaling.Add(group);
        }
    }

    private static SecurityGroup Group(Ec2Service ec2, WorldSecurityGroup g)
    {
        var group = new SecurityGroup { AccountId = g.AccountId, GroupId = g.GroupId, GroupName = g.GroupName, Description = g.Description, VpcId = g.VpcId };
        foreach (var r in g.Rules)
            group.Rules.Add(new SgRule
            {
                RuleId = ec2.NewResourceId("sgr"), GroupId = g.GroupId, IsEgress = r.IsEgress, Protocol = Ec2Service.NormalizeProtocol(r.IpProtocol),
                FromPort = r.IpProtocol == "-1" ? null : r.FromPort, ToPort = r.IpProtocol == "-1" ? null : r.ToPort,
                CidrIpv4 = r.CidrIpv4, CidrIpv6 = r.CidrIpv6, ReferencedGroupId = r.ReferencedGroupId,
                ReferencedUserId = r.ReferencedGroupId is null ? null : g.AccountId, PrefixListId = r.PrefixListId, Description = r.Description,
            });
        return group;
    }

    /// <summary>A running instance with its ENIs attached, its volumes attached since launch, and its instance profile associated.</summary>
    private static void AddInstance(Ec2Service ec2, WorldInstance wi)
    {
        var inst = new Instance
        {
            AccountId = wi.AccountId, InstanceId = wi.InstanceId, ReservationId = wi.ReservationId, ImageId = wi.ImageId,
            InstanceType = wi.InstanceType, KeyName = wi.KeyName, AvailabilityZone = wi.AvailabilityZone, SubnetId = wi.SubnetId,
            VpcId = wi.VpcId, PrivateIp = wi.PrivateIp, LaunchTime = wi.LaunchTime, RootDeviceName = wi.RootDeviceName,
            DisableApiTermination = wi.DisableApiTermination,
        };
        // The workshop's two instances under attack were launched allowing IMDSv1 (HttpTokens optional, hop limit 1, the
        // settings of an instance launched without metadata options), the weakness an exposure check should find; the
        // rest have IMDSv2 required.
        if (wi.Role is "compromised" or "investigated")
        {
            inst.HttpTokens = "optional";
            inst.HttpPutResponseHopLimit = 1;
        }
        ec2.AddKeyPair(wi.AccountId, wi.KeyName, wi.LaunchTime.AddDays(-7));
        foreach (var we in wi.NetworkInterfaces)
        {
            ec2.Add(new NetworkInterface
            {
                AccountId = wi.AccountId, NetworkInterfaceId = we.NetworkInterfaceId, SubnetId = we.SubnetId, VpcId = we.VpcId,
                AvailabilityZone = wi.AvailabilityZone, PrivateIp = we.PrivateIp, MacAddress = we.MacAddress, Description = we.Description,
                Groups = we.GroupIds.ToList(), InstanceId = wi.InstanceId, AttachmentId = we.AttachmentId, DeviceIndex = we.DeviceIndex,
                DeleteOnTermination = we.DeviceIndex == 0, AttachTime = wi.LaunchTime, PublicIp = we.PublicIp,
                AllocationId = we.AllocationId, AssociationId = we.AssociationId,
            });
            inst.NetworkInterfaceIds.Add(we.NetworkInterfaceId);
            if (we.DeviceIndex == 0 && we.PublicIp is not null && we.AllocationId is null) inst.AutoPublicIp = we.PublicIp;
        }
        foreach (var wv in wi.Volumes)
            ec2.Add(new Volume
            {
                AccountId = wi.AccountId, VolumeId = wv.VolumeId, Size = wv.SizeGiB, VolumeType = wv.VolumeType, AvailabilityZone = wi.AvailabilityZone,
                CreateTime = wi.LaunchTime, SnapshotId = wv.SnapshotId, Encrypted = wv.Encrypted, InstanceId = wi.InstanceId, Device = wv.DeviceName,
                AttachTime = wi.LaunchTime.AddSeconds(1), DeleteOnTermination = wv.DeleteOnTermination,
            }, new Dictionary<string, string> { ["Name"] = wi.Name + " " + wv.DeviceName });
        if (wi.InstanceProfileArn is not null)
            ec2.Add(new IamAssociation
            {
                AssociationId = ec2.NewResourceId("iip-assoc"), InstanceId = wi.InstanceId, AccountId = wi.AccountId,
                ProfileArn = wi.InstanceProfileArn, ProfileId = wi.InstanceProfileId!, Timestamp = wi.LaunchTime,
            });
        ec2.Add(inst, wi.Tags);
    }
}
