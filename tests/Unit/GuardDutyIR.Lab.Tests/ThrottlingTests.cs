using System.Diagnostics;
using System.Net;
using Amazon.EC2;
using Amazon.EC2.Model;
using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Lab.Tests;

public sealed class ThrottlingTests
{
    [Fact]
    public async Task Burst_WithoutRetries_IsThrottledAsTheBucketSays()
    {
        // CreateTags: capacity 100, refill 10/s.
        await using var lab = await TestLab.StartAsync(configure: o => o with { Throttling = true });
        var id = lab.World.CompromisedInstanceId!;
        using var ec2 = TestLab.Ec2(lab, maxErrorRetry: 0);
        int ok = 0, throttled = 0;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 200; i++)
        {
            try
            {
                await ec2.CreateTagsAsync(new CreateTagsRequest { Resources = new() { id }, Tags = new() { new Tag("n", i.ToString()) } });
                ok++;
            }
            catch (AmazonEC2Exception ex)
            {
                Assert.Equal("RequestLimitExceeded", ex.ErrorCode);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, ex.StatusCode);
                throttled++;
            }
        }
        var elapsed = sw.Elapsed.TotalSeconds;
        Assert.Equal(200, ok + throttled);
        Assert.InRange(ok, 100, 100 + (int)Math.Ceiling(10 * elapsed) + 1);
        var snap = lab.Counters.Snapshot();
        Assert.Equal(throttled, snap.ThrottledOf("ec2", "CreateTags"));
        Assert.Equal(ok, snap.MutatingOf("ec2", "CreateTags"));

        // Other actions have their own buckets: a describe still passes.
        Assert.NotEmpty((await ec2.DescribeRegionsAsync(new DescribeRegionsRequest())).Regions);
    }

    [Fact]
    public async Task MutatingBucket_50_5_AndUnfilteredDescribeBucket_50_10()
    {
        await using var lab = await TestLab.StartAsync(configure: o => o with { Throttling = true });
        using var ec2 = TestLab.Ec2(lab);
        var id = lab.World.BastionInstanceId!;
        int ok = 0;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 80; i++)
        {
            try { await ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = id, DisableApiStop = false }); ok++; }
            catch (AmazonEC2Exception ex) when (ex.ErrorCode == "RequestLimitExceeded") { }
        }
        Assert.InRange(ok, 50, 50 + (int)Math.Ceiling(5 * sw.Elapsed.TotalSeconds) + 1);

        int unfiltered = 0;
        sw.Restart();
        for (int i = 0; i < 70; i++)
        {
            try { await ec2.DescribeVolumesAsync(new DescribeVolumesRequest()); unfiltered++; }
            catch (AmazonEC2Exception ex) when (ex.ErrorCode == "RequestLimitExceeded") { }
        }
        Assert.InRange(unfiltered, 50, 50 + (int)Math.Ceiling(10 * sw.Elapsed.TotalSeconds) + 1);
        // Paginated describes use the larger non-mutating bucket, so they still pass.
        for (int i = 0; i < 20; i++) await ec2.DescribeVolumesAsync(new DescribeVolumesRequest { MaxResults = 100 });
    }

    [Fact]
    public async Task Burst_WithSdkRetries_AllGetThrough()
    {
        // ModifyNetworkInterfaceAttribute: capacity 100, refill 5/s; the refill scale makes it 50/s to keep the test short.
        await using var lab = await TestLab.StartAsync(configure: o => o with { Throttling = true, ThrottleRefillScale = 10 });
        var eni = lab.World.CompromisedInstance!.NetworkInterfaces[0];
        using var ec2 = TestLab.Ec2(lab, maxErrorRetry: 12);
        // Enough in flight to drain the 100-token bucket faster than it refills even on a loaded machine (8 was not, under a full-solution run).
        var gate = new SemaphoreSlim(32);
        var tasks = Enumerable.Range(0, 200).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni.NetworkInterfaceId, Groups = eni.GroupIds.ToList() });
            }
            finally { gate.Release(); }
        });
        await Task.WhenAll(tasks);
        var snap = lab.Counters.Snapshot();
        Assert.Equal(200, snap.MutatingOf("ec2", "ModifyNetworkInterfaceAttribute"));
        Assert.True(snap.ThrottledOf("ec2", "ModifyNetworkInterfaceAttribute") > 0);
    }

    [Fact]
    public async Task ResourceBucket_StopInstances_CountsInstances_AndRuntimeToggle()
    {
        await using var lab = await TestLab.StartAsync(configure: o => o with { Throttling = false });
        using var ec2 = TestLab.Ec2(lab);
        for (int i = 0; i < 120; i++)
            await ec2.CreateTagsAsync(new CreateTagsRequest { Resources = new() { lab.World.BastionInstanceId! }, Tags = new() { new Tag("k", "v") } });
        Assert.Equal(0, lab.Counters.Snapshot().TotalThrottled);

        lab.Throttle.Enabled = true;
        var throttle = new LabThrottle(TimeProvider.System, enabled: true);
        Assert.True(throttle.TryAcquire("acct:ec2:resource:StopInstances", new BucketSpec(1000, 20), 999));
        Assert.False(throttle.TryAcquire("acct:ec2:resource:StopInstances", new BucketSpec(1000, 20), 5));
        Assert.True(throttle.TryAcquire("acct:ec2:resource:StopInstances", new BucketSpec(1000, 20), 1));
    }

    [Fact]
    public void GeneralBuckets_CanBeUsedByJsonServices()
    {
        var throttle = new LabThrottle(TimeProvider.System, enabled: true);
        var spec = new BucketSpec(2, 0.0001);
        Assert.True(throttle.TryAcquire("a:cloudtrail:LookupEvents", spec));
        Assert.True(throttle.TryAcquire("a:cloudtrail:LookupEvents", spec));
        Assert.False(throttle.TryAcquire("a:cloudtrail:LookupEvents", spec));
        var error = ProtocolErrors.Throttled("cloudtrail", "rid");
        Assert.Equal(400, error.StatusCode);
        Assert.Equal("ThrottlingException", error.ErrorCode);
        Assert.True(LabCounters.IsThrottleCode(error.ErrorCode));
    }
}
