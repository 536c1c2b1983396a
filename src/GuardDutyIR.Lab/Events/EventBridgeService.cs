using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Sns;

namespace GuardDutyIR.Lab.Events;

/// <summary>A rule on an event bus. Its targets are kept as the caller sent them (ListTargetsByRule echoes them).</summary>
public sealed class EventRule
{
    internal EventRule(string accountId, string busName, string name, string arn)
    {
        AccountId = accountId;
        BusName = busName;
        Name = name;
        Arn = arn;
    }

    public string AccountId { get; }
    public string BusName { get; }
    public string Name { get; }
    public string Arn { get; }
    public string? EventPatternText { get; internal set; }
    internal EventPattern? Pattern { get; set; }
    public string? ScheduleExpression { get; internal set; }
    public string State { get; internal set; } = "ENABLED";
    public string? Description { get; internal set; }
    public string? RoleArn { get; internal set; }
    internal List<JsonObject> Targets { get; } = new();

    /// <summary>DISABLED rules match nothing; ENABLED and ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS both match.</summary>
    public bool Enabled => State != "DISABLED";
}

/// <summary>What one target of one matched rule was given, and what became of it.</summary>
/// <param name="Outcome">Delivered (an SNS message was published), Invoked (a Lambda invocation was queued) or Failed.</param>
/// <param name="Detail">The SNS message ID, the Lambda request ID, or why delivery failed.</param>
public sealed record EventDelivery(long Sequence, string EventId, string RuleArn, string RuleName, string TargetId, string TargetArn,
    string Input, DateTimeOffset Time, string Outcome, string? Detail);

/// <summary>An event that reached a bus, with the rules it matched.</summary>
public sealed record BusEvent(string Id, string BusArn, string Json, DateTimeOffset IngestedAt, IReadOnlyList<string> MatchedRules);

/// <summary>
/// EventBridge (awsJson1_1, target prefix AWSEvents): rules with event patterns or schedules on each account's default
/// bus, their targets, PutEvents and TestEventPattern. Matching events are delivered at once, in the calling request, to
/// SNS topics (published like any message) and Lambda functions (queued for the function's runtime API); every delivery
/// is kept. Schedules are stored but never fire. AWS services of the Lab (GuardDuty) put their events here through
/// <see cref="ILabEventSink"/>.
/// </summary>
public sealed partial class EventBridgeService : Json11Service, ILabAdminEndpoints, ILabEventSink
{
    public const string DefaultBus = "default";
    /// <summary>"Each rule can have up to five (5) targets associated with it at one time." (PutTargets, API reference)</summary>
    public const int MaxTargetsPerRule = 5;
    /// <summary>Rules per event bus (EventBridge quotas: 300 in every Region but af-south-1 and eu-south-1).</summary>
    public const int MaxRulesPerBus = 300;
    /// <summary>PutEvents' total entry size (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).</summary>
    public const int MaxPutEventsBytes = 256 * 1024;
    /// <summary>Events a bus keeps for /_lab/events/events (the Lab's own window).</summary>
    public const int EventLogSize = 1000;

    // EventBridge quotas: "All EventBridge APIs other than PutEvents are limited to 50 requests per second by default";
    // PutEvents is 10,000 per second in us-east-1 (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html).
    private static readonly BucketSpec ControlPlane = new(50, 50);
    private static readonly BucketSpec PutEventsRate = new(10_000, 10_000);

    private readonly Dictionary<string, Bus> _buses = new(StringComparer.Ordinal);
    private readonly List<EventDelivery> _deliveries = new();
    private long _sequence;

    public EventBridgeService(LabContext context) : base(context, "events", "AWSEvents.")
    {
        Map("PutRule", PutRule, mutating: true, rate: ControlPlane);
        Map("DescribeRule", DescribeRule, rate: ControlPlane);
        Map("ListRules", ListRules, rate: ControlPlane);
        Map("DeleteRule", DeleteRule, mutating: true, rate: ControlPlane);
        Map("PutTargets", PutTargets, mutating: true, rate: ControlPlane);
        Map("ListTargetsByRule", ListTargetsByRule, rate: ControlPlane);
        Map("RemoveTargets", RemoveTargets, mutating: true, rate: ControlPlane);
        Map("TestEventPattern", TestEventPattern, rate: ControlPlane);
        Map("PutEvents", PutEvents, mutating: true, rate: PutEventsRate);
    }

