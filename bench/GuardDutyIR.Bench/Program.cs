using System.Diagnostics;
using System.Globalization;
using GuardDutyIR;
using GuardDutyIR.Engine.Cases;
using GuardDutyIR.Engine.Containment;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;

// (a) throttled: 300 instances with the Lab's EC2 buckets on; wall time against the lower bound the buckets allow for
//     the calls actually made (target <= 1.15x). Refill rates are scaled x10 on both sides so the run takes ~30 s, not ~5 min.
// (b) latency: the same 300 with 60 ms per call and no throttling, against one instance at a time (target >= 10x),
//     and against the bound that the calls, the latency and 16, 32 and 64 instances in flight allow (target <= 1.15x);
//     the serial baseline is measured on a sample and scaled per instance (said in the output).
// (c) calls: calls per instance, and the mutating calls of a re-run (target 0).
// (d) journal: the same bulk quarantine with every outcome journaled to a case as it arrives (what
//     Set-InstanceQuarantine does under a case: the full result, request IDs, hash chain, signed head, fsync), against
//     the same run without a case; plus the time to verify the journal.
// cpu (diagnostic, no target): the CPU the process spends per instance with no latency. BENCH_TRACE=1 with latency:
//     the timeline of a third bulk run.
var which = args.FirstOrDefault() ?? "all";
var instances = int.Parse(Environment.GetEnvironmentVariable("BENCH_INSTANCES") ?? "300", CultureInfo.InvariantCulture);
if (which is "throttled" or "all") await Throttled(instances);
if (which is "latency" or "all") await Latency(instances);
if (which is "calls" or "all") await Calls(instances);
if (which is "journal" or "all") await Journal(instances);
if (which is "cpu") await CpuPerInstance(instances);
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
                      $"(bottleneck {bottleneck.Key}: {bottleneck.Value} calls) -> ratio {took / bound:0.00} (target <= 1.15); throttled responses: {snap.TotalThrottled}" +
                      string.Concat(snap.Throttled.Where(kv => kv.Value > 0).Select(kv => $" {kv.Key} {kv.Value}")));
    Bench($"quarantine (a): {n} instances, EC2 buckets on", $"bucket lower bound {bound.TotalSeconds:0.0} s", $"{took / bound:0.00}", "<= 1.15", took / bound <= 1.15);
}

// The line Bench.All reads: what|baseline|ratio|target|pass.
static void Bench(string what, string baseline, string ratio, string target, bool pass) =>
    Console.WriteLine(FormattableString.Invariant($"BENCH|{what}|{baseline}|{ratio}|{target}|{(pass ? "pass" : "fail")}"));

