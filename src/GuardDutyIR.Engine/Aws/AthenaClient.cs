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

    /// <summary>One page of GetQueryResults: ResultSet.Rows (the first row of the first page is the header) and ColumnInfo.</summary>
    public Task<JsonObject> GetQueryResultsPageAsync(string queryExecutionId, string? nextToken, int maxResults, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["QueryExecutionId"] = queryExecutionId, ["MaxResults"] = Math.Clamp(maxResults, 1, 1000) };
        if (nextToken is not null) body["NextToken"] = nextToken;
        return CallJson11Async("GetQueryResults", body, cancellationToken);
    }

    public Task<JsonObject> StopQueryExecutionAsync(string queryExecutionId, CancellationToken cancellationToken = default) =>
        CallJson11Async("StopQueryExecution", new JsonObject { ["QueryExecutionId"] = queryExecutionId }, cancellationToken);
}
