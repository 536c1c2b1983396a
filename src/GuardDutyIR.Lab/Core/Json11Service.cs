using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core.Model;

namespace GuardDutyIR.Lab.Core;

/// <summary>
/// A service on the awsJson1_1 protocol (CloudTrail, Athena, EventBridge): every request is a POST of a JSON object
/// whose operation is named by the X-Amz-Target header ("prefix.Operation"); answers are application/x-amz-json-1.1
/// with the request ID in x-amzn-RequestId, and errors carry their code in <c>__type</c>
/// (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).
/// </summary>
/// <remarks>
/// The base does the protocol once: target routing, body parsing, denied actions, model validation and per-operation
/// token buckets. A service names its signing name and target prefix, maps its operations, and overrides
/// <see cref="Invalid"/> or <see cref="DeniedResource"/> where its errors differ.
/// </remarks>
public abstract class Json11Service : ILabService, IModeledService
{
    public const string ContentType = "application/x-amz-json-1.1";

    private readonly Dictionary<string, Operation> _operations = new(StringComparer.Ordinal);

    protected Json11Service(LabContext context, string signingName, string targetPrefix)
    {
        Context = context;
        SigningName = signingName;
        TargetPrefix = targetPrefix;
        ProtocolErrors.RegisterProtocol(signingName, LabProtocol.Json11);
    }

    public string SigningName { get; }

    /// <summary>What X-Amz-Target holds before the operation name, e.g. "AmazonAthena.".</summary>
    public string TargetPrefix { get; }

    public IReadOnlyCollection<string> Operations => _operations.Keys;

    protected LabContext Context { get; }

    /// <summary>The service's constraint table (required members, limits, enums, modeled errors).</summary>
    /// <remarks>Looked up on first use, so a new service starts (and the table can be regenerated) before the table knows it.</remarks>
    protected ServiceModel Model => _model ??= ServiceModel.For(SigningName);

    private ServiceModel? _model;

    protected delegate LabResponse Handler(LabRequest request, JsonObject body);

    private sealed record Operation(Handler Handler, bool Mutating, BucketSpec? Rate);

    /// <summary>
    /// Answers <paramref name="operation"/> with <paramref name="handler"/>. <paramref name="mutating"/> is how the counters
    /// see it (json operation names do not follow the Describe/List/Get rule); <paramref name="rate"/> is a token bucket per
    /// account and region that applies when the Lab throttles.
    /// </summary>
    protected void Map(string operation, Handler handler, bool mutating = false, BucketSpec? rate = null) =>
        _operations.Add(operation, new Operation(handler, mutating, rate));