    private sealed class Bus(string accountId, string region, string name)
    {
        public string AccountId { get; } = accountId;
        public string Region { get; } = region;
        public string Name { get; } = name;
        public string Arn { get; } = $"arn:aws:events:{region}:{accountId}:event-bus/{name}";
        public SortedDictionary<string, EventRule> Rules { get; } = new(StringComparer.Ordinal);
        public LinkedList<BusEvent> Events { get; } = new();

        public string RuleArn(string rule) => $"arn:aws:events:{Region}:{AccountId}:rule/{(Name == DefaultBus ? "" : Name + "/")}{rule}";
    }

    /// <summary>Every delivery so far, oldest first.</summary>
    public IReadOnlyList<EventDelivery> Deliveries { get { lock (_deliveries) return _deliveries.ToArray(); } }

    /// <summary>The events the account's default bus received (the last <see cref="EventLogSize"/>), oldest first.</summary>
    public IReadOnlyList<BusEvent> EventsOf(string accountId, string? region = null)
    {
        var bus = DefaultBusOf(accountId, region ?? Context.Region);
        lock (bus) return bus.Events.ToArray();
    }

    /// <summary>The rules of an account's default bus.</summary>
    public IReadOnlyList<EventRule> RulesOf(string accountId, string? region = null)
    {
        var bus = DefaultBusOf(accountId, region ?? Context.Region);
        lock (bus) return bus.Rules.Values.ToArray();
    }

    private Bus DefaultBusOf(string accountId, string region)
    {
        var key = $"{accountId}|{region}|{DefaultBus}";
        lock (_buses)
        {
            if (!_buses.TryGetValue(key, out var bus)) _buses[key] = bus = new Bus(accountId, region, DefaultBus);
            return bus;
        }
    }

    public void RegisterAdminEndpoints(LabAdminRouter router)
    {
        router.Map("/_lab/events/deliveries", r =>
        {
            if (r.Method == "DELETE") { lock (_deliveries) _deliveries.Clear(); return new { cleared = true }; }
            var rule = r.Query["rule"];
            return Deliveries.Where(d => rule is null || d.RuleName == rule || d.RuleArn == rule).ToArray();
        });
        router.Map("/_lab/events/events", r =>
        {
            var account = r.Query["accountId"] ?? Context.World.AccountId;
            return EventsOf(account).Select(e => new { e.Id, e.BusArn, e.IngestedAt, e.MatchedRules, Event = JsonNode.Parse(e.Json) }).ToArray();
        });
        router.Map("/_lab/events/rules", r =>
        {
            var account = r.Query["accountId"] ?? Context.World.AccountId;
            return RulesOf(account).Select(x =>
            {
                JsonObject[] targets;
                lock (DefaultBusOf(x.AccountId, Context.Region)) targets = x.Targets.Select(t => (JsonObject)t.DeepClone()).ToArray();
                return new { x.Name, x.Arn, x.State, x.EventPatternText, x.ScheduleExpression, Targets = targets };
            }).ToArray();
        });
    }

    // ---------------------------------------------------------------- errors

    private static LabResponse NotFound(LabRequest r, string message) => Error(r, "ResourceNotFoundException", message);

    private static LabResponse Validation(LabRequest r, string message) => Error(r, "ValidationException", message);

    private static LabResponse RuleNotFound(LabRequest r, string rule, string bus) => NotFound(r, $"Rule {rule} does not exist on EventBus {bus}.");

    [GeneratedRegex(@"^[\.\-_A-Za-z0-9]+$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+$")]
    private static partial Regex BusNamePattern();

    /// <summary>The model's patterns are not in the Lab's constraint table; EventBridge answers them as Coral does.</summary>
    private static LabResponse? Pattern(LabRequest r, string? value, string path, Regex regex, string shown) =>
        value is null || regex.IsMatch(value) ? null
            : Validation(r, $"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: {shown}");

