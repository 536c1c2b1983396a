using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>CloudTrail over json-1.1: PascalCase members, epoch-second timestamps.</summary>
public sealed class CloudTrailClient : ServiceClientBase
{
    internal CloudTrailClient(AwsProtocolClient client, string region) : base(client, region) { }

    /// <summary>Every event data store of the region, each as the raw JSON object of ListEventDataStores.</summary>
    public async IAsyncEnumerable<JsonObject> ListEventDataStoresAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
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
}
