using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace GuardDutyIR.Lab.Tests.Automation;

/// <summary>
/// A CloudFormation template read as CloudFormation reads it, far enough to take resources out of it: YAML whose
/// short-form tags (!Ref, !Sub, !GetAtt, !Join, !If, ...) become the long-form functions
/// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html), so the tree is
/// the template's JSON form.
/// </summary>
internal sealed class CloudFormationTemplate
{
    private CloudFormationTemplate(JsonObject root) => Root = root;

    /// <summary>The template in its JSON form.</summary>
    public JsonObject Root { get; }

    public JsonObject Parameters => Root["Parameters"]?.AsObject() ?? new JsonObject();
    public JsonObject Resources => Root["Resources"]!.AsObject();

    public static CloudFormationTemplate Load(string path)
    {
        var stream = new YamlStream();
        using (var reader = File.OpenText(path)) stream.Load(reader);
        var document = Assert.Single(stream.Documents);
        return new CloudFormationTemplate(Assert.IsType<JsonObject>(Convert(document.RootNode)));
    }

    /// <summary>The logical IDs of the template's resources of a type, created or not.</summary>
    public IReadOnlyList<string> ResourcesOfType(string type) =>
        Resources.Where(r => (string?)r.Value!["Type"] == type).Select(r => r.Key).ToList();

    /// <summary>A stack of this template with these parameter values (the rest take their defaults).</summary>
    public CloudFormationStack Stack(IReadOnlyDictionary<string, string>? parameters = null, string region = "us-east-1",
        string accountId = "123456789012", string stackName = "guardduty-auto-response") =>
        new(this, parameters ?? new Dictionary<string, string>(), region, accountId, stackName);

    private static JsonNode? Convert(YamlNode node)
    {
        var tag = node.Tag.IsEmpty ? null : node.Tag.Value;
        JsonNode? value = node switch
        {
            YamlMappingNode map => new JsonObject(map.Children.Select(p => KeyValuePair.Create(((YamlScalarNode)p.Key).Value!, Convert(p.Value)))),
            YamlSequenceNode seq => new JsonArray(seq.Children.Select(Convert).ToArray()),
            YamlScalarNode scalar => tag is null ? Scalar(scalar) : JsonValue.Create(scalar.Value ?? ""),
            _ => throw new InvalidDataException($"unexpected YAML node {node.NodeType} at {node.Start}"),
        };
        if (tag is null || !tag.StartsWith('!')) return value;
        var name = tag[1..];
        // !GetAtt Resource.Attribute is the short form of Fn::GetAtt: [Resource, Attribute].
        if (name == "GetAtt" && value is JsonValue text && text.GetValue<string>() is var dotted && dotted.IndexOf('.') is > 0 and var dot)
            value = new JsonArray(dotted[..dot], dotted[(dot + 1)..]);
        return new JsonObject { [name is "Ref" or "Condition" ? name : "Fn::" + name] = value };
    }

    /// <summary>An untagged scalar: plain numbers and booleans are typed as YAML types them; quoted text stays text.</summary>
    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style != ScalarStyle.Plain) return JsonValue.Create(text);
        if (text is "" or "~" or "null") return null;
        if (text is "true" or "false") return JsonValue.Create(text == "true");
        if (Regex.IsMatch(text, @"^-?[0-9]+$")) return JsonValue.Create(long.Parse(text, CultureInfo.InvariantCulture));
        if (Regex.IsMatch(text, @"^-?[0-9]*\.[0-9]+([eE][-+]?[0-9]+)?$")) return JsonValue.Create(double.Parse(text, CultureInfo.InvariantCulture));
        return JsonValue.Create(text);
    }
}

/// <summary>
/// One stack of a template: its parameter values (checked against the template's constraints as CloudFormation checks
/// them), its conditions, and its resources' properties with the intrinsic functions resolved. What only a real
/// deployment knows (a resource's Ref value or attribute, such as a topic's ARN) the test supplies with
/// <see cref="SetRef"/> and <see cref="SetAttribute"/>; resolving anything not supplied fails.
/// </summary>
internal sealed partial class CloudFormationStack
{
    private const string NoValueText = "\u0000AWS::NoValue";
    private readonly CloudFormationTemplate _template;
    private readonly Dictionary<string, JsonNode> _parameters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _pseudo;
    private readonly Dictionary<string, JsonNode> _refs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonNode> _attributes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool> _conditions = new(StringComparer.Ordinal);

