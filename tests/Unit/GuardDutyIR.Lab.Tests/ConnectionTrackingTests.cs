using System.Net.Http;
using System.Text.Json;
using Amazon.EC2;
using Amazon.EC2.Model;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Ec2;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.Tests;

public sealed class ConnectionTrackingTests
{
    private static FlowStatus Flow(LabHost lab, string protocol, int remotePort, string? remoteIp = null) =>
        lab.Ec2.Flows().Single(f => f.InstanceId == lab.World.CompromisedInstanceId && f.Protocol == protocol && f.RemotePort == remotePort && (remoteIp is null || f.RemoteIp == remoteIp));

    private static FlowStatus Ping(LabHost lab) => Flow(lab, "icmp", 8, lab.World.MaliciousEip);
    private static FlowStatus Beacon(LabHost lab) => Flow(lab, "tcp", 80, lab.World.MaliciousEip);

    /// <summary>An isolation group: no ingress, and the default egress rule revoked.</summary>
    private static async Task<string> IsolationGroup(AmazonEC2Client ec2, string vpc)
    {
        var sg = (await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "ir-isolation", Description = "no rules", VpcId = vpc })).GroupId;
        await ec2.RevokeSecurityGroupEgressAsync(new RevokeSecurityGroupEgressRequest
        {
            GroupId = sg, IpPermissions = new() { new IpPermission { IpProtocol = "-1", Ipv4Ranges = new() { new IpRange { CidrIp = "0.0.0.0/0" } } } },
        });
        return sg;
    }

    /// <summary>A conversion group: all traffic in and out for 0.0.0.0/0 and ::/0.</summary>
    private static async Task<string> ConversionGroup(AmazonEC2Client ec2, string vpc)
    {
        var sg = (await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "ir-untrack", Description = "allow all both ways", VpcId = vpc })).GroupId;
        var all = new IpPermission { IpProtocol = "-1", Ipv4Ranges = new() { new IpRange { CidrIp = "0.0.0.0/0" } }, Ipv6Ranges = new() { new Ipv6Range { CidrIpv6 = "::/0" } } };
        await ec2.AuthorizeSecurityGroupIngressAsync(new AuthorizeSecurityGroupIngressRequest { GroupId = sg, IpPermissions = new() { all } });
        await ec2.AuthorizeSecurityGroupEgressAsync(new AuthorizeSecurityGroupEgressRequest
        {
            GroupId = sg, IpPermissions = new() { new IpPermission { IpProtocol = "-1", Ipv6Ranges = new() { new Ipv6Range { CidrIpv6 = "::/0" } } } },
        });
        return sg;
    }

    private static async Task MoveAllEnis(AmazonEC2Client ec2, WorldInstance instance, string group)
    {
        foreach (var eni in instance.NetworkInterfaces)
            await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni.NetworkInterfaceId, Groups = new() { group } });
    }

    [Fact]
    public async Task ScenarioFlows_AreTrackedAndPassingAtStart()
    {
        await using var lab = await TestLab.StartAsync();
        var flows = lab.Ec2.Flows();
        Assert.True(flows.Count >= 5);
        Assert.All(flows, f => Assert.True(f.Passes && f.Tracked, f.Description));
        Assert.True(Ping(lab).Tracked);
        var ssh = flows.Single(f => f.InstanceId == lab.World.BastionInstanceId && f.LocalPort == 22);
        Assert.Equal(lab.World.AdminSourceIp, ssh.RemoteIp);
        Assert.Equal("Inbound", ssh.Direction);
    }

    [Fact]
    public async Task PlainSwap_ToNoRuleGroup_KeepsTrackedFlows_ButBlocksNewOnes()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var iso = await IsolationGroup(ec2, c.VpcId);
        Assert.True(lab.Ec2.WouldAllowNewConnection(c.NetworkInterfaces[0].NetworkInterfaceId, lab.World.MaliciousEip!, "tcp", 80, FlowDirection.Outbound));
        await MoveAllEnis(ec2, c, iso);

        Assert.True(Beacon(lab).Passes);
        Assert.True(Beacon(lab).Tracked);
        Assert.True(Ping(lab).Passes);
        Assert.All(lab.Ec2.Flows().Where(f => f.InstanceId == c.InstanceId), f => Assert.True(f.Passes, f.Description));
        Assert.False(lab.Ec2.WouldAllowNewConnection(c.NetworkInterfaces[0].NetworkInterfaceId, lab.World.MaliciousEip!, "tcp", 80, FlowDirection.Outbound));
    }

    [Fact]
    public async Task Conversion_ThenIsolation_EndsTcpFlows_IcmpStaysTracked()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var conv = await ConversionGroup(ec2, c.VpcId);
        var iso = await IsolationGroup(ec2, c.VpcId);

        await MoveAllEnis(ec2, c, conv);
        Assert.False(Beacon(lab).Tracked);
        Assert.True(Beacon(lab).Passes);
        Assert.True(Ping(lab).Tracked); // ICMP is always tracked (LabOptions.IcmpAlwaysTracked)

        await MoveAllEnis(ec2, c, iso);
        var tcp = lab.Ec2.Flows().Where(f => f.InstanceId == c.InstanceId && f.Protocol == "tcp").ToList();
        Assert.Equal(3, tcp.Count);
        Assert.All(tcp, f => Assert.False(f.Passes, f.Description));
        Assert.All(tcp, f => Assert.Contains("denied", f.EndedReason));
        Assert.True(Ping(lab).Passes);
        // The bastion was not touched.
        Assert.True(lab.Ec2.Flows().Single(f => f.InstanceId == lab.World.BastionInstanceId).Passes);
    }

    [Fact]
    public async Task Conversion_EndsIcmpToo_WhenIcmpIsTrackable()
    {
        await using var lab = await TestLab.StartAsync(configure: o => o with { IcmpAlwaysTracked = false });
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var conv = await ConversionGroup(ec2, c.VpcId);
        var iso = await IsolationGroup(ec2, c.VpcId);
        await MoveAllEnis(ec2, c, conv);
        Assert.False(Ping(lab).Tracked);
        await MoveAllEnis(ec2, c, iso);
        Assert.All(lab.Ec2.Flows().Where(f => f.InstanceId == c.InstanceId), f => Assert.False(f.Passes, f.Description));
    }

    [Fact]
    public async Task Conversion_IPv4Only_OrOneDirection_DoesNotUntrack()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        // Ingress all from 0.0.0.0/0 but egress only the default rule is still all-both-ways for IPv4: untracks IPv4 flows.
        var v4 = (await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "v4-open", Description = "v4", VpcId = c.VpcId })).GroupId;
        await ec2.AuthorizeSecurityGroupIngressAsync(new AuthorizeSecurityGroupIngressRequest { GroupId = v4, IpPermissions = new() { new IpPermission { IpProtocol = "-1", Ipv4Ranges = new() { new IpRange { CidrIp = "0.0.0.0/0" } } } } });
        // Ingress open on one port range only: not "all traffic", so flows stay tracked.
        var partial = (await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "partial", Description = "p", VpcId = c.VpcId })).GroupId;
        await ec2.AuthorizeSecurityGroupIngressAsync(new AuthorizeSecurityGroupIngressRequest { GroupId = partial, IpPermissions = new() { new IpPermission { IpProtocol = "tcp", FromPort = 0, ToPort = 1024, Ipv4Ranges = new() { new IpRange { CidrIp = "0.0.0.0/0" } } } } });
        var iso = await IsolationGroup(ec2, c.VpcId);

        var eni = c.NetworkInterfaces[0].NetworkInterfaceId;
        await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni, Groups = new() { partial } });
        Assert.True(Beacon(lab).Tracked);
        await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni, Groups = new() { iso } });
        Assert.True(Beacon(lab).Passes);

        await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni, Groups = new() { v4 } });
        Assert.False(Beacon(lab).Tracked);
        await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni, Groups = new() { iso } });
        Assert.False(Beacon(lab).Passes);
    }

    [Fact]
    public async Task UntrackedFlow_SurvivesIfTheTargetGroupKeepsDefaultEgress()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var conv = await ConversionGroup(ec2, c.VpcId);
        // A "no ingress" group that forgot to revoke the default egress rule: outbound packets re-establish tracking.
        var leaky = (await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "leaky", Description = "default egress kept", VpcId = c.VpcId })).GroupId;
        await MoveAllEnis(ec2, c, conv);
        await MoveAllEnis(ec2, c, leaky);
        Assert.True(Beacon(lab).Passes);
        Assert.True(Beacon(lab).Tracked);
        var inboundSsh = lab.Ec2.Flows().Single(f => f.InstanceId == c.InstanceId && f.LocalPort == 22);
        Assert.True(inboundSsh.Passes); // the instance's replies leave through the open egress and are tracked again
    }

    [Fact]
    public async Task RuleRevocation_OneDirectionAtATime_ReTracksUntrackedFlows()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var conv = await ConversionGroup(ec2, c.VpcId);
        await MoveAllEnis(ec2, c, conv);
        var rules = (await ec2.DescribeSecurityGroupRulesAsync(new DescribeSecurityGroupRulesRequest { Filters = new() { new Filter { Name = "group-id", Values = new() { conv } } } })).SecurityGroupRules;
        Assert.False(Beacon(lab).Tracked);
        // Revoking egress first: the remote's packets are still admitted by the open ingress and become tracked again,
        // so emptying the conversion group rule by rule never cuts the flow; only a group swap while untracked does.
        await ec2.RevokeSecurityGroupEgressAsync(new RevokeSecurityGroupEgressRequest { GroupId = conv, SecurityGroupRuleIds = rules.Where(r => r.IsEgress == true).Select(r => r.SecurityGroupRuleId).ToList() });
        Assert.True(Beacon(lab).Tracked);
        await ec2.RevokeSecurityGroupIngressAsync(new RevokeSecurityGroupIngressRequest { GroupId = conv, SecurityGroupRuleIds = rules.Where(r => r.IsEgress == false).Select(r => r.SecurityGroupRuleId).ToList() });
        Assert.True(Beacon(lab).Passes);
        Assert.False(lab.Ec2.WouldAllowNewConnection(c.NetworkInterfaces[0].NetworkInterfaceId, lab.World.MaliciousEip!, "tcp", 80, FlowDirection.Outbound));
    }

    [Fact]
    public async Task StoppingTheInstance_EndsItsFlows_AndFlowsViewIsServed()
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab);
        await ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = new() { lab.World.CompromisedInstanceId! } });
        Assert.All(lab.Ec2.Flows().Where(f => f.InstanceId == lab.World.CompromisedInstanceId), f => Assert.Equal("instance stopped", f.EndedReason));

        using var http = new HttpClient();
        var doc = JsonDocument.Parse(await http.GetStringAsync($"{lab.Endpoint}/_lab/flows?instanceId={lab.World.BastionInstanceId}")).RootElement;
        var flow = Assert.Single(doc.EnumerateArray());
        Assert.True(flow.GetProperty("passes").GetBoolean());
        Assert.True(flow.GetProperty("tracked").GetBoolean());
        Assert.Equal(22, flow.GetProperty("localPort").GetInt32());
    }
}
