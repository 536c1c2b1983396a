using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>A rule as EventBridge describes it (DescribeRule / ListRules).</summary>
public sealed record EventRuleDescription(
    string Name, string Arn, string? EventPattern, string State, string? Description, string EventBusName,
    string? ScheduleExpression, string? RoleArn, string? ManagedBy);

/// <summary>
/// A rule's target (PutTargets / ListTargetsByRule): where the event goes and what it is turned into on the way
/// (Input, InputPath or an input transformer).
/// </summary>
public sealed record EventTargetDescription(
    string Id, string Arn, string? Input = null, string? InputPath = null,
    IReadOnlyDictionary<string, string>? InputPathsMap = null, string? InputTemplate = null, string? RoleArn = null);

/// <summary>One entry of PutEvents.</summary>
public sealed record EventEntry(string Source, string DetailType, string Detail, IReadOnlyList<string>? Resources = null, string? EventBusName = null,
    DateTime? Time = null);

/// <summary>What PutEvents said about one entry: its event ID, or why it was refused.</summary>
public sealed record EventEntryResult(string? EventId, string? ErrorCode, string? ErrorMessage);

/// <summary>
/// Amazon EventBridge over json-1.1 (AWSEvents_20151007): the rules and targets of an automatic response, testing a
/// pattern against an event, and putting events.
/// </summary>
public sealed class EventBridgeClient : ServiceClientBase
{
    /// <summary>PutTargets takes at most 10 targets per call; a rule has at most 5 by default.</summary>
    public const int MaxTargetsPerCall = 10;

    /// <summary>PutEvents takes at most 10 entries per call.</summary>
    public const int MaxEntriesPerCall = 10;

    internal EventBridgeClient(AwsProtocolClient client, string region) : base(client, region) { }

