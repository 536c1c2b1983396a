using System.Management.Automation;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// Workshop scenario 2 against the Lab: the five workshop queries give the scenario's true answers on CloudTrail
/// Lake, on Athena, and on the trail log files in the Lab's S3 bucket through the local engine.
/// </summary>
public sealed class LakeQueryLabTests : IDisposable
{
    private readonly LabSession _s = LabSession.Start(new LabOptions { Scenario = "CloudTrailInvestigation", Seed = 33 });
    private readonly string _cache = Directory.CreateTempSubdirectory("gdir-s3cache-").FullName;

    public void Dispose()
    {
        _s.Dispose();
        Directory.Delete(_cache, recursive: true);
    }

    private CloudTrailService CloudTrail => _s.Lab.GetService<CloudTrailService>()!;
    private S3Service S3 => _s.Lab.GetService<S3Service>()!;
    private CloudTrailTruth Truth => CloudTrail.Truth!;

    public static IEnumerable<object[]> Backends() => new[] { new object[] { "Lake" }, new object[] { "Athena" }, new object[] { "S3" } };

    private string Where(string backend) => backend switch
    {
        "Lake" => $"-EventDataStore '{CloudTrail.EventDataStoreArn}'",
        "Athena" => $"-Athena -OutputLocation 's3://{S3.EvidenceBucket}/athena-results/'",
        _ => $"-S3Uri 's3://{S3.TrailBucket}/AWSLogs/' -CacheDirectory '{_cache}'",
    };

    private List<PSObject> Query(string backend, int workshopQuery)
    {
        var sql = CloudTrailTruth.WorkshopQueries[workshopQuery - 1].Replace("<INSTANCE_ID>", Truth.InstanceId);
        var result = _s.Run($"Invoke-LakeQuery -Query $args[0] {Where(backend)}", sql);
        Assert.True(result.Terminating is null && result.Errors.Count == 0,
            $"{backend} query {workshopQuery}: {result.Terminating?.Message}{string.Join("; ", result.Errors)}");
        return result.Output.ToList();
    }

    private static object? P(PSObject o, string name) =>
        o.Properties.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.Value;

    [Theory]
    [MemberData(nameof(Backends))]
    public void The_five_workshop_queries_give_the_true_answers(string backend)
    {
        var q1 = Query(backend, 1);
        Assert.Equal(Truth.InstancesThatListedBuckets.Select(t => (t.PrincipalId, t.Total)).OrderBy(x => x.PrincipalId, StringComparer.Ordinal),
            q1.Select(r => ((string)P(r, "principalid")!, (long)P(r, "total")!)).OrderBy(x => x.Item1, StringComparer.Ordinal));
        Assert.Equal(Truth.TopPrincipalId, P(q1[0], "principalid"));

        var q2 = Query(backend, 2);
        Assert.Equal(Truth.EverythingCalled.ToDictionary(t => t.EventName, t => t.Total), q2.ToDictionary(r => (string)P(r, "eventname")!, r => (long)P(r, "total")!));

        var q3 = Query(backend, 3);
        Assert.Equal(Truth.ReadOnlyCalls.Select(t => $"{t.EventSource}|{t.EventName}|{t.Total}").OrderBy(x => x, StringComparer.Ordinal),
            q3.Select(r => $"{P(r, "eventsource")}|{P(r, "eventname")}|{P(r, "total")}").OrderBy(x => x, StringComparer.Ordinal));

        var q4 = Query(backend, 4);
        Assert.Equal(Truth.PutObjects.Count, q4.Count);
        var keys = q4.Select(r => KeyOf(P(r, "requestparameters"))).OrderBy(x => x, StringComparer.Ordinal).ToList();
        Assert.Equal(Truth.PutObjects.Select(p => p.RequestParameters["key"]).OrderBy(x => x, StringComparer.Ordinal), keys);

        var q5 = Query(backend, 5);
        Assert.Equal(Truth.Summary.Select(t => $"{t.EventName}|{t.Total}|{t.EventSource}|{t.AwsRegion}").OrderBy(x => x, StringComparer.Ordinal),
            q5.Select(r => $"{P(r, "eventname")}|{P(r, "total")}|{P(r, "eventsource")}|{P(r, "awsregion")}").OrderBy(x => x, StringComparer.Ordinal));
    }

    // requestparameters arrives as Lake renders a map ({k=v, ...}), as Athena's JSON text, or as a dictionary (local).
    private static string KeyOf(object? value) => value switch
    {
        System.Collections.IDictionary d => (string)d["key"]!,
        string s when s.TrimStart().StartsWith("{\"", StringComparison.Ordinal) => System.Text.Json.JsonDocument.Parse(s).RootElement.GetProperty("key").GetString()!,
        string s => s.Trim('{', '}').Split(", ").Select(p => p.Split('=', 2)).Single(p => p[0] == "key")[1],
        _ => throw new InvalidOperationException($"requestparameters is {value?.GetType().Name ?? "null"}"),
    };

