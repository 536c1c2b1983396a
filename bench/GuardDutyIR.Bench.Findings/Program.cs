using System.Diagnostics;
using System.Net;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Engine.Findings;
using GuardDutyIR.Lab.Core;

// dotnet run -c Release --project bench/GuardDutyIR.Bench.Findings [-- <findings> <latencyMs>]
var findings = args.Length > 0 ? int.Parse(args[0]) : 10_000;
var latency = args.Length > 1 ? int.Parse(args[1]) : 60;
Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = "Scale", Instances = 200, Vpcs = 4, Findings = findings, Seed = 7 });
lab.Faults.LatencyMs = latency;
using var session = AwsSession.Resolve(new AwsContextOptions
{
    Region = lab.Region,
    EndpointUrl = lab.Endpoint,
    Credential = new NetworkCredential(lab.AccessKeyId, lab.SecretAccessKey),
}, null);
var service = new FindingService(session);
var query = new FindingQuery { IncludeSample = true, Archived = ArchivedFilter.Include };
Console.WriteLine($"Lab: {findings:N0} findings, {latency} ms added to every call");

var sequential = await Run("one page at a time (List, Get, List, Get...)", new FindingQuery { IncludeSample = true, Archived = ArchivedFilter.Include, Pipelined = false });
var pipelined = await Run("one chain (List chain runs ahead of the Gets)", new FindingQuery { IncludeSample = true, Archived = ArchivedFilter.Include, Partitioned = false });
var partitioned = await Run("severity bands read side by side (default)", query);
if (sequential.Count != pipelined.Count || sequential.Count != partitioned.Count || !sequential.Ids.SequenceEqual(partitioned.Ids))
    throw new InvalidOperationException("The runs returned different findings or a different order.");
var ratio = sequential.Seconds / partitioned.Seconds;
Console.WriteLine($"one chain: {sequential.Seconds / pipelined.Seconds:0.00}x one page at a time");
Console.WriteLine($"bands: {ratio:0.00}x one page at a time (target >= 4x), same {partitioned.Count:N0} findings in the same order");
Console.WriteLine($"first finding written before the second page was requested: {partitioned.FirstBeforeSecondPage} (ListFindings calls when the first finding arrived: {partitioned.ListCallsAtFirst}); calls: {partitioned.Calls}");
Console.WriteLine(FormattableString.Invariant(
    $"BENCH|findings: {partitioned.Count} with {latency} ms per call, severity bands|one page at a time {sequential.Seconds:0.00} s|{ratio:0.00}x faster|>= 4x; first before page 2|{(partitioned.FirstBeforeSecondPage && ratio >= 4 ? "pass" : "fail")}"));
return partitioned.FirstBeforeSecondPage && ratio >= 4 ? 0 : 1;

async Task<(int Count, double Seconds, bool FirstBeforeSecondPage, long ListCallsAtFirst, List<string> Ids, string Calls)> Run(string name, FindingQuery q)
{
    await session.AssumeRoleIfRequestedAsync(CancellationToken.None);
    await service.ResolveDetectorAsync(lab.Region, null, CancellationToken.None);   // detector lookup outside the timing
    lab.Counters.Reset();
    var watch = Stopwatch.StartNew();
    var count = 0;
    var ids = new List<string>();
    long listCallsAtFirst = -1;
    double firstAt = 0;
    await foreach (var finding in service.GetFindingsAsync(lab.Region, q))
    {
        ids.Add(finding.Id);
        if (count++ == 0)
        {
            firstAt = watch.Elapsed.TotalSeconds;
            // Checked before control returns to the engine, which starts the next ListFindings only after this.
            listCallsAtFirst = lab.Counters.Snapshot().CallsOf("guardduty", "ListFindings");
        }
    }
    var seconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine($"{name,-48} {count,6:N0} findings in {seconds,6:0.00} s (first after {firstAt:0.000} s)");
    var counters = lab.Counters.Snapshot();
    return (count, seconds, listCallsAtFirst == 1, listCallsAtFirst, ids,
        $"{counters.CallsOf("guardduty", "ListFindings")} ListFindings, {counters.CallsOf("guardduty", "GetFindings")} GetFindings");
}
