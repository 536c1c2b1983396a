using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Lab.Events;

/// <summary>What the predefined variables of an input template name: the rule that matched and when the event arrived.</summary>
public sealed record TransformContext(string RuleArn, string RuleName, DateTimeOffset IngestionTime);

/// <summary>
/// The JSON paths EventBridge evaluates in InputPath and InputPathsMap: <c>$</c>, dot notation (names may hold
/// dashes, underscores and slashes), bracketed names, array indices and the <c>*</c> wildcard
/// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
/// </summary>
public sealed class JsonPathLite
{
    private readonly Step[] _steps;

    private JsonPathLite(string text, Step[] steps)
    {
        Text = text;
        _steps = steps;
    }

    private readonly record struct Step(string? Name, int? Index, bool Wildcard);

    public string Text { get; }

    /// <summary>True when the path may select several values (it has a wildcard); the result is then an array.</summary>
    public bool IsWildcard => _steps.Any(s => s.Wildcard);

    public static bool TryParse(string text, out JsonPathLite path)
    {
        path = null!;
        if (!text.StartsWith('$')) return false;
        var steps = new List<Step>();
        int i = 1;
        while (i < text.Length)
        {
            if (text[i] == '.')
            {
                int start = ++i;
                while (i < text.Length && text[i] is not ('.' or '[')) i++;
                var name = text[start..i];
                if (name.Length == 0) return false;
                steps.Add(name == "*" ? new Step(null, null, true) : new Step(name, null, false));
            }
            else if (text[i] == '[')
            {
                int close = text.IndexOf(']', i);
                if (close < 0) return false;
                var inner = text[(i + 1)..close].Trim();
                i = close + 1;
                if (inner == "*") steps.Add(new Step(null, null, true));
                else if (inner.Length >= 2 && inner[0] is '\'' or '"' && inner[^1] == inner[0]) steps.Add(new Step(inner[1..^1], null, false));
                else if (int.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out var index)) steps.Add(new Step(null, index, false));
                else return false;
            }
            else return false;
        }
        path = new JsonPathLite(text, steps.ToArray());
        return true;
    }

    /// <summary>The selected value: null when nothing is there; with a wildcard, the JSON array of every match.</summary>
    public string? SelectJson(JsonElement root)
    {
        var found = new List<JsonElement>();
        Walk(root, 0, found);
        if (IsWildcard) return "[" + string.Join(",", found.Select(f => f.GetRawText())) + "]";
        return found.Count == 0 ? null : found[0].GetRawText();
    }

    private void Walk(JsonElement node, int step, List<JsonElement> found)
    {
        if (step == _steps.Length) { found.Add(node); return; }
        var s = _steps[step];
        if (s.Wildcard)
        {
            if (node.ValueKind == JsonValueKind.Array) foreach (var item in node.EnumerateArray()) Walk(item, step + 1, found);
            else if (node.ValueKind == JsonValueKind.Object) foreach (var p in node.EnumerateObject()) Walk(p.Value, step + 1, found);
        }
        else if (s.Index is { } index)
        {
            if (node.ValueKind == JsonValueKind.Array && index < node.GetArrayLength()) Walk(node[index], step + 1, found);
        }
        else if (node.ValueKind == JsonValueKind.Object && node.TryGetProperty(s.Name!, out var child)) Walk(child, step + 1, found);
    }
}

/// <summary>
/// What a rule's target receives: the whole event, a constant (Input), a part of the event (InputPath), or an input
/// transformer's output (InputPathsMap + InputTemplate), as
/// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html describes them.
/// </summary>
public static partial class TargetInput
{
    public const string RuleArnVariable = "aws.events.rule-arn";
    public const string RuleNameVariable = "aws.events.rule-name";
    public const string IngestionTimeVariable = "aws.events.event.ingestion-time";
    public const string EventVariable = "aws.events.event";
    public const string EventJsonVariable = "aws.events.event.json";

    public static readonly IReadOnlySet<string> Predefined = new HashSet<string>(StringComparer.Ordinal)
    {
        RuleArnVariable, RuleNameVariable, IngestionTimeVariable, EventVariable, EventJsonVariable,
    };

    // Values are written as JSON text would carry them; non-ASCII stays as it is, as EventBridge passes it.
    private static readonly JsonSerializerOptions s_json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [GeneratedRegex(@"<([^<>\s]+)>")]
    private static partial Regex Placeholder();

    /// <summary>The placeholders of a template, in order of appearance.</summary>
    public static IEnumerable<string> Placeholders(string template) => Placeholder().Matches(template).Select(m => m.Groups[1].Value);