    [Theory]
    [MemberData(nameof(Backends))]
    public void The_upload_template_gives_bucket_and_key_columns_on_every_backend(string backend)
    {
        var result = _s.Run($"Invoke-LakeQuery -Template InstanceS3Uploads -Parameter @{{ InstanceId = $args[0] }} {Where(backend)}", Truth.InstanceId);
        Assert.Empty(result.Errors);
        Assert.Equal(Truth.PutObjects.Select(p => p.RequestParameters["key"]).OrderBy(x => x, StringComparer.Ordinal),
            result.Output.Select(r => (string)P(r, "key")!).OrderBy(x => x, StringComparer.Ordinal));
        Assert.All(result.Output, r => Assert.IsType<DateTime>(P(r, "eventtime")));
    }

    [Fact]
    public void Lake_results_page_through_more_than_five_thousand_rows()
    {
        CloudTrail.AddBulkEvents(6_000);
        var result = _s.Run($"@(Invoke-LakeQuery -Query 'select eventid from EDS_ID' {Where("Lake")}).Count");
        Assert.Empty(result.Errors);
        Assert.Equal(CloudTrail.Database.Count, (int)result.Output.Single().BaseObject);
        Assert.True(CloudTrail.Database.Count > 6_000);
        Assert.True(_s.Lab.Counters.Snapshot().CallsOf("cloudtrail", "GetQueryResults") >= 7);
    }

    [Fact]
    public void Ctrl_C_cancels_the_query_on_the_service_too()
    {
        // The query would run for 10 minutes on the service: only a stop that cancels the poll ends the command.
        CloudTrail.QueryDelay = TimeSpan.FromMinutes(10);
        var result = _s.Host.RunAndStopWhen($"Invoke-LakeQuery -Template InstancesListingBuckets {Where("Lake")}",
            stopWhen: () => _s.Lab.Counters.Snapshot().CallsOf("cloudtrail", "DescribeQuery") > 0);
        Assert.IsType<System.Management.Automation.PipelineStoppedException>(result.Terminating);
        Assert.Empty(result.Output);
        var query = Assert.Single(CloudTrail.Queries.All);
        Assert.Equal(TrailQueryState.Cancelled, query.State);
        Assert.True(_s.Lab.Counters.Snapshot().CallsOf("cloudtrail", "CancelQuery") == 1);
    }

    [Fact]
    public void A_timeout_cancels_the_query_and_says_so()
    {
        CloudTrail.QueryDelay = TimeSpan.FromSeconds(30);
        var result = _s.Run($"Invoke-LakeQuery -Template InstancesListingBuckets -TimeoutSec 1 {Where("Lake")}");
        var error = Assert.Single(result.Errors);
        Assert.Equal("QueryTimedOut", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.OperationTimeout, error.CategoryInfo.Category);
        Assert.Equal(TrailQueryState.Cancelled, Assert.Single(CloudTrail.Queries.All).State);
    }

