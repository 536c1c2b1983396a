using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using GuardDutyIR.Engine.Containment;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Engine.Tests;

/// <summary>The quarantine engine against a Lab on 127.0.0.1: the plan put to ShouldProcess, and group reuse.</summary>
public sealed class QuarantineEngineTests
{
    private static AwsSession Session(LabHost lab) => AwsSession.Resolve(new AwsContextOptions
    {
        Region = lab.Region,
        EndpointUrl = lab.Endpoint,
        Credential = new Dictionary<string, string> { ["AccessKey"] = lab.AccessKeyId, ["SecretKey"] = lab.SecretAccessKey },
    }, null);

    private static readonly QuarantineOptions Fast = new() { ConversionWait = TimeSpan.Zero, RateLimiter = Ec2RateLimiter.Unlimited };

    [Fact]
    public async Task The_plan_names_every_ENI_and_a_declined_plan_changes_nothing()
    {
        await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.CompromisedInstance });
        var world = lab.World.CompromisedInstance!;
        using var session = Session(lab);
        lab.Counters.Reset();
        var run = new QuarantineService(session).Start(Fast, askApproval: true, CancellationToken.None);
        run.Add(new QuarantineRequest(world.InstanceId, lab.Region, "IR-1"));
        run.Complete();
        var approval = await run.Approvals.ReadAsync();
        approval.Answer(false);
        await run.Completion;
        Assert.False(run.Outcomes.TryRead(out _));

        var lines = approval.Plan.Split('\n');
        Assert.StartsWith($"Quarantine {world.InstanceId} in {lab.Region} (running, 2 ENI(s))", lines[0]);
        foreach (var eni in world.NetworkInterfaces)
            Assert.Contains(lines, l => l.Contains(eni.NetworkInterfaceId) && l.Contains(eni.GroupIds[0]) && l.Contains("GuardDutyIR-Conversion") && l.Contains("GuardDutyIR-Isolation"));
        Assert.Contains(lines, l => l.Contains("termination protection"));
        Assert.Contains(lines, l => l.Contains("record the original state"));
        Assert.Equal(0, lab.Counters.Snapshot().TotalMutating);
    }

    [Fact]
    public async Task A_same_named_untagged_group_is_reused_after_InvalidGroup_Duplicate_and_tagged_for_next_time()
    {
        await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.CompromisedInstance });
        var world = lab.World.CompromisedInstance!;
        using var ec2 = new AmazonEC2Client(new BasicAWSCredentials(lab.AccessKeyId, lab.SecretAccessKey),
            new AmazonEC2Config { ServiceURL = lab.Endpoint, AuthenticationRegion = lab.Region });
        var made = await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "GuardDutyIR-Isolation", Description = "by hand", VpcId = world.VpcId });

        using var session = Session(lab);
        var outcome = Assert.Single(await new QuarantineService(session).QuarantineAsync(new[] { new QuarantineRequest(world.InstanceId, lab.Region, "IR-2") }, Fast, CancellationToken.None));
        Assert.Null(outcome.Error);
        Assert.Equal(QuarantineStatus.Quarantined, outcome.Result!.Status);
        Assert.Equal(made.GroupId, outcome.Result.IsolationGroups[world.VpcId]);
        var group = Assert.Single(lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"));
        Assert.Equal(0, group.Rules);   // its default egress rule was revoked before any ENI got it
        Assert.Equal("Isolation", lab.Ec2.ResourceTags(made.GroupId)[QuarantineTags.Purpose]);
        foreach (var eni in world.NetworkInterfaces) Assert.Equal(new[] { made.GroupId }, lab.Ec2.GroupsOf(eni.NetworkInterfaceId));
    }
}
