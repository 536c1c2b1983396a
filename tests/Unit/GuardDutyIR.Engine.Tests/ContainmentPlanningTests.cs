using GuardDutyIR.Engine.Containment;
using Microsoft.Extensions.Time.Testing;

namespace GuardDutyIR.Engine.Tests;

/// <summary>The recorded original state survives the 256-character tag limit, and the client-side buckets pace as EC2's do.</summary>
public sealed class ContainmentPlanningTests
{
    private static QuarantineRecord Record(int enis, string? asg = "web tier (prod)") => new()
    {
        DisableApiTermination = true,
        DisableApiStop = false,
        ShutdownBehavior = "terminate",
        RecordedAt = new DateTime(2026, 11, 23, 8, 15, 0, DateTimeKind.Utc),
        NetworkInterfaceGroups = Enumerable.Range(0, enis).ToDictionary(i => $"eni-0{i:x16}", i => (IReadOnlyList<string>)new[] { $"sg-0{i:x16}", $"sg-1{i:x16}" }),
        DeleteOnTermination = new Dictionary<string, bool> { ["/dev/xvda"] = true, ["/dev/sdf"] = false },
        InstanceProfileArn = "arn:aws:iam::123456789012:instance-profile/GuardDuty-Example-WebRole",
        ElasticIps = new Dictionary<string, string> { ["eipalloc-0123456789abcdef0"] = "eni-00000000000000000" },
        ElasticIpAddresses = new Dictionary<string, string> { ["eipalloc-0123456789abcdef0"] = "44.192.10.20" },
        ElasticIpPrivateAddresses = new Dictionary<string, string> { ["eipalloc-0123456789abcdef0"] = "10.0.1.25" },
        ConnectionTracking = new Dictionary<string, string> { ["eni-00000000000000000"] = "432000/180/30" },
        AutoScalingGroupName = asg,
        AutoScalingAction = asg is null ? null : "Standby",
    };

    [Fact]
    public void A_long_record_is_split_into_tags_under_the_limit_and_reads_back_exactly()
    {
        var record = Record(enis: 8);
        var tags = QuarantineTags.ToTags(record);
        Assert.True(tags.Count > 1);
        Assert.All(tags, t => Assert.True(t.Value.Length <= QuarantineTags.MaxValueLength, t.Key));
        Assert.All(tags.Keys, k => Assert.StartsWith(QuarantineTags.OriginPrefix, k));

        var back = QuarantineTags.FromTags(tags, "i-1")!;
        Assert.Equal(record.DisableApiTermination, back.DisableApiTermination);
        Assert.Equal(record.DisableApiStop, back.DisableApiStop);
        Assert.Equal(record.ShutdownBehavior, back.ShutdownBehavior);
        Assert.Equal(record.RecordedAt, back.RecordedAt);
        Assert.Equal(record.NetworkInterfaceGroups.Keys, back.NetworkInterfaceGroups.Keys);
        foreach (var (eni, groups) in record.NetworkInterfaceGroups) Assert.Equal(groups, back.NetworkInterfaceGroups[eni]);
        Assert.Equal(record.DeleteOnTermination, back.DeleteOnTermination);
        Assert.Equal(record.InstanceProfileArn, back.InstanceProfileArn);
        Assert.Equal(record.ElasticIps, back.ElasticIps);
        Assert.Equal(record.ElasticIpAddresses, back.ElasticIpAddresses);
        Assert.Equal(record.ElasticIpPrivateAddresses, back.ElasticIpPrivateAddresses);
        Assert.Equal(record.ConnectionTracking, back.ConnectionTracking);
        Assert.Equal("web tier (prod)", back.AutoScalingGroupName);
        Assert.Equal("Standby", back.AutoScalingAction);
    }

    [Fact]
    public void A_record_written_before_private_IPs_were_kept_still_reads()
    {
        // The format of the first release: eip:<allocation>=<eni>@<public IP>, and no private IP.
        var old = "v1 dat=0 das=0 sib=stop at=20261123T081500Z eni:eni-00000000000000001=sg-00000000000000001 " +
                  "eip:eipalloc-0123456789abcdef0=eni-00000000000000001@44.192.10.20 ct:eni-00000000000000001=432000/180/30";
        var r = QuarantineTags.FromTags(new Dictionary<string, string> { [QuarantineTags.OriginPrefix + "1"] = "n=1 " + old }, "i-1")!;
        Assert.Equal("eni-00000000000000001", r.ElasticIps["eipalloc-0123456789abcdef0"]);
        Assert.Equal("44.192.10.20", r.ElasticIpAddresses["eipalloc-0123456789abcdef0"]);
        Assert.Empty(r.ElasticIpPrivateAddresses);
        Assert.Equal("432000/180/30", r.ConnectionTracking["eni-00000000000000001"]);
    }

