using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Engine.Investigation;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.S3;

// dotnet run -c Release --project bench/GuardDutyIR.Bench.Streaming [-- <bulkEvents> <rounds>]
// dotnet run -c Release --project bench/GuardDutyIR.Bench.Streaming -- --convert [<bulkEvents> <rounds>]
// One Lab (workshop scenario plus <bulkEvents> generated events in its CloudTrail Lake store, which is also Athena's
// cloudtrail_logs table). For Lake and for Athena, in the same run and alternating:
//   objects: the engine's result stream (what Invoke-LakeQuery -EventDataStore / -Athena reads): each row parsed into a
//            QueryRow with typed values, timed from the poll that saw the query finished to the last row;
//   raw:     the same query started and polled the same way, then the same GetQueryResults calls (1,000 rows a page)
//            through the same signed transport, each body read to the end, only NextToken looked for; no conversion.
// Ratio = objects / raw paging time (target <= 1.25). First object: when it arrived, how many GetQueryResults calls
// the Lab had answered (target: at most 2: the first page, and the second the engine asks for ahead while it converts
// the first), against when the last page was fetched.
// --convert: where the objects' extra time goes, with no paging: the raw run's bodies, fetched once, read again and
// again on one thread (JsonDocument alone and a bare token scan for scale, the clients' page readers, then the rows
// typed as the engine types them), the least CPU time of <rounds> each: what the Lab's own work competes with on two cores.
var convert = args.Length > 0 && args[0] == "--convert";
if (convert) args = args[1..];
var bulk = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");

await using var lab = await LabHost.StartAsync(new LabOptions());
var cloudTrail = lab.GetService<CloudTrailService>()!;
cloudTrail.AddBulkEvents(bulk);
var store = lab.Facts["EventDataStoreId"];
var output = $"s3://{lab.GetService<S3Service>()!.EvidenceBucket}/athena-results/";
using var session = AwsSession.Resolve(new AwsContextOptions
{
    Region = lab.Region,
    EndpointUrl = lab.Endpoint,
    Credential = new NetworkCredential(lab.AccessKeyId, lab.SecretAccessKey),
}, null);

// Eight columns a responder reads, strings, a timestamp and a nested field: what a wide investigation result looks like.
const string Query = "select eventtime, eventsource, eventname, awsregion, sourceipaddress, useragent, useridentity.arn, eventid from EDS_ID";
Console.WriteLine($"Lab: {cloudTrail.Database.Count:N0} events in the Lake store (also Athena's table); query: {Query}");
Console.WriteLine($"{rounds} rounds per backend, alternating objects and raw; best of each reported (2 cores shared with other builds: noisy)");

if (convert)
{
    foreach (var backend in new[] { "Lake", "Athena" })
    {
        var raw = await RunRaw(backend);
        Console.WriteLine($"{backend}: {raw.Rows:N0} rows in {raw.Pages} pages, {raw.Bodies.Sum(b => (long)b.Length) / 1048576.0:0.0} MiB; one thread, CPU time, least of {rounds}:");
        Console.WriteLine($"  JsonDocument.Parse alone:        {Best(() => { foreach (var b in raw.Bodies) System.Text.Json.JsonDocument.Parse(b).Dispose(); return raw.Rows; }),7:0.0} ms");
        Console.WriteLine($"  Utf8JsonReader, every token:     {Best(() => { long n = 0; foreach (var b in raw.Bodies) { var r = new System.Text.Json.Utf8JsonReader(b); while (r.Read()) n++; } return n; }),7:0.0} ms");
        if (backend == "Lake")
        {
            Console.WriteLine($"  page reader (cells as text):     {Best(() => raw.Bodies.Sum(b => (long)CloudTrailClient.ReadResultPage(b).Rows.Count)),7:0.0} ms");
            Console.WriteLine($"  page reader + typed QueryRows:   {Best(() => raw.Bodies.Sum(b => { var t = new LakeRowTyping(false); return (long)CloudTrailClient.ReadResultPage(b, ValueTyping.LakeTime).Rows.Count(r => t.Row(r) is not null); })),7:0.0} ms");
        }
        else
        {
            Console.WriteLine($"  page reader (cells as text):     {Best(() => raw.Bodies.Sum(b => (long)AthenaClient.ReadResultPage(b).Rows.Count)),7:0.0} ms");
            Console.WriteLine($"  page reader + typed QueryRows:   {Best(() => { var t = new AthenaRowTyping(false); return raw.Bodies.Sum(b => { var p = AthenaClient.ReadResultPage(b); t.Page(p.Columns); return (long)p.Rows.Count(r => t.Row(r) is not null); }); }),7:0.0} ms");
        }
    }
    // The engine's row stream (a page's rows, then the request's timeout around them): two iterators a row goes through.
    var sample = new QueryRow(new[] { "a" }, new object?[] { "x" });
    async IAsyncEnumerable<QueryRow> Rows(int n)
    {
        for (var i = 0; i < n; i++) yield return sample;
        await Task.CompletedTask;
    }
    var timed = new LakeQueryRequest { Backend = QueryBackend.Lake, Sql = Query, Timeout = TimeSpan.FromHours(1) };
    Console.WriteLine($"100,000 rows through the engine's two iterators, no work: {Best(() => { long n = 0; var e = LakeQueryService.WithTimeout(timed, _ => Rows(100_000), default).GetAsyncEnumerator(); while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult()) n++; return n; }),5:0.0} ms");
    return 0;
}

