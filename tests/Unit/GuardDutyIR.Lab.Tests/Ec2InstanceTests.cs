using System.Net;
using System.Text;
using Amazon.EC2;
using Amazon.EC2.Model;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

public sealed class Ec2InstanceReadTests : IClassFixture<SharedWorkshopLab>
{
    private readonly SharedWorkshopLab _fx;
    public Ec2InstanceReadTests(SharedWorkshopLab fx) => _fx = fx;

    private static Filter F(string name, params string[] values) => new() { Name = name, Values = values.ToList() };

    [Fact]
    public async Task DescribeInstances_ReturnsWorldFacts()
    {
        var w = _fx.Lab.World;
        using var ec2 = TestLab.Ec2(_fx.Lab);
        var resp = await ec2.DescribeInstancesAsync(new DescribeInstancesRequest());
        var instances = resp.Reservations.SelectMany(r => r.Instances).ToList();
        Assert.Equal(w.InstancesIn(w.AccountId).Count(), instances.Count);
        Assert.All(resp.Reservations, r => Assert.Equal(w.AccountId, r.OwnerId));

        var c = instances.Single(i => i.InstanceId == w.CompromisedInstanceId);
        var wc = w.CompromisedInstance!;
        Assert.Equal("running", c.State.Name.Value);
        Assert.Equal(16, c.State.Code);
        Assert.Equal(wc.PrivateIp, c.PrivateIpAddress);
        Assert.Equal(wc.PublicIp, c.PublicIpAddress);
        Assert.Equal(wc.VpcId, c.VpcId);
        Assert.Equal(wc.SubnetId, c.SubnetId);
        Assert.Equal(wc.AvailabilityZone, c.Placement.AvailabilityZone);
        Assert.Equal(wc.InstanceProfileArn, c.IamInstanceProfile.Arn);
        Assert.Equal(wc.LaunchTime.UtcDateTime, c.LaunchTime!.Value.ToUniversalTime());
        Assert.Equal("GuardDuty-Example: Compromised Instance", c.Tags.Single(t => t.Key == "Name").Value);
        Assert.Equal(2, c.NetworkInterfaces.Count);
        Assert.Equal(wc.NetworkInterfaces.Select(e => e.NetworkInterfaceId).OrderBy(x => x), c.NetworkInterfaces.Select(e => e.NetworkInterfaceId).OrderBy(x => x));
        // Instance-level groups are the primary ENI's; the secondary ENI has its own.
        Assert.Equal(wc.NetworkInterfaces[0].GroupIds, c.SecurityGroups.Select(g => g.GroupId));
        Assert.Equal(wc.NetworkInterfaces[1].GroupIds, c.NetworkInterfaces.Single(e => e.Attachment.DeviceIndex == 1).Groups.Select(g => g.GroupId));
        Assert.Equal(2, c.BlockDeviceMappings.Count);
        Assert.True(c.BlockDeviceMappings.Single(b => b.DeviceName == "/dev/xvda").Ebs.DeleteOnTermination);

        var m = instances.Single(i => i.InstanceId == w.MaliciousInstanceId);
        Assert.Equal(w.MaliciousEip, m.PublicIpAddress);
        Assert.Equal(w.MaliciousEip, m.NetworkInterfaces[0].Association.PublicIp);
    }