    internal CloudFormationStack(CloudFormationTemplate template, IReadOnlyDictionary<string, string> given, string region, string accountId, string stackName)
    {
        _template = template;
        _pseudo = new(StringComparer.Ordinal)
        {
            ["AWS::Region"] = region, ["AWS::AccountId"] = accountId, ["AWS::Partition"] = "aws", ["AWS::StackName"] = stackName,
            ["AWS::URLSuffix"] = "amazonaws.com",
        };
        foreach (var name in given.Keys)
            if (!template.Parameters.ContainsKey(name)) throw new ArgumentException($"the template has no parameter {name}");
        foreach (var (name, declaration) in template.Parameters)
        {
            var text = given.TryGetValue(name, out var v) ? v
                : declaration!["Default"] is { } d ? (d is JsonValue dv && dv.TryGetValue<string>(out var s) ? s : d.ToJsonString())
                : throw new ArgumentException($"parameter {name} has no default and no value was given");
            _parameters[name] = Checked(name, declaration!.AsObject(), text);
        }
    }

    public string Region => _pseudo["AWS::Region"];
    public string AccountId => _pseudo["AWS::AccountId"];

    /// <summary>What Ref of a resource returns in this stack (a topic's ARN, a function's name).</summary>
    public CloudFormationStack SetRef(string logicalId, string value)
    {
        _refs[logicalId] = JsonValue.Create(value);
        return this;
    }

    /// <summary>What Fn::GetAtt of a resource's attribute returns in this stack.</summary>
    public CloudFormationStack SetAttribute(string logicalId, string attribute, string value)
    {
        _attributes[logicalId + "." + attribute] = JsonValue.Create(value);
        return this;
    }

    /// <summary>A parameter's value: a string, or for a CommaDelimitedList an array of strings.</summary>
    public JsonNode Parameter(string name) => _parameters[name].DeepClone();

    public bool Condition(string name)
    {
        if (_conditions.TryGetValue(name, out var known)) return known;
        var definition = _template.Root["Conditions"]?[name] ?? throw new InvalidOperationException($"no condition {name}");
        return _conditions[name] = Truth(definition);
    }

    /// <summary>Whether the stack creates the resource (it has no Condition, or its Condition holds).</summary>
    public bool Creates(string logicalId)
    {
        var resource = _template.Resources[logicalId] ?? throw new InvalidOperationException($"no resource {logicalId}");
        return resource["Condition"] is not { } condition || Condition((string)condition!);
    }

    /// <summary>The created resources of a type.</summary>
    public IReadOnlyList<string> Created(string type) => _template.ResourcesOfType(type).Where(Creates).ToList();

    /// <summary>A created resource's properties, every intrinsic function resolved.</summary>
    public JsonObject Properties(string logicalId)
    {
        Assert.True(Creates(logicalId), $"the stack does not create {logicalId}");
        return (JsonObject)Resolve(_template.Resources[logicalId]!["Properties"]!)!;
    }

    /// <summary>An output's value, or null when its condition keeps it out.</summary>
    public JsonNode? Output(string name)
    {
        var output = _template.Root["Outputs"]![name] ?? throw new InvalidOperationException($"no output {name}");
        if (output["Condition"] is { } c && !Condition((string)c!)) return null;
        return Resolve(output["Value"]!);
    }

    private JsonNode Checked(string name, JsonObject declaration, string text)
    {
        var type = (string)declaration["Type"]!;
        var values = type == "CommaDelimitedList" ? text.Split(',') : new[] { text };
        foreach (var value in values)
        {
            if (declaration["AllowedValues"] is JsonArray allowed && !allowed.Any(a => (a is JsonValue av && av.TryGetValue<string>(out var s) ? s : a!.ToJsonString()) == value))
                throw new ArgumentException($"{name}: '{value}' is not one of its AllowedValues");
            if (declaration["AllowedPattern"] is { } pattern && !Regex.IsMatch(value, (string)pattern!))
                throw new ArgumentException($"{name}: '{value}' does not match its AllowedPattern");
        }
        if (type == "Number")
        {
            var number = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            double Bound(JsonNode b) => double.Parse(Text(b), NumberStyles.Float, CultureInfo.InvariantCulture);
            if (declaration["MinValue"] is { } min && number < Bound(min)) throw new ArgumentException($"{name}: {text} is below its MinValue");
            if (declaration["MaxValue"] is { } max && number > Bound(max)) throw new ArgumentException($"{name}: {text} is above its MaxValue");
        }
        return type == "CommaDelimitedList" ? new JsonArray(values.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray()) : JsonValue.Create(text)!;
    }

    private static bool IsNoValue(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) && s == NoValueText;

