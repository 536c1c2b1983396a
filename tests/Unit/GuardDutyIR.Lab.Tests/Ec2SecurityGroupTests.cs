using System.Net;
using Amazon.EC2;
using Amazon.EC2.Model;

namespace GuardDutyIR.Lab.Tests;

public sealed class Ec2SecurityGroupTests
{
    private static Filter F(string name, params string[] values) => new() { Name = name, Values = values.ToList() };

    [Fact]
    public async Task CreateSecurityGroup_HasDefaultEgress_AndDuplicateFails()
    {
        await using var lab = await TestLab.StartAsync();
        var vpc = lab.World.CompromisedInstance!.VpcId;
        using var ec2 = TestLab.Ec2(lab);
        var created = await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest
        {
            GroupName = "ir-isolation", Description = "IR isolation", VpcId = vpc,
            TagSpecifications = new() { new TagSpecification { ResourceType = ResourceType.SecurityGroup, Tags = new() { new Tag("ir:case", "42") } } },
        });
        Assert.StartsWith("sg-", created.GroupId);
        Assert.Equal("42", created.Tags.Single().Value);
        var rules = (await ec2.DescribeSecurityGroupRulesAsync(new DescribeSecurityGroupRulesRequest { Filters = new() { F("group-id", created.GroupId) } })).SecurityGroupRules;
        var egress = Assert.Single(rules);
        Assert.True(egress.IsEgress);
        Assert.Equal("-1", egress.IpProtocol);
        Assert.Equal("0.0.0.0/0", egress.CidrIpv4);
        Assert.StartsWith("sgr-", egress.SecurityGroupRuleId);

