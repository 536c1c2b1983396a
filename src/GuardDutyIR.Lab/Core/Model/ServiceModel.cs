using System.Collections.Specialized;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Lab.Core.Model;

/// <summary>A Lab service whose requests are checked against its AWS service model (required members, limits, enums).</summary>
public interface IModeledService
{
    /// <summary>The operations the service answers, by their model names.</summary>
    IReadOnlyCollection<string> Operations { get; }
}

/// <summary>One shape of the table: its type and the constraints the service model gives it.</summary>
internal sealed class ModelShape
{
    public required string Type { get; init; }
    public double? Min { get; init; }
    public double? Max { get; init; }
    public IReadOnlyList<string>? Enum { get; init; }
    public IReadOnlyList<string> Required { get; init; } = Array.Empty<string>();
    public IReadOnlyList<ModelMember> Members { get; init; } = Array.Empty<ModelMember>();
    /// <summary>List element shape.</summary>
    public string? Member { get; init; }
    /// <summary>awsQuery list element name ("member"); null for EC2 and JSON lists.</summary>
    public string? Item { get; init; }
    public string? Key { get; init; }
    public string? Value { get; init; }
    /// <summary>awsQuery map entry naming ("entry", "key"/"Name", "value"/"Value").</summary>
    public string? Entry { get; init; }
    public string? KeyName { get; init; }
    public string? ValueName { get; init; }
}

/// <summary>A structure member: its model name, the name it travels under, and where (uri, querystring, header or body).</summary>
internal sealed record ModelMember(string Name, string Shape, string Wire, string? Location);

internal sealed record ModelOperation(string Name, string? Input, string? Method, string? RequestUri, IReadOnlyList<string> Errors);

/// <summary>
/// The constraints of one AWS service's model, for the operations the Lab serves. They come from an embedded table
/// derived from the botocore service models (the Lab tests re-derive it and fail when the two disagree), so the Lab
/// enforces exactly the required members, length and value limits and enums AWS publishes in the models.
/// </summary>
public sealed class ServiceModel
{
    private const string ResourceName = "GuardDutyIR.Lab.aws-model-constraints.json";
    private static readonly Lazy<(IReadOnlyDictionary<string, ServiceModel> Services, string Source)> s_all = new(Load);

    private readonly Dictionary<string, ModelOperation> _operations;
    private readonly Dictionary<string, ModelShape> _shapes;

    private ServiceModel(string name, string protocol, string apiVersion, Dictionary<string, ModelOperation> operations, Dictionary<string, ModelShape> shapes)
    {
        Name = name;
        Protocol = protocol;
        ApiVersion = apiVersion;
        _operations = operations;
        _shapes = shapes;
    }

    /// <summary>The model of a service by its signing name (ec2, autoscaling, sts, sns, guardduty, cloudtrail, athena).</summary>
    public static ServiceModel For(string service) =>
        s_all.Value.Services.TryGetValue(service, out var m) ? m : throw new KeyNotFoundException($"The Lab has no model table for {service}.");

    /// <summary>Every service in the table.</summary>
    public static IReadOnlyDictionary<string, ServiceModel> All => s_all.Value.Services;

    /// <summary>Where the table was derived from.</summary>
    public static string Source => s_all.Value.Source;

