using System.Diagnostics;
using System.IO.Compression;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Text.Json;
using DuckDB.NET.Data;

// dotnet run -c Release --project bench/GuardDutyIR.Bench.LakeQuery [-- <events> <eventsPerFile> [rounds] [--declared]]
// Generates the logs once (kept in a temp folder between runs), then times the readers on the same files in rounds:
// each round runs every reader once, so a burst of load from other work on the machine falls on all of them alike, and
// the ratios are taken from the same run (the best round of each reader, and each round's own ratios).
var events = args.Length > 0 ? int.Parse(args[0]) : 2_000_000;
var perFile = args.Length > 1 ? int.Parse(args[1]) : 10_000;
var rounds = args.Length > 2 && int.TryParse(args[2], out var r) ? r : 3;
var declared = args.Contains("--declared");
var dir = Path.Combine(Path.GetTempPath(), $"gdir-bench-trail-{events}-{perFile}");
Generate(dir, events, perFile);
var files = Directory.GetFiles(dir, "*.json.gz", SearchOption.AllDirectories);
Console.WriteLine($"{files.Length} files, {events:N0} events, {files.Sum(f => new FileInfo(f).Length) / 1048576.0:0.0} MB gzip in {dir}; " +
                  $"{Environment.ProcessorCount} cores, load average {LoadAverage()}");

const string WorkshopQuery1 = """
    select useridentity.principalid, eventsource, eventname, count(*) as total
    from EDS_ID
    where useridentity.principalid like '%:i-%'
    and eventsource = 's3.amazonaws.com'
    and eventname = 'ListBuckets'
    group by useridentity.principalid, eventsource, eventname
    order by total desc
    """;

// DuckDB on its own: auto-detected schema, the way a DuckDB user reads trail logs.
List<(string, long)> DuckDirect(bool declaredColumns)
{
    using var c = new DuckDBConnection("DataSource=:memory:");
    c.Open();
    using var cmd = c.CreateCommand();
    var columns = declaredColumns ? ", columns = {Records: 'STRUCT(userIdentity STRUCT(principalId VARCHAR), eventSource VARCHAR, eventName VARCHAR)[]'}" : "";
    cmd.CommandText = $"""
        select r.userIdentity.principalId as principalid, r.eventSource, r.eventName, count(*) as total
        from (select unnest(Records) as r from read_json('{dir}/**/*.json.gz', format = 'auto', maximum_object_size = 1073741824{columns}))
        where r.userIdentity.principalId like '%:i-%' and r.eventSource = 's3.amazonaws.com' and r.eventName = 'ListBuckets'
        group by all order by total desc
        """;
    using var reader = cmd.ExecuteReader();
    var rows = new List<(string, long)>();
    while (reader.Read()) rows.Add((reader.GetString(0), reader.GetInt64(3)));
    return rows;
}

// A plain scan: System.Text.Json over every file, as a script without a query engine would do it.
List<(string, long)> PlainScan()
{
    var counts = new Dictionary<string, long>();
    foreach (var file in files)
    {
        using var stream = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
        using var doc = JsonDocument.Parse(stream);
        foreach (var r in doc.RootElement.GetProperty("Records").EnumerateArray())
        {
            if (!r.TryGetProperty("userIdentity", out var id) || !id.TryGetProperty("principalId", out var p)) continue;
            var principal = p.GetString() ?? "";
            if (!principal.Contains(":i-") || r.GetProperty("eventSource").GetString() != "s3.amazonaws.com" || r.GetProperty("eventName").GetString() != "ListBuckets") continue;
            counts[principal] = counts.GetValueOrDefault(principal) + 1;
        }
    }
    return counts.OrderByDescending(c => c.Value).Select(c => (c.Key, c.Value)).ToList();
}

// The module: Invoke-LakeQuery -Path in a hosted PowerShell 7.6 with the built module imported.
var layout = typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ModuleLayoutDir").Value!;
using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
runspace.Open();
using (var import = PowerShell.Create()) { import.Runspace = runspace; import.AddCommand("Import-Module").AddArgument(Path.Combine(layout, "GuardDutyIR.psd1")).Invoke(); }
List<(string, long)> RunModule()
{
    using var ps = PowerShell.Create();
    ps.Runspace = runspace;
    ps.AddCommand("Invoke-LakeQuery").AddParameter("Query", WorkshopQuery1).AddParameter("Path", dir).AddParameter("Region", "us-east-1")
        .AddParameter("Credential", new System.Collections.Hashtable { ["AccessKey"] = "AKIDBENCH", ["SecretKey"] = "unused" });
    var output = ps.Invoke();
    if (ps.HadErrors) throw new InvalidOperationException(string.Join("; ", ps.Streams.Error));
    return output.Select(o => ((string)o.Properties["principalid"].Value, (long)o.Properties["total"].Value)).ToList();
}

