using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Ec2;
using GuardDutyIR.Lab.Iam;

namespace GuardDutyIR.Lab.Ssm;

/// <summary>
/// Systems Manager (awsJson1_1, target prefix AmazonSSM), as far as "is this instance a managed node":
/// DescribeInstanceInformation. An instance is a managed node when it runs with an instance profile whose role lets the
/// agent register (ssm:UpdateInstanceInformation, which AmazonSSMManagedInstanceCore grants:
/// https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-instance-permissions.html). A stopped instance's
/// agent stops pinging (ConnectionLost); a terminated one is no longer listed.
/// </summary>
public sealed class SsmService : Json11Service
{
    public const string AgentVersion = "3.3.1142.0";

    public SsmService(LabContext context) : base(context, "ssm", "AmazonSSM.")
    {
        Map("DescribeInstanceInformation", DescribeInstanceInformation);
    }

    private LabResponse DescribeInstanceInformation(LabRequest r, JsonObject body)
    {
        if (body["Filters"] is JsonArray && body["InstanceInformationFilterList"] is JsonArray)
            return Error(r, "InvalidFilterKey", "InstanceInformationFilterList and Filters cannot be used together.");
        var filters = new List<(string Key, List<string> Values)>();
        foreach (var f in (body["Filters"] as JsonArray ?? new JsonArray()).OfType<JsonObject>())
            filters.Add((Str(f, "Key") ?? "", (f["Values"] as JsonArray ?? new JsonArray()).Select(v => v?.GetValue<string>() ?? "").ToList()));
        // The legacy list names its keys in camel case (instanceIds, pingStatus...).
        foreach (var f in (body["InstanceInformationFilterList"] as JsonArray ?? new JsonArray()).OfType<JsonObject>())
            filters.Add((Legacy(Str(f, "key") ?? ""), (f["valueSet"] as JsonArray ?? new JsonArray()).Select(v => v?.GetValue<string>() ?? "").ToList()));
        foreach (var (key, values) in filters)
        {
            if (key is not ("InstanceIds" or "PingStatus" or "ResourceType" or "PlatformTypes" or "IamRole" or "AgentVersion"))
                return Error(r, "InvalidFilterKey", $"The filter key {key} is not valid.");
            if (values.Count == 0)
                return Error(r, "InvalidInstanceInformationFilterValue", $"The filter {key} needs at least one value.");
        }

        var ec2 = Context.GetService<Ec2Service>();
        var iam = Context.GetService<IamService>();
        var now = Context.Clock.GetUtcNow();
        var nodes = new List<JsonObject>();
        foreach (var i in ec2?.InstancesOf(r.AccountId) ?? Array.Empty<Ec2Service.InstanceSummary>())
        {
            if (i.State is "terminated" or "shutting-down" || i.ProfileArn is null || iam is null) continue;
            var role = iam.RoleOfInstanceProfile(r.AccountId, i.ProfileArn[(i.ProfileArn.LastIndexOf('/') + 1)..]);
            if (role is null || !iam.RoleAllows(r.AccountId, role.RoleName, "ssm:UpdateInstanceInformation")) continue;
            var ping = i.State == "running" ? "Online" : "ConnectionLost";
            var node = new JsonObject
            {
                ["InstanceId"] = i.InstanceId,
                ["PingStatus"] = ping,
                ["LastPingDateTime"] = Epoch(ping == "Online" ? LastPing(now) : i.LaunchTime),
                ["AgentVersion"] = AgentVersion,
                ["IsLatestVersion"] = false,
                ["PlatformType"] = "Linux",
                ["PlatformName"] = "Amazon Linux",
                ["PlatformVersion"] = "2023",
                ["ResourceType"] = "EC2Instance",
                ["IamRole"] = role.RoleName,
                ["IPAddress"] = i.PrivateIp,
                ["ComputerName"] = "ip-" + i.PrivateIp.Replace('.', '-') + ".ec2.internal",
                ["SourceId"] = i.InstanceId,
                ["SourceType"] = "AWS::EC2::Instance",
            };
            if (filters.All(f => Matches(f.Key, f.Values, node))) nodes.Add(node);
        }

        var max = Int(body, "MaxResults") ?? 10;
        var context = r.AccountId + ":DescribeInstanceInformation";
        var start = 0;
        if (Str(body, "NextToken") is { } token && (!TryReadPageToken(token, context, out start) || start > nodes.Count))
            return Error(r, "InvalidNextToken", "The specified token isn't valid.");
        var page = nodes.Skip(start).Take(max).ToList();
        var answer = new JsonObject { ["InstanceInformationList"] = new JsonArray(page.Select(n => (JsonNode)n).ToArray()) };
        if (start + page.Count < nodes.Count)
            answer["NextToken"] = PageToken(context, start + page.Count);
        return Ok(r, answer);
    }

    // The agent reports every five minutes; the last report is the latest five-minute mark (stable across pages).
    private static DateTimeOffset LastPing(DateTimeOffset now) => new(now.UtcTicks - now.UtcTicks % TimeSpan.FromMinutes(5).Ticks, TimeSpan.Zero);

    private static string Legacy(string key) => key switch
    {
        "InstanceIds" or "instanceIds" => "InstanceIds",
        "PingStatus" or "pingStatus" => "PingStatus",
        "ResourceType" or "resourceType" => "ResourceType",
        "PlatformTypes" or "platformTypes" => "PlatformTypes",
        "IamRole" or "iamRole" => "IamRole",
        "AgentVersion" or "agentVersion" => "AgentVersion",
        _ => key,
    };

    private static bool Matches(string key, List<string> values, JsonObject node)
    {
        var member = key switch
        {
            "InstanceIds" => "InstanceId",
            "PlatformTypes" => "PlatformType",
            _ => key,
        };
        return node[member] is JsonValue v && values.Contains(v.GetValue<string>(), StringComparer.Ordinal);
    }
}
