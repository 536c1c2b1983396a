using System.Collections.Specialized;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Lab.Core.Model;

/// <summary>What a request broke: a required member absent, or a value outside the model's length, range or enum.</summary>
public enum ViolationKind
{
    /// <summary>A member the model marks required is absent.</summary>
    Missing,
    /// <summary>A string's length, or a list's or map's size, is outside the model's min/max.</summary>
    Length,
    /// <summary>A number is outside the model's min/max.</summary>
    Range,
    /// <summary>A string is not one of the model's enum values.</summary>
    Enum,
    /// <summary>A value is not of the member's type (a number that does not parse, a JSON string where a list belongs).</summary>
    Type,
}

/// <summary>One constraint a request broke, with what each protocol's error message needs.</summary>
/// <param name="TopMember">The model name of the top-level input member the violation is under (e.g. "MaxResults").</param>
/// <param name="Path">The member path as AWS validation messages print it: lowerCamel names, list positions (e.g. "lookupAttributes.1.member.attributeKey").</param>
/// <param name="WirePath">The path of wire names: the EC2/query parameter key or the JSON member names (e.g. "InstanceSpecification.InstanceId", "sortCriteria.orderBy").</param>
public sealed record ModelViolation(ViolationKind Kind, string TopMember, string Path, string WirePath, string? Value,
    double? Min, double? Max, IReadOnlyList<string>? Allowed, string ExpectedType)
{
    /// <summary>The innermost wire name of the path, list positions skipped (e.g. "MaxResults", "ResourceType").</summary>
    public string WireName => WirePath.Split('.').LastOrDefault(p => p.Length > 0 && !p.All(char.IsAsciiDigit)) ?? WirePath;

    /// <summary>For a Length violation: the string's length or the list's or map's size.</summary>
    public int? LengthValue { get; init; }

    /// <summary>"Member must …": the broken constraint in the words of AWS's validation messages.</summary>
    public string Constraint => Kind switch
    {
        ViolationKind.Missing => "Member must not be null",
        ViolationKind.Length when Min is { } lo && LengthValue < lo => $"Member must have length greater than or equal to {Num(lo)}",
        ViolationKind.Length => $"Member must have length less than or equal to {Num(Max ?? 0)}",
        ViolationKind.Range when Min is { } lo && Number(Value) is { } n && n < lo => $"Member must have value greater than or equal to {Num(lo)}",
        ViolationKind.Range => $"Member must have value less than or equal to {Num(Max ?? 0)}",
        ViolationKind.Enum => $"Member must satisfy enum value set: [{string.Join(", ", Allowed ?? Array.Empty<string>())}]",
        _ => $"Member must be of type {ExpectedType}",
    };

    /// <summary>One clause of a Coral-style validation message: "Value '…' at 'path' failed to satisfy constraint: …".</summary>
    public string Clause => Kind == ViolationKind.Missing
        ? $"Value null at '{Path}' failed to satisfy constraint: {Constraint}"
        : $"Value '{Value}' at '{Path}' failed to satisfy constraint: {Constraint}";

    /// <summary>"N validation error(s) detected: clause; clause", the message AWS's query and JSON services send.</summary>
    public static string Summary(IReadOnlyList<ModelViolation> violations) =>
        $"{violations.Count} validation error{(violations.Count == 1 ? "" : "s")} detected: {string.Join("; ", violations.Select(v => v.Clause))}";

    private static double? Number(string? v) =>
        v is not null && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;

    private static string Num(double d) => d.ToString("0.################", CultureInfo.InvariantCulture);
}

/// <summary>Walks a request (form parameters or JSON) along the model's input shape and collects every broken constraint.</summary>
internal static class ModelValidator
{
    public static IReadOnlyList<ModelViolation> Form(ServiceModel model, ModelOperation op, NameValueCollection form)
    {
        var found = new List<ModelViolation>();
        if (op.Input is null) return found;
        var keys = form.AllKeys.Where(k => k is not null).Select(k => k!).ToArray();
        new FormWalk(model, form, keys, found).Struct(model.Shape(op.Input), "", "", null);
        return found;
    }

    public static IReadOnlyList<ModelViolation> Json(ServiceModel model, ModelOperation op, JsonObject body,
        IReadOnlyDictionary<string, string>? labels, NameValueCollection? query, IReadOnlyDictionary<string, string>? headers)
    {
        var found = new List<ModelViolation>();
        if (op.Input is null) return found;
        var input = model.Shape(op.Input);
        var walk = new JsonWalk(model, found);
        foreach (var m in input.Members)
        {
            var path = Camel(m.Name);
            var target = model.Shape(m.Shape);
            if (m.Location is { } location)
            {
                string? text = location switch
                {
                    "uri" => labels is not null && labels.TryGetValue(m.Wire, out var l) ? l : null,
                    "querystring" => query?[m.Wire],
                    "header" => headers is not null && headers.TryGetValue(m.Wire, out var h) ? h : null,
                    _ => null,
                };
                if (text is null) { if (input.Required.Contains(m.Name)) found.Add(Missing(m.Name, path, m.Wire)); continue; }
                Scalar(target, text, m.Name, path, m.Wire, found);
                continue;
            }
            var node = body[m.Wire];
            if (node is null) { if (input.Required.Contains(m.Name)) found.Add(Missing(m.Name, path, m.Wire)); continue; }
            walk.Value(target, node, m.Name, path, m.Wire);
        }
        return found;
    }