    public Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken) => Task.FromResult(Handle(request));

    private LabResponse Handle(LabRequest r)
    {
        var target = r.Target ?? "";
        var name = target.StartsWith(TargetPrefix, StringComparison.Ordinal) ? target[TargetPrefix.Length..] : "";
        var operation = _operations.GetValueOrDefault(name);
        r.Action = name.Length > 0 ? name : "Unknown";
        r.Mutating = operation?.Mutating ?? false;
        if (name.Length == 0)
            return Error(r, "UnknownOperationException", $"Unknown operation {target}");
        if (ParseBody(r) is not { } body)
            return Error(r, "SerializationException", "Start of structure or map found where not expected.");
        if (Context.IsDenied(SigningName, name))
            return Error(r, "AccessDeniedException", LabContext.DenialMessage(r.Principal?.Arn, SigningName, name, DeniedResource(r)));
        if (operation is null)
            return Error(r, "UnknownOperationException", $"Unknown operation {name}");
        if (Model.ValidateJson(name, body) is { Count: > 0 } violations)
            // A value of the wrong JSON type fails deserialization before any constraint is looked at.
            return violations[0].Kind == ViolationKind.Type
                ? Error(r, "SerializationException", $"Cannot read {violations[0].Value} as {violations[0].ExpectedType} at '{violations[0].Path}'.")
                : Invalid(r, name, violations);
        if (operation.Rate is { } rate && !Context.Throttle.TryAcquire($"{r.AccountId}:{r.Region}:{SigningName}:{name}", rate))
            return Error(r, "ThrottlingException", "Rate exceeded");
        return operation.Handler(r, body);
    }

    /// <summary>The answer to input that breaks the model's constraints; Coral's ValidationException unless the service models another.</summary>
    protected virtual LabResponse Invalid(LabRequest r, string operation, IReadOnlyList<ModelViolation> violations) =>
        Error(r, "ValidationException", ModelViolation.Summary(violations));

    /// <summary>The resource an authorization error names ("... on resource: arn"), or null when the service names none.</summary>
    protected virtual string? DeniedResource(LabRequest r) => null;

    /// <summary>The request body; an empty body is an empty object, anything but a JSON object is null.</summary>
    private static JsonObject? ParseBody(LabRequest request)
    {
        if (request.Body.Length == 0) return new JsonObject();
        try { return JsonNode.Parse(request.Body) as JsonObject; }
        catch (JsonException) { return null; }
    }

    // ---------------------------------------------------------------- answers

    protected static LabResponse Ok(LabRequest r, JsonObject body)
    {
        var response = new LabResponse { StatusCode = 200, ContentType = ContentType, Body = Encoding.UTF8.GetBytes(body.ToJsonString()) };
        response.Headers["x-amzn-RequestId"] = r.RequestId;
        return response;
    }

    /// <summary>
    /// A 400 <c>{"__type":code,"Message":…}</c>, plus the members of <paramref name="extra"/>. The capital M is the modeled
    /// Message member of the services' error shapes (Athena's, and the synthesized CloudTrail template); clients read either case.
    /// </summary>
    protected static LabResponse Error(LabRequest r, string code, string message, JsonObject? extra = null)
    {
        var body = new JsonObject { ["__type"] = code, ["Message"] = message };
        if (extra is not null) foreach (var (k, v) in extra) body[k] = v?.DeepClone();
        var response = new LabResponse { StatusCode = 400, ContentType = ContentType, Body = Encoding.UTF8.GetBytes(body.ToJsonString()), ErrorCode = code };
        response.Headers["x-amzn-RequestId"] = r.RequestId;
        return response;
    }

    // ---------------------------------------------------------------- reading members

    protected static string? Str(JsonObject o, string name) =>
        o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    protected static int? Int(JsonObject o, string name) =>
        o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i) ? i : null;

    /// <summary>Timestamps arrive as epoch seconds (number, fractional allowed); ISO strings are accepted too.</summary>
    protected static DateTimeOffset? Time(JsonObject o, string name)
    {
        if (o[name] is not JsonValue v) return null;
        if (v.GetValueKind() == JsonValueKind.Number) return DateTimeOffset.FromUnixTimeMilliseconds((long)(v.GetValue<double>() * 1000));
        if (v.GetValueKind() == JsonValueKind.String && DateTimeOffset.TryParse(v.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return t;
        return null;
    }

    /// <summary>A timestamp as the protocol writes it: epoch seconds with milliseconds.</summary>
    protected static double Epoch(DateTimeOffset t) => Math.Round(t.ToUnixTimeMilliseconds() / 1000.0, 3);

    // ---------------------------------------------------------------- pagination

    /// <summary>An opaque NextToken: the listing it continues (<paramref name="context"/>) and the offset of the next item.</summary>
    protected static string PageToken(string context, int offset) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{context}|{offset.ToString(CultureInfo.InvariantCulture)}"));

    /// <summary>Reads a <see cref="PageToken"/>; false when it is malformed or continues another listing.</summary>
    protected static bool TryReadPageToken(string token, string expectedContext, out int offset)
    {
        offset = 0;
        try
        {
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split('|');
            return parts.Length == 2 && parts[0] == expectedContext && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out offset);
        }
        catch (FormatException) { return false; }
    }
}
