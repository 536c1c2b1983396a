using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>The start of an SSM execution refused, as Systems Manager refuses parameters before anything runs.</summary>
public sealed class SsmParameterException(string message) : Exception(message);

/// <summary>
/// An SSM document of module/ssm/ as Systems Manager reads it: YAML to a JSON tree (plain true/false and numbers
/// typed, quoted scalars strings), its parameters checked and put in the way SSM does before a step runs.
/// </summary>
public static partial class SsmDocument
{
    public static string Directory => Path.Combine(GuardDutyIR.TestSupport.TestPaths.RepoRoot, "module", "ssm");

    public static JsonObject Load(string fileName)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(Path.Combine(Directory, fileName)))) stream.Load(reader);
        return (JsonObject)ToJson(Assert.Single(stream.Documents).RootNode)!;
    }

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, ToJson(c.Value)))),
        YamlSequenceNode list => new JsonArray(list.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: ScalarStyle.Plain } s => Plain(s.Value ?? ""),
        YamlScalarNode s => JsonValue.Create(s.Value ?? ""),
        _ => throw new FormatException("Unsupported YAML node " + node.NodeType),
    };

    private static JsonNode? Plain(string text) => text switch
    {
        "true" or "True" => JsonValue.Create(true),
        "false" or "False" => JsonValue.Create(false),
        "" or "~" or "null" => null,
        _ when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) => JsonValue.Create(n),
        _ => JsonValue.Create(text),
    };

    [GeneratedRegex(@"\{\{\s*([A-Za-z0-9_.:-]+)\s*\}\}", RegexOptions.CultureInvariant)]
    private static partial Regex Reference();

    /// <summary>Every "{{ Name }}" in the document's strings (keys included).</summary>
    public static IReadOnlyList<string> References(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => References(JsonValue.Create(p.Key)).Concat(References(p.Value))).ToList(),
        JsonArray a => a.SelectMany(References).ToList(),
        JsonValue v when v.TryGetValue<string>(out var s) => Reference().Matches(s).Select(m => m.Groups[1].Value).ToList(),
        _ => Array.Empty<string>(),
    };

    /// <summary>
    /// The parameters' values as SSM checks them before it starts anything: no unknown names, every parameter
    /// without a default given, each value of the parameter's type, in allowedValues and matching allowedPattern
    /// (https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html).
    /// </summary>
    public static IReadOnlyDictionary<string, JsonNode> ResolveParameters(JsonObject document, IReadOnlyDictionary<string, JsonNode> given)
    {
        var declared = document["parameters"]?.AsObject() ?? new JsonObject();
        foreach (var name in given.Keys.Where(k => !declared.ContainsKey(k)))
            throw new SsmParameterException($"Parameter \"{name}\" is not defined in the document.");
        var values = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        foreach (var (name, definition) in declared)
        {
            var value = given.TryGetValue(name, out var v) ? v : definition!["default"]?.DeepClone()
                ?? throw new SsmParameterException($"Parameter \"{name}\" is required and has no default.");
            var type = definition!["type"]!.GetValue<string>();
            var typeOk = type switch
            {
                "String" => value is JsonValue sv && sv.TryGetValue<string>(out _),
                "Boolean" => value is JsonValue bv && bv.TryGetValue<bool>(out _),
                "Integer" => value is JsonValue iv && iv.TryGetValue<long>(out _),
                "StringList" => value is JsonArray list && list.All(i => i is JsonValue e && e.TryGetValue<string>(out _)),
                _ => true,
            };
            if (!typeOk) throw new SsmParameterException($"Parameter \"{name}\" is a {type}; {value.ToJsonString()} is not.");
            if (definition["allowedValues"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, value)))
                throw new SsmParameterException($"Parameter \"{name}\" must be one of {allowed.ToJsonString()}; {value.ToJsonString()} is not.");
            if (definition["allowedPattern"]?.GetValue<string>() is { } pattern && value is JsonValue text && text.TryGetValue<string>(out var s)
                && !Regex.IsMatch(s, pattern, RegexOptions.CultureInvariant))
                throw new SsmParameterException($"Parameter \"{name}\" \"{s}\" does not match the allowed pattern {pattern}.");
            values[name] = value;
        }
        return values;
    }

    /// <summary>
    /// The document's references replaced as SSM replaces them: a string that is one reference and nothing else takes
    /// the parameter's value with its type (a Boolean stays a Boolean); a reference inside longer text is replaced by
    /// the value's text.
    /// </summary>
    public static JsonNode? Substitute(JsonNode? node, IReadOnlyDictionary<string, JsonNode> values) => node switch
    {
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, Substitute(p.Value, values)))),
        JsonArray a => new JsonArray(a.Select(i => Substitute(i, values)).ToArray()),
        JsonValue v when v.TryGetValue<string>(out var s) => Reference().Match(s) is { Success: true } m && m.Value == s && values.ContainsKey(m.Groups[1].Value)
            ? values[m.Groups[1].Value].DeepClone()
            : JsonValue.Create(Reference().Replace(s, r => values.TryGetValue(r.Groups[1].Value, out var x) ? Text(x) : r.Value)),
        _ => node?.DeepClone(),
    };

    private static string Text(JsonNode value) => value is JsonValue v && v.TryGetValue<string>(out var s) ? s
        : value is JsonValue b && b.TryGetValue<bool>(out var flag) ? (flag ? "true" : "false")
        : value.ToJsonString();
}