// The least CPU time of <rounds> runs of work on the bodies, in ms: the process's, of which the idle Lab takes next to
// nothing; unlike wall time it does not count the waits for a core that other builds cause.
double Best(Func<long> work)
{
    work();
    var best = double.MaxValue;
    var process = Process.GetCurrentProcess();
    for (var i = 0; i < rounds; i++)
    {
        GC.Collect();
        process.Refresh();
        var before = process.TotalProcessorTime;
        // Five passes a round, as the clock behind TotalProcessorTime ticks in steps of 10 ms on Linux.
        for (var pass = 0; pass < 5; pass++) work();
        process.Refresh();
        best = Math.Min(best, (process.TotalProcessorTime - before).TotalMilliseconds / 5);
    }
    return best;
}

var results = new List<string>();
var allPass = true;
foreach (var backend in new[] { "Lake", "Athena" })
{
    Measured? bestObjects = null, bestRaw = null;
    await RunObjects(backend); await RunRaw(backend);   // warm-up: JIT, connections, the Lab's own query path
    for (var i = 0; i < rounds; i++)
    {
        GC.Collect();
        var o = await RunObjects(backend);
        GC.Collect();
        var r = await RunRaw(backend);
        if (o.Rows != r.Rows) throw new InvalidOperationException($"{backend}: objects gave {o.Rows} rows, raw {r.Rows}.");
        if (bestObjects is null || o.Paging < bestObjects.Paging) bestObjects = o;
        if (bestRaw is null || r.Paging < bestRaw.Paging) bestRaw = r;
        Console.WriteLine($"  {backend} round {i + 1}: objects {o.Paging.TotalSeconds:0.000} s (CPU {o.Cpu.TotalSeconds:0.00} s, GC {o.Gc}), raw {r.Paging.TotalSeconds:0.000} s (CPU {r.Cpu.TotalSeconds:0.00} s, GC {r.Gc})");
    }
    var ratio = bestObjects!.Paging / bestRaw!.Paging;
    var firstBeforeThird = bestObjects.PagesAtFirst <= 2;
    var firstBeforeLast = bestObjects.FirstObject < bestObjects.LastPage;
    Console.WriteLine($"{backend}: {bestObjects.Rows:N0} rows in {bestObjects.Pages} pages");
    Console.WriteLine($"  objects (engine stream, typed rows): {bestObjects.Paging.TotalSeconds:0.000} s = {bestObjects.Rows / bestObjects.Paging.TotalSeconds:N0} rows/s");
    Console.WriteLine($"  raw pages (same calls, bodies read): {bestRaw.Paging.TotalSeconds:0.000} s = {bestRaw.Rows / bestRaw.Paging.TotalSeconds:N0} rows/s");
    Console.WriteLine($"  (the raw run's {bestRaw.Pages} bodies through JsonNode.Parse alone, for scale (the engine reads them with a Utf8JsonReader, no tree): {bestRaw.TreeParse.TotalSeconds:0.000} s)");
    Console.WriteLine($"  ratio objects/raw: {ratio:0.00}x (target <= 1.25x)");
    Console.WriteLine($"  first object after {bestObjects.FirstObject.TotalMilliseconds:0} ms with {bestObjects.PagesAtFirst} GetQueryResults answered; " +
                      $"last page fetched at {bestObjects.LastPage.TotalMilliseconds:0} ms (target: first object before the third page; the second is read ahead)");
    var pass = ratio <= 1.25 && firstBeforeThird && firstBeforeLast;
    allPass &= pass;
    results.Add($"BENCH|streaming {backend.ToLowerInvariant()}: {bestObjects.Rows / 1000}k rows as objects vs raw pages|raw paging {bestRaw.Paging.TotalSeconds:0.00} s ({bestRaw.Rows / bestRaw.Paging.TotalSeconds:N0} rows/s)|" +
                $"{ratio:0.00}; first object after page {bestObjects.PagesAtFirst} of {bestObjects.Pages}|<= 1.25; first object before page 3|{(pass ? "pass" : "FAIL")}");
}
foreach (var line in results) Console.WriteLine(line);
return allPass ? 0 : 1;

