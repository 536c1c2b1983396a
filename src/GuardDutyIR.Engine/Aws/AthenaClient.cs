using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>Athena over json-1.1 (target prefix AmazonAthena).</summary>
public sealed class AthenaClient : ServiceClientBase
{
    internal AthenaClient(AwsProtocolClient client, string region) : base(client, region) { }

    /// <summary>GetQueryExecution: the QueryExecution object (status, statistics, query text).</summary>
    public async Task<JsonObject> GetQueryExecutionAsync(string queryExecutionId, CancellationToken cancellationToken = default)
    {
        var response = await CallJson11Async("GetQueryExecution", new JsonObject { ["QueryExecutionId"] = queryExecutionId }, cancellationToken)
            .ConfigureAwait(false);
        return response["QueryExecution"] as JsonObject ?? new JsonObject();
    }
}
