using System.Net;
using Amazon.EC2;
using Amazon.EC2.Model;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

public sealed class ThrottlingTests
{
    [Fact]
    public async Task Burst_WithoutRetries_IsThrottledAsTheBucketSays()
    {
        // CreateTags: capacity 100, refill 10/s. The Lab's clock stands still during the burst, so nothing refills.
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { Throttling = true, Clock = clock });
        var id = lab.World.CompromisedInstanceId!;
        using var ec2 = TestLab.Ec2(lab, maxErrorRetry: 0);
        async Task<(int Ok, int Throttled)> Burst(int n)
        {
            int ok = 0, throttled = 0;
            for (int i = 0; i < n; i++)
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
            return (ok, throttled);
        }

        Assert.Equal((100, 100), await Burst(200));
        var snap = lab.Counters.Snapshot();
        Assert.Equal(100, snap.ThrottledOf("ec2", "CreateTags"));
        Assert.Equal(100, snap.MutatingOf("ec2", "CreateTags"));

        // One second refills ten tokens.
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal((10, 1), await Burst(11));

        // Other actions have their own buckets: a describe still passes.
        Assert.NotEmpty((await ec2.DescribeRegionsAsync(new DescribeRegionsRequest())).Regions);
    }

    [Fact]
    public async Task MutatingBucket_50_5_AndUnfilteredDescribeBucket_50_10()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { Throttling = true, Clock = clock });
        using var ec2 = TestLab.Ec2(lab);
        var id = lab.World.BastionInstanceId!;
        async Task<int> Modify(int n)
        {
            int ok = 0;
            for (int i = 0; i < n; i++)
            {
                try { await ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = id, DisableApiStop = false }); ok++; }
                catch (AmazonEC2Exception ex) when (ex.ErrorCode == "RequestLimitExceeded") { }
            }
            return ok;
        }
        async Task<int> DescribeUnfiltered(int n)
        {
            int ok = 0;
            for (int i = 0; i < n; i++)
            {
                try { await ec2.DescribeVolumesAsync(new DescribeVolumesRequest()); ok++; }
                catch (AmazonEC2Exception ex) when (ex.ErrorCode == "RequestLimitExceeded") { }
            }
            return ok;
        }

        Assert.Equal(50, await Modify(80));
        Assert.Equal(50, await DescribeUnfiltered(70));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(5, await Modify(20));
        Assert.Equal(10, await DescribeUnfiltered(20));
        // Paginated describes use the larger non-mutating bucket, so they still pass.
        for (int i = 0; i < 20; i++) await ec2.DescribeVolumesAsync(new DescribeVolumesRequest { MaxResults = 100 });
    }

    [Fact]
    public async Task Burst_WithSdkRetries_AllGetThrough()
    {
        // ModifyNetworkInterfaceAttribute: capacity 100, refill 5/s (50/s with the refill scale). The Lab's clock moves a
        // second each time the test sees a new throttled answer, so the bucket refills only after it ran dry.
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { Throttling = true, ThrottleRefillScale = 10, Clock = clock });
        var eni = lab.World.CompromisedInstance!.NetworkInterfaces[0];
        using var ec2 = TestLab.Ec2(lab, maxErrorRetry: 12);
        var gate = new SemaphoreSlim(32);
        var all = Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                await ec2.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni.NetworkInterfaceId, Groups = eni.GroupIds.ToList() });
            }
            finally { gate.Release(); }
        }));
        long seen = 0;
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        while (!all.IsCompleted)
        {
            var throttled = lab.Counters.Snapshot().ThrottledOf("ec2", "ModifyNetworkInterfaceAttribute");
            if (throttled > seen) { seen = throttled; clock.Advance(TimeSpan.FromSeconds(1)); }
            await Task.WhenAny(all, Task.Delay(10, guard.Token));
            Assert.False(guard.IsCancellationRequested, "the burst did not finish");
        }
        await all;
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
        var clock = new TestClock();
        var throttle = new LabThrottle(clock, enabled: true);
        Assert.True(throttle.TryAcquire("acct:ec2:resource:StopInstances", new BucketSpec(1000, 20), 999));
        Assert.False(throttle.TryAcquire("acct:ec2:resource:StopInstances", new BucketSpec(1000, 20), 5));
        Assert.True(throttle.TryAcquire("acct:ec2:resource:StopInstances", new BucketSpec(1000, 20), 1));
        // 20 tokens a second: a quarter of a second pays for five instances, not six.
        clock.Advance(TimeSpan.FromSeconds(0.25));
        Assert.False(throttle.TryAcquire("acct:ec2:resource:StopInstances", new BucketSpec(1000, 20), 6));
        Assert.True(throttle.TryAcquire("acct:ec2:resource:StopInstances", new BucketSpec(1000, 20), 5));
    }

    [Fact]
    public void A_bucket_refills_at_its_rate_up_to_its_capacity()
    {
        var clock = new TestClock();
        var throttle = new LabThrottle(clock, enabled: true);
        var spec = new BucketSpec(Capacity: 3, RefillPerSecond: 2);
        for (int i = 0; i < 3; i++) Assert.True(throttle.TryAcquire("k", spec));
        Assert.False(throttle.TryAcquire("k", spec));
        clock.Advance(TimeSpan.FromMilliseconds(250));
        Assert.False(throttle.TryAcquire("k", spec));
        clock.Advance(TimeSpan.FromMilliseconds(250));
        Assert.True(throttle.TryAcquire("k", spec));
        // An hour idle fills the bucket to its capacity and no further.
        clock.Advance(TimeSpan.FromHours(1));
        Assert.True(throttle.TryAcquire("k", spec, 3));
        Assert.False(throttle.TryAcquire("k", spec));
        // All or nothing across buckets: one short bucket takes nothing from the other.
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(throttle.TryAcquireAll(new[] { ("k", spec, 2.0), ("other", new BucketSpec(1, 1), 2.0) }));
        Assert.True(throttle.TryAcquire("k", spec, 2));
    }

    [Fact]
    public void GeneralBuckets_CanBeUsedByJsonServices()
    {
        var throttle = new LabThrottle(new TestClock(), enabled: true);
        var spec = new BucketSpec(2, 2);
        Assert.True(throttle.TryAcquire("a:cloudtrail:LookupEvents", spec));
        Assert.True(throttle.TryAcquire("a:cloudtrail:LookupEvents", spec));
        Assert.False(throttle.TryAcquire("a:cloudtrail:LookupEvents", spec));
        var error = ProtocolErrors.Throttled("cloudtrail", "rid");
        Assert.Equal(400, error.StatusCode);
        Assert.Equal("ThrottlingException", error.ErrorCode);
        Assert.True(LabCounters.IsThrottleCode(error.ErrorCode));
    }
}
