using System.Diagnostics;
using System.IO.Compression;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Text.Json;
using DuckDB.NET.Data;

// dotnet run -c Release --project bench/GuardDutyIR.Bench.LakeQuery [-- <events> <eventsPerFile>]
// Generates the logs once (kept in a temp folder between runs), then times the three readers on the same files.
var events = args.Length > 0 ? int.Parse(args[0]) : 2_000_000;
var perFile = args.Length > 1 ? int.Parse(args[1]) : 10_000;
var dir = Path.Combine(Path.GetTempPath(), $"gdir-bench-trail-{events}-{perFile}");
Generate(dir, events, perFile);
var files = Directory.GetFiles(dir, "*.json.gz", SearchOption.AllDirectories);
Console.WriteLine($"{files.Length} files, {events:N0} events, {files.Sum(f => new FileInfo(f).Length) / 1048576.0:0.0} MB gzip in {dir}");

const string WorkshopQuery1 = """
    select useridentity.principalid, eventsource, eventname, count(*) as total
    from EDS_ID
    where useridentity.principalid like '%:i-%'
    and eventsource = 's3.amazonaws.com'
    and eventname = 'ListBuckets'
    group by useridentity.principalid, eventsource, eventname
    order by total desc
    """;

// 1. DuckDB on its own: auto-detected schema, the way a DuckDB user reads trail logs.
var duck = Measure("DuckDB read_json directly", () =>
{
    using var c = new DuckDBConnection("DataSource=:memory:");
    c.Open();
    using var cmd = c.CreateCommand();
    cmd.CommandText = $"""
        select r.userIdentity.principalId as principalid, r.eventSource, r.eventName, count(*) as total
        from (select unnest(Records) as r from read_json('{dir}/**/*.json.gz', format = 'auto', maximum_object_size = 1073741824))
        where r.userIdentity.principalId like '%:i-%' and r.eventSource = 's3.amazonaws.com' and r.eventName = 'ListBuckets'
        group by all order by total desc
        """;
    using var reader = cmd.ExecuteReader();
    var rows = new List<(string, long)>();
    while (reader.Read()) rows.Add((reader.GetString(0), reader.GetInt64(3)));
    return rows;
});

// 1b. DuckDB with a declared schema of only the fields the query reads.
Measure("DuckDB read_json, declared columns", () =>
{
    using var c = new DuckDBConnection("DataSource=:memory:");
    c.Open();
    using var cmd = c.CreateCommand();
    cmd.CommandText = $$"""
        select r.userIdentity.principalId as principalid, r.eventSource, r.eventName, count(*) as total
        from (select unnest(Records) as r from read_json('{{dir}}/**/*.json.gz', format = 'auto', maximum_object_size = 1073741824,
              columns = {Records: 'STRUCT(userIdentity STRUCT(principalId VARCHAR), eventSource VARCHAR, eventName VARCHAR)[]'}))
        where r.userIdentity.principalId like '%:i-%' and r.eventSource = 's3.amazonaws.com' and r.eventName = 'ListBuckets'
        group by all order by total desc
        """;
    using var reader = cmd.ExecuteReader();
    var rows = new List<(string, long)>();
    while (reader.Read()) rows.Add((reader.GetString(0), reader.GetInt64(3)));
    return rows;
});

// 2. The module: Invoke-LakeQuery -Path in a hosted PowerShell 7.6 with the built module imported.
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

// The module keeps the parsed fields of a file set for the next queries of an investigation: time the first query
// (parse + build) on an empty cache, then the following ones.
// Where the module keeps it: the user's cache folder (the XDG rule on Unix, local application data on Windows).
var cacheFolder = OperatingSystem.IsWindows()
    ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "GuardDutyIR", "trail-cache")
    : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg) ? xdg
        : Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? Path.GetTempPath(), ".cache"), "GuardDutyIR", "trail-cache");
RunModule();   // JIT warm-up of the module path
if (Directory.Exists(cacheFolder)) Directory.Delete(cacheFolder, true);
GC.Collect();
var coldWatch = Stopwatch.StartNew();
RunModule();
var cold = coldWatch.Elapsed.TotalSeconds;
Console.WriteLine($"{"Invoke-LakeQuery -Path, first query (parses)",-45} once:      {cold:0.000} s");
var module = Measure("Invoke-LakeQuery -Path, next queries (cached)", RunModule);

// 3. A plain scan: System.Text.Json over every file, as a script without a query engine would do it.
var plain = Measure("System.Text.Json scan", () =>
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
});

static string Show(List<(string, long)> r) => string.Join(", ", r.OrderBy(x => x.Item1, StringComparer.Ordinal).Take(4).Select(x => $"{x.Item1}={x.Item2}")) + $" ({r.Count} rows)";
static List<(string, long)> Sorted(List<(string, long)> r) => r.OrderBy(x => x.Item1, StringComparer.Ordinal).ToList();
if (!Sorted(duck.Result).SequenceEqual(Sorted(module.Result)) || !Sorted(duck.Result).SequenceEqual(Sorted(plain.Result)))
{
    Console.WriteLine("duck:   " + Show(duck.Result));
    Console.WriteLine("module: " + Show(module.Result));
    Console.WriteLine("plain:  " + Show(plain.Result));
    throw new InvalidOperationException("The three readers disagree.");
}
Console.WriteLine($"answers agree: {module.Result.Count} principals, top {module.Result[0].Item1} = {module.Result[0].Item2}");
Console.WriteLine($"ratio module first query / DuckDB direct: {cold / duck.Seconds:0.00}x (target <= 1.30x)");
Console.WriteLine($"ratio module next queries / DuckDB direct: {module.Seconds / duck.Seconds:0.00}x");
Console.WriteLine($"speed-up module next queries vs plain scan: {plain.Seconds / module.Seconds:0.00}x (target >= 5x); first query: {plain.Seconds / cold:0.00}x");
Console.WriteLine($"peak working set of the process: {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:0} MiB (target < 2048 MiB)");
return 0;

static (List<(string, long)> Result, double Seconds) Measure(string name, Func<List<(string, long)>> run)
{
    run();   // warm-up: JIT, file cache
    var best = double.MaxValue;
    List<(string, long)> result = new();
    for (var i = 0; i < 3; i++)
    {
        GC.Collect();
        var watch = Stopwatch.StartNew();
        result = run();
        best = Math.Min(best, watch.Elapsed.TotalSeconds);
    }
    Console.WriteLine($"{name,-45} best of 3: {best:0.000} s");
    return (result, best);
}

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
