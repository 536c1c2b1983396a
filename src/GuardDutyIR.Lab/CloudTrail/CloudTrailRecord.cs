using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Lab.CloudTrail;

/// <summary>
/// One CloudTrail event in the record format CloudTrail writes to S3 (camelCase, as in the "Records" array),
/// with the fields the Lab's services filter on lifted out.
/// </summary>
public sealed class CloudTrailRecord
{
    public CloudTrailRecord(JsonObject json)
    {
        Json = json;
        JsonText = json.ToJsonString();
        EventTime = DateTimeOffset.Parse((string)json["eventTime"]!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
        EventId = (string)json["eventID"]!;
        EventName = (string)json["eventName"]!;
        EventSource = (string)json["eventSource"]!;
        AwsRegion = (string)json["awsRegion"]!;
        EventCategory = (string?)json["eventCategory"] ?? "Management";
        ReadOnly = json["readOnly"]?.GetValueKind() == JsonValueKind.True;
        ManagementEvent = json["managementEvent"]?.GetValueKind() == JsonValueKind.True;
        var id = json["userIdentity"] as JsonObject;
        UserIdentityType = (string?)id?["type"];
        PrincipalId = (string?)id?["principalId"];
        AccessKeyId = (string?)id?["accessKeyId"] is { Length: > 0 } k ? k : null;
        SourceIpAddress = (string?)json["sourceIPAddress"];
        ErrorCode = (string?)json["errorCode"];
        Username = UserIdentityType switch
        {
            // LookupEvents reports the role session name for assumed roles (for instance profiles: the instance ID).
            "AssumedRole" => ((string?)id?["arn"])?.Split('/').LastOrDefault(),
            "IAMUser" => (string?)id?["userName"],
            "Root" => "root",
            _ => (string?)id?["userName"],
        };
        var resources = new List<(string, string)>();
        if (json["resources"] is JsonArray arr)
            foreach (var r in arr.OfType<JsonObject>())
                if ((string?)r["type"] is { } type && (string?)r["ARN"] is { } arn)
                    resources.Add((type, ResourceName(type, arn)));
        Resources = resources;
    }

    /// <summary>The record exactly as it appears in a trail log file's Records array. Do not mutate.</summary>
    public JsonObject Json { get; }
    /// <summary>The record as compact JSON (LookupEvents' CloudTrailEvent, Lake's eventjson).</summary>
    public string JsonText { get; }
    public DateTimeOffset EventTime { get; }
    public string EventId { get; }
    public string EventName { get; }
    public string EventSource { get; }
    public string AwsRegion { get; }
    public string EventCategory { get; }
    public bool ReadOnly { get; }
    public bool ManagementEvent { get; }
    public string? UserIdentityType { get; }
    public string? PrincipalId { get; }
    public string? AccessKeyId { get; }
    public string? Username { get; }
    public string? SourceIpAddress { get; }
    public string? ErrorCode { get; }
    /// <summary>(ResourceType, ResourceName) as LookupEvents lists them.</summary>
    public IReadOnlyList<(string Type, string Name)> Resources { get; }

    /// <summary>requestParameters flattened the way CloudTrail Lake stores them: top-level keys, nested values as JSON text.</summary>
    public IReadOnlyDictionary<string, string>? RequestParametersMap => FlatMap(Json["requestParameters"]);

    internal static Dictionary<string, string>? FlatMap(JsonNode? node)
    {
        if (node is not JsonObject o) return null;
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in o)
        {
            if (v is null) continue;
            map[k] = v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString();
        }
        return map;
    }

    private static string ResourceName(string type, string arn)
    {
        // LookupEvents names S3 buckets and EC2 resources by their plain name/ID and everything else by ARN.
        if (type == "AWS::S3::Bucket" && arn.StartsWith("arn:aws:s3:::", StringComparison.Ordinal)) return arn[13..];
        if (type.StartsWith("AWS::EC2::", StringComparison.Ordinal) && arn.Contains('/')) return arn[(arn.LastIndexOf('/') + 1)..];
        return arn;
    }
}
