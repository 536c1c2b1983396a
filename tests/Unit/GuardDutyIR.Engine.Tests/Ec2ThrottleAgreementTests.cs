using System.Collections.Specialized;
using GuardDutyIR.Engine.Containment;
using GuardDutyIR.Lab.Core;
using BucketSpec = GuardDutyIR.Engine.Containment.BucketSpec;
using GuardDutyIR.Lab.Scenarios;
using Microsoft.Extensions.Time.Testing;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// The engine paces its EC2 calls by EC2's documented request buckets
/// (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html) and the Lab throttles by the same table.
/// They are kept apart on purpose (the Lab knows nothing of the engine), so this test holds them together: for every
/// action either of them knows, the Lab's bucket as it behaves on a virtual clock equals the engine's.
/// </summary>
public sealed class Ec2ThrottleAgreementTests
{
    [Fact]
    public async Task The_engine_pacer_and_the_Lab_throttle_every_action_with_the_same_bucket()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Empty, Throttling = true, Clock = clock });
        var actions = lab.Ec2.Actions.Union(Ec2RateLimiter.NamedActions).Distinct().OrderBy(a => a, StringComparer.Ordinal).ToList();
        Assert.Superset(Ec2RateLimiter.NamedActions.ToHashSet(), lab.Ec2.Actions.ToHashSet());

        var lines = new List<string>();
        foreach (var action in actions)
        {
            var engine = Ec2RateLimiter.SpecOf(action);
            var measured = await MeasureAsync(lab, clock, action);
            if (measured != engine) lines.Add($"{action}: engine {engine}, Lab {measured}");
        }
        Assert.True(lines.Count == 0, "The engine's and the Lab's EC2 buckets disagree:\n" + string.Join("\n", lines));

        // Each class of the engine's table is among what was compared, so its size and refill were checked too.
        var specs = actions.Select(Ec2RateLimiter.SpecOf).ToHashSet();
        Assert.Contains(Ec2RateLimiter.NonMutating, specs);
        Assert.Contains(Ec2RateLimiter.Mutating, specs);
        Assert.Contains(actions, a => Ec2RateLimiter.SpecOf(a) == Ec2RateLimiter.ResourceIntensive && a.EndsWith("SecurityGroupIngress", StringComparison.Ordinal));
    }

    /// <summary>
    /// A bucket as the Lab applies it to a call shaped as the engine sends it (describes filtered and paginated, one
    /// instance per call): the calls answered before the first RequestLimitExceeded, then those one second of refill lets through.
    /// </summary>
    private static async Task<BucketSpec> MeasureAsync(LabHost lab, FakeTimeProvider clock, string action)
    {
        var capacity = await BurstAsync(lab, action);
        clock.Advance(TimeSpan.FromSeconds(1));
        var refill = await BurstAsync(lab, action);
        return new BucketSpec(capacity, refill);
    }

    private static async Task<int> BurstAsync(LabHost lab, string action)
    {
        for (int answered = 0; answered < 5000; answered++)
        {
            var query = new NameValueCollection { ["Action"] = action, ["Version"] = "2016-11-15" };
            if (Ec2RateLimiter.IsReadOnly(action))
            {
                query["Filter.1.Name"] = "tag:ir:case";
                query["Filter.1.Value.1"] = "agreement";
                query["MaxResults"] = "5";
            }
            var response = await lab.Ec2.HandleAsync(new LabRequest
            {
                Method = "POST", RawPath = "/", Query = query, Headers = new Dictionary<string, string>(), Body = Array.Empty<byte>(),
                Service = "ec2", Region = lab.Region, AccessKeyId = lab.AccessKeyId, AccountId = lab.AccountId, RequestId = Guid.NewGuid().ToString(),
                Principal = lab.Credentials.Main,
            }, CancellationToken.None);
            Assert.NotEqual("InvalidAction", response.ErrorCode);
            if (response.ErrorCode == "RequestLimitExceeded") return answered;
        }
        throw new InvalidOperationException($"The Lab never throttled {action}.");
    }
}
