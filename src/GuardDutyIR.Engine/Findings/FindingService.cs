using System.Runtime.CompilerServices;
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
        Task<(IReadOnlyList<string> Ids, string? NextToken)> ListPage(string? token) =>
            client.ListFindingsPageAsync(detectorId, criterion, query.SortBy, !query.Ascending, 50, token, cancellationToken);

        var pending = ListPage(null);
        var firstPage = true;
        while (pending is not null)
        {
            var (ids, nextToken) = await pending.ConfigureAwait(false);
            pending = null;
            var details = FetchAsync(client, detectorId, region, ids, cancellationToken);
            // From the second page on, the next ListFindings runs while this page's GetFindings does. The first
            // page is fetched alone, so its first finding reaches the pipeline before any second page is requested.
            if (nextToken is not null && query.Pipelined && !firstPage) pending = ListPage(nextToken);
            var batch = await details.ConfigureAwait(false);
            var yielded = false;
            foreach (var finding in batch)
            {
                if (!matches(finding)) continue;
                yield return finding;
                if (!yielded && nextToken is not null && pending is null && query.Pipelined) pending = ListPage(nextToken);
                yielded = true;
            }
            if (nextToken is not null && pending is null) pending = ListPage(nextToken);
            firstPage = false;
        }
    }

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

    private static async Task<IReadOnlyList<GdFinding>> FetchAsync(GuardDutyClient client, string detectorId, string region,
        IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var raw = await client.GetFindingsAsync(detectorId, ids, cancellationToken).ConfigureAwait(false);
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
