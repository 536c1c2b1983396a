using Amazon.EC2.Model;

namespace GuardDutyIR.Lab.Tests;

/// <summary>The seeding hooks that launch copies of an instance and associate a profile, as EC2's API then reports them.</summary>
public sealed class Ec2LaunchCopiesTests
{
    [Fact]
    public async Task Copies_share_the_source_shape_and_profile_each_with_an_address_of_its_own()
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab);
        var source = lab.World.Instances.Single(i => i.Name == "app-server-1");
        var copies = lab.Ec2.LaunchCopiesOf(source.InstanceId, 30, source.InstanceProfileArn);
        Assert.Equal(30, copies.Distinct().Count());

        var listed = new List<Instance>();
        string? next = null;
        do
        {
            var page = await ec2.DescribeInstancesAsync(new DescribeInstancesRequest
            {
                Filters = new() { new Filter("iam-instance-profile.arn", new() { source.InstanceProfileArn }) }, MaxResults = 5, NextToken = next,
            });
            listed.AddRange(page.Reservations.SelectMany(r => r.Instances));
            next = page.NextToken;
        }
        while (next is not null);
        var expected = lab.World.Instances.Where(i => i.InstanceProfileArn == source.InstanceProfileArn).Select(i => i.InstanceId).Concat(copies);
        Assert.Equal(expected.Order(), listed.Select(i => i.InstanceId).Order());

        var copied = listed.Where(i => copies.Contains(i.InstanceId)).ToList();
        Assert.All(copied, i =>
        {
            Assert.Equal(source.SubnetId, i.SubnetId);
            Assert.Equal(source.SecurityGroupIds, i.SecurityGroups.Select(g => g.GroupId));
            Assert.Equal(source.KeyName, i.KeyName);
            Assert.Equal("running", i.State.Name.Value);
            Assert.Null(i.PublicIpAddress);
            Assert.Equal(source.InstanceProfileArn, i.IamInstanceProfile.Arn);
            Assert.Single(i.NetworkInterfaces);
        });
        // Every address is free in the subnet: none collides with another ENI.
        var addresses = lab.World.Instances.SelectMany(i => i.NetworkInterfaces).Select(e => e.PrivateIp).Concat(copied.Select(i => i.PrivateIpAddress)).ToList();
        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        var prefix = lab.World.Subnets.Single(s => s.SubnetId == source.SubnetId).CidrBlock.Split('/')[0][..^1];
        Assert.All(copied, i => Assert.StartsWith(prefix, i.PrivateIpAddress));
    }

    [Fact]
    public async Task A_profile_associated_later_is_reported_and_a_second_one_is_refused()
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab);
        var bastion = lab.World.BastionInstanceId!;
        var arn = $"arn:aws:iam::{lab.AccountId}:instance-profile/later";
        lab.Ec2.AssociateInstanceProfile(bastion, arn);
        var associations = await ec2.DescribeIamInstanceProfileAssociationsAsync(new DescribeIamInstanceProfileAssociationsRequest
        {
            Filters = new() { new Filter("instance-id", new() { bastion }) },
        });
        Assert.Equal(arn, Assert.Single(associations.IamInstanceProfileAssociations).IamInstanceProfile.Arn);
        Assert.Throws<InvalidOperationException>(() => lab.Ec2.AssociateInstanceProfile(bastion, arn));
    }
}