    /// <summary>A template fragment with its functions resolved; a property or item that resolves to AWS::NoValue is dropped.</summary>
    public JsonNode? Resolve(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o when o.Count == 1 && IsFunction(o.First().Key):
                return Function(o.First().Key, o.First().Value);
            case JsonObject o:
                var result = new JsonObject();
                foreach (var (key, value) in o)
                    if (Resolve(value) is var resolved && !IsNoValue(resolved)) result[key] = resolved;
                return result;
            case JsonArray a:
                return new JsonArray(a.Select(Resolve).Where(x => !IsNoValue(x)).ToArray());
            default:
                return node?.DeepClone();
        }
    }

    private static bool IsFunction(string key) => key is "Ref" or "Condition" || key.StartsWith("Fn::", StringComparison.Ordinal);

    private JsonNode? Function(string name, JsonNode? argument)
    {
        switch (name)
        {
            case "Ref":
                return Ref((string)argument!);
            case "Fn::GetAtt":
                var parts = argument!.AsArray();
                return GetAtt((string)parts[0]!, (string)parts[1]!);
            case "Fn::Sub":
                return JsonValue.Create(Sub(argument!));
            case "Fn::Join":
                var join = argument!.AsArray();
                var items = Resolve(join[1]) as JsonArray ?? throw new InvalidOperationException("Fn::Join needs a list");
                return JsonValue.Create(string.Join((string)join[0]!, items.Select(Text)));
            case "Fn::Split":
                var split = argument!.AsArray();
                return new JsonArray(Text(Resolve(split[1])).Split((string)split[0]!).Select(s => (JsonNode)JsonValue.Create(s)!).ToArray());
            case "Fn::Select":
                var select = argument!.AsArray();
                var list = Resolve(select[1])!.AsArray();
                return list[int.Parse(Text(Resolve(select[0])), CultureInfo.InvariantCulture)]!.DeepClone();
            case "Fn::If":
                var branches = argument!.AsArray();
                return Resolve(Condition((string)branches[0]!) ? branches[1] : branches[2]);
            default:
                throw new InvalidOperationException($"{name} is not resolved by this reader; teach it, or keep the template to the functions it knows");
        }
    }

    private JsonNode Ref(string name)
    {
        if (name == "AWS::NoValue") return JsonValue.Create(NoValueText);
        if (_pseudo.TryGetValue(name, out var pseudo)) return JsonValue.Create(pseudo);
        if (_parameters.TryGetValue(name, out var parameter)) return parameter.DeepClone();
        if (!_template.Resources.ContainsKey(name)) throw new InvalidOperationException($"Ref {name}: no such parameter or resource");
        Assert.True(Creates(name), $"Ref {name}: the stack does not create {name}");
        return _refs.TryGetValue(name, out var value) ? value.DeepClone() : throw new InvalidOperationException($"Ref {name}: the test did not say what it is");
    }

    private JsonNode GetAtt(string logicalId, string attribute)
    {
        if (!_template.Resources.ContainsKey(logicalId)) throw new InvalidOperationException($"GetAtt {logicalId}.{attribute}: no such resource");
        Assert.True(Creates(logicalId), $"GetAtt {logicalId}.{attribute}: the stack does not create {logicalId}");
        return _attributes.TryGetValue(logicalId + "." + attribute, out var value) ? value.DeepClone()
            : throw new InvalidOperationException($"GetAtt {logicalId}.{attribute}: the test did not say what it is");
    }

    [GeneratedRegex(@"\$\{([^}]*)\}")]
    private static partial Regex SubVariable();

    /// <summary>Fn::Sub: ${Name} is a variable of the map, a parameter, a pseudo parameter or a resource's Ref,
    /// ${Resource.Attribute} a GetAtt, and ${!Literal} the literal text ${Literal}.</summary>
    private string Sub(JsonNode argument)
    {
        var (text, map) = argument is JsonArray a ? ((string)a[0]!, a[1]!.AsObject()) : ((string)argument!, new JsonObject());
        return SubVariable().Replace(text, m =>
        {
            var variable = m.Groups[1].Value;
            if (variable.StartsWith('!')) return "${" + variable[1..] + "}";
            if (map.ContainsKey(variable)) return Text(Resolve(map[variable]));
            var dot = variable.IndexOf('.');
            return Text(dot > 0 && !variable.StartsWith("AWS::", StringComparison.Ordinal) ? GetAtt(variable[..dot], variable[(dot + 1)..]) : Ref(variable));
        });
    }

    private static string Text(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s
        : node is JsonValue n ? n.ToJsonString()
        : throw new InvalidOperationException($"expected a string, got {node?.ToJsonString() ?? "null"}");

    private bool Truth(JsonNode definition)
    {
        var (name, argument) = definition.AsObject().Single();
        var args = argument as JsonArray;
        return name switch
        {
            "Fn::Equals" => Text(Resolve(args![0])) == Text(Resolve(args[1])),
            "Fn::Not" => !Truth(args![0]!),
            "Fn::And" => args!.All(x => Truth(x!)),
            "Fn::Or" => args!.Any(x => Truth(x!)),
            "Condition" => Condition((string)argument!),
            _ => throw new InvalidOperationException($"{name} is not a condition function"),
        };
    }
}
