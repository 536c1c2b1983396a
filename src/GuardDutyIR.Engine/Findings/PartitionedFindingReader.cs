using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Engine.Findings;

/// <summary>
/// Reads findings ordered by severity as several ListFindings chains side by side, one per severity band, so a large
/// result is no longer bounded by one serial chain of pages.
/// <list type="number">
/// <item>The first page is read unpartitioned and handed over before anything else is requested: a result of one page
/// costs one ListFindings and one GetFindings, and the first finding arrives as early as before.</item>
/// <item>Every finding ranked above the first page's last one is on that page, so only the bands from that severity on
/// are listed, each with the caller's criterion restricted to the band, <see cref="MaxChains"/> at a time, in the
/// order of the sort, each chain starting a page's GetFindings as soon as its IDs are known.</item>
/// <item>Batches are handed over band after band, so the order is the sort order: the band being handed over streams
/// live while the next ones read ahead (at most <see cref="PagesAheadPerBand"/> pages each).</item>
/// <item>IDs already handed over are dropped (the first page's findings come again in their band; a page boundary can
/// shift when findings change during the read). A finding that changed during the read (a new one, one whose severity
/// was changed, one unarchived) has the newest updatedAt, so a last pass lists the criterion by updatedAt, newest first,
/// and hands over what was not seen, page by page until a page brings nothing new (at most
/// <see cref="MaxFinalPages"/> pages). Those findings come last, out of the severity order.</item>
/// </list>
/// </summary>
internal sealed class PartitionedFindingReader(GuardDutyClient client, string detectorId, string region, JsonObject criterion, FindingQuery query)
{
    /// <summary>
    /// ListFindings chains at once. GuardDuty's quotas page (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_limits.html)
    /// publishes no request-rate quota for ListFindings or GetFindings, and a throttled request is retried with backoff
    /// by the SDK's standard retry mode (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html);
    /// <see cref="MaxInFlight"/> requests open at most keep the read at the rate of a few console users, however many
    /// chains run. A chain has at most two requests open (its next ListFindings and the GetFindings of its last page), so
    /// one chain more than the slots can serve two at a time keeps the slots in use while a band ends and the next
    /// starts, and when the bands do not divide evenly among the chains (nine bands of equal size on four chains leave
    /// the ninth alone for a third of the read).
    /// </summary>
    internal const int MaxChains = 5;

    /// <summary>Requests open at once over all chains (ListFindings and GetFindings).</summary>
    internal const int MaxInFlight = 8;

    /// <summary>Pages a band not yet being handed over may hold (50 findings each), so memory stays bounded.</summary>
    internal const int PagesAheadPerBand = 40;

    /// <summary>Pages of the last pass for findings changed during the read.</summary>
    internal const int MaxFinalPages = 4;

    private const int PageSize = 50;

    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _inFlight = new(MaxInFlight, MaxInFlight);

    public async IAsyncEnumerable<IReadOnlyList<GdFinding>> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var descending = !query.Ascending;
        var (firstIds, next) = await ListAsync(criterion, query.SortBy, descending, null, cancellationToken).ConfigureAwait(false);
        var first = await FetchAsync(firstIds, cancellationToken).ConfigureAwait(false);
        yield return Fresh(first);
        if (next is null) yield break;

        var bands = BandsAfter(first, descending);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channels = bands.Select(_ => Channel.CreateBounded<Task<IReadOnlyList<GdFinding>>>(
            new BoundedChannelOptions(PagesAheadPerBand) { SingleReader = true, SingleWriter = true })).ToArray();
        var launcher = Task.Run(() => LaunchAsync(bands, channels, stop.Token), stop.Token);
        try
        {
            for (var i = 0; i < channels.Length; i++)
            {
                while (await NextAsync(channels[i].Reader, stop.Token).ConfigureAwait(false) is { } batch)
                    yield return Fresh(batch);
            }
        }
        finally
        {
            // The pipeline may stop early (Select-Object -First, Ctrl+C, an error): stop every chain too.
            stop.Cancel();
            try { await launcher.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }

        string? token = null;
        for (var page = 0; page < MaxFinalPages; page++)
        {
            var (ids, following) = await ListAsync(criterion, "updatedAt", true, token, cancellationToken).ConfigureAwait(false);
            var unseen = ids.Where(id => !_seen.Contains(id)).ToList();
            if (unseen.Count == 0) break;
            yield return Fresh(await FetchAsync(unseen, cancellationToken).ConfigureAwait(false));
            if ((token = following) is null) break;
        }
    }

