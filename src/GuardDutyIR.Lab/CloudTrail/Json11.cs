using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Lab.CloudTrail;

/// <summary>awsJson1_1 responses for CloudTrail and Athena.</summary>
internal static class Json11
{
    public const string ContentType = "application/x-amz-json-1.1";

    public static LabResponse Ok(JsonObject body, string requestId)
    {
        var r = new LabResponse { StatusCode = 200, ContentType = ContentType, Body = System.Text.Encoding.UTF8.GetBytes(body.ToJsonString()) };
        r.Headers["x-amzn-RequestId"] = requestId;
        return r;
    }

    /// <summary>
    /// <c>{"__type":code,"Message":…}</c>: CloudTrail's error shapes have no members and clients read Message or message;
    /// the capital M follows the synthesized template and Athena's modeled Message member.
    /// </summary>
    public static LabResponse Error(int status, string code, string message, string requestId, JsonObject? extra = null)
    {
        var body = new JsonObject { ["__type"] = code, ["Message"] = message };
        if (extra is not null) foreach (var (k, v) in extra) body[k] = v?.DeepClone();
        var r = new LabResponse { StatusCode = status, ContentType = ContentType, Body = System.Text.Encoding.UTF8.GetBytes(body.ToJsonString()), ErrorCode = code };
        r.Headers["x-amzn-RequestId"] = requestId;
        return r;
    }

    /// <summary>Parses the request body; null when it is not a JSON object (answered with SerializationException).</summary>
    public static JsonObject? Body(LabRequest request)
    {
        if (request.Body.Length == 0) return new JsonObject();
        try { return JsonNode.Parse(request.Body) as JsonObject; }
        catch (JsonException) { return null; }
    }

    public static string? Str(JsonObject o, string name) =>
        o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    public static int? Int(JsonObject o, string name) =>
        o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i) ? i : null;

    /// <summary>Timestamps arrive as epoch seconds (number, fractional allowed); ISO strings are accepted too.</summary>
    public static DateTimeOffset? Time(JsonObject o, string name)
    {
        if (o[name] is not JsonValue v) return null;
        if (v.GetValueKind() == JsonValueKind.Number) return DateTimeOffset.FromUnixTimeMilliseconds((long)(v.GetValue<double>() * 1000));
        if (v.GetValueKind() == JsonValueKind.String && DateTimeOffset.TryParse(v.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return t;
        return null;
    }

    public static double Epoch(DateTimeOffset t) => Math.Round(t.ToUnixTimeMilliseconds() / 1000.0, 3);
}
