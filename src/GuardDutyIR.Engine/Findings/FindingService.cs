using System.Runtime.CompilerServices;
using System.Threading.Channels;
using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Findings;

/// <summary>
/// Lists and reads findings: server-side FindingCriteria wherever the API can filter, the rest client side, and
/// ListFindings pages overlapped with GetFindings batches so results stream while later pages load.
/// </summary>
public sealed class FindingService(AwsSession session)
{
    private readonly Dictionary<string, string> _detectorByRegion = new(StringComparer.Ordinal);

    /// <summary>The region's detector (GuardDuty allows one per account and region).</summary>
    public async Task<string> ResolveDetectorAsync(string region, string? detectorId, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(detectorId)) return detectorId;
        if (_detectorByRegion.TryGetValue(region, out var cached)) return cached;
        await foreach (var id in session.GuardDuty(region).ListDetectorsAsync(cancellationToken).ConfigureAwait(false))
        {
            _detectorByRegion[region] = id;
            return id;
        }
        throw new GuardDutyIRException("DetectorNotFound", ErrorKind.ObjectNotFound,
            $"GuardDuty has no detector in {region} for this account. Enable GuardDuty there or pass -DetectorId.", region);
    }

    public async IAsyncEnumerable<GdFinding> GetFindingsAsync(string region, FindingQuery query,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var client = session.GuardDuty(region);
        var detectorId = await ResolveDetectorAsync(region, query.DetectorId, cancellationToken).ConfigureAwait(false);

        if (query.Ids.Count > 0)
        {
            foreach (var batch in query.Ids.Distinct(StringComparer.Ordinal).Chunk(GuardDutyClient.MaxIdsPerCall))
                foreach (var finding in await FetchAsync(client, detectorId, region, batch, cancellationToken).ConfigureAwait(false))
                    yield return finding;
            yield break;
        }

        var criterion = BuildCriterion(query);
        var matches = ClientSideFilter(query);
        var pages = !query.Pipelined ? SequentialPagesAsync(client, detectorId, region, criterion, query, cancellationToken)
            : query.Partitioned && string.Equals(query.SortBy, "severity", StringComparison.Ordinal)
                ? new PartitionedFindingReader(client, detectorId, region, criterion, query).ReadAsync(cancellationToken)
                : PipelinedPagesAsync(client, detectorId, region, criterion, query, cancellationToken);
        await foreach (var batch in pages.ConfigureAwait(false))
            foreach (var finding in batch)
                if (matches(finding)) yield return finding;
    }

    /// <summary>One call after another: ListFindings, GetFindings, ListFindings... (the benchmark's baseline).</summary>
    private static async IAsyncEnumerable<IReadOnlyList<GdFinding>> SequentialPagesAsync(GuardDutyClient client, string detectorId, string region,
        JsonObject criterion, FindingQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? token = null;
        do
        {
            var (ids, next) = await client.ListFindingsPageAsync(detectorId, criterion, query.SortBy, !query.Ascending, 50, token, cancellationToken).ConfigureAwait(false);
            yield return await FetchAsync(client, detectorId, region, ids, cancellationToken).ConfigureAwait(false);
            token = next;
        } while (token is not null);
    }

    /// <summary>
    /// The ListFindings chain runs ahead on its own, starting each page's GetFindings (and its parsing) as soon as the
    /// page's IDs are known, up to <see cref="MaxPagesAhead"/> pages ahead of the pipeline; batches are handed over in
    /// order. The first page is the exception: the second ListFindings waits until the pipeline has taken the first
    /// batch, so the first finding reaches the pipeline before a second page is requested.
    /// </summary>
    private static async IAsyncEnumerable<IReadOnlyList<GdFinding>> PipelinedPagesAsync(GuardDutyClient client, string detectorId, string region,
        JsonObject criterion, FindingQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = stop.Token;
        var batches = Channel.CreateBounded<Task<IReadOnlyList<GdFinding>>>(new BoundedChannelOptions(MaxPagesAhead) { SingleReader = true, SingleWriter = true });
        var firstHandedOver = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var producer = Task.Run(async () =>
        {
            try
            {
                string? next = null;
                var first = true;
                do
                {
                    var (ids, following) = await client.ListFindingsPageAsync(detectorId, criterion, query.SortBy, !query.Ascending, 50, next, token).ConfigureAwait(false);
                    await batches.Writer.WriteAsync(FetchAsync(client, detectorId, region, ids, token), token).ConfigureAwait(false);
                    if (first && following is not null) await firstHandedOver.Task.WaitAsync(token).ConfigureAwait(false);
                    first = false;
                    next = following;
                } while (next is not null);
                batches.Writer.Complete();
            }
            catch (Exception e)
            {
                batches.Writer.Complete(e);
            }
        }, token);

        try
        {
            await foreach (var pending in batches.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                yield return await pending.ConfigureAwait(false);
                // Resumed only once the pipeline has taken the whole first batch: now the read-ahead may start.
                firstHandedOver.TrySetResult();
            }
        }
        finally
        {
            // The pipeline may stop early (Select-Object -First, Ctrl+C): stop the read-ahead too.
            stop.Cancel();
            try { await producer.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
    }

    /// <summary>How many pages the ListFindings chain may run ahead of the pipeline.</summary>
    private const int MaxPagesAhead = 4;

    /// <summary>Archives or unarchives findings, 50 per call; returns the request IDs.</summary>
    public async Task<IReadOnlyList<string>> SetArchivedAsync(string region, string? detectorId, IReadOnlyCollection<string> ids, bool archive,
        CancellationToken cancellationToken)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var detector = await ResolveDetectorAsync(region, detectorId, cancellationToken).ConfigureAwait(false);
        var requestIds = new List<string>();
        foreach (var batch in ids.Distinct(StringComparer.Ordinal).Chunk(GuardDutyClient.MaxIdsPerCall))
            if (await session.GuardDuty(region).ArchiveFindingsAsync(detector, batch, archive, cancellationToken).ConfigureAwait(false) is { } id)
                requestIds.Add(id);
        return requestIds;
    }

    /// <summary>Marks findings useful or not useful, 50 per call; returns the request IDs.</summary>
    public async Task<IReadOnlyList<string>> SetFeedbackAsync(string region, string? detectorId, IReadOnlyCollection<string> ids, bool useful, string? comments,
        CancellationToken cancellationToken)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var detector = await ResolveDetectorAsync(region, detectorId, cancellationToken).ConfigureAwait(false);
        var requestIds = new List<string>();
        foreach (var batch in ids.Distinct(StringComparer.Ordinal).Chunk(GuardDutyClient.MaxIdsPerCall))
            if (await session.GuardDuty(region).UpdateFindingsFeedbackAsync(detector, batch, useful, comments, cancellationToken).ConfigureAwait(false) is { } id)
                requestIds.Add(id);
        return requestIds;
    }

    /// <summary>CreateSampleFindings for the given types (all types when none are given).</summary>
    public async Task<string?> CreateSamplesAsync(string region, string? detectorId, IReadOnlyCollection<string> types, CancellationToken cancellationToken)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var detector = await ResolveDetectorAsync(region, detectorId, cancellationToken).ConfigureAwait(false);
        return await session.GuardDuty(region).CreateSampleFindingsAsync(detector, types, cancellationToken).ConfigureAwait(false);
    }

    internal static async Task<IReadOnlyList<GdFinding>> FetchAsync(GuardDutyClient client, string detectorId, string region,
        IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var raw = await client.GetFindingsAsync(detectorId, ids, cancellationToken).ConfigureAwait(false);
        return Parse(raw, region, ids);
    }

    /// <summary>GetFindings' findings parsed, in the order of the IDs asked for.</summary>
    internal static IReadOnlyList<GdFinding> Parse(IReadOnlyList<JsonObject> raw, string region, IReadOnlyCollection<string> ids)
    {
        var parsed = raw.Select(f => FindingParser.Parse(f, region)).ToList();
        // GetFindings does not promise the order of the IDs it was given; keep ListFindings' order.
        var order = ids.Select((id, index) => (id, index)).ToDictionary(p => p.id, p => p.index, StringComparer.Ordinal);
        return parsed.OrderBy(f => order.TryGetValue(f.Id, out var i) ? i : int.MaxValue).ToList();
    }

    /// <summary>The FindingCriteria.criterion object: everything GuardDuty can filter on itself.</summary>
    public static JsonObject BuildCriterion(FindingQuery query)
    {
        var criterion = new JsonObject();
        var exactTypes = query.Types.Where(t => !Glob.HasWildcard(t)).Distinct().ToList();
        // Exact types go to the service only when no wildcard needs the wider set.
        if (exactTypes.Count > 0 && exactTypes.Count == query.Types.Count)
            criterion["type"] = new JsonObject { ["equals"] = Strings(exactTypes) };
        if (query.MinSeverity is { } min)
            criterion["severity"] = new JsonObject { ["greaterThanOrEqual"] = (long)Math.Floor(min) };
        if (query.InstanceIds.Count > 0)
            criterion["resource.instanceDetails.instanceId"] = new JsonObject { ["equals"] = Strings(query.InstanceIds) };
        if (query.AccountIds.Count > 0)
            criterion["accountId"] = new JsonObject { ["equals"] = Strings(query.AccountIds) };
        if (query.Since is not null || query.Until is not null)
        {
            var range = new JsonObject();
            if (query.Since is { } since) range["greaterThanOrEqual"] = new DateTimeOffset(DateTime.SpecifyKind(since.ToUniversalTime(), DateTimeKind.Utc)).ToUnixTimeMilliseconds();
            if (query.Until is { } until) range["lessThanOrEqual"] = new DateTimeOffset(DateTime.SpecifyKind(until.ToUniversalTime(), DateTimeKind.Utc)).ToUnixTimeMilliseconds();
            criterion["updatedAt"] = range;
        }
        if (query.Archived != ArchivedFilter.Include)
            criterion["service.archived"] = new JsonObject { ["equals"] = Strings(new[] { query.Archived == ArchivedFilter.Only ? "true" : "false" }) };
        return criterion;
    }

    /// <summary>What the service cannot filter: wildcard types, fractional severities, sample findings.</summary>
    private static Func<GdFinding, bool> ClientSideFilter(FindingQuery query)
    {
        var patterns = query.Types.Any(Glob.HasWildcard) ? query.Types.Select(Glob.ToRegex).ToList() : null;
        return f =>
            (patterns is null || patterns.Any(p => p.IsMatch(f.Type)))
            && (query.MinSeverity is not { } min || f.Severity >= min)
            && (query.IncludeSample || !f.IsSample)
            && (query.Archived == ArchivedFilter.Include || f.Archived == (query.Archived == ArchivedFilter.Only));
    }

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)v).ToArray());
}
