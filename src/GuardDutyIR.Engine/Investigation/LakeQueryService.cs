using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Engine.Findings;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// The runners of a CloudTrail query on Lake, Athena, local files, trail logs in S3 and LookupEvents, each streaming its
/// rows (which one runs is <see cref="InvestigationService"/>'s choice). For the two services: adaptive status polling
/// with progress, every result page read, and a cancelled or timed-out query cancelled on the service too.
/// </summary>
public sealed class LakeQueryService(AwsSession session)
{
    /// <summary>How long the service gets to acknowledge a cancellation after the user's own token has fired.</summary>
    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(10);

    /// <summary>A query over local trail files: no AWS session, credentials or region are involved.</summary>
    public static IAsyncEnumerable<QueryRow> RunLocalAsync(LakeQueryRequest request, Action<QueryNotice> notice, CancellationToken cancellationToken = default) =>
        WithTimeout(request, token => LocalTrailEngine.RunAsync(request.Sql, request.Paths, request.Raw, notice, token), cancellationToken);

    /// <summary>Runs the query under the request's timeout; the timeout firing (rather than the caller's token) is QueryTimedOut.</summary>
    internal static async IAsyncEnumerable<QueryRow> WithTimeout(LakeQueryRequest request, Func<CancellationToken, IAsyncEnumerable<QueryRow>> run,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var timeout = request.Timeout is { } t ? new CancellationTokenSource(t) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked.Token;
        IAsyncEnumerator<QueryRow> enumerator;
        try
        {
            enumerator = run(token).GetAsyncEnumerator(token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(request);
        }
        await using (enumerator)
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await enumerator.MoveNextAsync().ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw TimedOut(request);
                }
                if (!more) yield break;
                yield return enumerator.Current;
            }
        }
    }

    private static GuardDutyIRException TimedOut(LakeQueryRequest request) =>
        new("QueryTimedOut", ErrorKind.OperationTimeout, $"The query did not finish within {request.Timeout!.Value.TotalSeconds:0.#} s; it was cancelled.", request.Sql);

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

    internal async IAsyncEnumerable<QueryRow> RunLakeAsync(string region, LakeQueryRequest request, Action<QueryProgress> progress,
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
        catch (Exception e) when (e is OperationCanceledException || cancellationToken.IsCancellationRequested)
        {
            // A stop that lands while a poll's answer is being read can surface as a transport error instead of a
            // cancellation; whatever its shape, the query must not go on running (and scanning) on the service, and
            // the caller sees a stop, not an error.
            await CancelOnServiceAsync(ct => client.CancelQueryAsync(queryId, ct)).ConfigureAwait(false);
            if (e is OperationCanceledException) throw;
            throw new OperationCanceledException($"CloudTrail Lake query {queryId} was stopped.", e, cancellationToken);
        }

        long rows = 0;
        var typing = new LakeRowTyping(request.Raw);
        // Times are read as times straight from the page's bytes (no string made for them first), unless -Raw.
        TypedCell? times = request.Raw ? null : ValueTyping.LakeTime;
        await foreach (var page in ReadAheadAsync((token, ct) => client.GetQueryResultsBodyAsync(queryId, token, request.PageSize, ct), PageTokens.Find,
            body => CloudTrailClient.ReadResultPage(body, times), p => p.NextToken, cancellationToken).ConfigureAwait(false))
        {
            foreach (var row in page.Rows)
            {
                rows++;
                yield return typing.Row(row);
            }
            progress(new QueryProgress("FINISHED", TimeSpan.Zero, null, rows, "reading results"));
        }
    }

    /// <summary>
    /// Result pages in order, the next one requested as soon as its token is known, so the service answers it while
    /// the caller turns this one into objects. Stopping early (Select-Object -First, Ctrl+C) cancels the page in flight.
    /// </summary>
    internal static IAsyncEnumerable<TPage> ReadAheadAsync<TPage>(Func<string?, CancellationToken, Task<TPage>> getPage, Func<TPage, string?> nextToken,
        CancellationToken cancellationToken) =>
        ReadAheadAsync(getPage, nextToken, page => page, nextToken, cancellationToken);

    /// <summary>
    /// Result pages in order, fetched as answers and read into pages here. The next one is requested before this one
    /// is read when <paramref name="earlyToken"/> finds its token in the answer as it came (for a page of a thousand
    /// rows, reading it takes about as long as the service takes to send the next), otherwise once the page is read;
    /// should the page's own token differ from the early one, the early request is cancelled and the right one made.
    /// </summary>
    internal static async IAsyncEnumerable<TPage> ReadAheadAsync<TAnswer, TPage>(Func<string?, CancellationToken, Task<TAnswer>> getAnswer,
        Func<TAnswer, string?> earlyToken, Func<TAnswer, TPage> read, Func<TPage, string?> nextToken, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<TAnswer>? pending = getAnswer(null, stop.Token);
        CancellationTokenSource? early = null;
        try
        {
            while (pending is not null)
            {
                var answer = await pending.ConfigureAwait(false);
                early?.Dispose();
                early = null;
                var asked = NullIfEmpty(earlyToken(answer));
                if (asked is not null)
                {
                    early = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                    pending = getAnswer(asked, early.Token);
                }
                else pending = null;
                var page = read(answer);
                var next = NullIfEmpty(nextToken(page));
                if (next != asked)
                {
                    if (pending is not null)
                    {
                        early!.Cancel();
                        // Asked for on a token that was not the page's: whatever it brings is not wanted.
                        try { await pending.ConfigureAwait(false); }
                        catch (Exception) { }
                    }
                    pending = next is null ? null : getAnswer(next, stop.Token);
                }
                yield return page;
            }
        }
        finally
        {
            if (pending is not null)
            {
                stop.Cancel();
                try { await pending.ConfigureAwait(false); }
                catch (Exception e) when (e is OperationCanceledException or GuardDutyIRException) { }
            }
            early?.Dispose();
        }
    }

    private static string? NullIfEmpty(string? token) => string.IsNullOrEmpty(token) ? null : token;

    private static GuardDutyIRException LakeFailed(string queryId, string status, JsonObject describe) =>
        new(status == "TIMED_OUT" ? "QueryTimedOutOnService" : status == "CANCELLED" ? "QueryCancelled" : "QueryFailed",
            status == "TIMED_OUT" ? ErrorKind.OperationTimeout : ErrorKind.InvalidOperation,
            $"CloudTrail Lake query {queryId} {status}: {FindingParser.String(describe["ErrorMessage"]) ?? "no message"}", queryId);

    // ---- Athena ----------------------------------------------------------------------------------------------------

    internal async IAsyncEnumerable<QueryRow> RunAthenaAsync(string region, LakeQueryRequest request, Action<QueryProgress> progress,
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
        catch (Exception e) when (e is OperationCanceledException || cancellationToken.IsCancellationRequested)
        {
            await CancelOnServiceAsync(ct => client.StopQueryExecutionAsync(executionId, ct)).ConfigureAwait(false);
            if (e is OperationCanceledException) throw;
            throw new OperationCanceledException($"Athena query {executionId} was stopped.", e, cancellationToken);
        }

        long rows = 0;
        var typing = new AthenaRowTyping(request.Raw);
        await foreach (var page in ReadAheadAsync((token, ct) => client.GetQueryResultsBodyAsync(executionId, token, request.PageSize, ct), PageTokens.Find,
            AthenaClient.ReadResultPage, p => p.NextToken, cancellationToken).ConfigureAwait(false))
        {
            typing.Page(page.Columns);
            foreach (var cells in page.Rows)
            {
                if (typing.Row(cells) is not { } row) continue;
                rows++;
                yield return row;
            }
            progress(new QueryProgress("SUCCEEDED", TimeSpan.Zero, null, rows, "reading results"));
        }
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

    internal async IAsyncEnumerable<QueryRow> RunS3Async(string? region, LakeQueryRequest request, Action<QueryProgress> progress, Action<QueryNotice> notice,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var files = await DownloadTrailLogsAsync(region, request, progress, notice, cancellationToken).ConfigureAwait(false);
        await foreach (var row in LocalTrailEngine.RunAsync(request.Sql, files, request.Raw, notice, cancellationToken).ConfigureAwait(false))
            yield return row;
    }

    /// <summary>
    /// Downloads the trail logs under s3://bucket/prefix into the cache (files already there with the same size are
    /// kept). When the prefix reaches a region folder of the AWSLogs layout and a time window is given, only the
    /// day folders of that window are listed. The bucket's own region is found first, so no region needs to be set.
    /// An object whose key cannot be a file inside the cache is skipped with a TrailObjectSkipped notice.
    /// </summary>
    /// <param name="region">The region to ask first (null: us-east-1).</param>
    public async Task<IReadOnlyList<string>> DownloadTrailLogsAsync(string? region, LakeQueryRequest request, Action<QueryProgress> progress,
        Action<QueryNotice> notice, CancellationToken cancellationToken)
    {
        var (bucket, prefix) = ParseS3Uri(request.S3Uri!);
        var cache = request.CacheDirectory is { } given ? ValidateCacheDirectory(given) : WorkFolders.Get("s3-cache", notice);
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var s3 = session.S3(await BucketRegionAsync(bucket, region, cancellationToken).ConfigureAwait(false));
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
                    var local = S3CachePaths.LocalPath(cache, bucket, o.Key, out var why);
                    if (local is null)
                    {
                        notice(new QueryNotice("TrailObjectSkipped", $"Skipped s3://{bucket}/{S3CachePaths.Printable(o.Key)}: {why}", $"s3://{bucket}/{o.Key}"));
                        continue;
                    }
                    if (!File.Exists(local) || new FileInfo(local).Length != o.Size)
                        await DownloadAsync(s3, bucket, o.Key, cache, local, cancellationToken).ConfigureAwait(false);
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

    // Written to a name of its own (never an existing file, which could be a link) and renamed into place, so a
    // half-written download is never taken for a cached one.
    private static async Task DownloadAsync(IAmazonS3 s3, string bucket, string key, string cache, string local, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(local)!);
        S3CachePaths.CheckNoLinks(cache, Path.GetDirectoryName(local)!);
        var partial = Path.Combine(Path.GetDirectoryName(local)!, "." + Guid.NewGuid().ToString("N") + ".part");
        try
        {
            await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                await S3ObjectReader.CopyToAsync(s3, bucket, key, file, cancellationToken).ConfigureAwait(false);
            File.Move(partial, local, overwrite: true);
        }
        finally
        {
            if (File.Exists(partial)) File.Delete(partial);
        }
    }

    /// <summary>
    /// The bucket's region, from S3 HeadBucket's x-amz-bucket-region header, asked in the given region or, with none,
    /// in us-east-1 as the AWS CLI does; S3 names the bucket's region in that header even when it refuses a request
    /// signed for another region (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html).
    /// </summary>
    private async Task<string> BucketRegionAsync(string bucket, string? region, CancellationToken cancellationToken)
    {
        var start = string.IsNullOrEmpty(region) ? "us-east-1" : region;
        try
        {
            var head = await session.S3(start).HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }, cancellationToken).ConfigureAwait(false);
            return string.IsNullOrEmpty(head.BucketRegion) ? start : head.BucketRegion;
        }
        catch (AmazonServiceException e)
        {
            if ((e.InnerException as Amazon.Runtime.Internal.HttpErrorResponseException)?.Response?.GetHeaderValue("x-amz-bucket-region") is { Length: > 0 } named)
                return named;
            throw AwsErrors.Translate(e, "S3", "HeadBucket", $"s3://{bucket}");
        }
    }

    /// <summary>
    /// The s3://bucket/prefix of a URI, checked before anything runs: the bucket must be a bucket name (it becomes a
    /// folder of the cache), the prefix anything.
    /// </summary>
    public static (string Bucket, string Prefix) ParseS3Uri(string uri)
    {
        if (!uri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            throw InvalidS3Uri(uri, "it does not start with s3://");
        var rest = uri[5..];
        var slash = rest.IndexOf('/');
        var (bucket, prefix) = slash < 0 ? (rest, "") : (rest[..slash], rest[(slash + 1)..]);
        if (!IsBucketName(bucket))
            throw InvalidS3Uri(uri, bucket.Length == 0 ? "it names no bucket" : $"'{S3CachePaths.Printable(bucket)}' is not a bucket name");
        return (bucket, prefix);
    }

    private static GuardDutyIRException InvalidS3Uri(string uri, string why) =>
        new("InvalidS3Uri", ErrorKind.InvalidArgument, $"'{S3CachePaths.Printable(uri)}' is not an s3://bucket/prefix URI: {why}.", uri);

    // S3's bucket naming rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html), widened
    // to the legacy us-east-1 names (up to 255 characters, capitals and underscores) so old trail buckets still work.
    private static bool IsBucketName(string name) =>
        name.Length is >= 3 and <= 255 && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1])
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_') && !name.Contains("..", StringComparison.Ordinal);

    /// <summary>
    /// The full path of -CacheDirectory, refused when it (or a folder it would be created in) is a file, before any
    /// call is made.
    /// </summary>
    public static string ValidateCacheDirectory(string path)
    {
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new GuardDutyIRException("InvalidCacheDirectory", ErrorKind.InvalidArgument, $"-CacheDirectory '{path}' is not a valid path: {e.Message}", path);
        }
        for (var p = full; !string.IsNullOrEmpty(p); p = Path.GetDirectoryName(p))
        {
            if (Directory.Exists(p)) break;
            if (File.Exists(p))
                throw new GuardDutyIRException("InvalidCacheDirectory", ErrorKind.InvalidArgument,
                    p == full ? $"-CacheDirectory '{path}' is a file, not a folder." : $"-CacheDirectory '{path}' cannot be created: '{p}' is a file.", path);
        }
        return full;
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
