using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;
using GuardDutyIR.Lab.S3;

namespace GuardDutyIR.Lab.GuardDuty;

/// <summary>A trusted IP list or threat list.</summary>
public sealed class GuardDutyList
{
    public required string Id { get; init; }
    public required string Name { get; set; }
    public required string Format { get; init; }
    public required string Location { get; set; }
    public required string Status { get; set; }
    public Dictionary<string, string> Tags { get; init; } = new(StringComparer.Ordinal);
    public string? ExpectedBucketOwner { get; set; }
}

/// <summary>
/// GuardDuty (restJson1, camelCase wire names). The main account is the administrator; the member account has its own
/// detector but may not manage threat/IP lists, as GuardDuty restricts list management to the administrator.
/// </summary>
public sealed partial class GuardDutyService : ILabService, IModeledService
{
    private static readonly ServiceModel s_model = ServiceModel.For("guardduty");
    private readonly LabContext _context;
    private readonly Dictionary<string, GuardDutyDetector> _detectors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Handler> _handlers;
    private readonly IReadOnlyList<Route> _routes;

    public GuardDutyService(LabContext context)
    {
        _context = context;
        _handlers = new(StringComparer.Ordinal)
        {
            ["ListDetectors"] = ListDetectors,
            ["CreateDetector"] = CreateDetector,
            ["GetDetector"] = GetDetector,
            ["ListFindings"] = ListFindings,
            ["GetFindings"] = GetFindings,
            ["ArchiveFindings"] = (r, seg, b) => SetArchived(r, seg, b, true),
            ["UnarchiveFindings"] = (r, seg, b) => SetArchived(r, seg, b, false),
            ["UpdateFindingsFeedback"] = UpdateFeedback,
            ["CreateSampleFindings"] = CreateSampleFindings,
            ["ListThreatIntelSets"] = (r, seg, b) => ListLists(r, seg, true),
            ["CreateThreatIntelSet"] = (r, seg, b) => CreateList(r, seg, b, true),
            ["GetThreatIntelSet"] = (r, seg, b) => GetList(r, seg, true),
            ["UpdateThreatIntelSet"] = (r, seg, b) => UpdateList(r, seg, b, true),
            ["DeleteThreatIntelSet"] = (r, seg, b) => DeleteList(r, seg, true),
            ["ListIPSets"] = (r, seg, b) => ListLists(r, seg, false),
            ["CreateIPSet"] = (r, seg, b) => CreateList(r, seg, b, false),
            ["GetIPSet"] = (r, seg, b) => GetList(r, seg, false),
            ["UpdateIPSet"] = (r, seg, b) => UpdateList(r, seg, b, false),
            ["DeleteIPSet"] = (r, seg, b) => DeleteList(r, seg, false),
        };
        // Requests are routed by the operations' HTTP bindings in the model (method and request-URI template).
        _routes = _handlers.Keys.Select(op => Route.Of(op, s_model.Http(op)!.Value)).ToList();
    }

    public string SigningName => "guardduty";

    public IReadOnlyCollection<string> Operations => _handlers.Keys;

    /// <summary>The compromised-instance finding of the scenario (null when the scenario has none).</summary>
    public string? ScenarioFindingId { get; internal set; }
    public string? ScenarioThreatIntelSetId { get; internal set; }

    /// <summary>The organization's administrator account, the only one that may manage lists (null: every account may).</summary>
    public string? AdministratorAccountId { get; internal set; }

    public GuardDutyDetector? DetectorOf(string accountId)
    {
        lock (_detectors) return _detectors.TryGetValue(accountId, out var d) ? d : null;
    }

    /// <summary>A copy of every finding of an account's detector.</summary>
    public IReadOnlyList<JsonObject> FindingsOf(string accountId)
    {
        var d = DetectorOf(accountId);
        if (d is null) return Array.Empty<JsonObject>();
        lock (d) return d.Findings.Select(f => (JsonObject)f.DeepClone()).ToArray();
    }

    /// <summary>Adds (or replaces by id) a finding for tests and demos; it is published as a new or updated finding would be.</summary>
    public void AddFinding(string accountId, JsonObject finding)
    {
        var d = DetectorOf(accountId) ?? throw new InvalidOperationException($"Account {accountId} has no detector");
        lock (d)
        {
            d.Put(finding);
        }
        PublishFinding(d, finding, _context.Clock.GetUtcNow());
    }

