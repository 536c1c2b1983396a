using Amazon.EC2.Model;
using Amazon.SimpleSystemsManagement;
using Amazon.SimpleSystemsManagement.Model;
using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Lab.Tests;

/// <summary>The Lab's Systems Manager through AWS's own SSM client: which instances are managed nodes, and how they ping.</summary>
public sealed class SsmTests
{
    private static AmazonSimpleSystemsManagementClient Ssm(LabHost lab) =>
        new(TestLab.Credentials(lab), new AmazonSimpleSystemsManagementConfig { ServiceURL = lab.Endpoint, AuthenticationRegion = lab.Region, MaxErrorRetry = 0 });

    private static async Task<List<InstanceInformation>> AllNodes(AmazonSimpleSystemsManagementClient ssm, int pageSize, List<InstanceInformationStringFilter>? filters = null)
    {
        var all = new List<InstanceInformation>();
        string? next = null;
        do
        {
            var page = await ssm.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest { MaxResults = pageSize, NextToken = next, Filters = filters });
            all.AddRange(page.InstanceInformationList ?? new());
            next = page.NextToken;
        }
        while (!string.IsNullOrEmpty(next));
        return all;
    }

    [Fact]
    public async Task The_instances_whose_role_lets_the_agent_register_are_managed_nodes_and_a_stopped_one_loses_its_connection()
    {
        await using var lab = await TestLab.StartAsync();
        using var ssm = Ssm(lab);
        // Every role of the scenario has AmazonSSMManagedInstanceCore; instances without a role are not managed.
        var withRole = lab.World.InstancesIn(lab.AccountId).Where(i => i.IamRoleName is not null).Select(i => i.InstanceId).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(withRole);
        Assert.NotEqual(lab.World.InstancesIn(lab.AccountId).Count(), withRole.Count);

        var nodes = await AllNodes(ssm, pageSize: 5);
        Assert.Equal(withRole, nodes.Select(n => n.InstanceId).Order(StringComparer.Ordinal));
        Assert.All(nodes, n => Assert.Equal("Online", n.PingStatus.Value));
        var first = nodes.Single(n => n.InstanceId == withRole[0]);
        Assert.Equal(lab.World.Instance(withRole[0]).IamRoleName, first.IamRole);
        Assert.Equal("EC2Instance", first.ResourceType);

        using var ec2 = TestLab.Ec2(lab);
        await ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = new() { withRole[0] } });
        await Task.Delay(TimeSpan.FromSeconds(0.8));
        var one = await AllNodes(ssm, 10, new() { new InstanceInformationStringFilter { Key = "InstanceIds", Values = new() { withRole[0] } } });
        Assert.Equal("ConnectionLost", Assert.Single(one).PingStatus.Value);

        // A filter on an instance that is no managed node is an empty answer, not an error.
        var bare = lab.World.InstancesIn(lab.AccountId).First(i => i.IamRoleName is null).InstanceId;
        Assert.Empty(await AllNodes(ssm, 10, new() { new InstanceInformationStringFilter { Key = "InstanceIds", Values = new() { bare } } }));
    }

    [Fact]
    public async Task Bad_input_gets_the_modeled_errors()
    {
        await using var lab = await TestLab.StartAsync();
        using var ssm = Ssm(lab);
        var badKey = await Assert.ThrowsAsync<InvalidFilterKeyException>(() => ssm.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest
        {
            Filters = new() { new InstanceInformationStringFilter { Key = "NoSuchKey", Values = new() { "x" } } },
        }));
        Assert.Equal("InvalidFilterKey", badKey.ErrorCode);
        await Assert.ThrowsAsync<InvalidNextTokenException>(() => ssm.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest { NextToken = "not-a-token" }));
    }
}
