using System.Text.Json;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>CloudTrail over json-1.1: PascalCase members, epoch-second timestamps.</summary>
public sealed class CloudTrailClient : ServiceClientBase
{
    internal CloudTrailClient(AwsProtocolClient client, string region) : base(client, region) { }

    /// <summary>Every event data store of the region, each as the raw JSON object of ListEventDataStores.</summary>
    public async IAsyncEnumerable<JsonObject> ListEventDataStoresAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? nextToken = null;
        do
        {
            var body = new JsonObject { ["MaxResults"] = 1000 };
            if (nextToken is not null) body["NextToken"] = nextToken;
            var page = await CallJson11Async("ListEventDataStores", body, cancellationToken).ConfigureAwait(false);
            foreach (var store in page["EventDataStores"]?.AsArray() ?? new JsonArray())
                if (store is JsonObject o) yield return o;
            nextToken = page["NextToken"]?.GetValue<string>();
        } while (!string.IsNullOrEmpty(nextToken));
    }

    /// <summary>GetEventDataStore: status, retention, selectors of one store (by ID or ARN).</summary>
    public Task<JsonObject> GetEventDataStoreAsync(string eventDataStore, CancellationToken cancellationToken = default) =>
        CallJson11Async("GetEventDataStore", new JsonObject { ["EventDataStore"] = eventDataStore }, cancellationToken);

    /// <summary>StartQuery: the store goes in the SQL's FROM; returns the query ID.</summary>
    public async Task<(string QueryId, string? RequestId)> StartQueryAsync(string sql, CancellationToken cancellationToken = default)
    {
        var response = await CallJson11WithIdAsync("StartQuery", new JsonObject { ["QueryStatement"] = sql }, cancellationToken).ConfigureAwait(false);
        return (response.Body["QueryId"]?.GetValue<string>()
            ?? throw new GuardDutyIRException("MalformedServiceResponse", ErrorKind.InvalidData, "StartQuery answered without a QueryId.", sql), response.RequestId);
    }

    /// <summary>DescribeQuery: QueryStatus (QUEUED, RUNNING, FINISHED, FAILED, CANCELLED, TIMED_OUT), statistics and error message.</summary>
    public Task<JsonObject> DescribeQueryAsync(string queryId, CancellationToken cancellationToken = default) =>
        CallJson11Async("DescribeQuery", new JsonObject { ["QueryId"] = queryId }, cancellationToken);

    /// <summary>
    /// One page of GetQueryResults read straight into rows: each row the (column, value) pairs in SELECT order, as the
    /// answer's one-key objects give them.
    /// </summary>
    public async Task<LakeResultPage> GetQueryResultRowsAsync(string queryId, string? nextToken, int maxResults, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["QueryId"] = queryId, ["MaxQueryResults"] = Math.Clamp(maxResults, 1, 1000) };
        if (nextToken is not null) body["NextToken"] = nextToken;
        using var doc = await CallJson11DocumentAsync("GetQueryResults", body, cancellationToken).ConfigureAwait(false);
        var root = doc.RootElement;
        var rows = new List<KeyValuePair<string, string?>[]>();
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("QueryResultRows", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var row in list.EnumerateArray())
            {
                if (row.ValueKind != JsonValueKind.Array) { rows.Add(Array.Empty<KeyValuePair<string, string?>>()); continue; }
                var cells = new List<KeyValuePair<string, string?>>(row.GetArrayLength());
                foreach (var cell in row.EnumerateArray())
                {
                    if (cell.ValueKind != JsonValueKind.Object) continue;
                    foreach (var property in cell.EnumerateObject())
                    {
                        cells.Add(new(property.Name, Text(property.Value)));
                        break;
                    }
                }
                rows.Add(cells.ToArray());
            }
        }
        var next = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("NextToken", out var t) ? Text(t) : null;
        return new LakeResultPage(rows, string.IsNullOrEmpty(next) ? null : next);
    }

    public Task<JsonObject> CancelQueryAsync(string queryId, CancellationToken cancellationToken = default) =>
        CallJson11Async("CancelQuery", new JsonObject { ["QueryId"] = queryId }, cancellationToken);

    /// <summary>One page of LookupEvents: management events of the last 90 days, one lookup attribute.</summary>
    public Task<JsonObject> LookupEventsPageAsync(string attributeKey, string attributeValue, DateTime? start, DateTime? end, string? nextToken,
        CancellationToken cancellationToken = default)
    {
        var body = new JsonObject
        {
            ["LookupAttributes"] = new JsonArray(new JsonObject { ["AttributeKey"] = attributeKey, ["AttributeValue"] = attributeValue }),
            ["MaxResults"] = 50,
        };
        if (start is { } s) body["StartTime"] = new DateTimeOffset(s.ToUniversalTime()).ToUnixTimeSeconds();
        if (end is { } e) body["EndTime"] = new DateTimeOffset(e.ToUniversalTime()).ToUnixTimeSeconds();
        if (nextToken is not null) body["NextToken"] = nextToken;
        return CallJson11Async("LookupEvents", body, cancellationToken);
    }
}

/// <summary>A CloudTrail Lake result page: rows of (column, value) in SELECT order, and the token of the next page.</summary>
public sealed record LakeResultPage(IReadOnlyList<KeyValuePair<string, string?>[]> Rows, string? NextToken);
