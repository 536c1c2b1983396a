using System.Net;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.Tests;

public sealed class ScenarioWorldTests
{
    private static string Fingerprint(ScenarioWorld w) => string.Join("|",
        new[] { w.AccountId, w.MemberAccountId, w.BaseTime.ToString("O"), w.MaliciousEip ?? "", w.ExfilSourceIp ?? "" }
            .Concat(w.Instances.Select(i => $"{i.InstanceId}/{i.PrivateIp}/{i.PublicIp}/{string.Join(",", i.NetworkInterfaces.Select(e => e.NetworkInterfaceId + "=" + string.Join("+", e.GroupIds)))}/{string.Join(",", i.Volumes.Select(v => v.VolumeId))}/{i.LaunchTime:O}"))
            .Concat(w.SecurityGroups.Select(g => g.GroupId + g.GroupName))
            .Concat(w.Flows.Select(f => $"{f.FlowId}{f.RemoteIp}{f.LocalPort}{f.EstablishedAt:O}")));

    [Theory]
    [InlineData("Workshop")]
    [InlineData("CompromisedInstance")]
    [InlineData("CloudTrailInvestigation")]
    [InlineData("Empty")]
    [InlineData("Scale")]
    public void SameSeed_SameWorld_DifferentSeed_DifferentWorld(string scenario)
    {
        var scale = new ScaleOptions(Instances: 30, Vpcs: 3);
        var a = ScenarioWorld.Create(scenario, 42, scale);
        var b = ScenarioWorld.Create(scenario, 42, scale);
        var c = ScenarioWorld.Create(scenario, 43, scale);
        Assert.Equal(Fingerprint(a), Fingerprint(b));
        Assert.NotEqual(Fingerprint(a), Fingerprint(c));
        Assert.NotEqual(a.AccountId, a.MemberAccountId);
    }

