using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>GuardDuty over rest-json: camelCase wire names, GET list calls page through the query string.</summary>
public sealed class GuardDutyClient : ServiceClientBase
{
    internal GuardDutyClient(AwsProtocolClient client, string region) : base(client, region) { }

    /// <summary>Every detector ID of the region (the paginator of ListDetectors).</summary>
    public async IAsyncEnumerable<string> ListDetectorsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? nextToken = null;
        do
        {
            var request = new AwsRawRequest { Operation = "ListDetectors", Method = "GET", PathTemplate = "/detector" };
            request.QueryParameters["maxResults"] = "50";
            if (nextToken is not null) request.QueryParameters["nextToken"] = nextToken;
            var page = ParseObject((await SendAsync(request, cancellationToken).ConfigureAwait(false)).Body);
            foreach (var id in page["detectorIds"]?.AsArray() ?? new JsonArray())
                if (id?.GetValue<string>() is { } detectorId) yield return detectorId;
            nextToken = page["nextToken"]?.GetValue<string>();
        } while (!string.IsNullOrEmpty(nextToken));
    }

    /// <summary>GetDetector: status, finding publishing frequency, timestamps, as the raw JSON object.</summary>
    public async Task<JsonObject> GetDetectorAsync(string detectorId, CancellationToken cancellationToken = default)
    {
        var request = new AwsRawRequest { Operation = "GetDetector", Method = "GET", PathTemplate = "/detector/{DetectorId}" };
        request.PathParameters["DetectorId"] = detectorId;
        return ParseObject((await SendAsync(request, cancellationToken).ConfigureAwait(false)).Body);
    }
}