    /// <summary>PutRule: creates or updates a rule; returns its ARN and the request ID.</summary>
    public async Task<(string RuleArn, string? RequestId)> PutRuleAsync(string name, string eventPattern, string? description, bool enabled,
        string? eventBusName, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["Name"] = name, ["EventPattern"] = eventPattern, ["State"] = enabled ? "ENABLED" : "DISABLED" };
        if (description is not null) body["Description"] = description;
        if (eventBusName is not null) body["EventBusName"] = eventBusName;
        if (tags is { Count: > 0 })
            body["Tags"] = new JsonArray(tags.Select(t => (JsonNode)new JsonObject { ["Key"] = t.Key, ["Value"] = t.Value }).ToArray());
        var (response, requestId) = await CallJson11WithIdAsync("PutRule", body, cancellationToken).ConfigureAwait(false);
        return (Required(response, "RuleArn", "PutRule"), requestId);
    }

    public async Task<EventRuleDescription> DescribeRuleAsync(string name, string? eventBusName, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["Name"] = name };
        if (eventBusName is not null) body["EventBusName"] = eventBusName;
        return ToRule(await CallJson11Async("DescribeRule", body, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Every rule of the bus (with a name prefix, those only), page after page.</summary>
    public async IAsyncEnumerable<EventRuleDescription> ListRulesAsync(string? namePrefix, string? eventBusName,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? next = null;
        do
        {
            var body = new JsonObject { ["Limit"] = 100 };
            if (namePrefix is not null) body["NamePrefix"] = namePrefix;
            if (eventBusName is not null) body["EventBusName"] = eventBusName;
            if (next is not null) body["NextToken"] = next;
            var page = await CallJson11Async("ListRules", body, cancellationToken).ConfigureAwait(false);
            foreach (var rule in page["Rules"]?.AsArray().OfType<JsonObject>() ?? Enumerable.Empty<JsonObject>()) yield return ToRule(rule);
            next = page["NextToken"]?.GetValue<string>();
        } while (!string.IsNullOrEmpty(next));
    }

    /// <summary>Every target of a rule.</summary>
    public async IAsyncEnumerable<EventTargetDescription> ListTargetsByRuleAsync(string rule, string? eventBusName,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? next = null;
        do
        {
            var body = new JsonObject { ["Rule"] = rule, ["Limit"] = 100 };
            if (eventBusName is not null) body["EventBusName"] = eventBusName;
            if (next is not null) body["NextToken"] = next;
            var page = await CallJson11Async("ListTargetsByRule", body, cancellationToken).ConfigureAwait(false);
            foreach (var target in page["Targets"]?.AsArray().OfType<JsonObject>() ?? Enumerable.Empty<JsonObject>()) yield return ToTarget(target);
            next = page["NextToken"]?.GetValue<string>();
        } while (!string.IsNullOrEmpty(next));
    }

    /// <summary>
    /// PutTargets: adds or replaces targets. EventBridge answers 200 even when some entries fail; those come back as a
    /// <see cref="GuardDutyIRException"/> naming each failed target, after the successful ones are in place.
    /// </summary>
    public async Task<string?> PutTargetsAsync(string rule, string? eventBusName, IReadOnlyList<EventTargetDescription> targets, CancellationToken cancellationToken)
    {
        string? lastRequestId = null;
        foreach (var chunk in targets.Chunk(MaxTargetsPerCall))
        {
            var body = new JsonObject { ["Rule"] = rule, ["Targets"] = new JsonArray(chunk.Select(t => (JsonNode)FromTarget(t)).ToArray()) };
            if (eventBusName is not null) body["EventBusName"] = eventBusName;
            var (response, requestId) = await CallJson11WithIdAsync("PutTargets", body, cancellationToken).ConfigureAwait(false);
            lastRequestId = requestId;
            ThrowOnFailedEntries(response, "PutTargets", rule);
        }
        return lastRequestId;
    }

    public async Task<string?> RemoveTargetsAsync(string rule, string? eventBusName, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        string? lastRequestId = null;
        foreach (var chunk in ids.Chunk(100))
        {
            var body = new JsonObject { ["Rule"] = rule, ["Ids"] = new JsonArray(chunk.Select(id => (JsonNode)JsonValue.Create(id)!).ToArray()) };
            if (eventBusName is not null) body["EventBusName"] = eventBusName;
            var (response, requestId) = await CallJson11WithIdAsync("RemoveTargets", body, cancellationToken).ConfigureAwait(false);
            lastRequestId = requestId;
            ThrowOnFailedEntries(response, "RemoveTargets", rule);
        }
        return lastRequestId;
    }

    /// <summary>DeleteRule; EventBridge refuses while the rule has targets.</summary>
    public async Task<string?> DeleteRuleAsync(string name, string? eventBusName, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["Name"] = name };
        if (eventBusName is not null) body["EventBusName"] = eventBusName;
        return (await CallJson11WithIdAsync("DeleteRule", body, cancellationToken).ConfigureAwait(false)).RequestId;
    }

    /// <summary>TestEventPattern: whether the event (a full EventBridge event, JSON text) matches the pattern.</summary>
    public async Task<bool> TestEventPatternAsync(string eventPattern, string eventJson, CancellationToken cancellationToken)
    {
        var response = await CallJson11Async("TestEventPattern", new JsonObject { ["EventPattern"] = eventPattern, ["Event"] = eventJson }, cancellationToken)
            .ConfigureAwait(false);
        return response["Result"] is JsonValue v && v.TryGetValue<bool>(out var matched) && matched;
    }

    /// <summary>PutEvents, ten entries per call; one result per entry, in order.</summary>
    public async Task<IReadOnlyList<EventEntryResult>> PutEventsAsync(IReadOnlyList<EventEntry> entries, CancellationToken cancellationToken)
    {
        var results = new List<EventEntryResult>();
        foreach (var chunk in entries.Chunk(MaxEntriesPerCall))
        {
            var body = new JsonObject
            {
                ["Entries"] = new JsonArray(chunk.Select(e =>
                {
                    var entry = new JsonObject { ["Source"] = e.Source, ["DetailType"] = e.DetailType, ["Detail"] = e.Detail };
                    if (e.Resources is { Count: > 0 }) entry["Resources"] = new JsonArray(e.Resources.Select(r => (JsonNode)JsonValue.Create(r)!).ToArray());
                    if (e.EventBusName is not null) entry["EventBusName"] = e.EventBusName;
                    if (e.Time is { } t) entry["Time"] = new DateTimeOffset(t.ToUniversalTime()).ToUnixTimeSeconds();
                    return (JsonNode)entry;
                }).ToArray()),
            };
            var response = await CallJson11Async("PutEvents", body, cancellationToken).ConfigureAwait(false);
            foreach (var entry in response["Entries"]?.AsArray().OfType<JsonObject>() ?? Enumerable.Empty<JsonObject>())
                results.Add(new EventEntryResult(Text(entry, "EventId"), Text(entry, "ErrorCode"), Text(entry, "ErrorMessage")));
        }
        return results;
    }

    private static EventRuleDescription ToRule(JsonObject rule) => new(
        Text(rule, "Name") ?? "", Text(rule, "Arn") ?? "", Text(rule, "EventPattern"), Text(rule, "State") ?? "", Text(rule, "Description"),
        Text(rule, "EventBusName") ?? "default", Text(rule, "ScheduleExpression"), Text(rule, "RoleArn"), Text(rule, "ManagedBy"));

    private static EventTargetDescription ToTarget(JsonObject target)
    {
        var transformer = target["InputTransformer"] as JsonObject;
        var paths = (transformer?["InputPathsMap"] as JsonObject)?.ToDictionary(p => p.Key, p => p.Value?.GetValue<string>() ?? "");
        return new EventTargetDescription(Text(target, "Id") ?? "", Text(target, "Arn") ?? "", Text(target, "Input"), Text(target, "InputPath"),
            paths, transformer is null ? null : Text(transformer, "InputTemplate"), Text(target, "RoleArn"));
    }

    private static JsonObject FromTarget(EventTargetDescription t)
    {
        var target = new JsonObject { ["Id"] = t.Id, ["Arn"] = t.Arn };
        if (t.Input is not null) target["Input"] = t.Input;
        if (t.InputPath is not null) target["InputPath"] = t.InputPath;
        if (t.InputTemplate is not null)
        {
            var transformer = new JsonObject { ["InputTemplate"] = t.InputTemplate };
            if (t.InputPathsMap is { Count: > 0 } map) transformer["InputPathsMap"] = new JsonObject(map.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value))));
            target["InputTransformer"] = transformer;
        }
        if (t.RoleArn is not null) target["RoleArn"] = t.RoleArn;
        return target;
    }

    private static void ThrowOnFailedEntries(JsonObject response, string operation, string rule)
    {
        var failed = response["FailedEntries"]?.AsArray().OfType<JsonObject>().ToList() ?? new List<JsonObject>();
        if (failed.Count == 0) return;
        throw new GuardDutyIRException("EventBridge." + (Text(failed[0], "ErrorCode") ?? "TargetFailed"), ErrorKind.InvalidOperation,
            $"EventBridge {operation} on rule {rule} failed for " + string.Join("; ", failed.Select(f => $"target {Text(f, "TargetId")}: {Text(f, "ErrorCode")}: {Text(f, "ErrorMessage")}")) + ".",
            rule);
    }

    private static string Required(JsonObject response, string member, string operation) =>
        Text(response, member) ?? throw new GuardDutyIRException("MalformedServiceResponse", ErrorKind.InvalidData, $"EventBridge {operation} answered without {member}.", operation);

    private static string? Text(JsonObject o, string member) => o[member] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
