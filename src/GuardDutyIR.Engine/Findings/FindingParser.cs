using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Findings;

/// <summary>
/// Reads one GuardDuty finding in wire form (camelCase, as GetFindings and EventBridge send it) or in the SDK/CLI
/// rendering (PascalCase), tolerating what real findings vary in: timestamps as ISO strings or epoch numbers,
/// missing optional blocks, extra keys, and additionalInfo values that are JSON strings.
/// </summary>
public static class FindingParser
{
    internal static readonly JsonNodeOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    /// <summary>Parses a finding; throws <see cref="GuardDutyIRException"/> naming what is wrong when it is not one.</summary>
    public static GdFinding Parse(JsonObject finding, string? fallbackRegion = null)
    {
        // Re-parse so every lookup is case-insensitive, whatever options the caller's node was built with. The parsed
        // element backs both the node the fields are read from and the plain Detail, which are read straight from the
        // element rather than through a node for every value of the finding.
        var raw = finding.ToJsonString();
        var root = JsonSerializer.Deserialize<JsonElement>(raw);
        var f = JsonObject.Create(root, CaseInsensitive)!;
        var placeholder = false;
        var detail = (Dictionary<string, object?>)ToPlain(root, ref placeholder)!;

        var id = RequiredString(f, "id");
        var type = RequiredString(f, "type");
        var severity = f["severity"] is { } s ? Number(s, "severity", id)
            : throw Missing("severity", id);
        // GuardDuty's scale is 1.0 to 10.0 (Low to Critical); 0 is kept for hand-made test findings. Anything else
        // (1e308, -5, NaN) is not a severity and would sort and filter wrongly.
        if (!double.IsFinite(severity) || severity is < 0 or > 10)
            throw new GuardDutyIRException("InvalidFindingSeverity", ErrorKind.InvalidData,
                $"Finding {id}: severity {severity.ToString(CultureInfo.InvariantCulture)} is outside GuardDuty's scale of 0 to 10.", id);
        var arn = String(f["arn"]);
        var accountId = String(f["accountId"]) ?? ArnPart(arn, 4) ?? throw Missing("accountId", id);
        var region = String(f["region"]) ?? ArnPart(arn, 3) ?? fallbackRegion ?? throw Missing("region", id);

        var resource = f["resource"] as JsonObject;
        var instance = resource?["instanceDetails"] as JsonObject;
        var interfaces = (instance?["networkInterfaces"] as JsonArray)?.OfType<JsonObject>().ToList() ?? new List<JsonObject>();
        var primary = interfaces.FirstOrDefault();
        var service = f["service"] as JsonObject;
        var action = service?["action"] as JsonObject;
        var network = action?["networkConnectionAction"] as JsonObject;
        var apiCall = action?["awsApiCallAction"] as JsonObject;
        var dns = action?["dnsRequestAction"] as JsonObject;
        var probe = (action?["portProbeAction"]?["portProbeDetails"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
        var remoteIp = (network?["remoteIpDetails"] ?? apiCall?["remoteIpDetails"] ?? probe?["remoteIpDetails"]) as JsonObject;
        var additional = AdditionalInfo(service?["additionalInfo"]);
        var threat = (service?["evidence"]?["threatIntelligenceDetails"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();

        return new GdFinding
        {
            Id = id,
            DetectorId = String(service?["detectorId"]) ?? DetectorFromArn(arn),
            AccountId = accountId,
            Region = region,
            Partition = String(f["partition"]) ?? ArnPart(arn, 1),
            Arn = arn,
            Type = type,
            Severity = severity,
            Title = String(f["title"]),
            Description = String(f["description"]),
            ResourceType = String(resource?["resourceType"]),
            InstanceId = String(instance?["instanceId"]),
            InstanceState = String(instance?["instanceState"]),
            InstanceType = String(instance?["instanceType"]),
            ImageId = String(instance?["imageId"]),
            AvailabilityZone = String(instance?["availabilityZone"]),
            VpcId = String(primary?["vpcId"]),
            SubnetId = String(primary?["subnetId"]),
            PrivateIpAddress = String(primary?["privateIpAddress"]),
            PublicIp = String(primary?["publicIp"]),
            NetworkInterfaceIds = interfaces.Select(i => String(i["networkInterfaceId"])).OfType<string>().ToList(),
            SecurityGroupIds = interfaces.SelectMany(i => (i["securityGroups"] as JsonArray)?.OfType<JsonObject>() ?? Enumerable.Empty<JsonObject>())
                .Select(g => String(g["groupId"])).OfType<string>().Distinct().ToList(),
            IamInstanceProfileArn = String(instance?["iamInstanceProfile"]?["arn"]),
            Tags = ((instance?["tags"] as JsonArray)?.OfType<JsonObject>() ?? Enumerable.Empty<JsonObject>())
                .Where(t => String(t["key"]) is not null)
                .GroupBy(t => String(t["key"])!)
                .ToDictionary(g => g.Key, g => String(g.First()["value"]) ?? ""),
            ActionType = String(action?["actionType"]),
            Direction = String(network?["connectionDirection"]),
            Protocol = String(network?["protocol"]) ?? String(dns?["protocol"]),
            RemoteIpAddress = String(remoteIp?["ipAddressV4"]) ?? String(remoteIp?["ipAddressV6"]),
            RemotePort = Int(network?["remotePortDetails"]?["port"]),
            LocalPort = Int(network?["localPortDetails"]?["port"] ?? probe?["localPortDetails"]?["port"]),
            RemoteCountry = String(remoteIp?["country"]?["countryName"]) ?? String(remoteIp?["country"]?["countryCode"]),
            RemoteOrganization = String(remoteIp?["organization"]?["org"]) ?? String(remoteIp?["organization"]?["asnOrg"])
                ?? String(remoteIp?["organization"]?["isp"]),
            ThreatListName = String(threat?["threatListName"]) ?? String(additional?["threatListName"]),
            ThreatNames = ((threat?["threatNames"] as JsonArray) ?? new JsonArray()).Select(String).OfType<string>().ToList(),
            ResourceRole = String(service?["resourceRole"]),
            Count = (long)(service?["count"] is { } c ? Number(c, "service.count", id) : 1),
            FirstSeen = Time(service?["eventFirstSeen"], "service.eventFirstSeen", id),
            LastSeen = Time(service?["eventLastSeen"], "service.eventLastSeen", id),
            CreatedAt = Time(f["createdAt"], "createdAt", id),
            UpdatedAt = Time(f["updatedAt"], "updatedAt", id),
            Archived = Bool(service?["archived"]) ?? false,
            IsSample = (Bool(additional?["sample"]) ?? false) || placeholder,
            Detail = detail,
            RawJson = raw,
        };
    }

    // additionalInfo carries flattened keys and a "value" holding the same data as a JSON string; merge both.
    private static JsonObject? AdditionalInfo(JsonNode? node)
    {
        if (node is not JsonObject info) return null;
        var merged = new JsonObject(CaseInsensitive);
        if (String(info["value"]) is { Length: > 1 } value && value.TrimStart().StartsWith('{'))
        {
            try
            {
                if (JsonNode.Parse(value, CaseInsensitive) is JsonObject parsed)
                    foreach (var (k, v) in parsed) merged[k] = v?.DeepClone();
            }
            catch (JsonException)
            {
                // A value that is not JSON is just text; the flattened keys still count.
            }
        }
        foreach (var (k, v) in info) if (k != "value") merged[k] = v?.DeepClone();
        return merged;
    }

    private static string RequiredString(JsonObject f, string name) =>
        String(f[name]) is { Length: > 0 } value ? value : throw Missing(name, String(f["id"]));

    private static GuardDutyIRException Missing(string field, string? id) =>
        new("FindingMissingField", ErrorKind.InvalidData, $"Not a GuardDuty finding: the required field '{field}' is missing or empty.", id ?? field);

    private static GuardDutyIRException Invalid(string field, string? id, JsonNode node) =>
        new("FindingInvalidField", ErrorKind.InvalidData, $"The finding's '{field}' has a value of the wrong kind: {Truncate(node.ToJsonString())}.", id ?? field);

    private static string Truncate(string s) => s.Length > 80 ? s[..80] + "..." : s;

    internal static string? String(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<JsonElement>(out var e) && e.ValueKind is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => e.ToString(),
        JsonValue v when v.GetValueKind() is JsonValueKind.Number => v.ToJsonString(),
        _ => null,
    };

    private static double Number(JsonNode node, string field, string? id)
    {
        if (node is JsonValue v)
        {
            if (v.GetValueKind() == JsonValueKind.Number) return v.GetValue<double>();
            if (v.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        }
        throw Invalid(field, id, node);
    }

    private static int? Int(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? (int)v.GetValue<double>()
        : node is JsonValue s && s.TryGetValue<string>(out var text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i
        : null;

    private static bool? Bool(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.True => true,
        JsonValue v when v.GetValueKind() == JsonValueKind.False => false,
        JsonValue v when v.TryGetValue<string>(out var s) && bool.TryParse(s, out var b) => b,
        _ => null,
    };

    /// <summary>ISO-8601 strings, or epoch seconds / milliseconds as numbers (both occur in real findings).</summary>
    internal static DateTime? Time(JsonNode? node, string field, string? id)
    {
        if (node is null) return null;
        if (node is JsonValue v)
        {
            if (v.GetValueKind() == JsonValueKind.Null) return null;
            if (v.GetValueKind() == JsonValueKind.Number)
            {
                var n = v.GetValue<double>();
                var seconds = n > 100_000_000_000 ? n / 1000 : n;   // beyond year 5138 in seconds means milliseconds
                return DateTime.UnixEpoch.AddSeconds(seconds);
            }
            if (v.TryGetValue<string>(out var s))
            {
                if (DateTime.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t)) return t;
                if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return Time(JsonValue.Create(n), field, id);
            }
        }
        throw Invalid(field, id, node);
    }

    private static string? ArnPart(string? arn, int index)
    {
        var parts = arn?.Split(':');
        return parts is { Length: > 5 } && parts[index].Length > 0 ? parts[index] : null;
    }

    private static string? DetectorFromArn(string? arn)
    {
        var marker = arn?.IndexOf(":detector/", StringComparison.Ordinal) ?? -1;
        if (marker < 0) return null;
        var rest = arn![(marker + ":detector/".Length)..];
        var slash = rest.IndexOf('/');
        return slash < 0 ? rest : rest[..slash];
    }

    private static readonly object s_true = true, s_false = false;

    /// <summary>
    /// JSON as plain .NET values: dictionaries (case-insensitive keys), object arrays, strings, numbers, booleans.
    /// <paramref name="placeholder"/> turns true when a string starts with "GeneratedFinding", the placeholder values
    /// of sample findings, found on the same walk as the strings are read.
    /// </summary>
    internal static object? ToPlain(JsonElement element, ref bool placeholder)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var count = 0;
                foreach (var _ in element.EnumerateObject()) count++;
                var o = new Dictionary<string, object?>(count, StringComparer.OrdinalIgnoreCase);
                foreach (var p in element.EnumerateObject()) o.Add(p.Name, ToPlain(p.Value, ref placeholder));
                return o;
            case JsonValueKind.Array:
                var a = new object?[element.GetArrayLength()];
                var i = 0;
                foreach (var item in element.EnumerateArray()) a[i++] = ToPlain(item, ref placeholder);
                return a;
            case JsonValueKind.String:
                var text = element.GetString()!;
                placeholder |= text.StartsWith("GeneratedFinding", StringComparison.Ordinal);
                return text;
            case JsonValueKind.True:
                return s_true;
            case JsonValueKind.False:
                return s_false;
            case JsonValueKind.Number:
                return element.TryGetInt64(out var l) ? (object)l : element.GetDouble();
            default:
                return null;
        }
    }
}
