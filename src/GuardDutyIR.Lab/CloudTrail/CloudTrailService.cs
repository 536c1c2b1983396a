using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.CloudTrail;

/// <summary>
/// CloudTrail (awsJson1_1): CloudTrail Lake over the scenario's events (one event data store, SQL on DuckDB) and
/// LookupEvents over its management events.
/// </summary>
public sealed partial class CloudTrailService : ILabService, IScenarioSeeded, IModeledService
{
    private static readonly ServiceModel s_model = ServiceModel.For("cloudtrail");
    public const string TargetPrefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";
    public const string EventDataStoreName = "workshop-eds";
    private const int MaxConcurrentQueries = 10;

    private readonly LabContext _context;
    private readonly Dictionary<string, Func<LabRequest, JsonObject, LabResponse>> _handlers;
    private ScenarioWorld? _world;

    public CloudTrailService(LabContext context)
    {
        _context = context;
        Database = new TrailDatabase(Array.Empty<CloudTrailRecord>());
        Queries = new TrailQueryRunner(Database, context.Clock);
        _handlers = new(StringComparer.Ordinal)
        {
            ["ListEventDataStores"] = ListEventDataStores,
            ["GetEventDataStore"] = GetEventDataStore,
            ["StartQuery"] = StartQuery,
            ["DescribeQuery"] = DescribeQuery,
            ["GetQueryResults"] = GetQueryResults,
            ["CancelQuery"] = CancelQuery,
            ["ListQueries"] = ListQueries,
            ["LookupEvents"] = LookupEvents,
        };
    }

    public string SigningName => "cloudtrail";

    public IReadOnlyCollection<string> Operations => _handlers.Keys;

    /// <summary>The Lab's CloudTrail events (shared with Athena).</summary>
    public TrailDatabase Database { get; private set; }
    public TrailQueryRunner Queries { get; private set; }

    /// <summary>Minimum time a Lake query stays RUNNING (test knob for polling and CancelQuery). Default 0.</summary>
    public TimeSpan QueryDelay
    {
        get => Queries.MinimumRunTime;
        set => Queries.MinimumRunTime = value;
    }

    public string? EventDataStoreId { get; private set; }
    public string? EventDataStoreArn { get; private set; }
    public string? EventDataStoreOwner { get; private set; }
    private DateTimeOffset _edsCreated;

    /// <summary>Answers of the five workshop queries for the investigated instance (null when the scenario has none).</summary>
    public CloudTrailTruth? Truth { get; private set; }

    public void Seed(ScenarioWorld world)
    {
        _world = world;
        var records = CloudTrailEventGenerator.ForWorld(world);
        Database = new TrailDatabase(records);
        Queries = new TrailQueryRunner(Database, _context.Clock) { MinimumRunTime = Queries.MinimumRunTime };
        if (world.Scenario == ScenarioNames.Empty) return;
        var hex = GuardDutyIds.HexOf($"eds|{world.AccountId}|{world.Region}|{world.Seed}", 32);
        EventDataStoreId = $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
        EventDataStoreArn = $"arn:aws:cloudtrail:{world.Region}:{world.AccountId}:eventdatastore/{EventDataStoreId}";
        EventDataStoreOwner = world.AccountId;
        _edsCreated = world.BaseTime.AddDays(-30);
        if (world.InvestigatedInstanceId is { } inst) Truth = CloudTrailTruth.Compute(records, inst);
    }

    /// <summary>Adds <paramref name="count"/> background events (time-ordered, deterministic) to the store, e.g. for large-result tests.</summary>
    public void AddBulkEvents(int count, int seed = 1)
    {
        var w = _world ?? throw new InvalidOperationException("Not seeded");
        Database.Append(CloudTrailEventGenerator.Bulk(w.AccountId, w.Region, seed, count, w.BaseTime.AddDays(-10), w.BaseTime.AddDays(-4)));
    }

