using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Findings;

/// <summary>One item of input: the finding it held, or why it was not one.</summary>
public sealed record FindingReadResult(GdFinding? Finding, GuardDutyIRException? Error);

/// <summary>
/// Finds the GuardDuty findings in whatever a responder or an automation hands over: an EventBridge event (as
/// EventBridge delivers it to Lambda or SQS), a bare finding, a GetFindings response, an SNS or SQS record batch
/// wrapping events, JSON text of any of these, or arrays of them. One bad item does not stop the others.
/// </summary>
public static class FindingEventReader
{
    private const int MaxDepth = 8;

    public static IEnumerable<FindingReadResult> Read(string json, string sourceName)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, FindingParser.CaseInsensitive, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            return new[] { Fail("InvalidFindingJson", $"{sourceName} is not valid JSON: {e.Message}", sourceName, e) };
        }
        return Read(node, sourceName);
    }

    public static IEnumerable<FindingReadResult> Read(JsonNode? node, string sourceName) => Walk(node, sourceName, 0);

    private static IEnumerable<FindingReadResult> Walk(JsonNode? node, string where, int depth)
    {
        if (depth > MaxDepth)
        {
            yield return Fail("FindingNestedTooDeep", $"{where}: events nested more than {MaxDepth} levels deep.", where);
            yield break;
        }
        switch (node)
        {
            case null:
                yield return Fail("NotAGuardDutyFinding", $"{where} is empty (null).", where);
                yield break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                    foreach (var r in Walk(array[i], $"{where}[{i}]", depth + 1)) yield return r;
                yield break;
            case JsonValue value when value.TryGetValue<string>(out var text):
                // Double-encoded JSON (an SNS Message, an SQS body, a string parameter holding an event).
                var trimmed = text.TrimStart();
                if (trimmed.StartsWith('{') || trimmed.StartsWith('['))
                {
                    foreach (var r in Read(text, where)) yield return r;
                }
                else
                {
                    yield return Fail("NotAGuardDutyFinding", $"{where} is the text '{Short(text)}', not a finding or an event.", where);
                }
                yield break;
            case JsonValue other:
                yield return Fail("NotAGuardDutyFinding", $"{where} is the value {Short(other.ToJsonString())}, not a finding or an event.", where);
                yield break;
        }

        var o = (JsonObject)node;
        if (o.ContainsKey("detail-type") || o.ContainsKey("detail"))
        {
            var source = FindingParser.String(o["source"]);
            var detailType = FindingParser.String(o["detail-type"]);
            var detail = o["detail"] as JsonObject;
            // Test events (PutEvents samples, hand-made fixtures) often leave out detail-type or source; a detail that
            // is a finding is accepted as long as nothing in the envelope says it is something else.
            var isGuardDuty = (source ?? "aws.guardduty") == "aws.guardduty"
                && (detailType ?? (detail is not null && LooksLikeFinding(detail) ? "GuardDuty Finding" : null)) == "GuardDuty Finding";
            if (!isGuardDuty)
            {
                yield return Fail("NotAGuardDutyEvent",
                    $"{where} is an EventBridge event from '{source}' of type '{detailType}', not 'GuardDuty Finding' from 'aws.guardduty'.",
                    FindingParser.String(o["id"]) ?? where);
                yield break;
            }
            if (detail is null)
            {
                yield return Fail("FindingMissingField", $"{where}: the GuardDuty event has no 'detail' object.", FindingParser.String(o["id"]) ?? where);
                yield break;
            }
            yield return ParseOne(detail, where + ".detail", FindingParser.String(o["region"]));
            yield break;
        }
        if (o["Records"] is JsonArray records)
        {
            // Lambda event batches from SNS (Sns.Message) or SQS (body) carrying EventBridge events.
            for (var i = 0; i < records.Count; i++)
            {
                var record = records[i] as JsonObject;
                var payload = record?["Sns"]?["Message"] ?? record?["body"];
                if (payload is null)
                {
                    yield return Fail("NotAGuardDutyFinding", $"{where}.Records[{i}] is neither an SNS nor an SQS record with a message.", $"{where}.Records[{i}]");
                    continue;
                }
                foreach (var r in Walk(payload, $"{where}.Records[{i}]", depth + 1)) yield return r;
            }
            yield break;
        }
        if (o["findings"] is JsonArray findings)
        {
            foreach (var r in Walk(findings, where + ".findings", depth + 1)) yield return r;
            yield break;
        }
        if (LooksLikeFinding(o))
        {
            yield return ParseOne(o, where, null);
            yield break;
        }
        var keys = string.Join(", ", o.Select(p => p.Key).Take(6));
        yield return Fail("NotAGuardDutyFinding",
            $"{where} is an object with keys ({keys}), which is neither a GuardDuty finding (id, type, severity) nor an EventBridge 'GuardDuty Finding' event.",
            where);
    }

    private static bool LooksLikeFinding(JsonObject o) =>
        o.ContainsKey("type") && (o.ContainsKey("id") || o.ContainsKey("severity") || o.ContainsKey("schemaVersion"));

    private static FindingReadResult ParseOne(JsonObject finding, string where, string? eventRegion)
    {
        try
        {
            return new FindingReadResult(FindingParser.Parse(finding, eventRegion), null);
        }
        catch (GuardDutyIRException e)
        {
            return new FindingReadResult(null, new GuardDutyIRException(e.ErrorId, e.Kind, $"{where}: {e.Message}", e.Target, e));
        }
    }

    private static FindingReadResult Fail(string errorId, string message, object target, Exception? inner = null) =>
        new(null, new GuardDutyIRException(errorId, ErrorKind.InvalidData, message, target, inner));

    private static string Short(string s) => s.Length > 60 ? s[..60] + "..." : s;
}
