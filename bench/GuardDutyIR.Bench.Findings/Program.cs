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
var pipelined = await Run("pipelined (List chain runs ahead of the Gets)", query);
if (sequential.Count != pipelined.Count) throw new InvalidOperationException("The two runs returned different numbers of findings.");
Console.WriteLine($"speed-up: {sequential.Seconds / pipelined.Seconds:0.00}x (target >= 1.8x)");
Console.WriteLine($"first finding written before the second page was requested: {pipelined.FirstBeforeSecondPage} (ListFindings calls when the first finding arrived: {pipelined.ListCallsAtFirst})");
return pipelined.FirstBeforeSecondPage && sequential.Seconds / pipelined.Seconds >= 1.8 ? 0 : 1;

async Task<(int Count, double Seconds, bool FirstBeforeSecondPage, long ListCallsAtFirst)> Run(string name, FindingQuery q)
{
    await session.AssumeRoleIfRequestedAsync(CancellationToken.None);
    await service.ResolveDetectorAsync(lab.Region, null, CancellationToken.None);   // detector lookup outside the timing
    lab.Counters.Reset();
    var watch = Stopwatch.StartNew();
    var count = 0;
    long listCallsAtFirst = -1;
    double firstAt = 0;
    await foreach (var _ in service.GetFindingsAsync(lab.Region, q))
    {
        if (count++ == 0)
        {
            firstAt = watch.Elapsed.TotalSeconds;
            // Checked before control returns to the engine, which starts the next ListFindings only after this.
            listCallsAtFirst = lab.Counters.Snapshot().CallsOf("guardduty", "ListFindings");
        }
    }
    var seconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine($"{name,-48} {count,6:N0} findings in {seconds,6:0.00} s (first after {firstAt:0.000} s)");
    return (count, seconds, listCallsAtFirst == 1, listCallsAtFirst);
}