    /// <summary>The bands still to list, in the order of the sort: those reaching from the first page's last severity on.</summary>
    private List<SeverityBand> BandsAfter(IReadOnlyList<GdFinding> first, bool descending)
    {
        var floor = query.MinSeverity is { } min ? Math.Floor(min) : double.NegativeInfinity;
        var bands = SeverityBand.All.Where(b => !b.EntirelyBelow(floor)).ToList();
        if (first.Count > 0)
        {
            var edge = first[^1].Severity;
            // Descending, everything above the edge was on the first page; ascending, everything below it.
            bands = bands.Where(b => descending ? b.From is not { } f || f <= edge : b.Below is not { } below || below > edge).ToList();
        }
        if (descending) bands.Reverse();
        return bands;
    }

    /// <summary>Starts the chains in band order, <see cref="MaxChains"/> at a time; the band being handed over always holds a slot.</summary>
    private async Task LaunchAsync(IReadOnlyList<SeverityBand> bands, Channel<Task<IReadOnlyList<GdFinding>>>[] channels, CancellationToken token)
    {
        using var slots = new SemaphoreSlim(MaxChains, MaxChains);
        var chains = new List<Task>();
        try
        {
            for (var i = 0; i < bands.Count; i++)
            {
                await slots.WaitAsync(token).ConfigureAwait(false);
                var band = bands[i];
                var writer = channels[i].Writer;
                chains.Add(Task.Run(async () =>
                {
                    try { await ChainAsync(band.Restrict(criterion), writer, token).ConfigureAwait(false); }
                    finally { slots.Release(); }
                }, CancellationToken.None));
            }
        }
        catch (OperationCanceledException)
        {
            foreach (var channel in channels) channel.Writer.TryComplete(new OperationCanceledException(token));
        }
        try { await Task.WhenAll(chains).ConfigureAwait(false); } catch (OperationCanceledException) { }
    }

    private async Task ChainAsync(JsonObject bandCriterion, ChannelWriter<Task<IReadOnlyList<GdFinding>>> writer, CancellationToken token)
    {
        try
        {
            string? next = null;
            do
            {
                var (ids, following) = await ListAsync(bandCriterion, query.SortBy, !query.Ascending, next, token).ConfigureAwait(false);
                var batch = FetchAsync(ids, token);
                // Observed by the reader; kept from going unobserved if the reader has stopped.
                _ = batch.ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
                await writer.WriteAsync(batch, token).ConfigureAwait(false);
                next = following;
            } while (next is not null);
            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }

    /// <summary>The next batch of a band, or null when the band is done; a chain's failure surfaces here, in band order.</summary>
    private static async Task<IReadOnlyList<GdFinding>?> NextAsync(ChannelReader<Task<IReadOnlyList<GdFinding>>> reader, CancellationToken token)
    {
        if (!await reader.WaitToReadAsync(token).ConfigureAwait(false)) return null;
        return await (await reader.ReadAsync(token).ConfigureAwait(false)).ConfigureAwait(false);
    }

    private async Task<(IReadOnlyList<string> Ids, string? Next)> ListAsync(JsonObject c, string sortBy, bool descending, string? token, CancellationToken cancellationToken)
    {
        await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        try { return await client.ListFindingsPageAsync(detectorId, c, sortBy, descending, PageSize, token, cancellationToken).ConfigureAwait(false); }
        finally { _inFlight.Release(); }
    }

    private async Task<IReadOnlyList<GdFinding>> FetchAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0) return Array.Empty<GdFinding>();
        IReadOnlyList<JsonObject> raw;
        await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        try { raw = await client.GetFindingsAsync(detectorId, ids, cancellationToken).ConfigureAwait(false); }
        finally { _inFlight.Release(); }
        // Parsed after the request's slot is free: the cap is on requests open at once, and parsing opens none.
        return FindingService.Parse(raw, region, ids);
    }

    /// <summary>The findings of a batch not handed over before (the consumer's thread only).</summary>
    private IReadOnlyList<GdFinding> Fresh(IReadOnlyList<GdFinding> batch) => batch.Where(f => _seen.Add(f.Id)).ToList();
}