    /// <summary>
    /// Why PutTargets would refuse this transformer (null when it would not): a placeholder that is neither a key of
    /// InputPathsMap nor a predefined variable, <c>&lt;aws.events.event&gt;</c> or <c>&lt;aws.events.event.json&gt;</c>
    /// outside a JSON-object template, or a path that is not a JSON path.
    /// </summary>
    public static string? ValidateTransformer(string targetId, IReadOnlyDictionary<string, string> paths, string template)
    {
        foreach (var (key, path) in paths)
        {
            if (Predefined.Contains(key) || key.StartsWith("AWS", StringComparison.Ordinal))
                return $"InputPathsMap for target {targetId} has the reserved key {key}.";
            if (!JsonPathLite.TryParse(path, out _))
                return $"Input path {path} for target {targetId} is not a valid JSON path.";
        }
        bool jsonTemplate = template.TrimStart().StartsWith('{');
        foreach (var name in Placeholders(template))
        {
            if (!paths.ContainsKey(name) && !Predefined.Contains(name))
                return $"InputTemplate for target {targetId} contains invalid placeholder {name}.";
            if (name is EventVariable or EventJsonVariable && !jsonTemplate)
                return $"InputTemplate for target {targetId} contains placeholder {name} valid only for JSON template.";
        }
        return null;
    }

    /// <summary>InputPath: the selected part of the event as JSON (JSON <c>null</c> when the path selects nothing).</summary>
    public static string FromInputPath(string inputPath, JsonElement evt) =>
        JsonPathLite.TryParse(inputPath, out var path) ? path.SelectJson(evt) ?? "null" : "null";

    /// <summary>
    /// Fills <paramref name="template"/>. A placeholder inside a JSON string of the template is replaced by the value's
    /// text (a string without its quotes), escaped so the string stays JSON; outside strings it is replaced by the value
    /// as JSON (strings quoted, objects and arrays as they are). A variable whose path matched nothing becomes an empty
    /// string inside quotes (as EventBridge delivers it) and <c>null</c> outside them. A template that is neither a JSON
    /// object, array nor string is plain text: values are inserted as text.
    /// </summary>
    public static string Transform(IReadOnlyDictionary<string, string> paths, string template, JsonElement evt, TransformContext context)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (key, p) in paths)
            values[key] = JsonPathLite.TryParse(p, out var path) ? path.SelectJson(evt) : null;
        values[RuleArnVariable] = JsonSerializer.Serialize(context.RuleArn, s_json);
        values[RuleNameVariable] = JsonSerializer.Serialize(context.RuleName, s_json);
        values[IngestionTimeVariable] = JsonSerializer.Serialize(Iso(context.IngestionTime), s_json);
        values[EventJsonVariable] = evt.GetRawText();
        values[EventVariable] = EnvelopeOnly(evt, context.IngestionTime);

        var trimmed = template.TrimStart();
        bool jsonLike = trimmed.Length > 0 && trimmed[0] is '{' or '[' or '"';
        var sb = new StringBuilder(template.Length + 64);
        bool inString = false;
        for (int i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c == '<' && Placeholder().Match(template, i) is { Success: true } m && m.Index == i && values.ContainsKey(m.Groups[1].Value))
            {
                var json = values[m.Groups[1].Value];
                if (!jsonLike) sb.Append(AsText(json));
                else if (inString) sb.Append(Escape(AsText(json)));
                else sb.Append(json ?? "null");
                i += m.Length - 1;
                continue;
            }
            sb.Append(c);
            if (!jsonLike) continue;
            if (c == '\\' && inString && i + 1 < template.Length) { sb.Append(template[++i]); continue; }
            if (c == '"') inString = !inString;
        }
        return sb.ToString();
    }

    /// <summary>A value's text: a JSON string without quotes and escapes, anything else as its JSON; nothing for a missing value.</summary>
    private static string AsText(string? json)
    {
        if (json is null) return "";
        if (json.Length > 0 && json[0] == '"') return JsonSerializer.Deserialize<string>(json) ?? "";
        return json;
    }

    /// <summary>Escapes text for the inside of a JSON string (quotes, backslashes, control characters).</summary>
    private static string Escape(string text)
    {
        var quoted = JsonSerializer.Serialize(text, s_json);
        return quoted[1..^1];
    }

    /// <summary>
    /// <c>&lt;aws.events.event&gt;</c>: the event without its detail, detail-type spelled detailType and time the ingestion
    /// time, as EventBridge delivers it.
    /// </summary>
    private static string EnvelopeOnly(JsonElement evt, DateTimeOffset ingestion)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (evt.ValueKind == JsonValueKind.Object)
                foreach (var p in evt.EnumerateObject())
                {
                    if (p.Name == "detail") continue;
                    if (p.Name == "time") { w.WriteString("time", Iso(ingestion)); continue; }
                    w.WritePropertyName(p.Name == "detail-type" ? "detailType" : p.Name);
                    p.Value.WriteTo(w);
                }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>EventBridge's timestamps: ISO 8601 UTC to the second.</summary>
    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