        var dup = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "ir-isolation", Description = "again", VpcId = vpc }));
        Assert.Equal("InvalidGroup.Duplicate", dup.ErrorCode);
        // Same name in another VPC (the default one, when VpcId is omitted) is fine.
        var other = await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "ir-isolation", Description = "default vpc" });
        var g = (await ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { GroupIds = new() { other.GroupId } })).SecurityGroups.Single();
        Assert.Equal(lab.World.Vpcs.Single(v => v.IsDefault && v.AccountId == lab.AccountId).VpcId, g.VpcId);
        var missing = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "x" }));
        Assert.Equal("MissingParameter", missing.ErrorCode);
    }

    [Fact]
    public async Task AuthorizeAndRevoke_AllRuleKinds()
    {
        await using var lab = await TestLab.StartAsync();
        var vpc = lab.World.CompromisedInstance!.VpcId;
        using var ec2 = TestLab.Ec2(lab);
        var sg = (await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "conv", Description = "conversion", VpcId = vpc })).GroupId;
        var peer = lab.World.SecurityGroups.First(x => x.GroupName == "GuardDuty-Example-BastionSG").GroupId;
        var auth = await ec2.AuthorizeSecurityGroupIngressAsync(new AuthorizeSecurityGroupIngressRequest
        {
            GroupId = sg,
            IpPermissions = new()
            {
                new IpPermission { IpProtocol = "-1", Ipv4Ranges = new() { new IpRange { CidrIp = "0.0.0.0/0", Description = "all v4" } }, Ipv6Ranges = new() { new Ipv6Range { CidrIpv6 = "::/0" } } },
                new IpPermission { IpProtocol = "tcp", FromPort = 22, ToPort = 22, UserIdGroupPairs = new() { new UserIdGroupPair { GroupId = peer } } },
                new IpPermission { IpProtocol = "tcp", FromPort = 443, ToPort = 443, PrefixListIds = new() { new PrefixListId { Id = "pl-63a5400a" } } },
                new IpPermission { IpProtocol = "icmp", FromPort = 8, ToPort = -1, Ipv4Ranges = new() { new IpRange { CidrIp = "10.0.0.0/8" } } },
            },
        });
        Assert.True(auth.Return);
        Assert.Equal(5, auth.SecurityGroupRules.Count);
        Assert.Contains(auth.SecurityGroupRules, r => r.CidrIpv6 == "::/0" && r.IpProtocol == "-1");
        Assert.Contains(auth.SecurityGroupRules, r => r.ReferencedGroupInfo?.GroupId == peer && r.FromPort == 22);
        Assert.Contains(auth.SecurityGroupRules, r => r.PrefixListId == "pl-63a5400a");

        var g = (await ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { GroupIds = new() { sg } })).SecurityGroups.Single();
        Assert.Equal(4, g.IpPermissions.Count);
        var all = g.IpPermissions.Single(p => p.IpProtocol == "-1");
        Assert.Equal("0.0.0.0/0", all.Ipv4Ranges.Single().CidrIp);
        Assert.Equal("all v4", all.Ipv4Ranges.Single().Description);
        Assert.Equal("::/0", all.Ipv6Ranges.Single().CidrIpv6);
        Assert.Equal(peer, g.IpPermissions.Single(p => p.FromPort == 22).UserIdGroupPairs.Single().GroupId);

        var dup = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.AuthorizeSecurityGroupIngressAsync(new AuthorizeSecurityGroupIngressRequest
        {
            GroupId = sg, IpPermissions = new() { new IpPermission { IpProtocol = "-1", Ipv4Ranges = new() { new IpRange { CidrIp = "0.0.0.0/0" } } } },
        }));
        Assert.Equal("InvalidPermission.Duplicate", dup.ErrorCode);
        var badPorts = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.AuthorizeSecurityGroupIngressAsync(new AuthorizeSecurityGroupIngressRequest
        {
            GroupId = sg, IpPermissions = new() { new IpPermission { IpProtocol = "tcp", Ipv4Ranges = new() { new IpRange { CidrIp = "1.2.3.4/32" } } } },
        }));
        Assert.Equal("InvalidParameterValue", badPorts.ErrorCode);
        var badCidr = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.AuthorizeSecurityGroupEgressAsync(new AuthorizeSecurityGroupEgressRequest
        {
            GroupId = sg, IpPermissions = new() { new IpPermission { IpProtocol = "tcp", FromPort = 1, ToPort = 2, Ipv4Ranges = new() { new IpRange { CidrIp = "1.2.3.4/33" } } } },
        }));
        Assert.Equal("InvalidParameterValue", badCidr.ErrorCode);

        // Revoke by exact IpPermissions: the matching target goes, the unmatched one comes back as unknown.
        var revoke = await ec2.RevokeSecurityGroupIngressAsync(new RevokeSecurityGroupIngressRequest
        {
            GroupId = sg,
            IpPermissions = new() { new IpPermission { IpProtocol = "-1", Ipv4Ranges = new() { new IpRange { CidrIp = "0.0.0.0/0" }, new IpRange { CidrIp = "192.0.2.0/24" } } } },
        });
        Assert.True(revoke.Return);
        Assert.Single(revoke.RevokedSecurityGroupRules);
        Assert.Equal("192.0.2.0/24", revoke.UnknownIpPermissions.Single().Ipv4Ranges.Single().CidrIp);

        // Revoke by rule ID; unknown IDs fail.
        var v6 = auth.SecurityGroupRules.Single(r => r.CidrIpv6 == "::/0").SecurityGroupRuleId;
        var byId = await ec2.RevokeSecurityGroupIngressAsync(new RevokeSecurityGroupIngressRequest { GroupId = sg, SecurityGroupRuleIds = new() { v6 } });
        Assert.Equal(v6, byId.RevokedSecurityGroupRules.Single().SecurityGroupRuleId);
        var gone = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.RevokeSecurityGroupIngressAsync(new RevokeSecurityGroupIngressRequest { GroupId = sg, SecurityGroupRuleIds = new() { v6 } }));
        Assert.Equal("InvalidSecurityGroupRuleId.NotFound", gone.ErrorCode);

        // Revoke every egress rule by ID (what an isolation group needs).
        var egressIds = (await ec2.DescribeSecurityGroupRulesAsync(new DescribeSecurityGroupRulesRequest { Filters = new() { F("group-id", sg) } }))
            .SecurityGroupRules.Where(r => r.IsEgress == true).Select(r => r.SecurityGroupRuleId).ToList();
        await ec2.RevokeSecurityGroupEgressAsync(new RevokeSecurityGroupEgressRequest { GroupId = sg, SecurityGroupRuleIds = egressIds });
        var after = (await ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { GroupIds = new() { sg } })).SecurityGroups.Single();
        Assert.Empty(after.IpPermissionsEgress ?? new());
    }

    [Fact]
    public async Task DeleteSecurityGroup_DependencyViolation_CannotDeleteDefault_NotFound()
    {
        await using var lab = await TestLab.StartAsync();
        var w = lab.World;
        using var ec2 = TestLab.Ec2(lab);
        var inUse = w.CompromisedInstance!.NetworkInterfaces[1].GroupIds[0];
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DeleteSecurityGroupAsync(new DeleteSecurityGroupRequest { GroupId = inUse }));
        Assert.Equal("DependencyViolation", ex.ErrorCode);
        var def = w.Vpcs.First(v => v.AccountId == w.AccountId).DefaultSecurityGroupId;
        var ex2 = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DeleteSecurityGroupAsync(new DeleteSecurityGroupRequest { GroupId = def }));
        Assert.Equal("CannotDelete", ex2.ErrorCode);

        var sg = (await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "tmp", Description = "tmp", VpcId = w.CompromisedInstance.VpcId })).GroupId;
        var eni = w.CompromisedInstance.NetworkInterfaces[1].NetworkInterfaceId;
        await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni, Groups = new() { sg } });
        var ex3 = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DeleteSecurityGroupAsync(new DeleteSecurityGroupRequest { GroupId = sg }));
        Assert.Equal("DependencyViolation", ex3.ErrorCode);
        await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni, Groups = new() { inUse } });
        await ec2.DeleteSecurityGroupAsync(new DeleteSecurityGroupRequest { GroupId = sg });
        var ex4 = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { GroupIds = new() { sg } }));
        Assert.Equal("InvalidGroup.NotFound", ex4.ErrorCode);
        Assert.Equal(HttpStatusCode.BadRequest, ex4.StatusCode);
    }

    [Fact]
    public async Task DescribeSecurityGroups_FiltersAndPagination()
    {
        await using var lab = await TestLab.StartAsync();
        var w = lab.World;
        using var ec2 = TestLab.Ec2(lab);
        var vpc = w.CompromisedInstance!.VpcId;
        var inVpc = (await ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { Filters = new() { F("vpc-id", vpc) } })).SecurityGroups;
        Assert.Equal(w.SecurityGroups.Count(g => g.VpcId == vpc), inVpc.Count);
        var byName = (await ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { Filters = new() { F("group-name", "GuardDuty-Example-*SG"), F("ip-permission.from-port", "22") } })).SecurityGroups;
        Assert.Equal(new[] { "GuardDuty-Example-AppSG", "GuardDuty-Example-BastionSG", "GuardDuty-Example-CompromisedSG" }, byName.Select(g => g.GroupName).OrderBy(n => n));

        var seen = new List<string>();
        string? token = null;
        do
        {
            var page = await ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { MaxResults = 5, NextToken = token });
            Assert.True(page.SecurityGroups.Count <= 5);
            seen.AddRange(page.SecurityGroups.Select(g => g.GroupId));
            token = page.NextToken;
        } while (token is not null);
        Assert.Equal(w.SecurityGroups.Count(g => g.AccountId == w.AccountId), seen.Distinct().Count());
    }
}

