using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;
using GuardDutyIR.Lab.S3;

namespace GuardDutyIR.Lab.CloudTrail;

/// <summary>
/// CloudTrail (awsJson1_1): CloudTrail Lake over the scenario's events (one event data store, SQL on DuckDB) and
/// LookupEvents over its management events.
/// </summary>
public sealed partial class CloudTrailService : Json11Service
{
    public const string EventDataStoreName = "workshop-eds";
    private const int MaxConcurrentQueries = 10;

    public CloudTrailService(LabContext context) : base(context, "cloudtrail", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.")
    {
        Database = new TrailDatabase(Array.Empty<CloudTrailRecord>());
        Queries = new TrailQueryRunner(Database, context.Clock);
        Map("ListEventDataStores", ListEventDataStores);
        Map("GetEventDataStore", GetEventDataStore);
        Map("StartQuery", StartQuery, mutating: true);
        Map("DescribeQuery", DescribeQuery);
        Map("GetQueryResults", GetQueryResults);
        Map("CancelQuery", CancelQuery, mutating: true);
        Map("ListQueries", ListQueries);
        // "The rate of lookup requests is limited to two per second, per account, per Region" (LookupEvents documentation).
        Map("LookupEvents", LookupEvents, rate: new BucketSpec(2, 2));
    }

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
    public CloudTrailTruth? Truth { get; internal set; }

    /// <summary>Replaces the events Lake and LookupEvents answer from (queries start afresh over them).</summary>
    internal void Load(IReadOnlyList<CloudTrailRecord> records)
    {
        Database = new TrailDatabase(records);
        Queries = new TrailQueryRunner(Database, Context.Clock) { MinimumRunTime = Queries.MinimumRunTime };
    }

    /// <summary>The account's event data store over those events (the Lab has at most one).</summary>
    internal void AddEventDataStore(string id, string arn, string ownerAccountId, DateTimeOffset created)
    {
        EventDataStoreId = id;
        EventDataStoreArn = arn;
        EventDataStoreOwner = ownerAccountId;
        _edsCreated = created;
    }

    /// <summary>Adds <paramref name="count"/> background events (time-ordered, deterministic) to the store, e.g. for large-result tests.</summary>
    public void AddBulkEvents(int count, int seed = 1)
    {
        var w = Context.World;
        Database.Append(CloudTrailEventGenerator.Bulk(w.AccountId, w.Region, seed, count, w.BaseTime.AddDays(-10), w.BaseTime.AddDays(-4)));
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
    /// Input that breaks the model: the operation's own exception for that member (InvalidMaxResultsException, "thrown if the limit specified is not valid"), else its
    /// InvalidParameterException ("the request includes a parameter that is not valid"), else ValidationException.
    /// </summary>
    protected override LabResponse Invalid(LabRequest r, string op, IReadOnlyList<ModelViolation> violations)
    {
        var v = violations[0];
        var code = s_memberErrors.TryGetValue(v.TopMember, out var specific) && Model.ModelsError(op, specific) ? specific
            : Model.ModelsError(op, "InvalidParameterException") ? "InvalidParameterException"
            : "ValidationException";
        return Error(r, code, ModelViolation.Summary(violations));
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
            o["CreatedTimestamp"] = Epoch(_edsCreated);
            o["UpdatedTimestamp"] = Epoch(_edsCreated);
            return o;
        }
        o["Status"] = "ENABLED";
        o["AdvancedEventSelectors"] = Selectors();
        o["MultiRegionEnabled"] = true;
        o["OrganizationEnabled"] = false;
        o["RetentionPeriod"] = 2557;
        o["TerminationProtectionEnabled"] = true;
        o["CreatedTimestamp"] = Epoch(_edsCreated);
        o["UpdatedTimestamp"] = Epoch(_edsCreated);
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
        if (Str(body, "NextToken") is { } token && token != "")
            return Error(r, "InvalidNextTokenException", "The NextToken is not valid.");
        var list = new JsonArray();
        if (OwnsStore(r)) list.Add(StoreJson(full: false));
        return Ok(r, new JsonObject { ["EventDataStores"] = list });
    }

    private LabResponse GetEventDataStore(LabRequest r, JsonObject body)
    {
        var eds = Str(body, "EventDataStore")!;
        if (eds.StartsWith("arn:", StringComparison.Ordinal) && !EdsArnPattern().IsMatch(eds))
            return Error(r, "EventDataStoreARNInvalidException", "The specified event data store ARN is not valid or does not map to an event data store in your account.");
        if (!OwnsStore(r) || !MatchesStore(eds))
            return Error(r, "EventDataStoreNotFoundException", $"The specified event data store {eds} was not found.");
        return Ok(r, StoreJson(full: true));
    }

    [GeneratedRegex(@"^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:eventdatastore/[A-Za-z0-9-]+$")]
    private static partial Regex EdsArnPattern();

    [GeneratedRegex(@"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    private static partial Regex UuidPattern();

    // ---------------------------------------------------------------- Lake queries

    private LabResponse StartQuery(LabRequest r, JsonObject body)
    {
        var statement = Str(body, "QueryStatement");
        if (string.IsNullOrEmpty(statement))
            return Error(r, "InvalidParameterException", Str(body, "QueryAlias") is not null
                ? "QueryAlias is only supported for CloudTrail Lake dashboard queries."
                : "You must specify a QueryStatement.");
        var sql = TrailSql.SingleSelect(statement);
        if (sql is null)
            return Error(r, "InvalidQueryStatementException", "Query statement is invalid. Only SELECT statements are supported.");
        var tables = TrailSql.Tables(sql);
        if (tables.Count == 0)
            return Error(r, "InvalidQueryStatementException", "Query statement is invalid. The FROM clause must name an event data store.");
        foreach (var t in tables)
        {
            if (MatchesStore(t) && OwnsStore(r)) continue;
            if (UuidPattern().IsMatch(t) || t.StartsWith("arn:", StringComparison.Ordinal))
                return Error(r, "EventDataStoreNotFoundException", $"The specified event data store {t} was not found.");
            return Error(r, "InvalidQueryStatementException", $"Query statement is invalid. {t} is not an event data store ID or ARN.");
        }
        string? delivery = Str(body, "DeliveryS3Uri");
        if (delivery is not null)
        {
            if (!S3Store.TryParseUri(delivery, out var bucket, out _)) return Error(r, "InvalidS3BucketNameException", "The S3 bucket name is not valid.");
            if (Context.GetService<S3Service>()?.Store.Bucket(bucket) is null) return Error(r, "S3BucketDoesNotExistException", $"The S3 bucket {bucket} does not exist.");
        }
        if (Queries.ActiveCount(r.AccountId) >= MaxConcurrentQueries)
            return Error(r, "MaxConcurrentQueriesException", "You are already running the maximum number of concurrent queries. The maximum number of concurrent queries is 10.");
        var executed = TrailSql.RewriteTables(sql, t => MatchesStore(t) ? TrailDatabase.LakeTable : null);
        var q = Queries.Start(r.AccountId, statement, executed, TrailDialect.Lake, delivery is null ? null : Deliver);
        if (delivery is not null) q.Properties["DeliveryS3Uri"] = delivery;
        var resp = new JsonObject { ["QueryId"] = q.Id };
        if (Str(body, "EventDataStoreOwnerAccountId") is { } owner) resp["EventDataStoreOwnerAccountId"] = owner;
        return Ok(r, resp);
    }

    /// <summary>Writes a finished query's rows to S3 as CSV, as Lake does for DeliveryS3Uri.</summary>
    private void Deliver(TrailQuery q)
    {
        var store = Context.GetService<S3Service>()?.Store;
        if (store is null || !S3Store.TryParseUri(q.Properties["DeliveryS3Uri"], out var bucket, out var prefix) || q.Result is not { } result) { q.Properties["DeliveryStatus"] = "FAILED"; return; }
        prefix = prefix.Trim('/');
        var key = (prefix.Length > 0 ? prefix + "/" : "") + q.Id + "/result_1.csv";
        if (store.Bucket(bucket) is null) { q.Properties["DeliveryStatus"] = "RESOURCE_NOT_FOUND"; return; }
        store.Put(bucket, new S3StoredObject(key, result.ToCsv(v => Csv(v ?? "")), "text/csv", Context.Clock.GetUtcNow()));
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
        var id = Str(body, "QueryId");
        if (string.IsNullOrEmpty(id))
            return Error(r, "InvalidParameterException", "QueryId is required.");
        if (Str(body, "EventDataStore") is { } eds && !(OwnsStore(r) && MatchesStore(eds)))
            return Error(r, "EventDataStoreNotFoundException", $"The specified event data store {eds} was not found.");
        var found = Queries.Find(id);
        if (found is null || found.AccountId != r.AccountId)
            return Error(r, "QueryIdNotFoundException", $"The query ID {id} does not exist or does not map to a query.");
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
                ["CreationTime"] = Epoch(q.CreationTime),
            },
        };
        if (q.ErrorMessage is { } e) o["ErrorMessage"] = e;
        if (q.Properties.TryGetValue("DeliveryS3Uri", out var uri))
        {
            o["DeliveryS3Uri"] = uri;
            o["DeliveryStatus"] = q.Properties.TryGetValue("DeliveryStatus", out var ds) ? ds : q.State == TrailQueryState.Cancelled ? "CANCELLED" : "PENDING";
        }
        return Ok(r, o);
    }

    private LabResponse GetQueryResults(LabRequest r, JsonObject body)
    {
        if (FindQuery(r, body, out var q) is { } err) return err;
        // The model bounds MaxQueryResults to 1-1000 and documents no default; the Lab serves the largest page.
        int max = Int(body, "MaxQueryResults") ?? (int)Model.Range("GetQueryResults", "MaxQueryResults").Max!.Value;
        int offset = 0;
        if (Str(body, "NextToken") is { } token)
        {
            if (!TryReadPageToken(token, q.Id, out offset))
                return Error(r, "InvalidNextTokenException", "The NextToken is not valid.");
        }
        var o = new JsonObject { ["QueryStatus"] = LakeStatus(q.State) };
        var res = q.State == TrailQueryState.Succeeded ? q.Result : null;
        var rows = new JsonArray();
        if (res is not null)
        {
            if (offset > res.Rows.Count)
                return Error(r, "InvalidNextTokenException", "The NextToken is not valid.");
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
            if (offset + rows.Count < res.Rows.Count) o["NextToken"] = PageToken(q.Id, offset + rows.Count);
        }
        else
        {
            o["QueryStatistics"] = new JsonObject { ["ResultsCount"] = 0, ["TotalResultsCount"] = 0, ["BytesScanned"] = q.Result?.BytesScanned ?? 0 };
            o["QueryResultRows"] = rows;
        }
        if (q.ErrorMessage is { } e) o["ErrorMessage"] = e;
        return Ok(r, o);
    }

    private LabResponse CancelQuery(LabRequest r, JsonObject body)
    {
        if (FindQuery(r, body, out var q) is { } err) return err;
        if (!q.Cancel(Context.Clock.GetUtcNow()))
            return Error(r, "InactiveQueryException", $"The query {q.Id} is not active and cannot be cancelled. Its status is {LakeStatus(q.State)}.");
        return Ok(r, new JsonObject { ["QueryId"] = q.Id, ["QueryStatus"] = "CANCELLED" });
    }

    private LabResponse ListQueries(LabRequest r, JsonObject body)
    {
        var eds = Str(body, "EventDataStore");
        if (!(OwnsStore(r) && MatchesStore(eds)))
            return Error(r, "EventDataStoreNotFoundException", $"The specified event data store {eds} was not found.");
        var status = Str(body, "QueryStatus");
        var all = Queries.All.Where(q => q.AccountId == r.AccountId && q.Dialect == TrailDialect.Lake && (status is null || LakeStatus(q.State) == status))
            .OrderByDescending(q => q.CreationTime).ThenBy(q => q.Id, StringComparer.Ordinal)
            .ToList();
        // Pages of MaxResults (the model's 1-1000; the largest when absent); a token only continues the listing it came from.
        int max = Int(body, "MaxResults") ?? (int)Model.Range("ListQueries", "MaxResults").Max!.Value;
        var context = GuardDutyIds.HexOf($"{r.AccountId}|{eds}|{status}", 16);
        int offset = 0;
        if (Str(body, "NextToken") is { } token && (!TryReadPageToken(token, context, out offset) || offset > all.Count))
            return Error(r, "InvalidNextTokenException", "The NextToken is not valid.");
        var page = all.Skip(offset).Take(max)
            .Select(q => (JsonNode)new JsonObject { ["QueryId"] = q.Id, ["QueryStatus"] = LakeStatus(q.State), ["CreationTime"] = Epoch(q.CreationTime) })
            .ToArray();
        var resp = new JsonObject { ["Queries"] = new JsonArray(page) };
        if (offset + page.Length < all.Count) resp["NextToken"] = PageToken(context, offset + page.Length);
        return Ok(r, resp);
    }

    // ---------------------------------------------------------------- LookupEvents

    private LabResponse LookupEvents(LabRequest r, JsonObject body)
    {
        string? key = null, value = null;
        if (body["LookupAttributes"] is JsonArray attrs && attrs.Count > 0)
        {
            // "Currently the list can contain only one item" (model doc); the model has checked the key's enum and the value's length.
            if (attrs.Count > 1)
                return Error(r, "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.");
            var a = (JsonObject)attrs[0]!;
            key = Str(a, "AttributeKey");
            value = Str(a, "AttributeValue");
        }
        var start = Time(body, "StartTime");
        var end = Time(body, "EndTime");
        if (start is not null && end is not null && start > end)
            return Error(r, "InvalidTimeRangeException", "Start time must be before end time.");
        // The default page is the model's maximum, 50 ("The default is 50", LookupEvents MaxResults).
        int max = Int(body, "MaxResults") ?? (int)Model.Range("LookupEvents", "MaxResults").Max!.Value;
        var category = Str(body, "EventCategory");
        var paramKey = $"{key}|{value}|{start?.ToUnixTimeMilliseconds()}|{end?.ToUnixTimeMilliseconds()}|{category}";
        int offset = 0;
        if (Str(body, "NextToken") is { } token)
        {
            // A token is only valid with the parameters that produced it.
            if (!TryReadPageToken(token, GuardDutyIds.HexOf(paramKey + r.AccountId, 16), out offset))
                return Error(r, "InvalidNextTokenException", "Invalid NextToken: the token does not match the request parameters.");
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
            o["EventTime"] = Epoch(e.EventTime);
            o["EventSource"] = e.EventSource;
            if (e.Username is not null) o["Username"] = e.Username;
            o["Resources"] = new JsonArray(e.Resources.Select(x => (JsonNode)new JsonObject { ["ResourceType"] = x.Type, ["ResourceName"] = x.Name }).ToArray());
            o["CloudTrailEvent"] = e.JsonText;
            return (JsonNode)o;
        }).ToArray();
        var resp = new JsonObject { ["Events"] = new JsonArray(page) };
        if (offset + page.Length < matched.Count) resp["NextToken"] = PageToken(GuardDutyIds.HexOf(paramKey + r.AccountId, 16), offset + page.Length);
        return Ok(r, resp);
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
