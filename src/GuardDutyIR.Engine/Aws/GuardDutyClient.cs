using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>
/// GuardDuty over rest-json: camelCase wire names (the model's locationName), GET list calls page through the
/// query string, POST bodies are JSON. One method per operation the module uses.
/// </summary>
public sealed class GuardDutyClient : ServiceClientBase
{
    /// <summary>GetFindings, Archive/UnarchiveFindings and UpdateFindingsFeedback take at most 50 IDs.</summary>
    public const int MaxIdsPerCall = 50;

    internal GuardDutyClient(AwsProtocolClient client, string region) : base(client, region) { }

    private async Task<JsonObject> CallAsync(string operation, string method, string path, IReadOnlyDictionary<string, string>? pathParameters,
        JsonObject? body, IReadOnlyDictionary<string, string>? query, CancellationToken cancellationToken) =>
        ParseObject((await SendRestAsync(operation, method, path, pathParameters, body, query, cancellationToken).ConfigureAwait(false)).Body);

    /// <summary>For calls whose answer is empty ({}): the request ID is what the case journal keeps.</summary>
    private async Task<string?> CallWithRequestIdAsync(string operation, string method, string path, IReadOnlyDictionary<string, string> pathParameters,
        JsonObject? body, CancellationToken cancellationToken) =>
        (await SendRestAsync(operation, method, path, pathParameters, body, null, cancellationToken).ConfigureAwait(false)).RequestId;

    private Task<AwsRawResponse> SendRestAsync(string operation, string method, string path, IReadOnlyDictionary<string, string>? pathParameters,
        JsonObject? body, IReadOnlyDictionary<string, string>? query, CancellationToken cancellationToken)
    {
        var request = new AwsRawRequest
        {
            Operation = operation,
            Method = method,
            PathTemplate = path,
            Body = body is null ? null : Encoding.UTF8.GetBytes(body.ToJsonString()),
            ContentType = body is null ? null : "application/json",
        };
        foreach (var (k, v) in pathParameters ?? new Dictionary<string, string>()) request.PathParameters[k] = v;
        foreach (var (k, v) in query ?? new Dictionary<string, string>()) request.QueryParameters[k] = v;
        return SendAsync(request, cancellationToken);
    }

    private static Dictionary<string, string> Detector(string detectorId) => new() { ["DetectorId"] = detectorId };

