using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.S3.Model;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Engine.Findings;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// Runs a CloudTrail query on Lake, Athena, local files or trail logs in S3, and streams its rows. For the two
/// services: adaptive status polling with progress, every result page read, and a cancelled or timed-out query
/// cancelled on the service too.
/// </summary>
public sealed class LakeQueryService(AwsSession session)
{
    /// <summary>How long the service gets to acknowledge a cancellation after the user's own token has fired.</summary>
    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(10);

    public async IAsyncEnumerable<QueryRow> RunAsync(string region, LakeQueryRequest request, Action<QueryProgress> progress, Action<QueryNotice> notice,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var timeout = request.Timeout is { } t ? new CancellationTokenSource(t) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked.Token;
        IAsyncEnumerable<QueryRow> rows = request.Backend switch
        {
            QueryBackend.Lake => RunLakeAsync(region, request, progress, token),
            QueryBackend.Athena => RunAthenaAsync(region, request, progress, token),
            _ when request.S3Uri is not null => RunS3Async(region, request, progress, notice, token),
            _ => LocalTrailEngine.RunAsync(request.Sql, LocalTrailFiles.Resolve(request.Paths), request.Raw, notice, token),
        };
        await using var enumerator = rows.GetAsyncEnumerator(token);
        while (true)
        {
            bool more;
            try
            {
                more = await enumerator.MoveNextAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new GuardDutyIRException("QueryTimedOut", ErrorKind.OperationTimeout,
                    $"The query did not finish within {request.Timeout!.Value.TotalSeconds:0.#} s; it was cancelled.", request.Sql);
            }
            if (!more) yield break;
            yield return enumerator.Current;
        }
    }

    /// <summary>The region's event data stores, with the status fields of GetEventDataStore (the list's are deprecated).</summary>
    public async IAsyncEnumerable<LakeEventDataStore> GetEventDataStoresAsync(string region, Func<string, bool> nameMatches,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var client = session.CloudTrail(region);
        await foreach (var listed in client.ListEventDataStoresAsync(cancellationToken).ConfigureAwait(false))
        {
            var name = FindingParser.String(listed["Name"]) ?? "";
            if (!nameMatches(name)) continue;
            var arn = FindingParser.String(listed["EventDataStoreArn"]) ?? "";
            var store = await client.GetEventDataStoreAsync(arn, cancellationToken).ConfigureAwait(false);
            yield return new LakeEventDataStore
            {
                Name = name,
                EventDataStore = EventDataStoreId(arn),
                EventDataStoreArn = arn,
                Status = FindingParser.String(store["Status"]),
                RetentionPeriod = store["RetentionPeriod"] is JsonValue r ? (long)r.GetValue<double>() : null,
                MultiRegionEnabled = store["MultiRegionEnabled"] is JsonValue m && m.GetValueKind() == System.Text.Json.JsonValueKind.True,
                OrganizationEnabled = store["OrganizationEnabled"] is JsonValue o && o.GetValueKind() == System.Text.Json.JsonValueKind.True,
                CreatedTimestamp = FindingParser.Time(store["CreatedTimestamp"], "CreatedTimestamp", arn),
                Region = region,
            };
        }
    }

    // ---- CloudTrail Lake -------------------------------------------------------------------------------------------

    /// <summary>The store's ID (what the FROM clause takes) from an ID or ARN.</summary>
    public static string EventDataStoreId(string idOrArn)
    {
        var slash = idOrArn.LastIndexOf('/');
        return idOrArn.StartsWith("arn:", StringComparison.Ordinal) && slash > 0 ? idOrArn[(slash + 1)..] : idOrArn;
    }