    /// <summary>The raw embedded table (tests compare it with a fresh derivation).</summary>
    public static string RawTable()
    {
        using var stream = typeof(ServiceModel).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource {ResourceName} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public string Name { get; }
    /// <summary>ec2, query, json or rest-json.</summary>
    public string Protocol { get; }
    public string ApiVersion { get; }

    public IReadOnlyCollection<string> Operations => _operations.Keys;

    public bool Has(string operation) => _operations.ContainsKey(operation);

    /// <summary>Whether the model lists <paramref name="error"/> (a shape name) among the operation's errors.</summary>
    public bool ModelsError(string operation, string error) => Op(operation).Errors.Contains(error, StringComparer.Ordinal);

    /// <summary>The model's value range of a top-level input member (a page size, say); nulls where the model sets no bound.</summary>
    public (long? Min, long? Max) Range(string operation, string member)
    {
        var input = Op(operation).Input is { } i ? _shapes[i] : null;
        var m = input?.Members.FirstOrDefault(x => x.Name == member) ?? throw new KeyNotFoundException($"{Name} {operation} has no input member {member}.");
        var s = _shapes[m.Shape];
        return (s.Min is { } lo ? (long)lo : null, s.Max is { } hi ? (long)hi : null);
    }

    /// <summary>The request-URI template of a rest-json operation, e.g. "/detector/{DetectorId}/findings".</summary>
    public (string Method, string RequestUri)? Http(string operation) =>
        Op(operation) is { Method: { } m, RequestUri: { } u } ? (m, u) : null;

    internal ModelOperation Op(string operation) =>
        _operations.TryGetValue(operation, out var op) ? op : throw new KeyNotFoundException($"The Lab's {Name} table has no operation {operation}.");

    internal ModelShape Shape(string name) => _shapes[name];

    /// <summary>Checks an EC2 or awsQuery request (form parameters) against the operation's input shape.</summary>
    public IReadOnlyList<ModelViolation> ValidateForm(string operation, NameValueCollection form) =>
        ModelValidator.Form(this, Op(operation), form);

    /// <summary>Checks a json-1.1 request body against the operation's input shape.</summary>
    public IReadOnlyList<ModelViolation> ValidateJson(string operation, JsonObject body) =>
        ModelValidator.Json(this, Op(operation), body, null, null, null);

    /// <summary>Checks a rest-json request: URI labels, query string, headers and body.</summary>
    public IReadOnlyList<ModelViolation> ValidateRest(string operation, IReadOnlyDictionary<string, string> labels, NameValueCollection query,
        IReadOnlyDictionary<string, string> headers, JsonObject body) =>
        ModelValidator.Json(this, Op(operation), body, labels, query, headers);

    private static (IReadOnlyDictionary<string, ServiceModel>, string) Load()
    {
        var root = JsonNode.Parse(RawTable())!.AsObject();
        var services = new Dictionary<string, ServiceModel>(StringComparer.Ordinal);
        foreach (var (name, node) in root["services"]!.AsObject())
        {
            var svc = node!.AsObject();
            var ops = new Dictionary<string, ModelOperation>(StringComparer.Ordinal);
            foreach (var (opName, o) in svc["operations"]!.AsObject())
                ops[opName] = new ModelOperation(opName, (string?)o!["input"], (string?)o["method"], (string?)o["requestUri"],
                    (o["errors"] as JsonArray)?.Select(e => (string)e!).ToArray() ?? Array.Empty<string>());
            var shapes = new Dictionary<string, ModelShape>(StringComparer.Ordinal);
            foreach (var (shapeName, s) in svc["shapes"]!.AsObject())
                shapes[shapeName] = ParseShape(s!.AsObject());
            services[name] = new ServiceModel(name, (string)svc["protocol"]!, (string)svc["apiVersion"]!, ops, shapes);
        }
        return (services, (string?)root["source"] ?? "");
    }

    private static ModelShape ParseShape(JsonObject s) => new()
    {
        Type = (string)s["type"]!,
        Min = (double?)s["min"],
        Max = (double?)s["max"],
        Enum = (s["enum"] as JsonArray)?.Select(e => (string)e!).ToArray(),
        Required = (s["required"] as JsonArray)?.Select(e => (string)e!).ToArray() ?? Array.Empty<string>(),
        Members = (s["members"] as JsonObject)?.Select(m => new ModelMember(m.Key, (string)m.Value!["shape"]!,
            (string?)m.Value["wire"] ?? m.Key, (string?)m.Value["location"])).ToArray() ?? Array.Empty<ModelMember>(),
        Member = (string?)s["member"],
        Item = (string?)s["item"],
        Key = (string?)s["key"],
        Value = (string?)s["value"],
        Entry = (string?)s["entry"],
        KeyName = (string?)s["keyName"],
        ValueName = (string?)s["valueName"],
    };
}