    [Fact]
    public void No_record_is_null_and_a_damaged_record_is_an_error_not_a_guess()
    {
        Assert.Null(QuarantineTags.FromTags(new Dictionary<string, string> { ["Name"] = "web" }, "i-1"));
        var tags = new Dictionary<string, string>(QuarantineTags.ToTags(Record(enis: 8)));
        tags.Remove(QuarantineTags.OriginPrefix + "2");
        var e = Assert.Throws<GuardDutyIRException>(() => QuarantineTags.FromTags(tags, "i-1"));
        Assert.Equal("QuarantineRecordDamaged", e.ErrorId);
    }

    [Fact]
    public void Without_an_Auto_Scaling_group_or_profile_the_record_stays_one_tag()
    {
        var record = Record(enis: 1, asg: null);
        var tags = QuarantineTags.ToTags(new QuarantineRecord { NetworkInterfaceGroups = record.NetworkInterfaceGroups, RecordedAt = record.RecordedAt });
        var only = Assert.Single(tags);
        Assert.StartsWith("n=1 v1 ", only.Value);
        Assert.Null(QuarantineTags.FromTags(tags, "i-1")!.AutoScalingGroupName);
    }

    [Fact]
    public void The_lower_bound_is_the_slowest_bucket()
    {
        var calls = new Dictionary<string, long> { ["ModifyNetworkInterfaceAttribute"] = 1200, ["ModifyInstanceAttribute"] = 900, ["DescribeInstances"] = 10 };
        // MNIA: (1200 - 100) / 5 = 220 s; MIA: (900 - 50) / 5 = 170 s; describes: within capacity.
        Assert.Equal(TimeSpan.FromSeconds(220), Ec2RateLimiter.LowerBound(calls));
        Assert.Equal(TimeSpan.FromSeconds(22), Ec2RateLimiter.LowerBound(calls, refillScale: 10));
        Assert.Equal(new BucketSpec(100, 10), Ec2RateLimiter.SpecOf("CreateTags"));
        Assert.Equal(Ec2RateLimiter.Mutating, Ec2RateLimiter.SpecOf("CreateSecurityGroup"));
        Assert.Equal(Ec2RateLimiter.ResourceIntensive, Ec2RateLimiter.SpecOf("RevokeSecurityGroupIngress"));
    }

    [Fact]
    public async Task The_bucket_lets_the_capacity_through_at_once_and_then_paces_at_the_refill_rate()
    {
        // ModifyInstanceAttribute: 50 tokens, 5 per second, used in full. Time is virtual: only Advance moves it.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var limiter = new Ec2RateLimiter(headroom: 1, time: time);
        for (int i = 0; i < 50; i++) Assert.True(limiter.AcquireAsync("ModifyInstanceAttribute", CancellationToken.None).IsCompleted, $"call {i + 1} waited");
        var waiting = Enumerable.Range(0, 30).Select(_ => limiter.AcquireAsync("ModifyInstanceAttribute", CancellationToken.None)).ToList();
        Assert.DoesNotContain(waiting, w => w.IsCompleted);

        // One token every 0.2 s, served in the order asked: two by 0.5 s, 29 by 5.9 s, the 30th at 6 s.
        time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal(new[] { true, true, false }, waiting.Take(3).Select(w => w.IsCompleted));
        Assert.Equal(2, waiting.Count(w => w.IsCompleted));
        time.Advance(TimeSpan.FromSeconds(5.4));
        Assert.Equal(29, waiting.Count(w => w.IsCompleted));
        time.Advance(TimeSpan.FromSeconds(0.1));
        await Task.WhenAll(waiting);

        // Other actions have buckets of their own.
        Assert.True(limiter.AcquireAsync("DescribeInstances", CancellationToken.None).IsCompleted);
    }

    [Fact]
    public void A_wait_for_a_token_ends_at_once_when_cancelled()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var limiter = new Ec2RateLimiter(capacityScale: 0.01, headroom: 1, time: time);
        Assert.True(limiter.AcquireAsync("CreateTags", CancellationToken.None).IsCompleted);
        using var cts = new CancellationTokenSource();
        var waiting = limiter.AcquireAsync("CreateTags", cts.Token);
        Assert.False(waiting.IsCompleted);
        cts.Cancel();
        Assert.True(waiting.IsCanceled);
    }
}
