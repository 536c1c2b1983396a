using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>Athena over json-1.1 (target prefix AmazonAthena).</summary>
public sealed class AthenaClient : ServiceClientBase
{
    internal AthenaClient(AwsProtocolClient client, string region) : base(client, region) { }

    public async Task<(string QueryExecutionId, string? RequestId)> StartQueryExecutionAsync(string sql, string? database, string? catalog, string? workGroup,
        string? outputLocation, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["QueryString"] = sql, ["ClientRequestToken"] = Guid.NewGuid().ToString() };
        if (database is not null || catalog is not null)
        {
            var context = new JsonObject();
            if (database is not null) context["Database"] = database;
            if (catalog is not null) context["Catalog"] = catalog;
            body["QueryExecutionContext"] = context;
        }
        if (workGroup is not null) body["WorkGroup"] = workGroup;
        if (outputLocation is not null) body["ResultConfiguration"] = new JsonObject { ["OutputLocation"] = outputLocation };
        var response = await CallJson11WithIdAsync("StartQueryExecution", body, cancellationToken).ConfigureAwait(false);
        return (response.Body["QueryExecutionId"]?.GetValue<string>()
            ?? throw new GuardDutyIRException("MalformedServiceResponse", ErrorKind.InvalidData, "StartQueryExecution answered without a QueryExecutionId.", sql), response.RequestId);
    }

    /// <summary>GetQueryExecution: the QueryExecution object (status, statistics, query text).</summary>
    public async Task<JsonObject> GetQueryExecutionAsync(string queryExecutionId, CancellationToken cancellationToken = default)
    {
        var response = await CallJson11Async("GetQueryExecution", new JsonObject { ["QueryExecutionId"] = queryExecutionId }, cancellationToken)
            .ConfigureAwait(false);
        return response["QueryExecution"] as JsonObject ?? new JsonObject();
    }

    /// <summary>One page of GetQueryResults read straight into rows of cell text, with the page's ColumnInfo.</summary>
    public async Task<AthenaResultPage> GetQueryResultRowsAsync(string queryExecutionId, string? nextToken, int maxResults, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["QueryExecutionId"] = queryExecutionId, ["MaxResults"] = Math.Clamp(maxResults, 1, 1000) };
        if (nextToken is not null) body["NextToken"] = nextToken;
        using var doc = await CallJson11DocumentAsync("GetQueryResults", body, cancellationToken).ConfigureAwait(false);
        var root = doc.RootElement;
        var columns = new List<(string Name, string Type)>();
        var rows = new List<string?[]>();
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("ResultSet", out var set) && set.ValueKind == JsonValueKind.Object)
        {
            if (set.TryGetProperty("ResultSetMetadata", out var meta) && meta.ValueKind == JsonValueKind.Object
                && meta.TryGetProperty("ColumnInfo", out var info) && info.ValueKind == JsonValueKind.Array)
                foreach (var c in info.EnumerateArray())
                    if (c.ValueKind == JsonValueKind.Object)
                        columns.Add((c.TryGetProperty("Name", out var n) ? Text(n) ?? "" : "", c.TryGetProperty("Type", out var ty) ? Text(ty) ?? "varchar" : "varchar"));
            if (set.TryGetProperty("Rows", out var list) && list.ValueKind == JsonValueKind.Array)
                foreach (var row in list.EnumerateArray())
                {
                    var cells = new List<string?>();
                    if (row.ValueKind == JsonValueKind.Object && row.TryGetProperty("Data", out var data) && data.ValueKind == JsonValueKind.Array)
                        foreach (var d in data.EnumerateArray())
                            cells.Add(d.ValueKind == JsonValueKind.Object && d.TryGetProperty("VarCharValue", out var v) ? Text(v) : null);
                    rows.Add(cells.ToArray());
                }
        }
        var next = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("NextToken", out var t) ? Text(t) : null;
        return new AthenaResultPage(columns, rows, string.IsNullOrEmpty(next) ? null : next);
    }

    public Task<JsonObject> StopQueryExecutionAsync(string queryExecutionId, CancellationToken cancellationToken = default) =>
        CallJson11Async("StopQueryExecution", new JsonObject { ["QueryExecutionId"] = queryExecutionId }, cancellationToken);
}

/// <summary>An Athena result page: the columns (name, Presto/Trino type), rows of cell text, and the token of the next page.</summary>
public sealed record AthenaResultPage(IReadOnlyList<(string Name, string Type)> Columns, IReadOnlyList<string?[]> Rows, string? NextToken);