    /// <summary>
    /// The activity behind a finding happens again (the compromised instance pings the listed address once more):
    /// GuardDuty counts it on the same finding (count, eventLastSeen, updatedAt) and sends the updated finding to
    /// EventBridge. Returns the finding as it now is, or null when the account has no such finding.
    /// </summary>
    public JsonObject? RecordOccurrence(string accountId, string findingId)
    {
        var d = DetectorOf(accountId);
        if (d is null) return null;
        var now = _context.Clock.GetUtcNow();
        JsonObject finding;
        lock (d)
        {
            var found = d.Update(findingId, existing =>
            {
                if (existing["service"] is JsonObject service)
                {
                    service["count"] = ((int?)service["count"] ?? 1) + 1;
                    service["eventLastSeen"] = FindingFactory.Iso(now);
                }
                existing["updatedAt"] = FindingFactory.Iso(now);
            });
            if (!found) return null;
            finding = (JsonObject)d.Finding(findingId)!.DeepClone();
        }
        PublishFinding(d, finding, now);
        return finding;
    }

    /// <summary>
    /// GuardDuty sends every newly generated finding, and every subsequent occurrence of an existing one, to EventBridge
    /// as a "GuardDuty Finding" event on the account's default bus, the finding as GetFindings returns it in detail
    /// (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html). Archiving sends nothing.
    /// The Lab sends updates at once rather than at the detector's publishing frequency. Call outside the detector's lock.
    /// </summary>
    internal void PublishFinding(GuardDutyDetector detector, JsonObject finding, DateTimeOffset time)
    {
        JsonObject detail;
        lock (detector) detail = (JsonObject)finding.DeepClone();
        _context.GetService<ILabEventSink>()?.PutServiceEvent(
            new LabServiceEvent(detector.AccountId, detector.Region, "aws.guardduty", "GuardDuty Finding", detail, time));
    }

    /// <summary>A detector of an account in a region (CreateDetector's, or the scenario's).</summary>
    internal GuardDutyDetector AddDetector(string account, string region, string id, DateTimeOffset created)
    {
        var d = new GuardDutyDetector { Id = id, AccountId = account, Region = region, CreatedAt = created, UpdatedAt = created };
        lock (_detectors) _detectors[account] = d;
        return d;
    }

    // ---------------------------------------------------------------- routing