    [Fact]
    public async Task DescribeInstances_Filters()
    {
        var w = _fx.Lab.World;
        using var ec2 = TestLab.Ec2(_fx.Lab);
        async Task<List<string>> Ids(params Filter[] filters) =>
            ((await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = filters.ToList() })).Reservations ?? new()).SelectMany(r => r.Instances).Select(i => i.InstanceId).ToList();

        Assert.Equal(new[] { w.CompromisedInstanceId }, await Ids(F("tag:Name", "GuardDuty-Example: Compromised Instance")));
        Assert.Equal(new[] { w.CompromisedInstanceId }, await Ids(F("tag:Name", "*Compromised*")));
        Assert.Equal(new[] { w.CompromisedInstanceId }, await Ids(F("instance-id", w.CompromisedInstanceId!)));
        Assert.Equal(new[] { w.AutoScalingInstanceId }, await Ids(F("tag-key", "aws:autoscaling:groupName")));
        var vpc = w.CompromisedInstance!.VpcId;
        Assert.Equal(w.Instances.Count(i => i.VpcId == vpc), (await Ids(F("vpc-id", vpc))).Count);
        Assert.Equal(w.InstancesIn(w.AccountId).Count(), (await Ids(F("instance-state-name", "running"))).Count);
        Assert.Empty(await Ids(F("instance-state-name", "stopped")));
        var secondaryGroup = w.CompromisedInstance.NetworkInterfaces[1].GroupIds[0];
        Assert.Contains(w.CompromisedInstanceId, await Ids(F("network-interface.group-id", secondaryGroup)));
        Assert.Equal(new[] { w.CompromisedInstanceId }, await Ids(F("instance-id", w.CompromisedInstanceId!, w.BastionInstanceId!), F("tag:Name", "*Compromised*")));

        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => Ids(F("no-such-filter", "x")));
        Assert.Equal("InvalidParameterValue", ex.ErrorCode);
        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
    }

    [Fact]
    public async Task DescribeInstances_PaginatesAndRejectsMaxResultsWithIds()
    {
        var w = _fx.Lab.World;
        using var ec2 = TestLab.Ec2(_fx.Lab);
        var all = new List<string>();
        string? token = null;
        int pages = 0;
        do
        {
            var r = await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { MaxResults = 5, NextToken = token });
            all.AddRange(r.Reservations.SelectMany(x => x.Instances).Select(i => i.InstanceId));
            token = r.NextToken;
            pages++;
        } while (token is not null);
        Assert.Equal(2, pages);
        Assert.Equal(w.InstancesIn(w.AccountId).Select(i => i.InstanceId).OrderBy(x => x), all.OrderBy(x => x));

        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { w.CompromisedInstanceId! }, MaxResults = 5 }));
        Assert.Equal("InvalidParameterCombination", ex.ErrorCode);
        // The EC2 model sets no bound on DescribeInstances' MaxResults, so a small page is served, not refused.
        var small = await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { MaxResults = 3 });
        Assert.Equal(3, small.Reservations.SelectMany(x => x.Instances).Count());
        // DescribeSecurityGroups' MaxResults is bounded 5-1000 by the model (the SDK itself refuses 3 at compile time, so raw form).
        var (status, body, _) = await TestLab.PostFormAsync(_fx.Lab, "ec2", TestLab.Form(("Action", "DescribeSecurityGroups"), ("Version", "2016-11-15"), ("MaxResults", "3")));
        Assert.Equal(400, status);
        Assert.Contains("<Code>InvalidParameterValue</Code>", body, StringComparison.Ordinal);
        var ex3 = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeInstancesAsync(new DescribeInstancesRequest { MaxResults = 5, NextToken = "garbage" }));
        Assert.Equal("InvalidParameterValue", ex3.ErrorCode);
    }

    [Theory]
    [InlineData("i-0123456789abcdef0", "InvalidInstanceID.NotFound")]
    [InlineData("i-xyz", "InvalidInstanceID.Malformed")]
    [InlineData("vol-0123456789abcdef0", "InvalidInstanceID.Malformed")]
    public async Task DescribeInstances_BadIds(string id, string code)
    {
        using var ec2 = TestLab.Ec2(_fx.Lab);
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { id } }));
        Assert.Equal(code, ex.ErrorCode);
        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
    }

    [Fact]
    public async Task DescribeInstanceAttribute_Variants()
    {
        var w = _fx.Lab.World;
        using var ec2 = TestLab.Ec2(_fx.Lab);
        var id = w.CompromisedInstanceId!;
        var dat = await ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = id, Attribute = InstanceAttributeName.DisableApiTermination });
        Assert.False(dat.InstanceAttribute.DisableApiTermination);
        var sd = await ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = id, Attribute = InstanceAttributeName.InstanceInitiatedShutdownBehavior });
        Assert.Equal("stop", sd.InstanceAttribute.InstanceInitiatedShutdownBehavior);
        var bdm = await ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = id, Attribute = InstanceAttributeName.BlockDeviceMapping });
        Assert.Equal(2, bdm.InstanceAttribute.BlockDeviceMappings.Count);
        var groups = await ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = id, Attribute = InstanceAttributeName.GroupSet });
        Assert.Equal(w.CompromisedInstance!.SecurityGroupIds, groups.InstanceAttribute.Groups.Select(g => g.GroupId));
        var stop = await ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = id, Attribute = InstanceAttributeName.DisableApiStop });
        Assert.False(stop.InstanceAttribute.DisableApiStop);
    }

    [Fact]
    public async Task ConsoleOutput_AndScreenshot_AreBase64()
    {
        var id = _fx.Lab.World.CompromisedInstanceId!;
        using var ec2 = TestLab.Ec2(_fx.Lab);
        var output = await ec2.GetConsoleOutputAsync(new GetConsoleOutputRequest { InstanceId = id, Latest = true });
        Assert.Equal(id, output.InstanceId);
        Assert.Contains(id, Encoding.UTF8.GetString(Convert.FromBase64String(output.Output)));
        var shot = await ec2.GetConsoleScreenshotAsync(new GetConsoleScreenshotRequest { InstanceId = id });
        var jpeg = Convert.FromBase64String(shot.ImageData);
        Assert.Equal(new byte[] { 0xFF, 0xD8 }, jpeg[..2]);
        Assert.Equal(new byte[] { 0xFF, 0xD9 }, jpeg[^2..]);
    }

    [Fact]
    public async Task DescribeRegions_VpcsSubnets()
    {
        var w = _fx.Lab.World;
        using var ec2 = TestLab.Ec2(_fx.Lab);
        var regions = await ec2.DescribeRegionsAsync(new DescribeRegionsRequest());
        Assert.Contains(regions.Regions, r => r.RegionName == "us-east-1" && r.Endpoint == "ec2.us-east-1.amazonaws.com");
        Assert.DoesNotContain(regions.Regions, r => r.RegionName == "af-south-1");
        Assert.Contains((await ec2.DescribeRegionsAsync(new DescribeRegionsRequest { AllRegions = true })).Regions, r => r.RegionName == "af-south-1");
        var vpcs = await ec2.DescribeVpcsAsync(new DescribeVpcsRequest());
        Assert.Equal(w.Vpcs.Count(v => v.AccountId == w.AccountId), vpcs.Vpcs.Count);
        Assert.Single(vpcs.Vpcs, v => v.IsDefault == true);
        var subnets = await ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest { Filters = new() { F("vpc-id", w.CompromisedInstance!.VpcId) } });
        Assert.Equal(w.Subnets.Count(s => s.VpcId == w.CompromisedInstance.VpcId), subnets.Subnets.Count);
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeVpcsAsync(new DescribeVpcsRequest { VpcIds = new() { "vpc-0000000000000dead" } }));
        Assert.Equal("InvalidVpcID.NotFound", ex.ErrorCode);
    }

    [Fact]
    public async Task UnknownAction_IsInvalidAction()
    {
        var (status, body, _) = await TestLab.PostFormAsync(_fx.Lab, "ec2", TestLab.Form(("Action", "RunInstances"), ("Version", "2016-11-15")));
        Assert.Equal(400, status);
        Assert.Contains("<Code>InvalidAction</Code>", body);
    }
}