public sealed class Ec2NetworkInterfaceTests
{
    private static Filter F(string name, params string[] values) => new() { Name = name, Values = values.ToList() };

    [Fact]
    public async Task DescribeNetworkInterfaces_FiltersAndAttachment()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var enis = (await ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { Filters = new() { F("attachment.instance-id", c.InstanceId) } })).NetworkInterfaces;
        Assert.Equal(2, enis.Count);
        Assert.All(enis, e => Assert.Equal(c.InstanceId, e.Attachment.InstanceId));
        Assert.Equal(c.PublicIp, enis.Single(e => e.Attachment.DeviceIndex == 0).Association.PublicIp);
        var byGroup = (await ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { Filters = new() { F("group-id", c.NetworkInterfaces[1].GroupIds[0]) } })).NetworkInterfaces;
        Assert.Contains(byGroup, e => e.NetworkInterfaceId == c.NetworkInterfaces[1].NetworkInterfaceId);
        var one = (await ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { NetworkInterfaceIds = new() { c.NetworkInterfaces[0].NetworkInterfaceId } })).NetworkInterfaces.Single();
        Assert.Equal(c.NetworkInterfaces[0].PrivateIp, one.PrivateIpAddress);
        Assert.Equal("in-use", one.Status.Value);
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { NetworkInterfaceIds = new() { "eni-0000000000000dead" } }));
        Assert.Equal("InvalidNetworkInterfaceID.NotFound", ex.ErrorCode);
    }

    [Fact]
    public async Task ModifyNetworkInterfaceAttribute_GroupsAndConnectionTracking()
    {
        await using var lab = await TestLab.StartAsync();
        var w = lab.World;
        var eni = w.CompromisedInstance!.NetworkInterfaces[0].NetworkInterfaceId;
        using var ec2 = TestLab.Ec2(lab);
        var sg = (await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "iso", Description = "iso", VpcId = w.CompromisedInstance.VpcId })).GroupId;
        await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni, Groups = new() { sg } });
        Assert.Equal(new[] { sg }, lab.Ec2.GroupsOf(eni));

        await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest
        {
            NetworkInterfaceId = eni,
            ConnectionTrackingSpecification = new ConnectionTrackingSpecificationRequest { TcpEstablishedTimeout = 60, UdpStreamTimeout = 60, UdpTimeout = 30 },
        });
        var ct = (await ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { NetworkInterfaceIds = new() { eni } })).NetworkInterfaces.Single().ConnectionTrackingConfiguration;
        Assert.Equal(60, ct.TcpEstablishedTimeout);
        Assert.Equal(60, ct.UdpStreamTimeout);
        Assert.Equal(30, ct.UdpTimeout);
        var bad = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest
        {
            NetworkInterfaceId = eni, ConnectionTrackingSpecification = new ConnectionTrackingSpecificationRequest { TcpEstablishedTimeout = 30 },
        }));
        Assert.Equal("InvalidParameterValue", bad.ErrorCode);

        var otherVpcGroup = w.Vpcs.Single(v => v.IsDefault && v.AccountId == w.AccountId).DefaultSecurityGroupId;
        var cross = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni, Groups = new() { otherVpcGroup } }));
        Assert.Equal("InvalidParameter", cross.ErrorCode);
        var dry = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni, Groups = new() { w.CompromisedInstance.NetworkInterfaces[0].GroupIds[0] }, DryRun = true }));
        Assert.Equal("DryRunOperation", dry.ErrorCode);
        Assert.Equal(new[] { sg }, lab.Ec2.GroupsOf(eni));
    }

    [Fact]
    public async Task ElasticIps_DescribeAssociateDisassociate()
    {
        await using var lab = await TestLab.StartAsync();
        var w = lab.World;
        using var ec2 = TestLab.Ec2(lab);
        var addrs = (await ec2.DescribeAddressesAsync(new DescribeAddressesRequest())).Addresses;
        var mal = addrs.Single(a => a.PublicIp == w.MaliciousEip);
        Assert.Equal(w.MaliciousInstanceId, mal.InstanceId);
        var spare = addrs.Single(a => a.AssociationId is null);
        var byInstance = (await ec2.DescribeAddressesAsync(new DescribeAddressesRequest { Filters = new() { F("instance-id", w.MaliciousInstanceId!) } })).Addresses;
        Assert.Equal(mal.AllocationId, byInstance.Single().AllocationId);

        await ec2.DisassociateAddressAsync(new DisassociateAddressRequest { AssociationId = mal.AssociationId });
        var m = (await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { w.MaliciousInstanceId! } })).Reservations[0].Instances[0];
        Assert.Null(m.PublicIpAddress);

        var assoc = await ec2.AssociateAddressAsync(new AssociateAddressRequest { AllocationId = spare.AllocationId, InstanceId = w.BastionInstanceId });
        Assert.StartsWith("eipassoc-", assoc.AssociationId);
        var b = (await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { w.BastionInstanceId! } })).Reservations[0].Instances[0];
        Assert.Equal(spare.PublicIp, b.PublicIpAddress);
        var multi = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.AssociateAddressAsync(new AssociateAddressRequest { AllocationId = mal.AllocationId, InstanceId = w.CompromisedInstanceId }));
        Assert.Equal("InvalidInstanceID", multi.ErrorCode);
        var busy = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.AssociateAddressAsync(new AssociateAddressRequest { AllocationId = spare.AllocationId, NetworkInterfaceId = w.CompromisedInstance!.NetworkInterfaces[0].NetworkInterfaceId }));
        Assert.Equal("Resource.AlreadyAssociated", busy.ErrorCode);
        var nf = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DisassociateAddressAsync(new DisassociateAddressRequest { AssociationId = "eipassoc-0000000000000dead" }));
        Assert.Equal("InvalidAssociationID.NotFound", nf.ErrorCode);
    }

    [Fact]
    public async Task An_Elastic_IP_on_a_secondary_private_IP_leaves_the_primary_ones_alone()
    {
        await using var lab = await TestLab.StartAsync();
        var w = lab.World;
        using var ec2 = TestLab.Ec2(lab);
        var eni = w.Instance(w.MaliciousInstanceId!).PrimaryNetworkInterface;
        var addrs = (await ec2.DescribeAddressesAsync(new DescribeAddressesRequest())).Addresses;
        var mal = addrs.Single(a => a.PublicIp == w.MaliciousEip);
        var spare = addrs.Single(a => a.AssociationId is null);

        var assigned = await ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = eni.NetworkInterfaceId, SecondaryPrivateIpAddressCount = 1 });
        var secondary = Assert.Single(assigned.AssignedPrivateIpAddresses).PrivateIpAddress;
        Assert.NotEqual(eni.PrivateIp, secondary);
        var taken = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest
        { NetworkInterfaceId = w.Instance(w.BastionInstanceId!).PrimaryNetworkInterface.NetworkInterfaceId, PrivateIpAddresses = new() { secondary } }));
        Assert.Equal("InvalidIPAddress.InUse", taken.ErrorCode);
        var notHere = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.AssociateAddressAsync(new AssociateAddressRequest
        { AllocationId = spare.AllocationId, NetworkInterfaceId = eni.NetworkInterfaceId, PrivateIpAddress = "192.0.2.9" }));
        Assert.Equal("InvalidParameterValue", notHere.ErrorCode);

        await ec2.AssociateAddressAsync(new AssociateAddressRequest { AllocationId = spare.AllocationId, NetworkInterfaceId = eni.NetworkInterfaceId, PrivateIpAddress = secondary });
        var both = (await ec2.DescribeAddressesAsync(new DescribeAddressesRequest { Filters = new() { F("network-interface-id", eni.NetworkInterfaceId) } })).Addresses;
        Assert.Equal(new[] { (mal.AllocationId, eni.PrivateIp), (spare.AllocationId, secondary) }.OrderBy(x => x.Item1),
            both.Select(a => (a.AllocationId, a.PrivateIpAddress)).OrderBy(x => x.Item1));
        var instance = (await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { w.MaliciousInstanceId! } })).Reservations[0].Instances[0];
        Assert.Equal(w.MaliciousEip, instance.PublicIpAddress);
        // The primary address's public IP is on the interface; a secondary's on its own entry.
        Assert.Equal(w.MaliciousEip, instance.NetworkInterfaces[0].Association.PublicIp);
        var ips = instance.NetworkInterfaces[0].PrivateIpAddresses;
        Assert.Equal(new[] { (eni.PrivateIp, true), (secondary, false) }, ips.Select(p => (p.PrivateIpAddress, p.Primary ?? false)));
        Assert.Equal(spare.PublicIp, ips[1].Association.PublicIp);

        // Off the secondary IP, the primary's Elastic IP stays; a new one on the primary IP replaces the old one there only.
        await ec2.DisassociateAddressAsync(new DisassociateAddressRequest { AssociationId = both.Single(a => a.AllocationId == spare.AllocationId).AssociationId });
        var left = (await ec2.DescribeAddressesAsync(new DescribeAddressesRequest { Filters = new() { F("network-interface-id", eni.NetworkInterfaceId) } })).Addresses;
        Assert.Equal(mal.AllocationId, Assert.Single(left).AllocationId);
        await ec2.AssociateAddressAsync(new AssociateAddressRequest { AllocationId = spare.AllocationId, NetworkInterfaceId = eni.NetworkInterfaceId });
        var replaced = (await ec2.DescribeAddressesAsync(new DescribeAddressesRequest { Filters = new() { F("network-interface-id", eni.NetworkInterfaceId) } })).Addresses;
        Assert.Equal((spare.AllocationId, eni.PrivateIp), replaced.Select(a => (a.AllocationId, a.PrivateIpAddress)).Single());
    }

    [Fact]
    public async Task An_ENI_with_its_own_tracking_timeouts_shows_them_in_the_instance_description()
    {
        await using var lab = await TestLab.StartAsync();
        var w = lab.World;
        using var ec2 = TestLab.Ec2(lab);
        var eni = w.Instance(w.BastionInstanceId!).PrimaryNetworkInterface.NetworkInterfaceId;
        Instance Describe() => ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { w.BastionInstanceId! } }).Result.Reservations[0].Instances[0];
        Assert.Null(Describe().NetworkInterfaces[0].ConnectionTrackingConfiguration);
        await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest
        {
            NetworkInterfaceId = eni,
            ConnectionTrackingSpecification = new ConnectionTrackingSpecificationRequest { TcpEstablishedTimeout = 3600, UdpStreamTimeout = 120, UdpTimeout = 45 },
        });
        var ct = Describe().NetworkInterfaces[0].ConnectionTrackingConfiguration;
        Assert.Equal((3600, 120, 45), (ct.TcpEstablishedTimeout, ct.UdpStreamTimeout, ct.UdpTimeout));
    }
}