// The module keeps the parsed fields of a file set for the next queries of an investigation: the first query (parse +
// load) runs on an empty cache, the next ones on the cache it left.
// Where the module keeps it: the user's cache folder (the XDG rule on Unix, local application data on Windows).
var cacheFolder = OperatingSystem.IsWindows()
    ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "GuardDutyIR", "trail-cache")
    : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg) ? xdg
        : Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? Path.GetTempPath(), ".cache"), "GuardDutyIR", "trail-cache");
List<(string, long)> FirstQuery()
{
    if (Directory.Exists(cacheFolder)) Directory.Delete(cacheFolder, true);
    return RunModule();
}
List<(string, long)> NextQueries()
{
    List<(string, long)> result = new();
    for (var i = 0; i < 5; i++) result = RunModule();
    return result;
}

// Warm-up of every reader (JIT, the file cache), the module first so that its peak working set is its own.
var readers = new List<(string Name, Func<List<(string, long)>> Run, int Repeat)>
{
    ("Invoke-LakeQuery -Path, first query (parses)", FirstQuery, 1),
    ("Invoke-LakeQuery -Path, next queries (cached)", NextQueries, 5),
    ("System.Text.Json scan", PlainScan, 1),
    ("DuckDB read_json directly", () => DuckDirect(false), 1),
};
if (declared) readers.Add(("DuckDB read_json, declared columns", () => DuckDirect(true), 1));
var answers = new Dictionary<string, List<(string, long)>>();
foreach (var (name, run, _) in readers)
{
    answers[name] = run();
    if (name.StartsWith("Invoke-LakeQuery -Path, next")) ModulePeak.Bytes = Process.GetCurrentProcess().PeakWorkingSet64;
}
var times = readers.ToDictionary(x => x.Name, _ => new List<double>());
// CPU time (all threads) says how much work each reader does, apart from how the other work on the machine shares the cores.
var cpu = readers.ToDictionary(x => x.Name, _ => new List<double>());
for (var round = 1; round <= rounds; round++)
{
    foreach (var (name, run, repeat) in readers)
    {
        GC.Collect();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        answers[name] = run();
        times[name].Add(watch.Elapsed.TotalSeconds / repeat);
        cpu[name].Add((Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds / repeat);
    }
    double T(int i) => times[readers[i].Name][round - 1];
    Console.WriteLine($"round {round}: first {T(0):0.000} s, next {T(1):0.000} s, scan {T(2):0.000} s, read_json {T(3):0.000} s; " +
                      $"first/scan {T(0) / T(2):0.00}x, first/read_json {T(0) / T(3):0.00}x, scan/next {T(2) / T(1):0.0}x (load average {LoadAverage()})");
}

static List<(string, long)> Sorted(List<(string, long)> r) => r.OrderBy(x => x.Item1, StringComparer.Ordinal).ToList();
var reference = Sorted(answers["System.Text.Json scan"]);
foreach (var (name, answer) in answers)
    if (!Sorted(answer).SequenceEqual(reference))
        throw new InvalidOperationException($"{name} disagrees with the plain scan: {string.Join(", ", Sorted(answer).Take(4))} ({answer.Count} rows)");
Console.WriteLine($"answers agree: {reference.Count} principals, top {answers["System.Text.Json scan"][0].Item1} = {answers["System.Text.Json scan"][0].Item2}");

Console.WriteLine();
foreach (var (name, _, repeat) in readers)
    Console.WriteLine($"{name,-45} best of {rounds}: {times[name].Min():0.000} s{(repeat > 1 ? " per query" : "")}   (rounds: {string.Join(", ", times[name].Select(t => t.ToString("0.000")))}; " +
                      $"CPU s: {string.Join(", ", cpu[name].Select(t => t.ToString("0.000")))})");
var first = times[readers[0].Name].Min();
var next = times[readers[1].Name].Min();
var scan = times[readers[2].Name].Min();
var duck = times[readers[3].Name].Min();
static string Verdict(bool ok) => ok ? "met" : "NOT met";
Console.WriteLine($"first query / plain scan:        {first / scan:0.00}x  (target <= 1.25x: {Verdict(first / scan <= 1.25)})");
Console.WriteLine($"first query / DuckDB read_json:  {first / duck:0.00}x  (target <= 1.00x: {Verdict(first / duck <= 1.0)})");
Console.WriteLine($"plain scan / next query:         {scan / next:0.0}x  (target >= 10x: {Verdict(scan / next >= 10)})");
Console.WriteLine($"peak working set, module only:   {ModulePeak.Bytes / 1048576.0:0} MiB  (target < 2048 MiB: {Verdict(ModulePeak.Bytes < 2048L << 20)}); " +
                  $"whole process with the baselines: {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:0} MiB");
static string Pass(bool ok) => ok ? "pass" : "fail";
Console.WriteLine(FormattableString.Invariant($"BENCH|local query, first (parses {events} events) vs plain scan|System.Text.Json scan {scan:0.000} s|{first / scan:0.00}|<= 1.25|{Pass(first / scan <= 1.25)}"));
Console.WriteLine(FormattableString.Invariant($"BENCH|local query, first vs DuckDB read_json|read_json {duck:0.000} s|{first / duck:0.00}|<= 1.00|{Pass(first / duck <= 1.0)}"));
Console.WriteLine(FormattableString.Invariant($"BENCH|local query, next queries (cached) vs plain scan|System.Text.Json scan {scan:0.000} s|{scan / next:0.0}x faster|>= 10x|{Pass(scan / next >= 10)}"));
Console.WriteLine(FormattableString.Invariant($"BENCH|local query, peak working set (module)|-|{ModulePeak.Bytes / 1048576.0:0} MiB|< 2048 MiB|{Pass(ModulePeak.Bytes < 2048L << 20)}"));
return 0;

static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";

static void Generate(string dir, int events, int perFile)
{
    if (Directory.Exists(dir) && Directory.GetFiles(dir, "*.json.gz", SearchOption.AllDirectories).Length == (events + perFile - 1) / perFile) return;
    if (Directory.Exists(dir)) Directory.Delete(dir, true);
    var random = new Random(42);
    var sources = new[] { ("s3.amazonaws.com", "ListBuckets"), ("s3.amazonaws.com", "PutObject"), ("ec2.amazonaws.com", "DescribeInstances"), ("sts.amazonaws.com", "GetCallerIdentity"), ("iam.amazonaws.com", "ListRoles") };
    var principals = Enumerable.Range(0, 50).Select(i => i % 5 == 0 ? $"AIDAUSER{i:D4}" : $"AROAROLE{i:D4}:i-{i:x17}").ToArray();
    var written = 0;
    for (var f = 0; written < events; f++)
    {
        var day = new DateTime(2026, 11, 1).AddDays(f % 14);
        var path = Path.Combine(dir, $"AWSLogs/123456789012/CloudTrail/us-east-1/{day:yyyy/MM/dd}/123456789012_CloudTrail_us-east-1_{day:yyyyMMdd}T0000Z_{f:D6}.json.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        using var json = new Utf8JsonWriter(gz);
        json.WriteStartObject();
        json.WriteStartArray("Records");
        for (var i = 0; i < perFile && written < events; i++, written++)
        {
            var (source, name) = sources[random.Next(sources.Length)];
            var principal = principals[random.Next(principals.Length)];
            json.WriteStartObject();
            json.WriteString("eventVersion", "1.08");
            json.WriteStartObject("userIdentity");
            json.WriteString("type", principal.StartsWith("AIDA") ? "IAMUser" : "AssumedRole");
            json.WriteString("principalId", principal);
            json.WriteString("arn", $"arn:aws:sts::123456789012:assumed-role/Role/{principal.Split(':').Last()}");
            json.WriteString("accountId", "123456789012");
            json.WriteEndObject();
            json.WriteString("eventTime", day.AddSeconds(i).ToString("yyyy-MM-ddTHH:mm:ssZ"));
            json.WriteString("eventSource", source);
            json.WriteString("eventName", name);
            json.WriteString("awsRegion", "us-east-1");
            json.WriteString("sourceIPAddress", $"54.{random.Next(256)}.{random.Next(256)}.{random.Next(256)}");
            json.WriteString("userAgent", "aws-cli/2.15");
            json.WriteStartObject("requestParameters");
            json.WriteString("bucketName", "bucket" + random.Next(10));
            json.WriteEndObject();
            json.WriteString("eventID", Guid.NewGuid().ToString());
            json.WriteBoolean("readOnly", name != "PutObject");
            json.WriteString("eventType", "AwsApiCall");
            json.WriteBoolean("managementEvent", source != "s3.amazonaws.com");
            json.WriteString("recipientAccountId", "123456789012");
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
}

static class ModulePeak
{
    public static long Bytes;
}