public sealed class Ec2InstanceMutationTests
{
    private static async Task<string> State(AmazonEC2Client ec2, string id) =>
        (await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { id } })).Reservations[0].Instances[0].State.Name.Value;

    [Fact]
    public async Task ModifyInstanceAttribute_Groups_FailsOnMultiEni_WorksOnSingleEni()
    {
        await using var lab = await TestLab.StartAsync();
        var w = lab.World;
        using var ec2 = TestLab.Ec2(lab);
        var sg = (await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "iso", Description = "iso", VpcId = w.CompromisedInstance!.VpcId })).GroupId;
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = w.CompromisedInstanceId, Groups = new() { sg } }));
        Assert.Equal("InvalidInstanceID", ex.ErrorCode);
        Assert.Contains("multiple interfaces", ex.Message);

        await ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = w.BastionInstanceId, Groups = new() { sg } });
        var b = (await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { w.BastionInstanceId! } })).Reservations[0].Instances[0];
        Assert.Equal(new[] { sg }, b.SecurityGroups.Select(g => g.GroupId));
        Assert.Equal(new[] { sg }, b.NetworkInterfaces[0].Groups.Select(g => g.GroupId));

        var bad = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = w.BastionInstanceId, Groups = new() { "sg-0000000000000dead" } }));
        Assert.Equal("InvalidGroup.NotFound", bad.ErrorCode);
    }

    [Fact]
    public async Task TerminationProtection_StopProtection_AndDryRun()
    {
        await using var lab = await TestLab.StartAsync();
        var id = lab.World.CompromisedInstanceId!;
        using var ec2 = TestLab.Ec2(lab);
        await ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = id, DisableApiTermination = true });
        Assert.True((await ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = id, Attribute = InstanceAttributeName.DisableApiTermination })).InstanceAttribute.DisableApiTermination);
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = new() { id } }));
        Assert.Equal("OperationNotPermitted", ex.ErrorCode);
        Assert.Equal("running", await State(ec2, id));

        await ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = id, DisableApiStop = true });
        var ex2 = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = new() { id } }));
        Assert.Equal("OperationNotPermitted", ex2.ErrorCode);

        // Legacy Attribute/Value form.
        var (status, _, _) = await TestLab.PostFormAsync(lab, "ec2", TestLab.Form(("Action", "ModifyInstanceAttribute"), ("Version", "2016-11-15"), ("InstanceId", id), ("Attribute", "disableApiStop"), ("Value", "false")));
        Assert.Equal(200, status);

        var dry = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = new() { id }, DryRun = true }));
        Assert.Equal("DryRunOperation", dry.ErrorCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, dry.StatusCode);
        Assert.Equal("running", await State(ec2, id));
        Assert.Equal(0, lab.Counters.Snapshot().MutatingOf("ec2", "StopInstances"));

        var dryCreate = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "x", Description = "x", DryRun = true }));
        Assert.Equal("DryRunOperation", dryCreate.ErrorCode);
        Assert.Empty((await ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { Filters = new() { new Filter { Name = "group-name", Values = new() { "x" } } } })).SecurityGroups ?? new());

        lab.Deny("ec2", "StopInstances");
        var denied = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = new() { id }, DryRun = true }));
        Assert.Equal("UnauthorizedOperation", denied.ErrorCode);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
    }

    [Fact]
    public async Task StopStartTerminate_Transitions_AndDeleteOnTermination()
    {
        // Transitions take InstanceTransitionSeconds (0.5 s in TestLab) on the Lab's clock.
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { Clock = clock });
        var w = lab.World;
        var c = w.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);

        var stop = await ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = new() { c.InstanceId } });
        Assert.Equal("stopping", stop.StoppingInstances[0].CurrentState.Name.Value);
        Assert.Equal("running", stop.StoppingInstances[0].PreviousState.Name.Value);
        clock.Advance(TimeSpan.FromSeconds(0.4));
        Assert.Equal("stopping", await State(ec2, c.InstanceId));
        clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal("stopped", await State(ec2, c.InstanceId));
        var i = (await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { c.InstanceId } })).Reservations[0].Instances[0];
        Assert.Null(i.PublicIpAddress); // auto-assigned public IPs are released on stop
        Assert.StartsWith("User initiated", i.StateTransitionReason);

        var start = await ec2.StartInstancesAsync(new StartInstancesRequest { InstanceIds = new() { c.InstanceId } });
        Assert.Equal("pending", start.StartingInstances[0].CurrentState.Name.Value);
        Assert.Equal("pending", await State(ec2, c.InstanceId));
        clock.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal("running", await State(ec2, c.InstanceId));

        // Data volume survives termination unless DeleteOnTermination is switched on; switch it on for the second instance only.
        var dataVolume = c.Volumes[1];
        Assert.False(dataVolume.DeleteOnTermination);
        var inv = w.InvestigatedInstance!;
        await ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest
        {
            InstanceId = inv.InstanceId,
            BlockDeviceMappings = new() { new InstanceBlockDeviceMappingSpecification { DeviceName = inv.Volumes[1].DeviceName, Ebs = new EbsInstanceBlockDeviceSpecification { DeleteOnTermination = true } } },
        });
        var term = await ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = new() { c.InstanceId, inv.InstanceId } });
        Assert.All(term.TerminatingInstances, t => Assert.Equal("shutting-down", t.CurrentState.Name.Value));
        Assert.Equal("shutting-down", await State(ec2, c.InstanceId));
        clock.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal("terminated", await State(ec2, c.InstanceId));
        var volumes = (await ec2.DescribeVolumesAsync(new DescribeVolumesRequest())).Volumes.Select(v => v.VolumeId).ToHashSet();
        Assert.DoesNotContain(c.Volumes[0].VolumeId, volumes);
        Assert.Contains(dataVolume.VolumeId, volumes);
        Assert.DoesNotContain(inv.Volumes[0].VolumeId, volumes);
        Assert.DoesNotContain(inv.Volumes[1].VolumeId, volumes);
        var kept = (await ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = new() { dataVolume.VolumeId } })).Volumes[0];
        Assert.Equal("available", kept.State.Value);

        // Idempotent terminate; start of a terminated instance fails.
        var again = await ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = new() { c.InstanceId } });
        Assert.Equal("terminated", again.TerminatingInstances[0].CurrentState.Name.Value);
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.StartInstancesAsync(new StartInstancesRequest { InstanceIds = new() { c.InstanceId } }));
        Assert.Equal("IncorrectInstanceState", ex.ErrorCode);
        var ex2 = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.GetConsoleScreenshotAsync(new GetConsoleScreenshotRequest { InstanceId = c.InstanceId }));
        Assert.Equal("IncorrectInstanceState", ex2.ErrorCode);
        Assert.Empty((await ec2.DescribeIamInstanceProfileAssociationsAsync(new DescribeIamInstanceProfileAssociationsRequest
        {
            Filters = new() { new Filter { Name = "instance-id", Values = new() { c.InstanceId } } },
        })).IamInstanceProfileAssociations ?? new());
    }
}