    private async IAsyncEnumerable<QueryRow> RunLakeAsync(string region, LakeQueryRequest request, Action<QueryProgress> progress,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var store = request.EventDataStore ?? throw new GuardDutyIRException("EventDataStoreRequired", ErrorKind.InvalidArgument, "A Lake query needs -EventDataStore.", null);
        var storeId = EventDataStoreId(store);
        var sql = QueryTranslator.Translate(request.Sql, QueryBackend.Lake, storeId, new[] { store, storeId });
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var client = session.CloudTrail(region);
        var (queryId, _) = await client.StartQueryAsync(sql, cancellationToken).ConfigureAwait(false);

        try
        {
            await PollAsync(request, progress, async ct =>
            {
                var d = await client.DescribeQueryAsync(queryId, ct).ConfigureAwait(false);
                var status = FindingParser.String(d["QueryStatus"]) ?? "UNKNOWN";
                var stats = d["QueryStatistics"] as JsonObject;
                long? bytes = stats?["BytesScanned"] is JsonValue b ? (long)b.GetValue<double>() : null;
                return (status, status switch { "FINISHED" => true, "FAILED" or "CANCELLED" or "TIMED_OUT" => throw LakeFailed(queryId, status, d), _ => false }, bytes);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await CancelOnServiceAsync(ct => client.CancelQueryAsync(queryId, ct)).ConfigureAwait(false);
            throw;
        }

        string? next = null;
        long rows = 0;
        do
        {
            var page = await client.GetQueryResultsPageAsync(queryId, next, request.PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var row in page["QueryResultRows"]?.AsArray() ?? new JsonArray())
            {
                // Each row is a list of one-key objects in SELECT order: [{"eventname":"PutObject"},{"total":"3"}].
                var cells = (row as JsonArray ?? new JsonArray()).OfType<JsonObject>().Select(c => c.First()).ToList();
                var columns = cells.Select(c => c.Key).ToList();
                var values = cells.Select(c => request.Raw ? (object?)FindingParser.String(c.Value) : ValueTyping.FromLake(c.Key, FindingParser.String(c.Value))).ToArray();
                rows++;
                yield return new QueryRow(columns, values);
            }
            next = FindingParser.String(page["NextToken"]);
            progress(new QueryProgress("FINISHED", TimeSpan.Zero, null, rows, "reading results"));
        } while (!string.IsNullOrEmpty(next));
    }

    private static GuardDutyIRException LakeFailed(string queryId, string status, JsonObject describe) =>
        new(status == "TIMED_OUT" ? "QueryTimedOutOnService" : status == "CANCELLED" ? "QueryCancelled" : "QueryFailed",
            status == "TIMED_OUT" ? ErrorKind.OperationTimeout : ErrorKind.InvalidOperation,
            $"CloudTrail Lake query {queryId} {status}: {FindingParser.String(describe["ErrorMessage"]) ?? "no message"}", queryId);

    // ---- Athena ----------------------------------------------------------------------------------------------------

    private async IAsyncEnumerable<QueryRow> RunAthenaAsync(string region, LakeQueryRequest request, Action<QueryProgress> progress,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var table = $"\"{request.AthenaDatabase.Replace("\"", "\"\"")}\".\"{request.AthenaTable.Replace("\"", "\"\"")}\"";
        var sql = QueryTranslator.Translate(request.Sql, QueryBackend.Athena, table, new[] { request.AthenaTable });
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var client = session.Athena(region);
        var (executionId, _) = await client.StartQueryExecutionAsync(sql, request.AthenaDatabase, request.AthenaCatalog, request.AthenaWorkGroup,
            request.AthenaOutputLocation, cancellationToken).ConfigureAwait(false);
        try
        {
            await PollAsync(request, progress, async ct =>
            {
                var e = await client.GetQueryExecutionAsync(executionId, ct).ConfigureAwait(false);
                var state = FindingParser.String(e["Status"]?["State"]) ?? "UNKNOWN";
                long? bytes = e["Statistics"]?["DataScannedInBytes"] is JsonValue b ? (long)b.GetValue<double>() : null;
                return (state, state switch
                {
                    "SUCCEEDED" => true,
                    "FAILED" or "CANCELLED" => throw new GuardDutyIRException(state == "CANCELLED" ? "QueryCancelled" : "QueryFailed", ErrorKind.InvalidOperation,
                        $"Athena query {executionId} {state}: {FindingParser.String(e["Status"]?["StateChangeReason"]) ?? "no reason given"}", executionId),
                    _ => false,
                }, bytes);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await CancelOnServiceAsync(ct => client.StopQueryExecutionAsync(executionId, ct)).ConfigureAwait(false);
            throw;
        }

        string? next = null;
        var first = true;
        long rows = 0;
        do
        {
            var page = await client.GetQueryResultsPageAsync(executionId, next, request.PageSize, cancellationToken).ConfigureAwait(false);
            var info = (page["ResultSet"]?["ResultSetMetadata"]?["ColumnInfo"] as JsonArray ?? new JsonArray()).OfType<JsonObject>()
                .Select(c => (Name: FindingParser.String(c["Name"]) ?? "", Type: FindingParser.String(c["Type"]) ?? "varchar")).ToList();
            var columns = info.Select(c => c.Name).ToList();
            foreach (var (row, index) in (page["ResultSet"]?["Rows"] as JsonArray ?? new JsonArray()).Select((r, i) => (r, i)))
            {
                var cells = (row?["Data"] as JsonArray ?? new JsonArray()).Select(d => FindingParser.String(d?["VarCharValue"])).ToList();
                // A SELECT's first result row is the header: the column names again.
                if (first && index == 0 && cells.SequenceEqual(columns)) continue;
                rows++;
                yield return new QueryRow(columns, cells.Select((v, i) => request.Raw ? v : ValueTyping.FromAthena(i < info.Count ? info[i].Name : "", i < info.Count ? info[i].Type : "varchar", v)).ToArray());
            }
            first = false;
            next = FindingParser.String(page["NextToken"]);
            progress(new QueryProgress("SUCCEEDED", TimeSpan.Zero, null, rows, "reading results"));
        } while (!string.IsNullOrEmpty(next));
    }

    // ---- shared lifecycle ------------------------------------------------------------------------------------------

    /// <summary>Polls until done: quickly at first (most Lab and small queries finish in a second), then backing off.</summary>
    private static async Task PollAsync(LakeQueryRequest request, Action<QueryProgress> progress,
        Func<CancellationToken, Task<(string State, bool Done, long? Bytes)>> poll, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var delay = request.FirstPollInterval;
        while (true)
        {
            var (state, done, bytes) = await poll(cancellationToken).ConfigureAwait(false);
            progress(new QueryProgress(state, watch.Elapsed, bytes, null));
            if (done) return;
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(request.MaxPollInterval.TotalMilliseconds, delay.TotalMilliseconds * 1.5));
        }
    }

    // The user's token has already fired, so the cancel call gets a short budget of its own; a query that finished in
    // the meantime (InactiveQueryException) needs no cancelling.
    private static async Task CancelOnServiceAsync(Func<CancellationToken, Task> cancel)
    {
        using var grace = new CancellationTokenSource(CancelGrace);
        try
        {
            await cancel(grace.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AwsServiceException or OperationCanceledException or AmazonClientException or HttpRequestException)
        {
        }
    }

    // ---- LookupEvents fallback -------------------------------------------------------------------------------------

    /// <summary>LookupEvents allows two requests per second per account and region.</summary>
    private static readonly TimeSpan LookupInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// What InstanceActivity can learn without Lake, Athena or files: LookupEvents by Username (the instance ID, the
    /// role session name of an instance profile), management events of the last 90 days only, counted by event name.
    /// </summary>
    public async IAsyncEnumerable<QueryRow> LookupInstanceActivityAsync(string region, string instanceId, DateTime? since, DateTime? until,
        Action<QueryProgress> progress, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var client = session.CloudTrail(region);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var watch = Stopwatch.StartNew();
        string? next = null;
        var last = TimeSpan.MinValue;
        do
        {
            var wait = last + LookupInterval - watch.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            last = watch.Elapsed;
            var page = await client.LookupEventsPageAsync("Username", instanceId, since, until, next, cancellationToken).ConfigureAwait(false);
            foreach (var e in (page["Events"] as JsonArray ?? new JsonArray()).OfType<JsonObject>())
            {
                var name = FindingParser.String(e["EventName"]) ?? "";
                counts[name] = counts.GetValueOrDefault(name) + 1;
            }
            next = FindingParser.String(page["NextToken"]);
            progress(new QueryProgress("LOOKUP", watch.Elapsed, null, counts.Values.Sum(), "LookupEvents"));
        } while (!string.IsNullOrEmpty(next));
        var columns = new[] { "eventname", "total" };
        foreach (var (name, total) in counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal))
            yield return new QueryRow(columns, new object?[] { name, total });
    }

    // ---- trail logs in S3 ------------------------------------------------------------------------------------------

    private async IAsyncEnumerable<QueryRow> RunS3Async(string region, LakeQueryRequest request, Action<QueryProgress> progress, Action<QueryNotice> notice,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var files = await DownloadTrailLogsAsync(region, request, progress, cancellationToken).ConfigureAwait(false);
        await foreach (var row in LocalTrailEngine.RunAsync(request.Sql, files, request.Raw, notice, cancellationToken).ConfigureAwait(false))
            yield return row;
    }

    /// <summary>
    /// Downloads the trail logs under s3://bucket/prefix into the cache (files already there with the same size are
    /// kept). When the prefix reaches a region folder of the AWSLogs layout and a time window is given, only the
    /// day folders of that window are listed.
    /// </summary>
    public async Task<IReadOnlyList<string>> DownloadTrailLogsAsync(string region, LakeQueryRequest request, Action<QueryProgress> progress,
        CancellationToken cancellationToken)
    {
        var (bucket, prefix) = ParseS3Uri(request.S3Uri!);
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var s3 = session.S3(region);
        var cache = request.CacheDirectory ?? Path.Combine(Path.GetTempPath(), "GuardDutyIR", "s3-cache");
        var files = new List<string>();
        var watch = Stopwatch.StartNew();
        foreach (var listPrefix in DayPrefixes(prefix, request.Since, request.Until))
        {
            string? token = null;
            do
            {
                ListObjectsV2Response page;
                try
                {
                    page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = listPrefix, ContinuationToken = token }, cancellationToken)
                        .ConfigureAwait(false);
                }
                catch (AmazonServiceException e)
                {
                    throw AwsErrors.Translate(e, "S3", "ListObjectsV2", $"s3://{bucket}/{listPrefix}");
                }
                foreach (var o in page.S3Objects ?? new List<S3Object>())
                {
                    if (!LocalTrailFiles.IsTrailFile(o.Key)) continue;
                    var local = Path.Combine(cache, bucket, o.Key.Replace('/', Path.DirectorySeparatorChar));
                    if (!File.Exists(local) || new FileInfo(local).Length != o.Size)
                    {
                        Directory.CreateDirectory(Path.GetDirectoryName(local)!);
                        try
                        {
                            using var response = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = o.Key }, cancellationToken).ConfigureAwait(false);
                            var partial = local + ".part";
                            await using (var file = File.Create(partial))
                                await response.ResponseStream.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                            File.Move(partial, local, overwrite: true);
                        }
                        catch (AmazonServiceException e)
                        {
                            throw AwsErrors.Translate(e, "S3", "GetObject", $"s3://{bucket}/{o.Key}");
                        }
                    }
                    files.Add(local);
                    progress(new QueryProgress("DOWNLOADING", watch.Elapsed, null, files.Count, $"s3://{bucket}/{o.Key}"));
                }
                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            } while (token is not null);
        }
        if (files.Count == 0)
            throw new GuardDutyIRException("NoTrailFiles", ErrorKind.ObjectNotFound, $"No trail log files were found under {request.S3Uri} for the time window.", request.S3Uri);
        return files;
    }

    public static (string Bucket, string Prefix) ParseS3Uri(string uri)
    {
        if (!uri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase) || uri.Length <= 5)
            throw new GuardDutyIRException("InvalidS3Uri", ErrorKind.InvalidArgument, $"'{uri}' is not an s3://bucket/prefix URI.", uri);
        var rest = uri[5..];
        var slash = rest.IndexOf('/');
        return slash < 0 ? (rest, "") : (rest[..slash], rest[(slash + 1)..]);
    }

    /// <summary>AWSLogs/&lt;account&gt;/CloudTrail/&lt;region&gt;/yyyy/MM/dd/: one prefix per day of the window, when the prefix allows it.</summary>
    public static IReadOnlyList<string> DayPrefixes(string prefix, DateTime? since, DateTime? until)
    {
        var parts = prefix.TrimEnd('/').Split('/');
        var regionLevel = parts.Length >= 4 && parts[^4] == "AWSLogs" && parts[^2] == "CloudTrail";
        if (!regionLevel || since is null) return new[] { prefix };
        var from = since.Value.ToUniversalTime().Date;
        var to = (until ?? DateTime.UtcNow).ToUniversalTime().Date;
        if ((to - from).TotalDays > 400) return new[] { prefix };
        var days = new List<string>();
        for (var d = from; d <= to; d = d.AddDays(1)) days.Add($"{prefix.TrimEnd('/')}/{d:yyyy}/{d:MM}/{d:dd}/");
        return days;
    }
}