    [Fact]
    public void Workshop_HasBothStories()
    {
        var w = ScenarioWorld.Create("Workshop", 42);
        Assert.Matches("^i-[0-9a-f]{17}$", w.CompromisedInstanceId);
        var c = w.CompromisedInstance!;
        Assert.Equal("GuardDuty-Example: Compromised Instance", c.Name);
        Assert.Equal("GuardDuty-Example: Malicious Instance", w.Instance(w.MaliciousInstanceId!).Name);
        Assert.Equal("GuardDuty-Example: Bastion", w.Instance(w.BastionInstanceId!).Name);
        Assert.Equal(2, c.NetworkInterfaces.Count);
        Assert.All(c.NetworkInterfaces, e => Assert.Matches("^eni-[0-9a-f]{17}$", e.NetworkInterfaceId));
        Assert.All(c.Volumes, v => Assert.Matches("^vol-[0-9a-f]{17}$", v.VolumeId));
        Assert.StartsWith($"arn:aws:iam::{w.AccountId}:instance-profile/", c.InstanceProfileArn);

        // The malicious EIP must be publicly routable or a GuardDuty threat list never matches it.
        var eip = IPAddress.Parse(w.MaliciousEip!);
        Assert.False(IsPrivateOrReserved(eip), w.MaliciousEip);
        Assert.Equal(w.MaliciousEip, w.Instance(w.MaliciousInstanceId!).PublicIp);
        Assert.Matches("^eipalloc-[0-9a-f]{17}$", w.MaliciousEipAllocationId);
        Assert.Equal("Example-Threat-List", w.ThreatListName);
        Assert.NotNull(w.ThreatListBucket);
        Assert.NotNull(w.SnsTopicName);
        Assert.Contains(w.Flows, f => f.InstanceId == c.InstanceId && f.Protocol == "icmp" && f.RemoteIp == w.MaliciousEip);
        Assert.Contains(w.Flows, f => f.InstanceId == w.BastionInstanceId && f.LocalPort == 22 && f.RemoteIp == w.AdminSourceIp);

        var asg = Assert.Single(w.AutoScalingGroups);
        Assert.Equal(w.AutoScalingGroupName, asg.Name);
        Assert.DoesNotContain(w.CompromisedInstanceId, asg.InstanceIds);
        Assert.Contains(w.AutoScalingInstanceId, asg.InstanceIds);

        var inv = w.InvestigatedInstance!;
        Assert.Equal(w.InvestigatedRoleName, inv.IamRoleName);
        Assert.Matches("^AROA[A-Z2-7]{17}$", w.InvestigatedRoleId);
        Assert.Equal($"{w.InvestigatedRoleId}:{inv.InstanceId}", w.InvestigatedPrincipalId);
        Assert.Matches("^ASIA[A-Z2-7]{16}$", w.InvestigatedSessionAccessKeyId);
        Assert.False(IsPrivateOrReserved(IPAddress.Parse(w.ExfilSourceIp!)));
        Assert.NotEmpty(w.ExfilObjects);
        Assert.All(w.ExfilObjects, o => Assert.Equal(w.ExfilBucket, o.Bucket));
        Assert.True(w.Users.Count >= 2);
        Assert.True(w.InstancesIn(w.AccountId).Count() >= 7);
        Assert.Single(w.InstancesIn(w.MemberAccountId));
        Assert.All(w.Instances, i => Assert.True(i.LaunchTime < w.BaseTime));
        Assert.InRange(w.BaseTime, new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public void SingleStoryScenarios_CarryOnlyTheirFacts()
    {
        var s1 = ScenarioWorld.Create("CompromisedInstance", 1);
        Assert.NotNull(s1.CompromisedInstanceId);
        Assert.Null(s1.InvestigatedInstanceId);
        var s2 = ScenarioWorld.Create("CloudTrailInvestigation", 1);
        Assert.Null(s2.CompromisedInstanceId);
        Assert.NotNull(s2.InvestigatedInstanceId);
        Assert.Empty(s2.AutoScalingGroups);
        var empty = ScenarioWorld.Create("Empty", 1);
        Assert.Empty(empty.Instances);
        Assert.Single(empty.Vpcs, v => v.IsDefault);
        Assert.Throws<ArgumentException>(() => ScenarioWorld.Create("Nope", 1));
    }

    [Fact]
    public void Scale_HasRequestedSize_AndUniqueIds()
    {
        var w = ScenarioWorld.Create("Scale", 5, new ScaleOptions(Instances: 500, Vpcs: 6));
        var main = w.InstancesIn(w.AccountId).ToList();
        Assert.Equal(500, main.Count);
        Assert.Equal(6, w.Vpcs.Count(v => v.AccountId == w.AccountId && !v.IsDefault));
        Assert.All(main, i => Assert.InRange(i.NetworkInterfaces.Count, 1, 3));
        Assert.Contains(main, i => i.NetworkInterfaces.Count == 3);
        var ids = w.Instances.Select(i => i.InstanceId).Concat(w.Instances.SelectMany(i => i.NetworkInterfaces.Select(e => e.NetworkInterfaceId))).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        var ips = w.Instances.SelectMany(i => i.NetworkInterfaces.Select(e => e.PrivateIp)).ToList();
        Assert.Equal(ips.Count, ips.Distinct().Count());
    }

    private static bool IsPrivateOrReserved(IPAddress ip)
    {
        var b = ip.GetAddressBytes();
        return b[0] == 10 || b[0] == 127 || (b[0] == 172 && b[1] >= 16 && b[1] < 32) || (b[0] == 192 && b[1] == 168) ||
               (b[0] == 192 && b[1] == 0 && b[2] == 2) || (b[0] == 198 && b[1] == 51 && b[2] == 100) || (b[0] == 203 && b[1] == 0 && b[2] == 113) ||
               (b[0] == 100 && b[1] >= 64 && b[1] < 128) || b[0] >= 224;
    }
}
