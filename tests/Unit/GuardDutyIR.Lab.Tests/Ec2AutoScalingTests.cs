using System.Xml.Linq;
using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Lab.Tests;

/// <summary>Auto Scaling over raw awsQuery requests (the test project has no AWSSDK.AutoScaling).</summary>
public sealed class Ec2AutoScalingTests
{
    private static async Task<(int Status, XElement Body)> Call(LabHost lab, params (string, string)[] p)
    {
        var (status, body, _) = await TestLab.PostFormAsync(lab, "autoscaling", TestLab.Form(p.Append(("Version", "2011-01-01")).ToArray()));
        return (status, XElement.Parse(body));
    }

    private static IEnumerable<XElement> All(XElement e, string name) => e.Descendants().Where(d => d.Name.LocalName == name);

    [Fact]
    public async Task StandbyDetachAttach_Lifecycle()
    {
        await using var lab = await TestLab.StartAsync();
        var w = lab.World;
        var (s1, d1) = await Call(lab, ("Action", "DescribeAutoScalingInstances"), ("InstanceIds.member.1", w.AutoScalingInstanceId!), ("InstanceIds.member.2", w.CompromisedInstanceId!));
        Assert.Equal(200, s1);
        Assert.Equal(ProtocolErrors.AutoScalingNamespace, d1.Name.NamespaceName);
        Assert.Single(All(d1, "AutoScalingInstances").Single().Elements());
        Assert.Equal(w.AutoScalingGroupName, All(d1, "AutoScalingGroupName").Single().Value);
        Assert.Equal("InService", All(d1, "LifecycleState").Single().Value);
        Assert.NotEmpty(All(d1, "RequestId").Single().Value);

        var (s2, d2) = await Call(lab, ("Action", "EnterStandby"), ("AutoScalingGroupName", w.AutoScalingGroupName!), ("InstanceIds.member.1", w.AutoScalingInstanceId!), ("ShouldDecrementDesiredCapacity", "false"));
        Assert.Equal(200, s2);
        Assert.Contains("Standby", All(d2, "Description").Single().Value);
        var (_, d3) = await Call(lab, ("Action", "DescribeAutoScalingGroups"), ("AutoScalingGroupNames.member.1", w.AutoScalingGroupName!));
        Assert.Equal("Standby", All(d3, "LifecycleState").Single().Value);
        Assert.Equal("1", All(d3, "DesiredCapacity").Single().Value);

        var (s4, d4) = await Call(lab, ("Action", "EnterStandby"), ("AutoScalingGroupName", w.AutoScalingGroupName!), ("InstanceIds.member.1", w.AutoScalingInstanceId!), ("ShouldDecrementDesiredCapacity", "false"));
        Assert.Equal(400, s4);
        Assert.Equal("ValidationError", All(d4, "Code").Single().Value);

        var (s5, _) = await Call(lab, ("Action", "ExitStandby"), ("AutoScalingGroupName", w.AutoScalingGroupName!), ("InstanceIds.member.1", w.AutoScalingInstanceId!));
        Assert.Equal(200, s5);
        var (_, d6) = await Call(lab, ("Action", "DescribeAutoScalingGroups"), ("AutoScalingGroupNames.member.1", w.AutoScalingGroupName!));
        Assert.Equal("InService", All(d6, "LifecycleState").Single().Value);
        Assert.Equal("2", All(d6, "DesiredCapacity").Single().Value);
    }

    [Fact]
    public async Task Detach_ThenAttach_AndErrors()
    {
        await using var lab = await TestLab.StartAsync();
        var w = lab.World;
        var (s1, _) = await Call(lab, ("Action", "DetachInstances"), ("AutoScalingGroupName", w.AutoScalingGroupName!), ("InstanceIds.member.1", w.AutoScalingInstanceId!), ("ShouldDecrementDesiredCapacity", "false"));
        Assert.Equal(200, s1);
        var (_, d) = await Call(lab, ("Action", "DescribeAutoScalingInstances"), ("InstanceIds.member.1", w.AutoScalingInstanceId!));
        Assert.Empty(All(d, "AutoScalingInstances").Single().Elements());
        var (s2, _) = await Call(lab, ("Action", "AttachInstances"), ("AutoScalingGroupName", w.AutoScalingGroupName!), ("InstanceIds.member.1", w.AutoScalingInstanceId!));
        Assert.Equal(200, s2);
        var (_, g) = await Call(lab, ("Action", "DescribeAutoScalingGroups"));
        Assert.Equal("2", All(g, "DesiredCapacity").Single().Value);

        var (s3, e3) = await Call(lab, ("Action", "EnterStandby"), ("AutoScalingGroupName", "nope"), ("InstanceIds.member.1", w.AutoScalingInstanceId!), ("ShouldDecrementDesiredCapacity", "true"));
        Assert.Equal(400, s3);
        Assert.Equal("ValidationError", All(e3, "Code").Single().Value);
        Assert.Equal("Sender", All(e3, "Type").Single().Value);
        var (s4, _) = await Call(lab, ("Action", "EnterStandby"), ("AutoScalingGroupName", w.AutoScalingGroupName!), ("InstanceIds.member.1", w.CompromisedInstanceId!), ("ShouldDecrementDesiredCapacity", "true"));
        Assert.Equal(400, s4);
        var (s5, _) = await Call(lab, ("Action", "AttachInstances"), ("AutoScalingGroupName", w.AutoScalingGroupName!), ("InstanceIds.member.1", "i-0000000000000dead"));
        Assert.Equal(400, s5);
    }
}