static async Task Latency(int n)
{
    // BENCH_LATENCY_MS (default 60): a larger latency shows the scheduling apart from the CPU the calls cost.
    var latency = int.Parse(Environment.GetEnvironmentVariable("BENCH_LATENCY_MS") ?? "60", CultureInfo.InvariantCulture);
    // BENCH_CONCURRENCY (default "16,32,64"): the instances in flight of the bulk runs; 16 is Set-InstanceQuarantine's
    // default -ThrottleLimit. Each gets its own row against the bound, because on a 2-core machine the process's CPU,
    // not the scheduling, sets the time of a wide run (see bench/README.md).
    var widths = (Environment.GetEnvironmentVariable("BENCH_CONCURRENCY") ?? "16,32,64").Split(',').Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToList();
    var sample = Math.Min(20, n);
    await using var serialLab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4, Faults = new FaultOptions { LatencyMs = latency } });
    var unpaced = Ec2RateLimiter.Unlimited;
    var serialRequests = Requests(serialLab, sample);
    // One instance at a time: the same engine and session with one instance in flight (its describes still batched,
    // which flatters the baseline).
    var (serialTook, serialOutcomes) = await Quarantine(serialLab, serialRequests, new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = 1, RateLimiter = unpaced });
    var perInstance = serialTook / sample;
    var serialEstimate = perInstance * n;

    foreach (var concurrency in widths)
    {
        await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4, Faults = new FaultOptions { LatencyMs = latency } });
        var (threadsBefore, contentionBefore) = (ThreadPool.ThreadCount, Monitor.LockContentionCount);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var (took, outcomes) = await Quarantine(lab, Requests(lab, n), new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = concurrency, RateLimiter = unpaced });
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var (threadsAfter, contention) = (ThreadPool.ThreadCount, Monitor.LockContentionCount - contentionBefore);
        Console.WriteLine($"(b) {latency} ms latency, {n} instances, {concurrency} in flight: bulk {took.TotalSeconds:0.0} s; one at a time {perInstance.TotalMilliseconds:0} ms/instance " +
                          $"(measured on {sample}, x{n} = {serialEstimate.TotalSeconds:0.0} s) -> speed-up {serialEstimate / took:0.0}x (target >= 10x)");
        // The bound the calls, the latency and the concurrency allow: every instance takes what it takes alone (its calls,
        // each 60 ms, in the order the engine must keep), and at most `concurrency` run at once.
        var bound = perInstance * n / concurrency;
        Console.WriteLine($"    bound {perInstance.TotalMilliseconds:0} ms x {n} / {concurrency} in flight = {bound.TotalSeconds:0.00} s -> ratio {took / bound:0.00} (target <= 1.15); " +
                          $"first to last step of an instance, median: alone {MedianSpan(serialOutcomes).TotalMilliseconds:0} ms, in the bulk run {MedianSpan(outcomes).TotalMilliseconds:0} ms; " +
                          $"CPU of this process (the Lab and the engine) during the bulk run {cpu.TotalSeconds:0.0} s = {cpu / took:0.00} of {Environment.ProcessorCount} cores; " +
                          $"thread pool {threadsBefore} threads before, {threadsAfter} after; lock contentions {contention}");
        if (concurrency == widths.Max())
            Bench($"quarantine (b): {n} instances, {latency} ms per call", $"one at a time {serialEstimate.TotalSeconds:0.0} s (scaled from {sample})", $"{serialEstimate / took:0.0}x faster", ">= 10x", serialEstimate / took >= 10);
        if (Environment.GetEnvironmentVariable("BENCH_TRACE") == "1" && concurrency == widths.Max())
        {
            StepStarts(serialOutcomes, outcomes);
            await Trace(n, latency, concurrency);
        }
        Bench($"quarantine (b): {n} instances, {latency} ms per call, {concurrency} in flight, against the bound", $"bound {bound.TotalSeconds:0.00} s (alone x n / {concurrency})", $"{took / bound:0.00}", "<= 1.15", took / bound <= 1.15);
    }
}

// cpu: the CPU the process (the Lab and the engine) spends per quarantined instance with no latency, after a warm-up
// run, median of 5 fresh Labs: what the bulk run at 60 ms competes for on a busy machine. Diagnostic, no target.
static async Task CpuPerInstance(int n)
{
    var options = new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = 64, RateLimiter = Ec2RateLimiter.Unlimited };
    var cpus = new List<TimeSpan>();
    using var sampler = Environment.GetEnvironmentVariable("BENCH_ALLOC") == "1" ? new AllocationSampler() : null;
    for (var round = 0; round < 6; round++)
    {
        await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4 });
        lab.Counters.Reset();
        var exceptions = 0;
        EventHandler<System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs> count = (_, _) => Interlocked.Increment(ref exceptions);
        AppDomain.CurrentDomain.FirstChanceException += count;
        var (allocated, collections, contention) = (GC.GetTotalAllocatedBytes(), GC.CollectionCount(0), Monitor.LockContentionCount);
        var before = Process.GetCurrentProcess().TotalProcessorTime;
        var (took, _) = await Quarantine(lab, Requests(lab, n), options);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - before;
        AppDomain.CurrentDomain.FirstChanceException -= count;
        var calls = lab.Counters.Snapshot().TotalCalls;
        // Where CPU beyond the work itself goes: allocation (and the collections it causes), exceptions, lock contention.
        Console.WriteLine($"    round {round}{(round == 0 ? " (warm-up)" : "")}: wall {took.TotalMilliseconds:0} ms, CPU {cpu.TotalMilliseconds:0} ms = {cpu.TotalMilliseconds * 1000 / n:0} us/instance, {cpu.TotalMilliseconds * 1000 / calls:0} us/call ({calls} calls); " +
                          $"per call {(GC.GetTotalAllocatedBytes() - allocated) / calls / 1024:0} KiB allocated, {(double)exceptions / calls:0.00} exceptions; gen0 collections {GC.CollectionCount(0) - collections}, lock contentions {Monitor.LockContentionCount - contention}");
        if (round > 0) cpus.Add(cpu);
    }
    Console.WriteLine($"(cpu) {n} instances, no latency: median CPU {Median(cpus).TotalMilliseconds * 1000 / n:0} us/instance");
    sampler?.Print(25);
}