    public Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken)
    {
        var target = request.Target ?? "";
        var op = target.StartsWith(TargetPrefix, StringComparison.Ordinal) ? target[TargetPrefix.Length..] : "";
        request.Action = op.Length > 0 ? op : "Unknown";
        request.Mutating = op is "StartQuery" or "CancelQuery";
        if (op.Length == 0)
            return Task.FromResult(Json11.Error(400, "UnknownOperationException", $"Unknown operation {target}", request.RequestId));
        var body = Json11.Body(request);
        if (body is null)
            return Task.FromResult(Json11.Error(400, "SerializationException", "Start of structure or map found where not expected.", request.RequestId));
        if (_context.IsDenied("cloudtrail", op))
            return Task.FromResult(Json11.Error(400, "AccessDeniedException",
                $"User: {request.Principal?.Arn} is not authorized to perform: cloudtrail:{op} because no identity-based policy allows the cloudtrail:{op} action", request.RequestId));
        if (!_handlers.TryGetValue(op, out var handler))
            return Task.FromResult(Json11.Error(400, "UnknownOperationException", $"Unknown operation {op}", request.RequestId));
        if (s_model.ValidateJson(op, body) is { Count: > 0 } violations)
            return Task.FromResult(Invalid(request, op, violations));
        return Task.FromResult(handler(request, body));
    }

    /// <summary>The member-specific exceptions CloudTrail models for bad input, used when the operation lists them.</summary>
    private static readonly Dictionary<string, string> s_memberErrors = new(StringComparer.Ordinal)
    {
        ["MaxResults"] = "InvalidMaxResultsException",
        ["MaxQueryResults"] = "InvalidMaxResultsException",
        ["NextToken"] = "InvalidNextTokenException",
        ["QueryStatus"] = "InvalidQueryStatusException",
        ["EventCategory"] = "InvalidEventCategoryException",
        ["LookupAttributes"] = "InvalidLookupAttributesException",
    };

    /// <summary>
    /// Input that breaks the model: a wrong JSON type is a SerializationException; otherwise the operation's own
    /// exception for that member (InvalidMaxResultsException, "thrown if the limit specified is not valid"), else its
    /// InvalidParameterException ("the request includes a parameter that is not valid"), else ValidationException.
    /// </summary>
    private static LabResponse Invalid(LabRequest r, string op, IReadOnlyList<ModelViolation> violations)
    {
        var v = violations[0];
        if (v.Kind == ViolationKind.Type)
            return Json11.Error(400, "SerializationException", $"Cannot read {v.Value} as {v.ExpectedType} at '{v.Path}'.", r.RequestId);
        var code = s_memberErrors.TryGetValue(v.TopMember, out var specific) && s_model.ModelsError(op, specific) ? specific
            : s_model.ModelsError(op, "InvalidParameterException") ? "InvalidParameterException"
            : "ValidationException";
        return Json11.Error(400, code, ModelViolation.Summary(violations), r.RequestId);
    }

    // ---------------------------------------------------------------- event data stores

    private bool OwnsStore(LabRequest r) => EventDataStoreId is not null && r.AccountId == EventDataStoreOwner;

    private bool MatchesStore(string? idOrArn) =>
        idOrArn is not null && EventDataStoreId is not null &&
        (string.Equals(idOrArn, EventDataStoreId, StringComparison.OrdinalIgnoreCase) || string.Equals(idOrArn, EventDataStoreArn, StringComparison.Ordinal));

    private JsonObject StoreJson(bool full)
    {
        var o = new JsonObject
        {
            ["EventDataStoreArn"] = EventDataStoreArn,
            ["Name"] = EventDataStoreName,
        };
        if (!full)
        {
            // The list output still carries the deprecated members AWS keeps sending.
            o["TerminationProtectionEnabled"] = true;
            o["Status"] = "ENABLED";
            o["AdvancedEventSelectors"] = Selectors();
            o["MultiRegionEnabled"] = true;
            o["OrganizationEnabled"] = false;
            o["RetentionPeriod"] = 2557;
            o["CreatedTimestamp"] = Json11.Epoch(_edsCreated);
            o["UpdatedTimestamp"] = Json11.Epoch(_edsCreated);
            return o;
        }
        o["Status"] = "ENABLED";
        o["AdvancedEventSelectors"] = Selectors();
        o["MultiRegionEnabled"] = true;
        o["OrganizationEnabled"] = false;
        o["RetentionPeriod"] = 2557;
        o["TerminationProtectionEnabled"] = true;
        o["CreatedTimestamp"] = Json11.Epoch(_edsCreated);
        o["UpdatedTimestamp"] = Json11.Epoch(_edsCreated);
        o["BillingMode"] = "EXTENDABLE_RETENTION_PRICING";
        o["FederationStatus"] = "DISABLED";
        return o;
    }

    private static JsonArray Selectors() => new(
        new JsonObject { ["Name"] = "Management events", ["FieldSelectors"] = new JsonArray(new JsonObject { ["Field"] = "eventCategory", ["Equals"] = new JsonArray("Management") }) },
        new JsonObject
        {
            ["Name"] = "S3 data events",
            ["FieldSelectors"] = new JsonArray(
                new JsonObject { ["Field"] = "eventCategory", ["Equals"] = new JsonArray("Data") },
                new JsonObject { ["Field"] = "resources.type", ["Equals"] = new JsonArray("AWS::S3::Object") }),
        });

    private LabResponse ListEventDataStores(LabRequest r, JsonObject body)
    {
        // The Lab has at most one event data store, so every list is one page and no token continues it.
        if (Json11.Str(body, "NextToken") is { } token && token != "")
            return Json11.Error(400, "InvalidNextTokenException", "The NextToken is not valid.", r.RequestId);
        var list = new JsonArray();
        if (OwnsStore(r)) list.Add(StoreJson(full: false));
        return Json11.Ok(new JsonObject { ["EventDataStores"] = list }, r.RequestId);
    }

    private LabResponse GetEventDataStore(LabRequest r, JsonObject body)
    {
        var eds = Json11.Str(body, "EventDataStore")!;
        if (eds.StartsWith("arn:", StringComparison.Ordinal) && !EdsArnPattern().IsMatch(eds))
            return Json11.Error(400, "EventDataStoreARNInvalidException", "The specified event data store ARN is not valid or does not map to an event data store in your account.", r.RequestId);
        if (!OwnsStore(r) || !MatchesStore(eds))
            return Json11.Error(400, "EventDataStoreNotFoundException", $"The specified event data store {eds} was not found.", r.RequestId);
        return Json11.Ok(StoreJson(full: true), r.RequestId);
    }

    [GeneratedRegex(@"^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:eventdatastore/[A-Za-z0-9-]+$")]
    private static partial Regex EdsArnPattern();

    [GeneratedRegex(@"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    private static partial Regex UuidPattern();

    [GeneratedRegex(@"^s3://(?<bucket>[a-z0-9][.\-a-z0-9]{1,61}[a-z0-9])(?:/(?<prefix>.*))?$")]
    private static partial Regex S3UriPattern();

    // ---------------------------------------------------------------- Lake queries

    private LabResponse StartQuery(LabRequest r, JsonObject body)
    {
        var statement = Json11.Str(body, "QueryStatement");
        if (string.IsNullOrEmpty(statement))
            return Json11.Error(400, "InvalidParameterException", Json11.Str(body, "QueryAlias") is not null
                ? "QueryAlias is only supported for CloudTrail Lake dashboard queries."
                : "You must specify a QueryStatement.", r.RequestId);
        var sql = TrailSql.SingleSelect(statement);
        if (sql is null)
            return Json11.Error(400, "InvalidQueryStatementException", "Query statement is invalid. Only SELECT statements are supported.", r.RequestId);
        var tables = TrailSql.Tables(sql);
        if (tables.Count == 0)
            return Json11.Error(400, "InvalidQueryStatementException", "Query statement is invalid. The FROM clause must name an event data store.", r.RequestId);
        foreach (var t in tables)
        {
            if (MatchesStore(t) && OwnsStore(r)) continue;
            if (UuidPattern().IsMatch(t) || t.StartsWith("arn:", StringComparison.Ordinal))
                return Json11.Error(400, "EventDataStoreNotFoundException", $"The specified event data store {t} was not found.", r.RequestId);
            return Json11.Error(400, "InvalidQueryStatementException", $"Query statement is invalid. {t} is not an event data store ID or ARN.", r.RequestId);
        }
        string? delivery = Json11.Str(body, "DeliveryS3Uri");
        if (delivery is not null)
        {
            var m = S3UriPattern().Match(delivery);
            if (!m.Success) return Json11.Error(400, "InvalidS3BucketNameException", "The S3 bucket name is not valid.", r.RequestId);
            var bucket = _context.GetService<S3Service>()?.Store.Bucket(m.Groups["bucket"].Value);
            if (bucket is null) return Json11.Error(400, "S3BucketDoesNotExistException", $"The S3 bucket {m.Groups["bucket"].Value} does not exist.", r.RequestId);
        }
        if (Queries.ActiveCount(r.AccountId) >= MaxConcurrentQueries)
            return Json11.Error(400, "MaxConcurrentQueriesException", "You are already running the maximum number of concurrent queries. The maximum number of concurrent queries is 10.", r.RequestId);
        var executed = TrailSql.RewriteTables(sql, t => MatchesStore(t) ? TrailDatabase.LakeTable : null);
        var q = Queries.Start(r.AccountId, statement, executed, TrailDialect.Lake, delivery is null ? null : Deliver);
        if (delivery is not null) q.Properties["DeliveryS3Uri"] = delivery;
        var resp = new JsonObject { ["QueryId"] = q.Id };
        if (Json11.Str(body, "EventDataStoreOwnerAccountId") is { } owner) resp["EventDataStoreOwnerAccountId"] = owner;
        return Json11.Ok(resp, r.RequestId);
    }

    /// <summary>Writes a finished query's rows to S3 as CSV, as Lake does for DeliveryS3Uri.</summary>
    private void Deliver(TrailQuery q)
    {
        var store = _context.GetService<S3Service>()?.Store;
        var m = S3UriPattern().Match(q.Properties["DeliveryS3Uri"]);
        if (store is null || !m.Success || q.Result is not { } result) { q.Properties["DeliveryStatus"] = "FAILED"; return; }
        var prefix = m.Groups["prefix"].Value.Trim('/');
        var key = (prefix.Length > 0 ? prefix + "/" : "") + q.Id + "/result_1.csv";
        var sb = new StringBuilder();
        sb.AppendJoin(',', result.Columns.Select(c => Csv(c.Name))).Append('\n');
        foreach (var row in result.Rows) sb.AppendJoin(',', row.Select(v => Csv(v ?? ""))).Append('\n');
        if (store.Bucket(m.Groups["bucket"].Value) is null) { q.Properties["DeliveryStatus"] = "RESOURCE_NOT_FOUND"; return; }
        store.Put(m.Groups["bucket"].Value, new S3StoredObject(key, Encoding.UTF8.GetBytes(sb.ToString()), "text/csv", _context.Clock.GetUtcNow()));
        q.Properties["DeliveryStatus"] = "SUCCESS";
    }

    private static string Csv(string v) => v.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 ? "\"" + v.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : v;

    private static string LakeStatus(TrailQueryState s) => s switch
    {
        TrailQueryState.Queued => "QUEUED",
        TrailQueryState.Running => "RUNNING",
        TrailQueryState.Succeeded => "FINISHED",
        TrailQueryState.Failed => "FAILED",
        _ => "CANCELLED",
    };

    private LabResponse? FindQuery(LabRequest r, JsonObject body, out TrailQuery q)
    {
        q = null!;
        var id = Json11.Str(body, "QueryId");
        if (string.IsNullOrEmpty(id))
            return Json11.Error(400, "InvalidParameterException", "QueryId is required.", r.RequestId);
        if (Json11.Str(body, "EventDataStore") is { } eds && !(OwnsStore(r) && MatchesStore(eds)))
            return Json11.Error(400, "EventDataStoreNotFoundException", $"The specified event data store {eds} was not found.", r.RequestId);
        var found = Queries.Find(id);
        if (found is null || found.AccountId != r.AccountId)
            return Json11.Error(400, "QueryIdNotFoundException", $"The query ID {id} does not exist or does not map to a query.", r.RequestId);
        q = found;
        return null;
    }

    private LabResponse DescribeQuery(LabRequest r, JsonObject body)
    {
        if (FindQuery(r, body, out var q) is { } err) return err;
        var res = q.Result;
        var o = new JsonObject
        {
            ["QueryId"] = q.Id,
            ["QueryString"] = q.Statement,
            ["QueryStatus"] = LakeStatus(q.State),
            ["QueryStatistics"] = new JsonObject
            {
                // The Lab does not trace which events fed an aggregate; EventsMatched is the result row count.
                ["EventsMatched"] = res?.Rows.Count ?? 0,
                ["EventsScanned"] = res?.EventsScanned ?? 0,
                ["BytesScanned"] = res?.BytesScanned ?? 0,
                ["ExecutionTimeInMillis"] = q.ExecutionMillis,
                ["CreationTime"] = Json11.Epoch(q.CreationTime),
            },
        };
        if (q.ErrorMessage is { } e) o["ErrorMessage"] = e;
        if (q.Properties.TryGetValue("DeliveryS3Uri", out var uri))
        {
            o["DeliveryS3Uri"] = uri;
            o["DeliveryStatus"] = q.Properties.TryGetValue("DeliveryStatus", out var ds) ? ds : q.State == TrailQueryState.Cancelled ? "CANCELLED" : "PENDING";
        }
        return Json11.Ok(o, r.RequestId);
    }

    private LabResponse GetQueryResults(LabRequest r, JsonObject body)
    {
        if (FindQuery(r, body, out var q) is { } err) return err;
        // The model bounds MaxQueryResults to 1-1000 and documents no default; the Lab serves the largest page.
        int max = Json11.Int(body, "MaxQueryResults") ?? (int)s_model.Range("GetQueryResults", "MaxQueryResults").Max!.Value;
        int offset = 0;
        if (Json11.Str(body, "NextToken") is { } token)
        {
            if (!TryReadToken(token, q.Id, out offset))
                return Json11.Error(400, "InvalidNextTokenException", "The NextToken is not valid.", r.RequestId);
        }
        var o = new JsonObject { ["QueryStatus"] = LakeStatus(q.State) };
        var res = q.State == TrailQueryState.Succeeded ? q.Result : null;
        var rows = new JsonArray();
        if (res is not null)
        {
            if (offset > res.Rows.Count)
                return Json11.Error(400, "InvalidNextTokenException", "The NextToken is not valid.", r.RequestId);
            foreach (var row in res.Rows.Skip(offset).Take(max))
            {
                var cells = new JsonArray();
                for (int i = 0; i < row.Length; i++)
                    // NULL cells are left out of the row (the Lab's reading of Lake's map<string,string> cells, which cannot hold null).
                    if (row[i] is { } v) cells.Add(new JsonObject { [res.Columns[i].Name] = v });
                rows.Add(cells);
            }
            o["QueryStatistics"] = new JsonObject
            {
                ["ResultsCount"] = rows.Count,
                ["TotalResultsCount"] = res.Rows.Count,
                ["BytesScanned"] = res.BytesScanned,
            };
            o["QueryResultRows"] = rows;
            if (offset + rows.Count < res.Rows.Count) o["NextToken"] = MakeToken(q.Id, offset + rows.Count);
        }
        else
        {
            o["QueryStatistics"] = new JsonObject { ["ResultsCount"] = 0, ["TotalResultsCount"] = 0, ["BytesScanned"] = q.Result?.BytesScanned ?? 0 };
            o["QueryResultRows"] = rows;
        }
        if (q.ErrorMessage is { } e) o["ErrorMessage"] = e;
        return Json11.Ok(o, r.RequestId);
    }

    internal static string MakeToken(string id, int offset) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{id}|{offset.ToString(CultureInfo.InvariantCulture)}"));

    internal static bool TryReadToken(string token, string expectedId, out int offset)
    {
        offset = 0;
        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            var parts = text.Split('|');
            return parts.Length == 2 && parts[0] == expectedId && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out offset);
        }
        catch (FormatException) { return false; }
    }

    private LabResponse CancelQuery(LabRequest r, JsonObject body)
    {
        if (FindQuery(r, body, out var q) is { } err) return err;
        if (!q.Cancel(_context.Clock.GetUtcNow()))
            return Json11.Error(400, "InactiveQueryException", $"The query {q.Id} is not active and cannot be cancelled. Its status is {LakeStatus(q.State)}.", r.RequestId);
        return Json11.Ok(new JsonObject { ["QueryId"] = q.Id, ["QueryStatus"] = "CANCELLED" }, r.RequestId);
    }

    private LabResponse ListQueries(LabRequest r, JsonObject body)
    {
        var eds = Json11.Str(body, "EventDataStore");
        if (!(OwnsStore(r) && MatchesStore(eds)))
            return Json11.Error(400, "EventDataStoreNotFoundException", $"The specified event data store {eds} was not found.", r.RequestId);
        var status = Json11.Str(body, "QueryStatus");
        var all = Queries.All.Where(q => q.AccountId == r.AccountId && q.Dialect == TrailDialect.Lake && (status is null || LakeStatus(q.State) == status))
            .OrderByDescending(q => q.CreationTime).ThenBy(q => q.Id, StringComparer.Ordinal)
            .ToList();
        // Pages of MaxResults (the model's 1-1000; the largest when absent); a token only continues the listing it came from.
        int max = Json11.Int(body, "MaxResults") ?? (int)s_model.Range("ListQueries", "MaxResults").Max!.Value;
        var context = GuardDutyIds.HexOf($"{r.AccountId}|{eds}|{status}", 16);
        int offset = 0;
        if (Json11.Str(body, "NextToken") is { } token && (!TryReadToken(token, context, out offset) || offset > all.Count))
            return Json11.Error(400, "InvalidNextTokenException", "The NextToken is not valid.", r.RequestId);
        var page = all.Skip(offset).Take(max)
            .Select(q => (JsonNode)new JsonObject { ["QueryId"] = q.Id, ["QueryStatus"] = LakeStatus(q.State), ["CreationTime"] = Json11.Epoch(q.CreationTime) })
            .ToArray();
        var resp = new JsonObject { ["Queries"] = new JsonArray(page) };
        if (offset + page.Length < all.Count) resp["NextToken"] = MakeToken(context, offset + page.Length);
        return Json11.Ok(resp, r.RequestId);
    }

    // ---------------------------------------------------------------- LookupEvents

    private LabResponse LookupEvents(LabRequest r, JsonObject body)
    {
        // "The rate of lookup requests is limited to two per second, per account, per Region" (model doc); enforced when the Lab throttles.
        if (!_context.Throttle.TryAcquire($"{r.AccountId}:{r.Region}:cloudtrail:LookupEvents", new BucketSpec(2, 2)))
            return Json11.Error(400, "ThrottlingException", "Rate exceeded", r.RequestId);
        string? key = null, value = null;
        if (body["LookupAttributes"] is JsonArray attrs && attrs.Count > 0)
        {
            // "Currently the list can contain only one item" (model doc); the model has checked the key's enum and the value's length.
            if (attrs.Count > 1)
                return Json11.Error(400, "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.", r.RequestId);
            var a = (JsonObject)attrs[0]!;
            key = Json11.Str(a, "AttributeKey");
            value = Json11.Str(a, "AttributeValue");
        }
        var start = Json11.Time(body, "StartTime");
        var end = Json11.Time(body, "EndTime");
        if (start is not null && end is not null && start > end)
            return Json11.Error(400, "InvalidTimeRangeException", "Start time must be before end time.", r.RequestId);
        // The default page is the model's maximum, 50 ("The default is 50", LookupEvents MaxResults).
        int max = Json11.Int(body, "MaxResults") ?? (int)s_model.Range("LookupEvents", "MaxResults").Max!.Value;
        var category = Json11.Str(body, "EventCategory");
        var paramKey = $"{key}|{value}|{start?.ToUnixTimeMilliseconds()}|{end?.ToUnixTimeMilliseconds()}|{category}";
        int offset = 0;
        if (Json11.Str(body, "NextToken") is { } token)
        {
            // A token is only valid with the parameters that produced it.
            if (!TryReadToken(token, GuardDutyIds.HexOf(paramKey + r.AccountId, 16), out offset))
                return Json11.Error(400, "InvalidNextTokenException", "Invalid NextToken: the token does not match the request parameters.", r.RequestId);
        }
        IEnumerable<CloudTrailRecord> events = category == "insight" ? Array.Empty<CloudTrailRecord>() : Database.Records;
        var matched = events
            .Where(e => e.ManagementEvent && e.AwsRegion == r.Region && e.Json["recipientAccountId"]?.GetValue<string>() == r.AccountId)
            .Where(e => start is null || e.EventTime >= start)
            .Where(e => end is null || e.EventTime <= end)
            .Where(e => key is null || Matches(e, key, value!))
            .OrderByDescending(e => e.EventTime).ThenByDescending(e => e.EventId, StringComparer.Ordinal)
            .ToList();
        var page = matched.Skip(offset).Take(max).Select(e =>
        {
            var o = new JsonObject
            {
                ["EventId"] = e.EventId,
                ["EventName"] = e.EventName,
                ["ReadOnly"] = e.ReadOnly ? "true" : "false",
            };
            if (e.AccessKeyId is not null) o["AccessKeyId"] = e.AccessKeyId;
            o["EventTime"] = Json11.Epoch(e.EventTime);
            o["EventSource"] = e.EventSource;
            if (e.Username is not null) o["Username"] = e.Username;
            o["Resources"] = new JsonArray(e.Resources.Select(x => (JsonNode)new JsonObject { ["ResourceType"] = x.Type, ["ResourceName"] = x.Name }).ToArray());
            o["CloudTrailEvent"] = e.JsonText;
            return (JsonNode)o;
        }).ToArray();
        var resp = new JsonObject { ["Events"] = new JsonArray(page) };
        if (offset + page.Length < matched.Count) resp["NextToken"] = MakeToken(GuardDutyIds.HexOf(paramKey + r.AccountId, 16), offset + page.Length);
        return Json11.Ok(resp, r.RequestId);
    }

    private static bool Matches(CloudTrailRecord e, string key, string value) => key switch
    {
        "EventId" => e.EventId == value,
        "EventName" => e.EventName == value,
        "ReadOnly" => (e.ReadOnly ? "true" : "false") == value,
        "Username" => e.Username == value,
        "ResourceType" => e.Resources.Any(x => x.Type == value),
        "ResourceName" => e.Resources.Any(x => x.Name == value),
        "EventSource" => e.EventSource == value,
        "AccessKeyId" => e.AccessKeyId == value,
        _ => false,
    };
}