    /// <summary>Authorization errors name the rule (or bus) the request is about.</summary>
    protected override string? DeniedResource(LabRequest r)
    {
        JsonObject? body;
        try { body = r.Body.Length == 0 ? null : JsonNode.Parse(r.Body) as JsonObject; }
        catch (JsonException) { return null; }
        if (body is null) return null;
        var rule = Str(body, "Name") ?? Str(body, "Rule");
        var busName = BusNameOf(Str(body, "EventBusName"));
        var bus = new Bus(r.AccountId, r.Region, busName);
        return rule is not null ? bus.RuleArn(rule) : r.Action == "PutEvents" ? bus.Arn : null;
    }

    private static string BusNameOf(string? nameOrArn) =>
        nameOrArn is null ? DefaultBus : nameOrArn.StartsWith("arn:", StringComparison.Ordinal) ? nameOrArn[(nameOrArn.IndexOf("event-bus/", StringComparison.Ordinal) + 10)..] : nameOrArn;

    /// <summary>The bus a request names (EventBusName: a name or an ARN); the Lab has only each account's default bus.</summary>
    private LabResponse? ResolveBus(LabRequest r, JsonObject body, out Bus bus)
    {
        bus = null!;
        var given = Str(body, "EventBusName");
        if (Pattern(r, given, "eventBusName", BusNamePattern(), @"(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+") is { } bad) return bad;
        var name = BusNameOf(given);
        var arnAccount = given is not null && given.StartsWith("arn:", StringComparison.Ordinal) ? given.Split(':')[4] : r.AccountId;
        if (name != DefaultBus || arnAccount != r.AccountId) return NotFound(r, $"Event bus {name} does not exist.");
        bus = DefaultBusOf(r.AccountId, r.Region);
        return null;
    }

    // ---------------------------------------------------------------- rules

    [GeneratedRegex(@"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")]
    private static partial Regex RateExpression();

    [GeneratedRegex(@"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")]
    private static partial Regex CronExpression();