    public Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken)
    {
        var segments = request.RawPath.Split('?')[0].Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        Dictionary<string, string>? labels = null;
        var route = _routes.FirstOrDefault(x => x.Match(request.Method, segments, out labels));
        var op = route?.Operation ?? "Unknown";
        request.Action = op;
        request.Mutating = op is not ("ListDetectors" or "GetDetector" or "ListFindings" or "GetFindings" or "ListThreatIntelSets" or "GetThreatIntelSet" or "ListIPSets" or "GetIPSet");
        if (route is null)
            return Task.FromResult(ProtocolErrors.RestJson(404, "ResourceNotFoundException", $"No GuardDuty operation for {request.Method} {request.RawPath}", request.RequestId));
        var handler = _handlers[op];
        if (_context.IsDenied("guardduty", op))
            return Task.FromResult(ProtocolErrors.RestJson(403, "AccessDeniedException",
                LabContext.DenialMessage(request.Principal?.Arn, "guardduty", op), request.RequestId));
        JsonObject body;
        if (request.Body.Length == 0) body = new JsonObject();
        else
        {
            try { body = JsonNode.Parse(request.Body) as JsonObject ?? throw new JsonException(); }
            catch (JsonException) { return Task.FromResult(Bad(request, "The request is rejected because the JSON could not be processed.")); }
        }
        if (s_model.ValidateRest(op, labels!, request.Query, request.Headers, body) is { Count: > 0 } violations)
            return Task.FromResult(Invalid(request, violations[0]));
        try { return Task.FromResult(handler(request, segments, body)); }
        catch (FindingCriteriaException ex) { return Task.FromResult(Bad(request, ex.Message)); }
    }

    private delegate LabResponse Handler(LabRequest r, string[] seg, JsonObject body);

    /// <summary>An operation's HTTP binding: method plus the request-URI template's literal and {Label} segments.</summary>
    private sealed record Route(string Operation, string Method, string[] Template)
    {
        public static Route Of(string operation, (string Method, string RequestUri) http) =>
            new(operation, http.Method, http.RequestUri.Split('?')[0].Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries));

        public bool Match(string method, string[] segments, out Dictionary<string, string>? labels)
        {
            labels = null;
            if (method != Method || segments.Length != Template.Length) return false;
            var found = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < Template.Length; i++)
            {
                var t = Template[i];
                if (t.StartsWith('{') && t.EndsWith('}')) found[t[1..^1].TrimEnd('+')] = segments[i];
                else if (t != segments[i]) return false;
            }
            labels = found;
            return true;
        }
    }

    private static LabResponse Ok(LabRequest r, JsonObject body)
    {
        var resp = new LabResponse { StatusCode = 200, ContentType = "application/json", Body = Encoding.UTF8.GetBytes(body.ToJsonString()) };
        resp.Headers["x-amzn-RequestId"] = r.RequestId;
        return resp;
    }

    private static LabResponse Bad(LabRequest r, string message) => ProtocolErrors.RestJson(400, "BadRequestException", message, r.RequestId, "InvalidInputException");

    /// <summary>GuardDuty answers input that breaks its model with BadRequestException (InvalidInputException), naming the parameter.</summary>
    private static LabResponse Invalid(LabRequest r, ModelViolation v) => Bad(r, v.Kind == ViolationKind.Missing
        ? $"The request is rejected because the parameter {v.WirePath} is missing."
        : $"The request is rejected because the parameter {v.WirePath} has an invalid value.");

    /// <summary>
    /// Real GuardDuty answers an unknown or foreign detector ID with BadRequestException (not ResourceNotFoundException);
    /// the Lab follows that observed behaviour.
    /// </summary>
    private LabResponse? Detector(LabRequest r, string[] seg, out GuardDutyDetector detector)
    {
        detector = null!;
        var d = DetectorOf(r.AccountId);
        if (d is null || d.Id != seg[1] || d.Region != r.Region)
            return Bad(r, "The request is rejected because the input detectorId is not owned by the current account.");
        detector = d;
        return null;
    }

    /// <summary>
    /// The page size: maxResults (already checked against the model's bounds) or, absent, the model's maximum, which
    /// is GuardDuty's documented default of 50.
    /// </summary>
    private static int PageSize(string operation, string? raw) =>
        raw is not null && int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var max) ? max
            : (int)(s_model.Range(operation, "MaxResults").Max ?? 50);

    private static string Token(int offset, string context) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{offset.ToString(CultureInfo.InvariantCulture)}|{GuardDutyIds.HexOf(context, 12)}"));

    private static bool ReadToken(string token, string context, out int offset)
    {
        offset = 0;
        try
        {
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split('|');
            return parts.Length == 2 && parts[1] == GuardDutyIds.HexOf(context, 12) && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out offset);
        }
        catch (FormatException) { return false; }
    }

    // ---------------------------------------------------------------- detectors

    private LabResponse ListDetectors(LabRequest r, string[] seg, JsonObject body)
    {
        var d = DetectorOf(r.AccountId);
        var ids = new JsonArray();
        if (d is not null && d.Region == r.Region) ids.Add(d.Id);
        return Ok(r, new JsonObject { ["detectorIds"] = ids });
    }

    private LabResponse CreateDetector(LabRequest r, string[] seg, JsonObject body)
    {
        if (DetectorOf(r.AccountId) is not null)
            return Bad(r, "The request is rejected because a detector already exists for the current account.");
        var now = _context.Clock.GetUtcNow();
        var d = AddDetector(r.AccountId, r.Region, GuardDutyIds.HexOf($"detector|{r.AccountId}|{r.Region}|{now.Ticks}", 32), now);
        if (Str(body, "findingPublishingFrequency") is { } f) d.FindingPublishingFrequency = f;
        return Ok(r, new JsonObject { ["detectorId"] = d.Id });
    }

    private LabResponse GetDetector(LabRequest r, string[] seg, JsonObject body)
    {
        if (Detector(r, seg, out var d) is { } err) return err;
        var updated = FindingFactory.Iso(d.UpdatedAt);
        var enabled = new JsonObject { ["status"] = "ENABLED" };
        JsonObject Feature(string name) => new() { ["name"] = name, ["status"] = "ENABLED", ["updatedAt"] = Math.Round(d.UpdatedAt.ToUnixTimeMilliseconds() / 1000.0, 3) };
        return Ok(r, new JsonObject
        {
            ["createdAt"] = FindingFactory.Iso(d.CreatedAt),
            ["findingPublishingFrequency"] = d.FindingPublishingFrequency,
            ["serviceRole"] = $"arn:aws:iam::{d.AccountId}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
            ["status"] = "ENABLED",
            ["updatedAt"] = updated,
            ["dataSources"] = new JsonObject
            {
                ["cloudTrail"] = enabled.DeepClone(),
                ["dnsLogs"] = enabled.DeepClone(),
                ["flowLogs"] = enabled.DeepClone(),
                ["s3Logs"] = enabled.DeepClone(),
                ["kubernetes"] = new JsonObject { ["auditLogs"] = new JsonObject { ["status"] = "DISABLED" } },
            },
            ["tags"] = new JsonObject(),
            ["features"] = new JsonArray(Feature("CLOUD_TRAIL"), Feature("DNS_LOGS"), Feature("FLOW_LOGS"), Feature("S3_DATA_EVENTS"), Feature("EBS_MALWARE_PROTECTION")),
        });
    }

    // ---------------------------------------------------------------- findings

    private static string? Str(JsonObject o, string name) => o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    /// <summary>sortCriteria; the model's OrderBy enum (ASC, DESC) has already been checked.</summary>
    private static (string? Attribute, bool Descending) Sort(JsonObject body) =>
        body["sortCriteria"] is JsonObject sc ? (Str(sc, "attributeName"), Str(sc, "orderBy") == "DESC") : (null, false);

    private LabResponse ListFindings(LabRequest r, string[] seg, JsonObject body)
    {
        if (Detector(r, seg, out var d) is { } err) return err;
        var criteria = FindingCriteria.Parse(body["findingCriteria"]);
        var (attr, desc) = Sort(body);
        var max = PageSize("ListFindings", body["maxResults"] is JsonValue mv ? mv.ToJsonString() : null);
        var context = (body["findingCriteria"]?.ToJsonString() ?? "") + "|" + (body["sortCriteria"]?.ToJsonString() ?? "") + "|" + d.Id;
        int offset = 0;
        if (Str(body, "nextToken") is { Length: > 0 } token && !ReadToken(token, context, out offset))
            return Bad(r, "The request is rejected because the parameter nextToken has an invalid value.");
        JsonArray page;
        bool more;
        lock (d)
        {
            // The whole listing of this criterion and sort, computed on its first page and kept until a finding changes.
            var ids = d.Listing(context, () => d.Ordered(body["sortCriteria"]?.ToJsonString() ?? "", findings =>
                // Without sortCriteria the Lab lists newest first, a stable order pagination can rely on.
                attr is null
                    ? findings.OrderByDescending(f => (string?)f["createdAt"], StringComparer.Ordinal).ThenBy(f => (string?)f["id"], StringComparer.Ordinal)
                    : FindingCriteria.Sort(findings, attr, desc)).Where(criteria.Matches));
            page = new JsonArray(ids.Skip(offset).Take(max).Select(i => (JsonNode)i).ToArray());
            more = offset + page.Count < ids.Count;
        }
        var o = new JsonObject { ["findingIds"] = page };
        if (more) o["nextToken"] = Token(offset + page.Count, context);
        return Ok(r, o);
    }

    /// <summary>findingIds, which the model requires (at most 50 IDs of 1-300 characters) and has already checked.</summary>
    private static List<string> FindingIds(JsonObject body) =>
        body["findingIds"] is JsonArray arr ? arr.Select(v => v!.GetValue<string>()).ToList() : new List<string>();

    private static ReadOnlySpan<byte> FindingsPrefix => "{\"findings\":["u8;
    private static ReadOnlySpan<byte> FindingsSuffix => "]}"u8;

    private LabResponse GetFindings(LabRequest r, string[] seg, JsonObject body)
    {
        if (Detector(r, seg, out var d) is { } err) return err;
        var ids = FindingIds(body);
        var (attr, desc) = Sort(body);
        List<byte[]> findings;
        lock (d)
        {
            // Unknown IDs are simply absent from the answer; each finding comes once, in the order of its first ID.
            IEnumerable<JsonObject> found = ids.Distinct(StringComparer.Ordinal).Select(d.Finding).OfType<JsonObject>();
            if (attr is not null) found = FindingCriteria.Sort(found, attr, desc);
            // Each finding's JSON is written once and kept until it changes (GuardDutyDetector.Wire): a page of large
            // findings is the heaviest answer of a listing. The kept arrays are never changed, only replaced.
            findings = found.Select(d.Wire).ToList();
        }
        // {"findings":[...]} put together at its exact size, in one array.
        var answer = new byte[FindingsPrefix.Length + findings.Sum(f => f.Length) + Math.Max(0, findings.Count - 1) + FindingsSuffix.Length];
        var at = 0;
        void Put(ReadOnlySpan<byte> part) { part.CopyTo(answer.AsSpan(at)); at += part.Length; }
        Put(FindingsPrefix);
        for (var i = 0; i < findings.Count; i++)
        {
            if (i > 0) Put(","u8);
            Put(findings[i]);
        }
        Put(FindingsSuffix);
        var resp = new LabResponse { StatusCode = 200, ContentType = "application/json", Body = answer };
        resp.Headers["x-amzn-RequestId"] = r.RequestId;
        return resp;
    }

    private LabResponse SetArchived(LabRequest r, string[] seg, JsonObject body, bool archived)
    {
        if (Detector(r, seg, out var d) is { } err) return err;
        var ids = FindingIds(body);
        var now = FindingFactory.Iso(_context.Clock.GetUtcNow());
        lock (d)
            foreach (var id in ids)
                if (d.Finding(id)?["service"] is JsonObject svc && (bool?)svc["archived"] != archived)
                    d.Update(id, f =>
                    {
                        f["service"]!["archived"] = archived;
                        f["updatedAt"] = now;
                    });
        return Ok(r, new JsonObject());
    }

    private LabResponse UpdateFeedback(LabRequest r, string[] seg, JsonObject body)
    {
        if (Detector(r, seg, out var d) is { } err) return err;
        var ids = FindingIds(body);
        var feedback = Str(body, "feedback")!;
        var comments = Str(body, "comments");
        lock (d)
            foreach (var id in ids)
                if (d.Finding(id)?["service"] is JsonObject)
                {
                    d.Update(id, f => f["service"]!["userFeedback"] = feedback);
                    if (comments is not null) d.FeedbackComments[id] = comments;
                }
        return Ok(r, new JsonObject());
    }

    [GeneratedRegex(@"^[A-Za-z0-9]+:[A-Za-z0-9]+/[A-Za-z0-9.!&_\-]+$")]
    private static partial Regex FindingTypePattern();

    /// <summary>Types created when findingTypes is empty ("all supported types"); the Lab's list is the EC2 subset.</summary>
    public static readonly IReadOnlyList<string> SampleTypes = new[]
    {
        "Backdoor:EC2/C&CActivity.B", "Backdoor:EC2/C&CActivity.B!DNS", "Backdoor:EC2/DenialOfService.Tcp", "Behavior:EC2/NetworkPortUnusual",
        "Behavior:EC2/TrafficVolumeUnusual", "CryptoCurrency:EC2/BitcoinTool.B", "CryptoCurrency:EC2/BitcoinTool.B!DNS", "Recon:EC2/PortProbeUnprotectedPort",
        "Recon:EC2/Portscan", "Trojan:EC2/DNSDataExfiltration", "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "UnauthorizedAccess:EC2/RDPBruteForce",
        "UnauthorizedAccess:EC2/SSHBruteForce", "UnauthorizedAccess:EC2/TorClient",
    };

    private LabResponse CreateSampleFindings(LabRequest r, string[] seg, JsonObject body)
    {
        if (Detector(r, seg, out var d) is { } err) return err;
        var types = new List<string>();
        // The model bounds findingTypes (at most 50, each 1-100 characters); a type must also be a finding type's name.
        if (body["findingTypes"] is JsonArray arr)
            foreach (var t in arr.Select(v => v!.GetValue<string>()))
            {
                if (!FindingTypePattern().IsMatch(t))
                    return Bad(r, "The request is rejected because the input findingType is invalid.");
                types.Add(t);
            }
        if (types.Count == 0) types.AddRange(SampleTypes);
        var now = _context.Clock.GetUtcNow();
        var changed = new List<JsonObject>();
        lock (d)
            foreach (var type in types.Distinct(StringComparer.Ordinal))
            {
                // Samples of a type keep one ID per detector: generating again bumps count and updatedAt, as repeated activity would.
                var id = GuardDutyIds.HexOf($"sample|{d.Id}|{type}", 32);
                if (d.Finding(id) is { } existing && existing["service"] is JsonObject)
                {
                    d.Update(id, f =>
                    {
                        var svc = f["service"]!;
                        svc["count"] = ((int?)svc["count"] ?? 1) + 1;
                        svc["eventLastSeen"] = FindingFactory.Iso(now);
                        f["updatedAt"] = FindingFactory.Iso(now);
                    });
                    changed.Add(existing);
                }
                else
                {
                    var sample = FindingFactory.Build(FindingFactory.Sample(type, id, now), d.AccountId, d.Region, d.Id, _context.World);
                    d.Put(sample);
                    changed.Add(sample);
                }
            }
        // Sample findings reach EventBridge like real ones, which is how rules are tested with them.
        foreach (var f in changed) PublishFinding(d, f, now);
        return Ok(r, new JsonObject());
    }

    // ---------------------------------------------------------------- threat intel sets and IP sets

    private bool IsAdministrator(LabRequest r) => AdministratorAccountId is null || r.AccountId == AdministratorAccountId;

    /// <summary>
    /// GuardDuty lets only the administrator account manage lists in an organization; a member gets AccessDeniedException
    /// (the error CreateThreatIntelSet/CreateIPSet model for this case). The message wording is the Lab's.
    /// </summary>
    private static LabResponse MemberDenied(LabRequest r, bool threat) => ProtocolErrors.RestJson(403, "AccessDeniedException",
        $"The request is rejected because the current account is a GuardDuty member account. Only the administrator account can manage {(threat ? "ThreatIntelSets" : "IPSets")}.",
        r.RequestId, "AccessDeniedException");

    private LabResponse? ValidateLocation(LabRequest r, string location, string? expectedOwner)
    {
        if (!S3Store.TryParseLocation(location, out var bucket, out var key))
            return Bad(r, "The request is rejected because the input location is invalid.");
        var store = _context.GetService<S3Service>()?.Store;
        var b = store?.Bucket(bucket);
        if (b is null || store!.Get(bucket, key) is null)
            return Bad(r, $"The request is rejected because GuardDuty cannot access the object at {location}. Make sure the file exists and GuardDuty is allowed to read it.");
        if (expectedOwner is not null && expectedOwner != b.OwnerAccountId)
            return Bad(r, "The request is rejected because the expectedBucketOwner does not own the bucket.");
        return null;
    }

    private static Dictionary<string, GuardDutyList> Lists(GuardDutyDetector d, bool threat) => threat ? d.ThreatIntelSets : d.IpSets;

    private LabResponse ListLists(LabRequest r, string[] seg, bool threat)
    {
        if (Detector(r, seg, out var d) is { } err) return err;
        var max = PageSize(threat ? "ListThreatIntelSets" : "ListIPSets", r.Query["maxResults"]);
        List<string> ids;
        lock (d) ids = Lists(d, threat).Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        var context = (threat ? "tis|" : "ip|") + d.Id;
        int offset = 0;
        if (r.Query["nextToken"] is { Length: > 0 } token && !ReadToken(token, context, out offset))
            return Bad(r, "The request is rejected because the parameter nextToken has an invalid value.");
        var page = ids.Skip(offset).Take(max).ToList();
        var o = new JsonObject { [threat ? "threatIntelSetIds" : "ipSetIds"] = new JsonArray(page.Select(i => (JsonNode)i!).ToArray()) };
        if (offset + page.Count < ids.Count) o["nextToken"] = Token(offset + page.Count, context);
        return Ok(r, o);
    }

    private LabResponse CreateList(LabRequest r, string[] seg, JsonObject body, bool threat)
    {
        if (Detector(r, seg, out var d) is { } err) return err;
        if (!IsAdministrator(r)) return MemberDenied(r, threat);
        // The model has required name, format, location and activate and checked their lengths, the format enum and
        // clientToken's and expectedBucketOwner's lengths; an owner must still be an account ID (digits).
        var name = Str(body, "name")!;
        var format = Str(body, "format")!;
        var location = Str(body, "location")!;
        var activate = body["activate"]!.GetValue<bool>();
        var token = Str(body, "clientToken");
        var owner = Str(body, "expectedBucketOwner");
        if (owner is not null && !owner.All(char.IsAsciiDigit)) return Bad(r, "The request is rejected because the parameter expectedBucketOwner has an invalid value.");
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (body["tags"] is JsonObject t)
            foreach (var (k, v) in t)
                tags[k] = v is JsonValue tv && tv.GetValueKind() == JsonValueKind.String ? tv.GetValue<string>() : "";
        lock (d)
        {
            var tokenKey = (threat ? "tis|" : "ip|") + token;
            if (token is { Length: > 0 } && d.ClientTokens.TryGetValue(tokenKey, out var existingId) && Lists(d, threat).ContainsKey(existingId))
                return Ok(r, new JsonObject { [threat ? "threatIntelSetId" : "ipSetId"] = existingId });
            // Quotas: 6 threat intel sets and 1 trusted IP set per account per Region (GuardDuty quotas page).
            if (Lists(d, threat).Count >= (threat ? 6 : 1))
                return Bad(r, $"The request is rejected because the current account cannot create more than {(threat ? 6 : 1)} {(threat ? "ThreatIntelSets" : "IPSets")}.");
        }
        if (ValidateLocation(r, location, owner) is { } locErr) return locErr;
        var id = GuardDutyIds.HexOf($"{(threat ? "tis" : "ip")}|{d.Id}|{name}|{Guid.NewGuid()}", 32);
        lock (d)
        {
            Lists(d, threat)[id] = new GuardDutyList
            {
                Id = id, Name = name, Format = format, Location = location, Tags = tags, ExpectedBucketOwner = owner,
                // Activation is instant in the Lab (ACTIVATING → ACTIVE happens before anyone can look).
                Status = activate ? "ACTIVE" : "INACTIVE",
            };
            if (token is { Length: > 0 }) d.ClientTokens[(threat ? "tis|" : "ip|") + token] = id;
        }
        return Ok(r, new JsonObject { [threat ? "threatIntelSetId" : "ipSetId"] = id });
    }

    private LabResponse? FindList(LabRequest r, string[] seg, bool threat, out GuardDutyDetector d, out GuardDutyList list)
    {
        list = null!;
        if (Detector(r, seg, out d) is { } err) return err;
        lock (d)
            if (Lists(d, threat).TryGetValue(seg[3], out var l)) { list = l; return null; }
        return Bad(r, $"The request is rejected because the input {(threat ? "threatIntelSetId" : "ipSetId")} {seg[3]} is not owned by the current account.");
    }

    private LabResponse GetList(LabRequest r, string[] seg, bool threat)
    {
        if (FindList(r, seg, threat, out _, out var l) is { } err) return err;
        var o = new JsonObject { ["name"] = l.Name, ["format"] = l.Format, ["location"] = l.Location, ["status"] = l.Status };
        if (l.Tags.Count > 0) o["tags"] = new JsonObject(l.Tags.Select(t => new KeyValuePair<string, JsonNode?>(t.Key, t.Value)));
        if (l.ExpectedBucketOwner is not null) o["expectedBucketOwner"] = l.ExpectedBucketOwner;
        return Ok(r, o);
    }

    private LabResponse UpdateList(LabRequest r, string[] seg, JsonObject body, bool threat)
    {
        if (FindList(r, seg, threat, out var d, out var l) is { } err) return err;
        if (!IsAdministrator(r)) return MemberDenied(r, threat);
        var name = Str(body, "name");
        var location = Str(body, "location");
        var owner = Str(body, "expectedBucketOwner") ?? l.ExpectedBucketOwner;
        if (location is not null && ValidateLocation(r, location, owner) is { } locErr) return locErr;
        lock (d)
        {
            if (name is not null) l.Name = name;
            if (location is not null) l.Location = location;
            if (Str(body, "expectedBucketOwner") is { } eo) l.ExpectedBucketOwner = eo;
            if (body["activate"] is JsonValue act && act.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
                l.Status = act.GetValue<bool>() ? "ACTIVE" : "INACTIVE";
        }
        return Ok(r, new JsonObject());
    }

    private LabResponse DeleteList(LabRequest r, string[] seg, bool threat)
    {
        if (FindList(r, seg, threat, out var d, out var l) is { } err) return err;
        if (!IsAdministrator(r)) return MemberDenied(r, threat);
        lock (d) Lists(d, threat).Remove(l.Id);
        return Ok(r, new JsonObject());
    }
}
