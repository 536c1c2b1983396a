using Amazon.EC2;
using Amazon.EC2.Model;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

/// <summary>What the Lab added for containment: the concurrent-snapshot limit and the views tests read.</summary>
public sealed class Ec2ContainmentSupportTests
{
    [Fact]
    public async Task The_concurrent_snapshot_limit_refuses_more_pending_snapshots_until_they_complete()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { SnapshotCompletionSeconds = 3, MaxPendingSnapshots = 2, Clock = clock });
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var first = await ec2.CreateSnapshotsAsync(new CreateSnapshotsRequest { InstanceSpecification = new InstanceSpecification { InstanceId = c.InstanceId } });
        Assert.Equal(2, first.Snapshots.Count);
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = c.Volumes[0].VolumeId }));
        Assert.Equal("ConcurrentSnapshotLimitExceeded", ex.ErrorCode);
        clock.Advance(TimeSpan.FromSeconds(2.9));
        var stillPending = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = c.Volumes[0].VolumeId }));
        Assert.Equal("ConcurrentSnapshotLimitExceeded", stillPending.ErrorCode);
        clock.Advance(TimeSpan.FromSeconds(0.1));
        var later = await ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = c.Volumes[0].VolumeId });
        Assert.Equal("pending", later.Snapshot.State.Value);
    }

    [Fact]
    public async Task The_instance_view_follows_API_changes_and_a_plain_swap_keeps_tracked_flows()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        Assert.False(lab.Ec2.ViewInstance(c.InstanceId).DisableApiTermination);
        await ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = c.InstanceId, DisableApiTermination = true });
        Assert.True(lab.Ec2.ViewInstance(c.InstanceId).DisableApiTermination);

        var group = await ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "empty", Description = "no rules", VpcId = c.VpcId });
        Assert.Single(lab.Ec2.GroupsNamed("empty"));
        var eni = c.PrimaryNetworkInterface.NetworkInterfaceId;
        lab.Ec2.SwapGroups(eni, new[] { group.GroupId });
        Assert.Equal(new[] { eni }, lab.Ec2.NetworkInterfacesUsing(group.GroupId));
        var tcp = lab.Ec2.Flows().Single(f => f.NetworkInterfaceId == eni && f.Protocol == "tcp" && f.RemoteIp == lab.World.MaliciousEip);
        Assert.True(tcp.Tracked);
        Assert.True(tcp.Passes);
    }
}