// BENCH_TRACE=1: a third Lab and bulk run after the measured ones, with its timeline (how many instances opened their
// first step, and how many outcomes arrived, per 100 ms): where the wall time above the bound goes. Diagnostic only.
static async Task Trace(int n, int latency, int concurrency)
{
    await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4, Faults = new FaultOptions { LatencyMs = latency } });
    using var session = Session(lab);
    var start = DateTime.UtcNow;
    var run = new QuarantineService(session).Start(new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = concurrency, RateLimiter = Ec2RateLimiter.Unlimited }, askApproval: false, CancellationToken.None);
    foreach (var r in Requests(lab, n)) run.Add(r);
    run.Complete();
    var rows = new List<(double First, double Arrived)>();
    await foreach (var o in run.Outcomes.ReadAllAsync())
    {
        var first = o.Result?.Steps.Min(s => s.Time) ?? DateTime.UtcNow;
        rows.Add(((first - start).TotalMilliseconds, (DateTime.UtcNow - start).TotalMilliseconds));
    }
    await run.Completion;
    Console.WriteLine($"    trace (a third run): wall {(DateTime.UtcNow - start).TotalMilliseconds:0} ms, first step opened at {rows.Min(r => r.First):0} ms; per 100 ms, first steps opened / outcomes:");
    for (var b = 0; b <= (int)(rows.Max(r => r.Arrived) / 100); b++)
        if (rows.Any(r => (int)(r.First / 100) == b || (int)(r.Arrived / 100) == b))
            Console.WriteLine($"      {b * 100,5} ms {rows.Count(r => (int)(r.First / 100) == b),4} {rows.Count(r => (int)(r.Arrived / 100) == b),4}");
}

// BENCH_TRACE=1: per step, the median time from the instance's first step to its start, alone and in the bulk run:
// where the delay builds up when 64 instances are in flight.
static void StepStarts(IReadOnlyList<QuarantineOutcome> alone, IReadOnlyList<QuarantineOutcome> bulk)
{
    static Dictionary<string, double> Starts(IReadOnlyList<QuarantineOutcome> outcomes) => outcomes
        .SelectMany(o => o.Result!.Steps.Select(s => (s.Name, Ms: (s.Time - o.Result.Steps.Min(x => x.Time)).TotalMilliseconds)))
        .GroupBy(g => g.Name).ToDictionary(g => g.Key, g => g.Select(x => x.Ms).Order().ElementAt(g.Count() / 2));
    var (a, b) = (Starts(alone), Starts(bulk));
    Console.WriteLine("    median ms from the instance's first step to each step's start, alone / in the bulk run:");
    foreach (var name in a.Keys.Union(b.Keys).OrderBy(k => a.GetValueOrDefault(k)))
        Console.WriteLine($"      {name,-28} {a.GetValueOrDefault(name),7:0} {b.GetValueOrDefault(name),7:0}");
}

static TimeSpan MedianSpan(IReadOnlyList<QuarantineOutcome> outcomes) =>
    Median(outcomes.Where(o => o.Result is { Steps.Count: > 1 }).Select(o => o.Result!.Steps.Max(s => s.Time) - o.Result.Steps.Min(s => s.Time)).ToList());

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
    Bench($"quarantine (c): re-run of {n} instances", $"first run {first.TotalCalls / (double)n:0.0} calls/instance", $"{rerun.TotalMutating} mutating calls", "0 mutating", rerun.TotalMutating == 0);
    foreach (var (action, count) in first.Calls.OrderByDescending(kv => kv.Value)) Console.WriteLine($"      {action,-50} {count,6}");
}

static async Task Faults(int n)
{
    await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4, Faults = new FaultOptions { ErrorRate = 0.2, LatencyMs = 3, Seed = 5, Services = new[] { "ec2" } } });
    var (took, _) = await Quarantine(lab, Requests(lab, n), new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = 32, RateLimiter = Ec2RateLimiter.Unlimited });
    Console.WriteLine($"faults 20%, {n} instances: {took.TotalSeconds:0.0} s, faults injected {lab.Counters.Snapshot().Faults.Values.Sum()}");
}