    /// <summary>Every detector ID of the region (ListDetectors' paginator).</summary>
    public async IAsyncEnumerable<string> ListDetectorsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? nextToken = null;
        do
        {
            var query = new Dictionary<string, string> { ["maxResults"] = "50" };
            if (nextToken is not null) query["nextToken"] = nextToken;
            var page = await CallAsync("ListDetectors", "GET", "/detector", null, null, query, cancellationToken).ConfigureAwait(false);
            foreach (var id in page["detectorIds"]?.AsArray() ?? new JsonArray())
                if (id?.GetValue<string>() is { } detectorId) yield return detectorId;
            nextToken = page["nextToken"]?.GetValue<string>();
        } while (!string.IsNullOrEmpty(nextToken));
    }

    /// <summary>GetDetector: status, finding publishing frequency, timestamps, as the raw JSON object.</summary>
    public Task<JsonObject> GetDetectorAsync(string detectorId, CancellationToken cancellationToken = default) =>
        CallAsync("GetDetector", "GET", "/detector/{DetectorId}", Detector(detectorId), null, null, cancellationToken);

    /// <summary>One page of ListFindings: up to 50 IDs and the token of the next page.</summary>
    public async Task<(IReadOnlyList<string> Ids, string? NextToken)> ListFindingsPageAsync(string detectorId, JsonObject? criterion,
        string? sortAttribute, bool descending, int maxResults, string? nextToken, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["maxResults"] = Math.Clamp(maxResults, 1, 50) };
        if (criterion is { Count: > 0 }) body["findingCriteria"] = new JsonObject { ["criterion"] = criterion.DeepClone() };
        if (sortAttribute is not null) body["sortCriteria"] = new JsonObject { ["attributeName"] = sortAttribute, ["orderBy"] = descending ? "DESC" : "ASC" };
        if (nextToken is not null) body["nextToken"] = nextToken;
        var page = await CallAsync("ListFindings", "POST", "/detector/{DetectorId}/findings", Detector(detectorId), body, null, cancellationToken).ConfigureAwait(false);
        var ids = (page["findingIds"]?.AsArray() ?? new JsonArray()).Select(n => n?.GetValue<string>()).OfType<string>().ToList();
        var next = page["nextToken"]?.GetValue<string>();
        return (ids, string.IsNullOrEmpty(next) ? null : next);
    }

    /// <summary>GetFindings for at most 50 IDs; the findings in wire form.</summary>
    public async Task<IReadOnlyList<JsonObject>> GetFindingsAsync(string detectorId, IReadOnlyCollection<string> findingIds, CancellationToken cancellationToken = default)
    {
        CheckBatch(findingIds);
        if (findingIds.Count == 0) return Array.Empty<JsonObject>();
        var body = new JsonObject { ["findingIds"] = new JsonArray(findingIds.Select(id => (JsonNode)id).ToArray()) };
        var response = await CallAsync("GetFindings", "POST", "/detector/{DetectorId}/findings/get", Detector(detectorId), body, null, cancellationToken).ConfigureAwait(false);
        return (response["findings"]?.AsArray() ?? new JsonArray()).OfType<JsonObject>().ToList();
    }

    public async Task<string?> ArchiveFindingsAsync(string detectorId, IReadOnlyCollection<string> findingIds, bool archive, CancellationToken cancellationToken = default)
    {
        CheckBatch(findingIds);
        var operation = archive ? "ArchiveFindings" : "UnarchiveFindings";
        var path = archive ? "/detector/{DetectorId}/findings/archive" : "/detector/{DetectorId}/findings/unarchive";
        var body = new JsonObject { ["findingIds"] = new JsonArray(findingIds.Select(id => (JsonNode)id).ToArray()) };
        return await CallWithRequestIdAsync(operation, "POST", path, Detector(detectorId), body, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string?> UpdateFindingsFeedbackAsync(string detectorId, IReadOnlyCollection<string> findingIds, bool useful, string? comments,
        CancellationToken cancellationToken = default)
    {
        CheckBatch(findingIds);
        var body = new JsonObject
        {
            ["findingIds"] = new JsonArray(findingIds.Select(id => (JsonNode)id).ToArray()),
            ["feedback"] = useful ? "USEFUL" : "NOT_USEFUL",
        };
        if (!string.IsNullOrEmpty(comments)) body["comments"] = comments;
        return await CallWithRequestIdAsync("UpdateFindingsFeedback", "POST", "/detector/{DetectorId}/findings/feedback", Detector(detectorId), body, cancellationToken)
            .ConfigureAwait(false);
    }

    public Task<string?> CreateSampleFindingsAsync(string detectorId, IReadOnlyCollection<string> findingTypes, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["findingTypes"] = new JsonArray(findingTypes.Select(t => (JsonNode)t).ToArray()) };
        return CallWithRequestIdAsync("CreateSampleFindings", "POST", "/detector/{DetectorId}/findings/create", Detector(detectorId), body, cancellationToken);
    }

    /// <summary>IDs of the detector's threat intel sets (kind = "threatintelset") or trusted IP sets ("ipset").</summary>
    public async IAsyncEnumerable<string> ListListsAsync(string detectorId, ThreatListKind kind, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? nextToken = null;
        var (operation, path, member) = kind == ThreatListKind.ThreatIntelSet
            ? ("ListThreatIntelSets", "/detector/{DetectorId}/threatintelset", "threatIntelSetIds")
            : ("ListIPSets", "/detector/{DetectorId}/ipset", "ipSetIds");
        do
        {
            var query = new Dictionary<string, string> { ["maxResults"] = "50" };
            if (nextToken is not null) query["nextToken"] = nextToken;
            var page = await CallAsync(operation, "GET", path, Detector(detectorId), null, query, cancellationToken).ConfigureAwait(false);
            foreach (var id in page[member]?.AsArray() ?? new JsonArray())
                if (id?.GetValue<string>() is { } listId) yield return listId;
            nextToken = page["nextToken"]?.GetValue<string>();
        } while (!string.IsNullOrEmpty(nextToken));
    }

    /// <summary>GetThreatIntelSet / GetIPSet: name, format, location, status, tags.</summary>
    public Task<JsonObject> GetListAsync(string detectorId, ThreatListKind kind, string listId, CancellationToken cancellationToken = default)
    {
        var (operation, path, label) = ListPath(kind, withId: true);
        var parameters = Detector(detectorId);
        parameters[label!] = listId;
        return CallAsync("Get" + operation, "GET", path, parameters, null, null, cancellationToken);
    }

    /// <summary>CreateThreatIntelSet / CreateIPSet; returns the new list's ID.</summary>
    public async Task<string> CreateListAsync(string detectorId, ThreatListKind kind, string name, string format, string location, bool activate,
        IReadOnlyDictionary<string, string>? tags, string clientToken, CancellationToken cancellationToken = default)
    {
        var (operation, path, _) = ListPath(kind, withId: false);
        var body = new JsonObject
        {
            ["name"] = name, ["format"] = format, ["location"] = location, ["activate"] = activate, ["clientToken"] = clientToken,
        };
        if (tags is { Count: > 0 }) body["tags"] = new JsonObject(tags.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)t.Value)));
        var response = await CallAsync("Create" + operation, "POST", path, Detector(detectorId), body, null, cancellationToken).ConfigureAwait(false);
        var idMember = kind == ThreatListKind.ThreatIntelSet ? "threatIntelSetId" : "ipSetId";
        return response[idMember]?.GetValue<string>()
            ?? throw new GuardDutyIRException("MalformedServiceResponse", ErrorKind.InvalidData, $"Create{operation} answered without {idMember}.", name);
    }

    /// <summary>UpdateThreatIntelSet / UpdateIPSet: only the members given change.</summary>
    public Task<string?> UpdateListAsync(string detectorId, ThreatListKind kind, string listId, string? name, string? location, bool? activate,
        CancellationToken cancellationToken = default)
    {
        var (operation, path, label) = ListPath(kind, withId: true);
        var parameters = Detector(detectorId);
        parameters[label!] = listId;
        var body = new JsonObject();
        if (name is not null) body["name"] = name;
        if (location is not null) body["location"] = location;
        if (activate is not null) body["activate"] = activate.Value;
        return CallWithRequestIdAsync("Update" + operation, "POST", path, parameters, body, cancellationToken);
    }

    public Task<string?> DeleteListAsync(string detectorId, ThreatListKind kind, string listId, CancellationToken cancellationToken = default)
    {
        var (operation, path, label) = ListPath(kind, withId: true);
        var parameters = Detector(detectorId);
        parameters[label!] = listId;
        return CallWithRequestIdAsync("Delete" + operation, "DELETE", path, parameters, null, cancellationToken);
    }

    private static (string Operation, string Path, string? Label) ListPath(ThreatListKind kind, bool withId) => kind switch
    {
        ThreatListKind.ThreatIntelSet => ("ThreatIntelSet", withId ? "/detector/{DetectorId}/threatintelset/{ThreatIntelSetId}" : "/detector/{DetectorId}/threatintelset", "ThreatIntelSetId"),
        _ => ("IPSet", withId ? "/detector/{DetectorId}/ipset/{IpSetId}" : "/detector/{DetectorId}/ipset", "IpSetId"),
    };

    private static void CheckBatch(IReadOnlyCollection<string> ids)
    {
        if (ids.Count > MaxIdsPerCall)
            throw new ArgumentException($"GuardDuty takes at most {MaxIdsPerCall} finding IDs per call; {ids.Count} were given.", nameof(ids));
    }
}

/// <summary>GuardDuty's two kinds of IP list.</summary>
public enum ThreatListKind
{
    /// <summary>A threat list: findings fire on traffic to its IPs.</summary>
    ThreatIntelSet,
    /// <summary>A trusted IP list: no findings for its IPs.</summary>
    IPSet,
}
