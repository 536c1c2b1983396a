namespace GuardDutyIR.Lab.CloudTrail;

public sealed record PrincipalCallCount(string PrincipalId, string EventSource, string EventName, long Total);
public sealed record EventNameCount(string EventName, long Total);
public sealed record PutObjectCall(string PrincipalId, string EventName, string EventSource, IReadOnlyDictionary<string, string> RequestParameters);
public sealed record EventSummary(string EventName, long Total, string EventSource, string AwsRegion);

/// <summary>
/// The expected answers of the workshop's five CloudTrail Lake queries (product.md), computed from the generated
/// records with plain LINQ that mirrors each query's WHERE/GROUP BY, independently of any SQL engine.
/// Rows are in the queries' ORDER BY (total descending); rows with equal totals are in no defined order, as in SQL.
/// </summary>
public sealed class CloudTrailTruth
{
    public required string InstanceId { get; init; }
    /// <summary>Query 1: instances whose role listed S3 buckets.</summary>
    public required IReadOnlyList<PrincipalCallCount> InstancesThatListedBuckets { get; init; }
    /// <summary>Query 2: everything the instance called, by event name.</summary>
    public required IReadOnlyList<EventNameCount> EverythingCalled { get; init; }
    /// <summary>Query 3: its read-only calls.</summary>
    public required IReadOnlyList<PrincipalCallCount> ReadOnlyCalls { get; init; }
    /// <summary>Query 4: its S3 PutObject calls (requestParameters as Lake's map).</summary>
    public required IReadOnlyList<PutObjectCall> PutObjects { get; init; }
    /// <summary>Query 5: summary by event, service and region.</summary>
    public required IReadOnlyList<EventSummary> Summary { get; init; }

    /// <summary>The instance query 1 ranks first (the one the workshop goes on to investigate).</summary>
    public string TopPrincipalId => InstancesThatListedBuckets[0].PrincipalId;

    public static CloudTrailTruth Compute(IEnumerable<CloudTrailRecord> records, string instanceId)
    {
        var all = records.ToList();
        // like '%:i-%' and like '%:<INSTANCE_ID>' (case-sensitive, as LIKE is in Trino and DuckDB).
        var ofInstance = all.Where(r => r.PrincipalId is { } p && p.EndsWith(":" + instanceId, StringComparison.Ordinal)).ToList();
        return new CloudTrailTruth
        {
            InstanceId = instanceId,
            InstancesThatListedBuckets = all
                .Where(r => r.PrincipalId is { } p && p.Contains(":i-", StringComparison.Ordinal) && r.EventSource == "s3.amazonaws.com" && r.EventName == "ListBuckets")
                .GroupBy(r => (r.PrincipalId!, r.EventSource, r.EventName))
                .Select(g => new PrincipalCallCount(g.Key.Item1, g.Key.EventSource, g.Key.EventName, g.Count()))
                .OrderByDescending(x => x.Total).ToList(),
            EverythingCalled = ofInstance
                .GroupBy(r => r.EventName)
                .Select(g => new EventNameCount(g.Key, g.Count()))
                .OrderByDescending(x => x.Total).ToList(),
            ReadOnlyCalls = ofInstance.Where(r => r.ReadOnly)
                .GroupBy(r => (r.PrincipalId!, r.EventSource, r.EventName))
                .Select(g => new PrincipalCallCount(g.Key.Item1, g.Key.EventSource, g.Key.EventName, g.Count()))
                .OrderByDescending(x => x.Total).ToList(),
            PutObjects = ofInstance.Where(r => r.EventSource == "s3.amazonaws.com" && r.EventName == "PutObject")
                .Select(r => new PutObjectCall(r.PrincipalId!, r.EventName, r.EventSource, r.RequestParametersMap ?? new Dictionary<string, string>()))
                .ToList(),
            Summary = ofInstance
                .GroupBy(r => (r.EventName, r.EventSource, r.AwsRegion))
                .Select(g => new EventSummary(g.Key.EventName, g.Count(), g.Key.EventSource, g.Key.AwsRegion))
                .OrderByDescending(x => x.Total).ToList(),
        };
    }

    /// <summary>The workshop's five queries verbatim (product.md), with EDS_ID and &lt;INSTANCE_ID&gt; as placeholders.</summary>
    public static IReadOnlyList<string> WorkshopQueries { get; } = new[]
    {
        """
        select useridentity.principalid, eventsource, eventname, count(*) as total
        from EDS_ID
        where useridentity.principalid like '%:i-%'
        and eventsource = 's3.amazonaws.com'
        and eventname = 'ListBuckets'
        group by useridentity.principalid, eventsource, eventname
        order by total desc
        """,
        """
        select eventname, count(*) as total
            from EDS_ID
            where useridentity.principalid like '%:<INSTANCE_ID>'
            group by eventname
            order by total desc
        """,
        """
        select useridentity.principalid, eventsource, eventname, count(*) as total
            from EDS_ID
            where useridentity.principalid like '%:<INSTANCE_ID>'
            and readonly=true
            group by useridentity.principalid, eventsource, eventname
            order by total desc
        """,
        """
        select useridentity.principalid, eventname, eventsource, requestparameters
            from EDS_ID
            where useridentity.principalid like '%:<INSTANCE_ID>'
            and eventsource = 's3.amazonaws.com'
            and eventname = 'PutObject'
        """,
        """
        select eventname, count(*) as total, eventsource, awsregion
            from EDS_ID
            where useridentity.principalid like '%:<INSTANCE_ID>'
            group by eventname, eventsource, awsregion
            order by total desc
        """,
    };
}