static async Task Journal(int n)
{
    var options = new QuarantineOptions { ConversionWait = TimeSpan.Zero, MaxConcurrency = 64, RateLimiter = Ec2RateLimiter.Unlimited };
    var folder = Directory.CreateTempSubdirectory("gdir-bench-case-").FullName;
    try
    {
        // Warm-up (JIT, first connections) on a small Lab, journaled, so neither measured run pays for it.
        await using (var warm = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = 20, Vpcs = 2, Seed = 3 }))
            await JournaledRun(warm, Requests(warm, 20), options, new CaseStore(Path.Combine(folder, "warm"), Path.Combine(folder, "keys")).Open("WARM", create: true));

        var without = new List<TimeSpan>();
        var with = new List<TimeSpan>();
        CaseHandle? last = null;
        for (var round = 0; round < 3; round++)
        {
            await using (var plain = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4, Seed = 11 }))
                without.Add((await Quarantine(plain, Requests(plain, n), options)).Took);
            await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Scale, Instances = n, Vpcs = 4, Seed = 11 });
            last = new CaseStore(Path.Combine(folder, "cases"), Path.Combine(folder, "keys")).Open($"BENCH-{round}", create: true);
            with.Add(await JournaledRun(lab, Requests(lab, n), options, last));
        }
        var a = Median(without);
        var b = Median(with);
        var bytes = new FileInfo(last!.Journal.JournalPath).Length;
        var verify = Stopwatch.StartNew();
        var check = CaseJournalVerifier.Check(last.Folder, last.KeyRoot);
        verify.Stop();
        Console.WriteLine($"(d) journal, {n} instances, median of 3: without a case {a.TotalSeconds:0.00} s, every outcome journaled {b.TotalSeconds:0.00} s " +
                          $"-> ratio {b / a:0.00} (journaled/plain); {(b - a).TotalMilliseconds / n:0.0} ms/instance more; " +
                          $"journal {bytes / 1024.0:0} KiB ({bytes / n:0} bytes/entry); verify {verify.Elapsed.TotalMilliseconds:0} ms, {(check.Valid ? "intact" : "NOT intact")}");
        Bench($"quarantine (d): {n} instances journaled to a case", $"without a case {a.TotalSeconds:0.00} s", $"{b / a:0.00}", "none stated; journal intact", check.Valid);
    }
    finally
    {
        Directory.Delete(folder, recursive: true);
    }
}

// As Set-InstanceQuarantine does under a case: outcomes journaled one by one on the consuming thread as they arrive,
// with the caller asked once.
static async Task<TimeSpan> JournaledRun(LabHost lab, List<QuarantineRequest> requests, QuarantineOptions options, CaseHandle handle)
{
    using var session = Session(lab);
    var watch = Stopwatch.StartNew();
    var caller = (await session.GetCallerIdentityAsync(lab.Region, CancellationToken.None)).Arn;
    var run = new QuarantineService(session).Start(options, askApproval: false, CancellationToken.None);
    foreach (var r in requests) run.Add(r);
    run.Complete();
    await foreach (var o in run.Outcomes.ReadAllAsync())
        handle.Journal.Append(new JournalDraft(JournalEntryKinds.Change, "Set-InstanceQuarantine", o.Result?.Status.ToString() ?? "Failed")
        {
            Target = o.InstanceId, Region = o.Region, Caller = caller, RequestIds = o.Result?.RequestIds.Distinct().ToList() ?? new List<string>(),
            Result = CaseRecords.ToJson(o.Result), Detail = o.Error?.Message,
        });
    await run.Completion;
    watch.Stop();
    return watch.Elapsed;
}

static TimeSpan Median(List<TimeSpan> values) => values.Order().ElementAt(values.Count / 2);

/// <summary>
/// BENCH_ALLOC=1 with cpu: the runtime's allocation samples (one per ~100 KB allocated, with the type that crossed it),
/// summed by type, from the runtime's own event source in this process.
/// </summary>
sealed class AllocationSampler : System.Diagnostics.Tracing.EventListener
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _bytes = new();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        // The GC keyword (0x1) at verbose level carries GCAllocationTick.
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null) return;
        var type = e.Payload![e.PayloadNames.IndexOf("TypeName")] as string ?? "?";
        var amount = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")], CultureInfo.InvariantCulture);
        _bytes.AddOrUpdate(type, amount, (_, b) => b + amount);
    }

    public void Print(int top)
    {
        var total = _bytes.Values.Sum();
        Console.WriteLine($"    allocation samples: {total / 1048576.0:0} MiB");
        foreach (var (type, bytes) in _bytes.OrderByDescending(kv => kv.Value).Take(top))
            Console.WriteLine($"      {bytes * 100.0 / total,5:0.0} %  {type}");
    }
}