    [Fact]
    public void A_failed_query_carries_the_service_message_and_progress_is_reported()
    {
        var failed = _s.Run($"Invoke-LakeQuery -Query 'select nosuchcolumn from EDS_ID' {Where("Lake")}");
        var error = Assert.Single(failed.Errors);
        Assert.Equal("QueryFailed", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("nosuchcolumn", error.Exception.Message, StringComparison.OrdinalIgnoreCase);

        CloudTrail.QueryDelay = TimeSpan.FromSeconds(1);
        var slow = _s.Run($"Invoke-LakeQuery -Template InstancesListingBuckets {Where("Lake")}");
        Assert.NotEmpty(slow.Output);
        Assert.Contains(slow.Progress, p => p.Activity == "Invoke-LakeQuery" && p.StatusDescription.StartsWith("RUNNING", StringComparison.Ordinal));
        Assert.Contains(slow.Progress, p => p.RecordType == ProgressRecordType.Completed);
    }

    [Fact]
    public void With_no_backend_InstanceActivity_falls_back_to_LookupEvents_and_says_so()
    {
        var result = _s.Run("Invoke-LakeQuery -Template InstanceActivity -InstanceId $args[0]", Truth.InstanceId);
        Assert.Empty(result.Errors);
        Assert.Contains(result.Warnings, w => w.Message.Contains("LookupEvents"));
        Assert.NotEmpty(result.Output);
        Assert.All(result.Output, r => Assert.IsType<long>(P(r, "total")));
        Assert.True(_s.Lab.Counters.Snapshot().CallsOf("cloudtrail", "LookupEvents") >= 1);
    }

    [Fact]
    public void S3_objects_whose_keys_would_leave_the_cache_are_skipped_and_nothing_is_written_outside()
    {
        var cache = Path.Combine(_cache, "inner");
        string Count(string uri)
        {
            var result = _s.Run("Invoke-LakeQuery -Query 'select count(*) as total from EDS_ID' -S3Uri $args[0] -CacheDirectory $args[1] -Raw", uri, cache);
            Assert.True(result.Terminating is null && result.Errors.Count == 0, $"{result.Terminating?.Message}{string.Join("; ", result.Errors)}");
            _warnings = result.Warnings.Select(w => w.Message).ToList();
            return (string)result.Output.Single().Properties["total"].Value;
        }
        var truth = Count($"s3://{S3.TrailBucket}");

        // Real trail content under keys that try to climb out of <cache>/<bucket>/, or cannot be file names.
        var content = S3.Store.List(S3.TrailBucket!).First(o => o.Key.EndsWith(".json.gz", StringComparison.Ordinal)).Content;
        var absolute = Path.Combine(_cache, "escape-abs.json.gz");
        var hostile = new[]
        {
            "../../escape-1.json.gz", "AWSLogs/../../../escape-2.json.gz", "a/../../../escape-3.json", "..\\..\\escape-4.json",
            absolute, "C:\\escape-5.json", "AWSLogs/CON.json", "AWSLogs/" + new string('x', 1500) + ".json",
        };
        foreach (var key in hostile)
            S3.Store.Put(S3.TrailBucket!, new S3StoredObject(key, content, "application/x-gzip", DateTimeOffset.UtcNow));

        Assert.Equal(truth, Count($"s3://{S3.TrailBucket}"));
        foreach (var key in hostile)
            Assert.Contains(_warnings, w => w.StartsWith($"Skipped s3://{S3.TrailBucket}/{key[..Math.Min(key.Length, 40)]}", StringComparison.Ordinal));
        Assert.All(Directory.EnumerateFileSystemEntries(_cache, "*", SearchOption.AllDirectories),
            entry => Assert.StartsWith(cache + Path.DirectorySeparatorChar, entry + Path.DirectorySeparatorChar));
        Assert.False(File.Exists(absolute));
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(_cache)!, "escape-*"));
    }

    private List<string> _warnings = new();

    [Theory]
    [InlineData("-S3Uri 's3:///x'", "InvalidS3Uri", "s3:///x")]
    [InlineData("-S3Uri 's3://../x'", "InvalidS3Uri", "s3://../x")]
    [InlineData("-S3Uri 's3://a'", "InvalidS3Uri", "s3://a")]
    [InlineData("-S3Uri 's3://trail/AWSLogs/' -CacheDirectory $args[0]", "InvalidCacheDirectory", "FILE")]
    [InlineData("-S3Uri 's3://trail/AWSLogs/' -CacheDirectory (Join-Path $args[0] 'sub')", "InvalidCacheDirectory", "FILE/sub")]
    public void A_bad_S3Uri_or_CacheDirectory_stops_before_any_call(string parameters, string errorId, string target)
    {
        var file = Path.Combine(_cache, "a-file");
        File.WriteAllText(file, "x");
        _s.Lab.Counters.Reset();
        var result = _s.Run($"Invoke-LakeQuery -Template InstancesListingBuckets {parameters}", file);
        Assert.NotNull(result.Terminating);
        var record = result.Terminating!.ErrorRecord;
        Assert.Equal(errorId, record.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidArgument, record.CategoryInfo.Category);
        Assert.Equal(target.Replace("FILE", file), record.TargetObject);
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalCalls);
    }

    [Fact]
    public void An_unreachable_endpoint_stops_a_pipeline_of_queries_at_the_first_and_names_the_endpoint()
    {
        // Every later query would meet the same closed port: one error, not one per piped instance.
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var endpoint = $"http://127.0.0.1:{((System.Net.IPEndPoint)probe.LocalEndpoint).Port}";
        probe.Stop();

        var result = _s.Run("'i-0123456789abcdef0', 'i-0123456789abcdef1', 'i-0123456789abcdef2' | ForEach-Object { [pscustomobject]@{ InstanceId = $_ } } | " +
                            "Invoke-LakeQuery -Template InstanceActivity -EventDataStore $args[1] -EndpointUrl $args[0]", endpoint, CloudTrail.EventDataStoreId);

        Assert.NotNull(result.Terminating);
        Assert.Empty(result.Errors);
        var error = result.SingleError();
        Assert.Equal("ConnectionError", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        Assert.Equal(endpoint, error.TargetObject);
    }

    [Fact]
    public void Event_data_stores_are_listed()
    {
        var store = _s.Run("Get-LakeEventDataStore").Output.Single();
        Assert.Equal(CloudTrail.EventDataStoreId, P(store, "EventDataStore"));
        Assert.Equal("ENABLED", P(store, "Status"));
        var byId = _s.Run("Get-LakeEventDataStore | ForEach-Object { Invoke-LakeQuery -Template InstancesListingBuckets -EventDataStore $_.EventDataStore }");
        Assert.Equal(Truth.InstancesThatListedBuckets.Count, byId.Output.Count);
    }
}