async Task<Measured> RunObjects(string backend)
{
    var request = new InvestigationRequest
    {
        Query = Query,
        EventDataStore = backend == "Lake" ? store : null,
        Athena = backend == "Athena",
        AthenaOutputLocation = output,
        Region = lab.Region,
    };
    var watch = new Stopwatch();
    var cpuStart = TimeSpan.Zero;
    var gcStart = GcNow();
    var pageDone = false;
    var pages = 0;
    // The stream reports "reading results" after each page's rows; the next row then comes from a newly fetched page.
    var run = new InvestigationService(session).Start(request, p =>
    {
        if (p.RowsSoFar is null && p.State is "FINISHED" or "SUCCEEDED")
        {
            cpuStart = Cpu();
            gcStart = GcNow();
            watch.Start();   // the poll that saw it done: paging starts
        }
        else if (p.RowsSoFar is not null) pageDone = true;
    }, _ => { });
    long rows = 0, pagesAtFirst = 0;
    TimeSpan first = default, lastPage = default;
    long checksum = 0;
    lab.Counters.Reset();
    await foreach (var row in run.Rows)
    {
        if (rows++ == 0)
        {
            first = watch.Elapsed;
            // Read before control goes back to the engine, which asks for the next page only after this.
            pagesAtFirst = lab.Counters.Snapshot().CallsOf(backend == "Lake" ? "cloudtrail" : "athena", "GetQueryResults");
            lastPage = first;
            pages = 1;
        }
        else if (pageDone)
        {
            lastPage = watch.Elapsed;
            pages++;
            pageDone = false;
        }
        checksum += row.Values.Length;   // touch the row so nothing is optimized away
    }
    watch.Stop();
    var cpu = Cpu() - cpuStart;
    var gc = GcNow() - gcStart;
    // Lake leaves a null column out of its row, so a row has up to eight values, never none.
    if (checksum < rows || checksum > rows * 8) throw new InvalidOperationException($"{rows} rows with {checksum} values.");
    return new Measured(rows, pages, watch.Elapsed, first, lastPage, pagesAtFirst, default, Array.Empty<byte[]>(), cpu, gc);
}