    /// <summary>
    /// rate(value unit), the unit singular for 1 and plural above; or cron() with its six fields, one of day-of-month and
    /// day-of-week being "?" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html).
    /// </summary>
    private static bool ValidSchedule(string expression)
    {
        if (RateExpression().Match(expression) is { Success: true } rate)
        {
            if (!int.TryParse(rate.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1) return false;
            return rate.Groups[2].Value.EndsWith('s') == (n > 1);
        }
        if (!CronExpression().IsMatch(expression)) return false;
        var fields = expression[5..^1].Split(' ');
        return fields[2] == "?" ^ fields[4] == "?";
    }

    private LabResponse PutRule(LabRequest r, JsonObject body)
    {
        var name = Str(body, "Name")!;
        if (Pattern(r, name, "name", NamePattern(), @"[\.\-_A-Za-z0-9]+") is { } badName) return badName;
        if (ResolveBus(r, body, out var bus) is { } busError) return busError;
        var patternText = Str(body, "EventPattern");
        var schedule = Str(body, "ScheduleExpression");
        if (string.IsNullOrEmpty(patternText) && string.IsNullOrEmpty(schedule))
            return Validation(r, "Parameter(s) EventPattern or ScheduleExpression must be specified.");
        if (!string.IsNullOrEmpty(schedule))
        {
            if (bus.Name != DefaultBus) return Validation(r, "ScheduleExpression is supported only on the default event bus.");
            if (!ValidSchedule(schedule)) return Validation(r, "Parameter ScheduleExpression is not valid.");
        }
        EventPattern? pattern = null;
        if (!string.IsNullOrEmpty(patternText))
        {
            try { pattern = EventPattern.Parse(patternText); }
            catch (InvalidEventPatternException ex) { return Error(r, "InvalidEventPatternException", ex.Message); }
        }
        EventRule rule;
        lock (bus)
        {
            if (!bus.Rules.TryGetValue(name, out rule!))
            {
                if (bus.Rules.Count >= MaxRulesPerBus)
                    return Error(r, "LimitExceededException", "The requested resource exceeds the maximum number allowed.");
                bus.Rules[name] = rule = new EventRule(bus.AccountId, bus.Name, name, bus.RuleArn(name));
            }
            // "If you omit arguments in PutRule, the old values for those arguments are not kept." Targets are.
            rule.EventPatternText = string.IsNullOrEmpty(patternText) ? null : patternText;
            rule.Pattern = pattern;
            rule.ScheduleExpression = string.IsNullOrEmpty(schedule) ? null : schedule;
            rule.State = Str(body, "State") ?? "ENABLED";
            rule.Description = Str(body, "Description");
            rule.RoleArn = Str(body, "RoleArn");
        }
        return Ok(r, new JsonObject { ["RuleArn"] = rule.Arn });
    }

    private static JsonObject RuleJson(EventRule rule)
    {
        var o = new JsonObject { ["Name"] = rule.Name, ["Arn"] = rule.Arn };
        if (rule.EventPatternText is not null) o["EventPattern"] = rule.EventPatternText;
        if (rule.ScheduleExpression is not null) o["ScheduleExpression"] = rule.ScheduleExpression;
        o["State"] = rule.State;
        if (rule.Description is not null) o["Description"] = rule.Description;
        if (rule.RoleArn is not null) o["RoleArn"] = rule.RoleArn;
        o["EventBusName"] = rule.BusName;
        return o;
    }

    private LabResponse? FindRule(LabRequest r, JsonObject body, string member, out Bus bus, out EventRule rule)
    {
        rule = null!;
        var name = Str(body, member)!;
        if (Pattern(r, name, member.ToLowerInvariant(), NamePattern(), @"[\.\-_A-Za-z0-9]+") is { } badName) { bus = null!; return badName; }
        if (ResolveBus(r, body, out bus) is { } busError) return busError;
        lock (bus)
            if (bus.Rules.TryGetValue(name, out var found)) { rule = found; return null; }
        return RuleNotFound(r, name, bus.Name);
    }

    private LabResponse DescribeRule(LabRequest r, JsonObject body)
    {
        if (FindRule(r, body, "Name", out var bus, out var rule) is { } err) return err;
        JsonObject o;
        lock (bus) o = RuleJson(rule);
        o["CreatedBy"] = rule.AccountId;
        return Ok(r, o);
    }

    private LabResponse ListRules(LabRequest r, JsonObject body)
    {
        if (ResolveBus(r, body, out var bus) is { } busError) return busError;
        var prefix = Str(body, "NamePrefix") ?? "";
        // "The maximum number of results per page for requests is 100."
        var limit = Int(body, "Limit") ?? 100;
        List<JsonObject> all;
        lock (bus) all = bus.Rules.Values.Where(x => x.Name.StartsWith(prefix, StringComparison.Ordinal)).Select(RuleJson).ToList();
        return Page(r, body, $"rules {bus.Arn} {prefix}", all, limit, "Rules");
    }

    private LabResponse Page(LabRequest r, JsonObject body, string context, List<JsonObject> all, int limit, string member)
    {
        int offset = 0;
        if (Str(body, "NextToken") is { } token && (!TryReadPageToken(token, context, out offset) || offset > all.Count))
            return Validation(r, "The NextToken provided is not valid.");
        var page = all.Skip(offset).Take(limit).ToList();
        var o = new JsonObject { [member] = new JsonArray(page.Select(x => (JsonNode)x).ToArray()) };
        if (offset + page.Count < all.Count) o["NextToken"] = PageToken(context, offset + page.Count);
        return Ok(r, o);
    }

    private LabResponse DeleteRule(LabRequest r, JsonObject body)
    {
        var name = Str(body, "Name")!;
        if (Pattern(r, name, "name", NamePattern(), @"[\.\-_A-Za-z0-9]+") is { } badName) return badName;
        if (ResolveBus(r, body, out var bus) is { } busError) return busError;
        lock (bus)
        {
            // Deleting a rule that does not exist succeeds; one with targets must be emptied first.
            if (bus.Rules.TryGetValue(name, out var rule))
            {
                if (rule.Targets.Count > 0) return Validation(r, "Rule can't be deleted since it has targets.");
                bus.Rules.Remove(name);
            }
        }
        return Ok(r, new JsonObject());
    }

    // ---------------------------------------------------------------- targets

    [GeneratedRegex(@"^arn:aws[\w-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$")]
    private static partial Regex ArnFormat();

    private LabResponse PutTargets(LabRequest r, JsonObject body)
    {
        if (FindRule(r, body, "Rule", out var bus, out var rule) is { } err) return err;
        var targets = (body["Targets"] as JsonArray)!.OfType<JsonObject>().ToList();
        var failed = new JsonArray();
        var accepted = new List<JsonObject>();
        for (int i = 0; i < targets.Count; i++)
        {
            var t = targets[i];
            var id = Str(t, "Id")!;
            if (Pattern(r, id, $"targets.{i + 1}.member.id", NamePattern(), @"[\.\-_A-Za-z0-9]+") is { } badId) return badId;
            var arn = Str(t, "Arn")!;
            int inputs = (t["Input"] is null ? 0 : 1) + (t["InputPath"] is null ? 0 : 1) + (t["InputTransformer"] is null ? 0 : 1);
            if (inputs > 1) return Validation(r, $"Only one of Input, InputPath, or InputTransformer must be provided for target {id}.");
            if (Str(t, "Input") is { } input && !IsJson(input))
                return Validation(r, $"Parameter Input is not valid. Reason: Input for target {id} is not valid JSON text.");
            if (Str(t, "InputPath") is { } inputPath && !JsonPathLite.TryParse(inputPath, out _))
                return Validation(r, $"Parameter InputPath is not valid. Reason: {inputPath} for target {id} is not a valid JSON path.");
            if (t["InputTransformer"] is JsonObject transformer
                && TargetInput.ValidateTransformer(id, PathsOf(transformer), Str(transformer, "InputTemplate")!) is { } transformerError)
                return Validation(r, transformerError);
            if (!ArnFormat().IsMatch(arn))
            {
                failed.Add(new JsonObject
                {
                    ["TargetId"] = id, ["ErrorCode"] = "ValidationException",
                    ["ErrorMessage"] = $"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format.",
                });
                continue;
            }
            accepted.Add((JsonObject)t.DeepClone());
        }
        lock (bus)
        {
            var ids = new HashSet<string>(rule.Targets.Select(x => Str(x, "Id")!), StringComparer.Ordinal);
            ids.UnionWith(accepted.Select(x => Str(x, "Id")!));
            if (ids.Count > MaxTargetsPerRule)
                return Error(r, "LimitExceededException", "The requested resource exceeds the maximum number allowed.");
            foreach (var t in accepted)
            {
                var at = rule.Targets.FindIndex(x => Str(x, "Id") == Str(t, "Id"));
                if (at >= 0) rule.Targets[at] = t;
                else rule.Targets.Add(t);
            }
        }
        return Ok(r, new JsonObject { ["FailedEntryCount"] = failed.Count, ["FailedEntries"] = failed });
    }

    private static bool IsJson(string text)
    {
        try { using var _ = JsonDocument.Parse(text); return true; }
        catch (JsonException) { return false; }
    }

    private static Dictionary<string, string> PathsOf(JsonObject transformer)
    {
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        if (transformer["InputPathsMap"] is JsonObject map)
            foreach (var (k, v) in map)
                if (v is JsonValue jv && jv.TryGetValue<string>(out var s)) paths[k] = s;
        return paths;
    }

    private LabResponse ListTargetsByRule(LabRequest r, JsonObject body)
    {
        if (FindRule(r, body, "Rule", out var bus, out var rule) is { } err) return err;
        List<JsonObject> all;
        lock (bus) all = rule.Targets.Select(t => (JsonObject)t.DeepClone()).ToList();
        return Page(r, body, $"targets {rule.Arn}", all, Int(body, "Limit") ?? 100, "Targets");
    }

    private LabResponse RemoveTargets(LabRequest r, JsonObject body)
    {
        if (FindRule(r, body, "Rule", out var bus, out var rule) is { } err) return err;
        var failed = new JsonArray();
        lock (bus)
            foreach (var id in (body["Ids"] as JsonArray)!.Select(v => v!.GetValue<string>()))
                if (rule.Targets.RemoveAll(t => Str(t, "Id") == id) == 0)
                    failed.Add(new JsonObject
                    {
                        ["TargetId"] = id, ["ErrorCode"] = "ResourceNotFoundException",
                        ["ErrorMessage"] = $"Rule '{rule.Name}' does not have a target with the Id '{id}'.",
                    });
        return Ok(r, new JsonObject { ["FailedEntryCount"] = failed.Count, ["FailedEntries"] = failed });
    }

    // ---------------------------------------------------------------- events

    /// <summary>"the following fields are mandatory: id, account, source, time, region, resources, detail-type" (TestEventPattern)</summary>
    private static readonly string[] s_eventFields = { "id", "account", "source", "time", "region", "detail-type" };

    private LabResponse TestEventPattern(LabRequest r, JsonObject body)
    {
        EventPattern pattern;
        try { pattern = EventPattern.Parse(Str(body, "EventPattern")!); }
        catch (InvalidEventPatternException ex) { return Error(r, "InvalidEventPatternException", ex.Message); }
        JsonDocument doc;
        try { doc = JsonDocument.Parse(Str(body, "Event")!); }
        catch (JsonException) { return Validation(r, "Parameter Event is not valid."); }
        using (doc)
        {
            // resources is listed as mandatory too, but EventBridge accepts an event without it.
            if (doc.RootElement.ValueKind != JsonValueKind.Object || s_eventFields.Any(f => !doc.RootElement.TryGetProperty(f, out _)))
                return Validation(r, "Parameter Event is not valid.");
            return Ok(r, new JsonObject { ["Result"] = pattern.Matches(doc.RootElement) });
        }
    }

    private LabResponse PutEvents(LabRequest r, JsonObject body)
    {
        var entries = (body["Entries"] as JsonArray)!.OfType<JsonObject>().ToList();
        long size = 0;
        foreach (var e in entries)
        {
            if (e["Time"] is not null) size += 14;
            foreach (var m in new[] { "Source", "DetailType", "Detail" }) size += Encoding.UTF8.GetByteCount(Str(e, m) ?? "");
            if (e["Resources"] is JsonArray res) size += res.Sum(x => Encoding.UTF8.GetByteCount(x?.GetValue<string>() ?? ""));
        }
        if (size > MaxPutEventsBytes) return Validation(r, "Total size of the entries in the request is over the limit.");

        var results = new JsonArray();
        int failed = 0;
        var now = Context.Clock.GetUtcNow();
        foreach (var e in entries)
        {
            var (code, message) = Refusal(e);
            if (code is not null)
            {
                failed++;
                results.Add(new JsonObject { ["ErrorCode"] = code, ["ErrorMessage"] = message });
                continue;
            }
            var id = Guid.NewGuid().ToString();
            var given = Str(e, "EventBusName");
            if (given is not null && (!BusNamePattern().IsMatch(given) || BusNameOf(given) != DefaultBus
                || (given.StartsWith("arn:", StringComparison.Ordinal) && given.Split(':')[4] != r.AccountId)))
            {
                // An event for a bus that does not exist is taken and goes nowhere.
                results.Add(new JsonObject { ["EventId"] = id });
                continue;
            }
            var evt = Envelope(id, Str(e, "DetailType")!, Str(e, "Source")!, r.AccountId, Time(e, "Time") ?? now, r.Region,
                e["Resources"] is JsonArray resources ? resources.Select(x => x!.GetValue<string>()).ToList() : new List<string>(),
                (JsonObject)JsonNode.Parse(Str(e, "Detail")!)!);
            Ingest(DefaultBusOf(r.AccountId, r.Region), evt, now);
            results.Add(new JsonObject { ["EventId"] = id });
        }
        return Ok(r, new JsonObject { ["FailedEntryCount"] = failed, ["Entries"] = results });
    }

    /// <summary>Why EventBridge fails one PutEvents entry (each entry stands alone), or nulls.</summary>
    private static (string? Code, string? Message) Refusal(JsonObject e)
    {
        foreach (var m in new[] { "Source", "DetailType", "Detail" })
            if (string.IsNullOrEmpty(Str(e, m)))
                return ("InvalidArgument", $"Parameter {m} is not valid. Reason: {m} is a required argument.");
        try
        {
            if (JsonNode.Parse(Str(e, "Detail")!) is not JsonObject) return ("MalformedDetail", "Detail is malformed.");
        }
        catch (JsonException) { return ("MalformedDetail", "Detail is malformed."); }
        // Sources that begin with "aws." belong to AWS services; custom events cannot claim them.
        if (Str(e, "Source")!.StartsWith("aws.", StringComparison.Ordinal))
            return ("NotAuthorizedForSourceException", "Not authorized for the source.");
        return (null, null);
    }

    /// <summary>The event as EventBridge delivers it (https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html).</summary>
    private static JsonObject Envelope(string id, string detailType, string source, string account, DateTimeOffset time, string region,
        IReadOnlyList<string> resources, JsonObject detail) => new()
    {
        ["version"] = "0",
        ["id"] = id,
        ["detail-type"] = detailType,
        ["source"] = source,
        ["account"] = account,
        ["time"] = TargetInput.Iso(time),
        ["region"] = region,
        ["resources"] = new JsonArray(resources.Select(x => (JsonNode)x!).ToArray()),
        ["detail"] = detail,
    };

    public string PutServiceEvent(LabServiceEvent e)
    {
        var id = Guid.NewGuid().ToString();
        var evt = Envelope(id, e.DetailType, e.Source, e.AccountId, e.Time, e.Region, e.Resources ?? Array.Empty<string>(), (JsonObject)e.Detail.DeepClone());
        Ingest(DefaultBusOf(e.AccountId, e.Region), evt, Context.Clock.GetUtcNow());
        return id;
    }

    /// <summary>Matches the event against the bus's enabled rules and delivers it to each matching rule's targets.</summary>
    private void Ingest(Bus bus, JsonObject evt, DateTimeOffset ingestion)
    {
        var json = evt.ToJsonString();
        using var doc = JsonDocument.Parse(json);
        var matched = new List<(EventRule Rule, JsonObject[] Targets)>();
        lock (bus)
        {
            foreach (var rule in bus.Rules.Values)
                if (rule.Enabled && rule.Pattern is { } p && p.Matches(doc.RootElement))
                    matched.Add((rule, rule.Targets.Select(t => (JsonObject)t.DeepClone()).ToArray()));
            bus.Events.AddLast(new BusEvent((string)evt["id"]!, bus.Arn, json, ingestion, matched.Select(m => m.Rule.Arn).ToArray()));
            while (bus.Events.Count > EventLogSize) bus.Events.RemoveFirst();
        }
        foreach (var (rule, targets) in matched)
            foreach (var target in targets)
                Deliver(rule, target, (string)evt["id"]!, doc.RootElement, ingestion);
    }

    private void Deliver(EventRule rule, JsonObject target, string eventId, JsonElement evt, DateTimeOffset ingestion)
    {
        var arn = Str(target, "Arn")!;
        string input;
        if (Str(target, "Input") is { } constant) input = constant;
        else if (Str(target, "InputPath") is { } path) input = TargetInput.FromInputPath(path, evt);
        else if (target["InputTransformer"] is JsonObject transformer)
            input = TargetInput.Transform(PathsOf(transformer), Str(transformer, "InputTemplate")!, evt, new TransformContext(rule.Arn, rule.Name, ingestion));
        else input = evt.GetRawText();

        string outcome, detail;
        var service = arn.Split(':')[2];
        if (service == "sns" && Context.GetService<SnsService>() is { } sns)
        {
            var message = sns.PublishAsService(arn, input, "events.amazonaws.com", out var error);
            (outcome, detail) = message is null ? ("Failed", error!) : ("Delivered", message.MessageId);
        }
        else if (service == "lambda")
        {
            var invocation = Context.Lambda.QueueInvocation(arn, input, rule.Arn, out var error);
            (outcome, detail) = invocation is null ? ("Failed", error!) : ("Invoked", invocation.RequestId);
        }
        else (outcome, detail) = ("Failed", $"The Lab delivers to SNS topics and Lambda functions only, not to {arn}.");

        lock (_deliveries)
            _deliveries.Add(new EventDelivery(++_sequence, eventId, rule.Arn, rule.Name, Str(target, "Id")!, arn, input, ingestion, outcome, detail));
    }
}
