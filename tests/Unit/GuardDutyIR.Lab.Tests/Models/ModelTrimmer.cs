using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Lab.Tests.Models;

/// <summary>
/// Derives the Lab's constraint table from botocore service models: for each operation the Lab serves, the input
/// shapes it can reach with their required members, min/max, enums and wire names (resolved for the service's protocol
/// the way botocore's serializers resolve them). The Lab ships the result as an embedded resource; this code lives in
/// the tests so the shipped Lab never reads a model, and so the table can be re-derived and compared on every run.
/// </summary>
public static class ModelTrimmer
{
    /// <summary>The trimmed table of one service.</summary>
    public static JsonObject Trim(string modelPath, IEnumerable<string> operations)
    {
        var model = JsonNode.Parse(File.ReadAllText(modelPath))!.AsObject();
        var protocol = (string)model["metadata"]!["protocol"]!;
        if (protocol is not ("ec2" or "query" or "json" or "rest-json"))
            throw new InvalidOperationException($"{modelPath}: protocol {protocol} is not one the Lab speaks.");
        var shapes = model["shapes"]!.AsObject();
        var ops = model["operations"]!.AsObject();
        var outShapes = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        var outOps = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);

        foreach (var name in operations.Distinct().OrderBy(o => o, StringComparer.Ordinal))
        {
            var op = ops[name]?.AsObject() ?? throw new InvalidOperationException($"The Lab serves {name}, which {modelPath} does not define.");
            var entry = new JsonObject();
            if (op["input"]?["shape"] is { } input)
            {
                entry["input"] = (string)input!;
                Visit((string)input!, shapes, protocol, outShapes);
            }
            if (protocol == "rest-json")
            {
                entry["method"] = (string)op["http"]!["method"]!;
                entry["requestUri"] = (string)op["http"]!["requestUri"]!;
            }
            var errors = (op["errors"] as JsonArray)?.Select(e => (string)e!["shape"]!).OrderBy(e => e, StringComparer.Ordinal).ToArray() ?? Array.Empty<string>();
            if (errors.Length > 0) entry["errors"] = new JsonArray(errors.Select(e => (JsonNode)e).ToArray());
            outOps[name] = entry;
        }

        return new JsonObject
        {
            ["protocol"] = protocol,
            ["apiVersion"] = (string)model["metadata"]!["apiVersion"]!,
            ["operations"] = new JsonObject(outOps!),
            ["shapes"] = new JsonObject(outShapes!),
        };
    }

    private static void Visit(string name, JsonObject shapes, string protocol, SortedDictionary<string, JsonNode?> outShapes)
    {
        if (outShapes.ContainsKey(name)) return;
        var s = shapes[name]!.AsObject();
        var type = (string)s["type"]!;
        var o = new JsonObject { ["type"] = type };
        outShapes[name] = o;
        foreach (var k in new[] { "min", "max" })
            if (s[k] is JsonValue v) o[k] = v.DeepClone();
        if (s["enum"] is JsonArray en) o["enum"] = en.DeepClone();
        switch (type)
        {
            case "structure":
            {
                if (s["required"] is JsonArray req && req.Count > 0) o["required"] = req.DeepClone();
                var members = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
                foreach (var (memberName, raw) in s["members"]!.AsObject())
                {
                    var m = raw!.AsObject();
                    var target = (string)m["shape"]!;
                    var entry = new JsonObject { ["shape"] = target };
                    var location = (string?)m["location"];
                    var wire = WireName(memberName, m, protocol);
                    if (wire != memberName) entry["wire"] = wire;
                    if (location is not null) entry["location"] = location;
                    members[memberName] = entry;
                    Visit(target, shapes, protocol, outShapes);
                }
                o["members"] = new JsonObject(members!);
                break;
            }
            case "list":
            {
                var member = s["member"]!.AsObject();
                o["member"] = (string)member["shape"]!;
                // awsQuery lists are Name.member.N (or the member's locationName); EC2 flattens every list to Name.N.
                if (protocol == "query")
                {
                    if (s["flattened"] is JsonValue f && f.GetValue<bool>())
                        throw new InvalidOperationException($"{name}: flattened query lists are not handled by the Lab's reader.");
                    o["item"] = (string?)member["locationName"] ?? "member";
                }
                Visit((string)member["shape"]!, shapes, protocol, outShapes);
                break;
            }
            case "map":
            {
                var key = s["key"]!.AsObject();
                var value = s["value"]!.AsObject();
                o["key"] = (string)key["shape"]!;
                o["value"] = (string)value["shape"]!;
                if (protocol is "query" or "ec2")
                {
                    if (s["flattened"] is JsonValue f && f.GetValue<bool>())
                        throw new InvalidOperationException($"{name}: flattened query maps are not handled by the Lab's reader.");
                    o["entry"] = "entry";
                    o["keyName"] = (string?)key["locationName"] ?? "key";
                    o["valueName"] = (string?)value["locationName"] ?? "value";
                }
                Visit((string)key["shape"]!, shapes, protocol, outShapes);
                Visit((string)value["shape"]!, shapes, protocol, outShapes);
                break;
            }
        }
    }

    /// <summary>
    /// The name a member travels under (botocore serialize.py): EC2 uses queryName, else locationName with a capital
    /// first letter, else the member name; the other protocols use locationName, else the member name.
    /// </summary>
    private static string WireName(string memberName, JsonObject member, string protocol)
    {
        var locationName = (string?)member["locationName"];
        if (protocol == "ec2")
        {
            if ((string?)member["queryName"] is { } q) return q;
            if (locationName is { Length: > 0 }) return char.ToUpperInvariant(locationName[0]) + locationName[1..];
            return memberName;
        }
        return locationName ?? memberName;
    }

    /// <summary>Serializes the way the shipped file is written, so a regenerated file diffs cleanly.</summary>
    public static string Serialize(JsonObject table) =>
        table.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
}