async Task<Measured> RunRaw(string backend)
{
    var ct = CancellationToken.None;
    ServiceClientBase client;
    string id;
    string target;
    if (backend == "Lake")
    {
        var lake = session.CloudTrail(lab.Region);
        id = (await lake.StartQueryAsync(QueryTranslator.Translate(Query, QueryBackend.Lake, store, new[] { store }), ct)).QueryId;
        while ((await lake.DescribeQueryAsync(id, ct))["QueryStatus"]?.GetValue<string>() is not "FINISHED") await Task.Delay(200, ct);
        client = lake;
        target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.GetQueryResults";
    }
    else
    {
        var athena = session.Athena(lab.Region);
        // The SQL the engine sends for -Athena (its translation of the Lake dialect).
        id = (await athena.StartQueryExecutionAsync(QueryTranslator.Translate(Query, QueryBackend.Athena, "\"default\".\"cloudtrail_logs\"", new[] { "cloudtrail_logs" }),
            "default", null, null, output, ct)).QueryExecutionId;
        while ((await athena.GetQueryExecutionAsync(id, ct))["Status"]?["State"]?.GetValue<string>() is not "SUCCEEDED") await Task.Delay(200, ct);
        client = athena;
        target = "AmazonAthena.GetQueryResults";
    }
    var idMember = backend == "Lake" ? "QueryId" : "QueryExecutionId";
    var sizeMember = backend == "Lake" ? "MaxQueryResults" : "MaxResults";
    var cpuStart = Cpu();
    var gcStart = GcNow();
    var watch = Stopwatch.StartNew();
    string? next = null;
    long rows = 0;
    var pages = 0;
    var token = "\"NextToken\":"u8.ToArray();
    var bodies = new List<byte[]>();
    do
    {
        var body = new JsonObject { [idMember] = id, [sizeMember] = 1000 };
        if (next is not null) body["NextToken"] = next;
        var request = new AwsRawRequest { Operation = "GetQueryResults", Body = Encoding.UTF8.GetBytes(body.ToJsonString()), ContentType = "application/x-amz-json-1.1" };
        request.Headers["X-Amz-Target"] = target;
        var response = await client.SendAsync(request, ct);
        pages++;
        bodies.Add(response.Body);
        next = NextToken(response.Body, token);
    } while (next is not null);
    watch.Stop();
    var cpu = Cpu() - cpuStart;
    var gc = GcNow() - gcStart;
    // Where the difference goes: the same bodies parsed into the JSON tree the engine's clients return, timed alone.
    var parse = Stopwatch.StartNew();
    foreach (var b in bodies) JsonNode.Parse(b);
    parse.Stop();
    // Rows counted after the clock stopped, so the baseline does no per-row work (Athena's first row is the header).
    rows = backend == "Lake"
        ? bodies.Sum(b => (long)(JsonNode.Parse(b)!["QueryResultRows"]?.AsArray().Count ?? 0))
        : bodies.Sum(b => (long)(JsonNode.Parse(b)!["ResultSet"]?["Rows"]?.AsArray().Count ?? 0)) - 1;
    return new Measured(rows, pages, watch.Elapsed, default, default, 0, parse.Elapsed, bodies, cpu, gc);
}

static GcWork GcNow() => new(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration());

// The process's CPU time (the Lab's and the client's: both sides of every call run here), in steps of 10 ms on Linux.
static TimeSpan Cpu()
{
    using var process = Process.GetCurrentProcess();
    return process.TotalProcessorTime;
}

// The paging token is the only thing a raw pager must find in a page: the last "NextToken": member's string value.
static string? NextToken(byte[] body, byte[] member)
{
    var at = body.AsSpan().LastIndexOf(member);
    if (at < 0) return null;
    var rest = body.AsSpan(at + member.Length).TrimStart(" "u8);
    if (rest.Length == 0 || rest[0] != (byte)'"') return null;
    var end = rest[1..].IndexOf((byte)'"');
    return end <= 0 ? null : Encoding.UTF8.GetString(rest.Slice(1, end));
}

sealed record Measured(long Rows, int Pages, TimeSpan Paging, TimeSpan FirstObject, TimeSpan LastPage, long PagesAtFirst, TimeSpan TreeParse, IReadOnlyList<byte[]> Bodies, TimeSpan Cpu, GcWork Gc);

// Garbage collections (gen0/gen1/gen2) and the time they paused the process: the Lab's threads stop too.
readonly record struct GcWork(int Gen0, int Gen1, int Gen2, TimeSpan Pause)
{
    public static GcWork operator -(GcWork a, GcWork b) => new(a.Gen0 - b.Gen0, a.Gen1 - b.Gen1, a.Gen2 - b.Gen2, a.Pause - b.Pause);
    public override string ToString() => $"{Gen0}/{Gen1}/{Gen2}, paused {Pause.TotalMilliseconds:0} ms";
}