    private static ModelViolation Missing(string top, string path, string wire) =>
        new(ViolationKind.Missing, top, path, wire, null, null, null, null, "");

    internal static string Camel(string name) => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];

    /// <summary>Checks a value that arrived as text (form parameter, URI label, query string, header).</summary>
    private static void Scalar(ModelShape s, string text, string top, string path, string wire, List<ModelViolation> found)
    {
        switch (s.Type)
        {
            case "string":
                StringChecks(s, text, top, path, wire, found);
                break;
            case "integer" or "long":
                if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
                    found.Add(new(ViolationKind.Type, top, path, wire, text, s.Min, s.Max, null, s.Type));
                else RangeCheck(s, n, text, top, path, wire, found);
                break;
            case "double" or "float":
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
                    found.Add(new(ViolationKind.Type, top, path, wire, text, s.Min, s.Max, null, s.Type));
                else RangeCheck(s, d, text, top, path, wire, found);
                break;
        }
    }

    private static void StringChecks(ModelShape s, string text, string top, string path, string wire, List<ModelViolation> found)
    {
        // Smithy's length trait counts Unicode scalar values, not UTF-16 code units.
        int length = text.EnumerateRunes().Count();
        if ((s.Min is { } lo && length < lo) || (s.Max is { } hi && length > hi))
            found.Add(new(ViolationKind.Length, top, path, wire, text, s.Min, s.Max, null, s.Type) { LengthValue = length });
        if (s.Enum is { } allowed && !allowed.Contains(text, StringComparer.Ordinal))
            found.Add(new(ViolationKind.Enum, top, path, wire, text, null, null, allowed, s.Type));
    }

    private static void RangeCheck(ModelShape s, double n, string text, string top, string path, string wire, List<ModelViolation> found)
    {
        if ((s.Min is { } lo && n < lo) || (s.Max is { } hi && n > hi))
            found.Add(new(ViolationKind.Range, top, path, wire, text, s.Min, s.Max, null, s.Type));
    }

    private static void CountCheck(ModelShape s, int count, string top, string path, string wire, List<ModelViolation> found)
    {
        if ((s.Min is { } lo && count < lo) || (s.Max is { } hi && count > hi))
            found.Add(new(ViolationKind.Length, top, path, wire, null, s.Min, s.Max, null, s.Type) { LengthValue = count });
    }

    /// <summary>
    /// EC2 and awsQuery parameters (botocore serialize.py): structures nest with dots; EC2 lists are Name.N, awsQuery
    /// lists Name.member.N; awsQuery maps Name.entry.N.key / .value.
    /// </summary>
    private sealed class FormWalk(ServiceModel model, NameValueCollection form, string[] keys, List<ModelViolation> found)
    {
        private readonly bool _ec2 = model.Protocol == "ec2";

        public void Struct(ModelShape s, string prefix, string path, string? top)
        {
            foreach (var m in s.Members)
            {
                var key = prefix + m.Wire;
                var mpath = path + Camel(m.Name);
                var target = model.Shape(m.Shape);
                var t = top ?? m.Name;
                if (!Present(target, key))
                {
                    if (s.Required.Contains(m.Name)) found.Add(Missing(t, mpath, key));
                    continue;
                }
                Value(target, key, mpath, t);
            }
        }

        private void Value(ModelShape s, string key, string path, string top)
        {
            switch (s.Type)
            {
                case "structure":
                    Struct(s, key + ".", path + ".", top);
                    break;
                case "list":
                {
                    var prefix = s.Item is null ? key : key + "." + s.Item;
                    var indices = Indices(prefix);
                    CountCheck(s, indices.Count, top, path, key, found);
                    var member = model.Shape(s.Member!);
                    foreach (var i in indices)
                    {
                        var elementKey = prefix + "." + i.ToString(CultureInfo.InvariantCulture);
                        if (Present(member, elementKey)) Value(member, elementKey, $"{path}.{i}.member", top);
                    }
                    break;
                }
                case "map":
                {
                    var prefix = key + "." + (s.Entry ?? "entry");
                    var indices = Indices(prefix);
                    CountCheck(s, indices.Count, top, path, key, found);
                    var keyShape = model.Shape(s.Key!);
                    var valueShape = model.Shape(s.Value!);
                    foreach (var i in indices)
                    {
                        var entry = prefix + "." + i.ToString(CultureInfo.InvariantCulture) + ".";
                        var k = entry + (s.KeyName ?? "key");
                        var v = entry + (s.ValueName ?? "value");
                        if (form[k] is { } kt) Scalar(keyShape, kt, top, $"{path}.{i}.key", k, found);
                        if (Present(valueShape, v)) Value(valueShape, v, $"{path}.{i}.value", top);
                    }
                    break;
                }
                default:
                    if (form[key] is { } text) Scalar(s, text, top, path, key, found);
                    break;
            }
        }

        /// <summary>
        /// A scalar is present when its key is; a structure, list or map when any key lies under it (an empty awsQuery
        /// list travels as "Name="). EC2 treats an empty value like an absent one.
        /// </summary>
        private bool Present(ModelShape s, string key)
        {
            if (s.Type is "structure" or "list" or "map")
                return form[key] is not null || keys.Any(k => k.StartsWith(key + ".", StringComparison.Ordinal));
            var v = form[key];
            return v is not null && !(_ec2 && v.Length == 0);
        }

        /// <summary>The N of every Prefix.N or Prefix.N.… key, in order.</summary>
        private List<int> Indices(string prefix)
        {
            var set = new SortedSet<int>();
            var p = prefix + ".";
            foreach (var k in keys)
            {
                if (!k.StartsWith(p, StringComparison.Ordinal)) continue;
                var rest = k[p.Length..];
                var dot = rest.IndexOf('.');
                if (int.TryParse(dot < 0 ? rest : rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out var n)) set.Add(n);
            }
            return set.ToList();
        }
    }

    /// <summary>JSON bodies (json-1.1 and rest-json): members by wire name, lists as arrays, maps as objects.</summary>
    private sealed class JsonWalk(ServiceModel model, List<ModelViolation> found)
    {
        public void Value(ModelShape s, JsonNode node, string top, string path, string wire)
        {
            switch (s.Type)
            {
                case "structure":
                    if (node is not JsonObject o) { TypeError(s, node, top, path, wire); return; }
                    foreach (var m in s.Members)
                    {
                        var child = o[m.Wire];
                        var mpath = path + "." + Camel(m.Name);
                        var mwire = wire + "." + m.Wire;
                        if (child is null) { if (s.Required.Contains(m.Name)) found.Add(Missing(top, mpath, mwire)); continue; }
                        Value(model.Shape(m.Shape), child, top, mpath, mwire);
                    }
                    break;
                case "list":
                {
                    if (node is not JsonArray a) { TypeError(s, node, top, path, wire); return; }
                    CountCheck(s, a.Count, top, path, wire, found);
                    var member = model.Shape(s.Member!);
                    for (int i = 0; i < a.Count; i++)
                        if (a[i] is { } e) Value(member, e, top, $"{path}.{i + 1}.member", wire);
                    break;
                }
                case "map":
                {
                    if (node is not JsonObject mo) { TypeError(s, node, top, path, wire); return; }
                    CountCheck(s, mo.Count, top, path, wire, found);
                    var keyShape = model.Shape(s.Key!);
                    var valueShape = model.Shape(s.Value!);
                    foreach (var (k, v) in mo)
                    {
                        if (keyShape.Type == "string") StringChecks(keyShape, k, top, $"{path}.{k}.key", wire, found);
                        if (v is not null) Value(valueShape, v, top, $"{path}.{k}.value", wire);
                    }
                    break;
                }
                case "string":
                    if (Kind(node) != JsonValueKind.String) { TypeError(s, node, top, path, wire); return; }
                    StringChecks(s, node.GetValue<string>(), top, path, wire, found);
                    break;
                // A fractional number where an integer belongs is read, not refused: AWS's JSON readers coerce it
                // (GuardDuty severity filters such as lessThan 10.1 are longs in the model).
                case "integer" or "long" or "double" or "float":
                    if (Kind(node) != JsonValueKind.Number) { TypeError(s, node, top, path, wire); return; }
                    RangeCheck(s, node.GetValue<double>(), node.ToJsonString(), top, path, wire, found);
                    break;
                case "boolean":
                    if (Kind(node) is not (JsonValueKind.True or JsonValueKind.False)) TypeError(s, node, top, path, wire);
                    break;
                case "timestamp":
                    if (Kind(node) is not (JsonValueKind.Number or JsonValueKind.String)) TypeError(s, node, top, path, wire);
                    break;
                case "blob":
                    if (Kind(node) != JsonValueKind.String) TypeError(s, node, top, path, wire);
                    break;
            }
        }

        private static JsonValueKind Kind(JsonNode node) => node.GetValueKind();

        private void TypeError(ModelShape s, JsonNode node, string top, string path, string wire) =>
            found.Add(new(ViolationKind.Type, top, path, wire, node.ToJsonString(), null, null, null, s.Type));
    }
}
