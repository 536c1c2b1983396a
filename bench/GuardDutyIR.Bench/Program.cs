using System.Diagnostics;
using System.Globalization;
using GuardDutyIR;
using GuardDutyIR.Engine.Containment;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;

// (a) throttled: 300 instances with the Lab's EC2 buckets on; wall time against the lower bound the buckets allow for
//     the calls actually made (target <= 1.15x). Refill rates are scaled x10 on both sides so the run takes ~30 s, not ~5 min.
// (b) latency: the same 300 with 60 ms per call and no throttling, against one instance at a time (target >= 10x);
//     the serial baseline is measured on a sample and scaled per instance (said in the output).
// (c) calls: calls per instance, and the mutating calls of a re-run (target 0).
var which = args.FirstOrDefault() ?? "all";
var instances = int.Parse(Environment.GetEnvironmentVariable("BENCH_INSTANCES") ?? "300", CultureInfo.InvariantCulture);
if (which is "throttled" or "all") await Throttled(instances);
if (which is "latency" or "all") await Latency(instances);
if (which is "calls" or "all") await Calls(instances);
if (which is "faults") await Faults(int.Parse(Environment.GetEnvironmentVariable("BENCH_INSTANCES") ?? "40", CultureInfo.InvariantCulture));

static AwsSession Session(LabHost lab) => AwsSession.Resolve(new AwsContextOptions
{
    Region = lab.Region,
    EndpointUrl = lab.Endpoint,
    Credential = new Dictionary<string, string> { ["AccessKey"] = lab.AccessKeyId, ["SecretKey"] = lab.SecretAccessKey },
}, null);

static List<QuarantineRequest> Requests(LabHost lab, int count) => lab.World.Instances.Where(i => i.AccountId == lab.AccountId).Take(count)
    .Select(i => new QuarantineRequest(i.InstanceId, lab.Region, "BENCH")).ToList();

static async Task<(TimeSpan Took, IReadOnlyList<QuarantineOutcome> Outcomes)> Quarantine(LabHost lab, List<QuarantineRequest> requests, QuarantineOptions options)
{
    using var session = Session(lab);
    var watch = Stopwatch.StartNew();
    var outcomes = await new QuarantineService(session).QuarantineAsync(requests, options, CancellationToken.None);
    watch.Stop();
    var bad = outcomes.Where(o => o.Result?.Status != QuarantineStatus.Quarantined).ToList();
    if (bad.Count > 0)
        Console.WriteLine($"  !! {bad.Count} instance(s) not quarantined, e.g. {bad[0].InstanceId}: {bad[0].Error?.Message ?? string.Join("; ", bad[0].Result!.Steps.Where(s => s.Status == StepStatus.Failed))}");
    return (watch.Elapsed, outcomes);
}

static async Task Throttled(int n)
{
    const double refillScale = 10;
    await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4, Throttling = true, ThrottleRefillScale = refillScale });
    var options = new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = 64, RateLimiter = new Ec2RateLimiter(refillScale: refillScale) };
    lab.Counters.Reset();
    var (took, _) = await Quarantine(lab, Requests(lab, n), options);
    var snap = lab.Counters.Snapshot();
    var ec2 = snap.Calls.Where(kv => kv.Key.StartsWith("ec2:", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[4..], kv => kv.Value - snap.ThrottledOf("ec2", kv.Key[4..]));
    var bound = Ec2RateLimiter.LowerBound(ec2, 1, refillScale);
    var bottleneck = ec2.OrderByDescending(kv => Ec2RateLimiter.LowerBound(new Dictionary<string, long> { [kv.Key] = kv.Value }, 1, refillScale)).First();
    Console.WriteLine($"(a) throttled, {n} instances, buckets x{refillScale} refill: wall {took.TotalSeconds:0.0} s, bucket lower bound {bound.TotalSeconds:0.0} s " +
                      $"(bottleneck {bottleneck.Key}: {bottleneck.Value} calls) -> ratio {took / bound:0.00} (target <= 1.15); throttled responses: {snap.TotalThrottled}");
}

static async Task Latency(int n)
{
    var sample = Math.Min(20, n);
    await using var serialLab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4, Faults = new FaultOptions { LatencyMs = 60 } });
    var unpaced = Ec2RateLimiter.Unlimited;
    var serialRequests = Requests(serialLab, sample);
    // One instance at a time: the same engine and session with one instance in flight (its describes still batched,
    // which flatters the baseline).
    var (serialTook, _) = await Quarantine(serialLab, serialRequests, new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = 1, RateLimiter = unpaced });
    var perInstance = serialTook / sample;

    await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4, Faults = new FaultOptions { LatencyMs = 60 } });
    var (took, _) = await Quarantine(lab, Requests(lab, n), new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = 64, RateLimiter = unpaced });
    var serialEstimate = perInstance * n;
    Console.WriteLine($"(b) 60 ms latency, {n} instances: bulk {took.TotalSeconds:0.0} s; one at a time {perInstance.TotalMilliseconds:0} ms/instance " +
                      $"(measured on {sample}, x{n} = {serialEstimate.TotalSeconds:0.0} s) -> speed-up {serialEstimate / took:0.0}x (target >= 10x)");
}

static async Task Calls(int n)
{
    await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4 });
    var options = new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = 64, RateLimiter = Ec2RateLimiter.Unlimited };
    lab.Counters.Reset();
    await Quarantine(lab, Requests(lab, n), options);
    var first = lab.Counters.Snapshot();
    lab.Counters.Reset();
    await Quarantine(lab, Requests(lab, n), options);
    var rerun = lab.Counters.Snapshot();
    var enis = lab.World.Instances.Where(i => i.AccountId == lab.AccountId).Take(n).Sum(i => i.NetworkInterfaces.Count);
    Console.WriteLine($"(c) {n} instances ({enis} ENIs): {first.TotalCalls / (double)n:0.0} calls/instance ({first.TotalMutating / (double)n:0.0} mutating); " +
                      $"re-run: {rerun.TotalCalls / (double)n:0.0} calls/instance, {rerun.TotalMutating} mutating (target 0)");
    foreach (var (action, count) in first.Calls.OrderByDescending(kv => kv.Value)) Console.WriteLine($"      {action,-50} {count,6}");
}

static async Task Faults(int n)
{
    await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4, Faults = new FaultOptions { ErrorRate = 0.2, LatencyMs = 3, Seed = 5, Services = new[] { "ec2" } } });
    var (took, _) = await Quarantine(lab, Requests(lab, n), new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = 32, RateLimiter = Ec2RateLimiter.Unlimited });
    Console.WriteLine($"faults 20%, {n} instances: {took.TotalSeconds:0.0} s, faults injected {lab.Counters.Snapshot().Faults.Values.Sum()}");
}
