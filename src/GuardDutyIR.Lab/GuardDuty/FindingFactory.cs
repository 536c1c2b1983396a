using System.Globalization;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.GuardDuty;

/// <summary>What a finding is about; the factory turns it into GuardDuty's wire JSON.</summary>
public sealed record FindingSpec
{
    public required string Id { get; init; }
    public required string Type { get; init; }
    public required double Severity { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? UpdatedAt { get; init; }
    public WorldInstance? Instance { get; init; }
    /// <summary>NETWORK_CONNECTION | PORT_PROBE | DNS_REQUEST | AWS_API_CALL.</summary>
    public string ActionType { get; init; } = "NETWORK_CONNECTION";
    public string Direction { get; init; } = "OUTBOUND";
    public string Protocol { get; init; } = "TCP";
    public string RemoteIp { get; init; } = "198.51.100.7";
    public int RemotePort { get; init; } = 443;
    public int LocalPort { get; init; } = 49152;
    public string? ThreatListName { get; init; }
    public string? Domain { get; init; }
    public string? Api { get; init; }
    public string? AccessKeyId { get; init; }
    public string? PrincipalId { get; init; }
    public string? UserName { get; init; }
    public string Title { get; init; } = "";
    public string Description { get; init; } = "";
    public int Count { get; init; } = 1;
    public bool Archived { get; init; }
    public bool Sample { get; init; }
    public string ResourceRole { get; init; } = "ACTOR";
    public GeoInfo Geo { get; init; } = GeoInfo.Default;
}

public sealed record GeoInfo(string CountryCode, string CountryName, string City, double Lat, double Lon, string Asn, string AsnOrg, string Isp, string Org)
{
    public static readonly GeoInfo Default = new("US", "United States", "Ashburn", 39.0481, -77.4728, "14618", "AMAZON-AES", "Amazon.com", "Amazon.com");
    public static readonly GeoInfo Outside = new("NL", "Netherlands", "Amsterdam", 52.3759, 4.8975, "60781", "LeaseWeb Netherlands B.V.", "LeaseWeb Netherlands B.V.", "LeaseWeb Netherlands B.V.");
    public static readonly GeoInfo Sample = new("GeneratedFindingCountryCode", "GeneratedFindingCountryName", "GeneratedFindingCityName", 0, 0, "-1", "GeneratedFindingASNOrg", "GeneratedFindingISP", "GeneratedFindingORG");
}

/// <summary>
/// Builds findings in the form GuardDuty returns them from GetFindings (schemaVersion 2.0, camelCase, ISO timestamps,
/// additionalInfo carrying both the JSON-encoded value and flattened keys), modeled on the synthesized
/// MaliciousIPCaller.Custom template.
/// </summary>
public static class FindingFactory
{
    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>What CreateSampleFindings makes for a type: GuardDuty's placeholder values, flagged as a sample.</summary>
    internal static FindingSpec Sample(string type, string id, DateTimeOffset at) => new()
    {
        Id = id, Type = type, Severity = type.StartsWith("Recon", StringComparison.Ordinal) ? 2 : type.StartsWith("Backdoor", StringComparison.Ordinal) || type.StartsWith("Trojan", StringComparison.Ordinal) ? 8 : 5,
        CreatedAt = at, Sample = true, RemoteIp = "198.51.100.0", Geo = GeoInfo.Sample,
        ActionType = type.Contains("!DNS", StringComparison.Ordinal) || type.Contains("DNS", StringComparison.Ordinal) ? "DNS_REQUEST" : type.StartsWith("Recon:EC2/PortProbe", StringComparison.Ordinal) ? "PORT_PROBE" : "NETWORK_CONNECTION",
        Domain = "GeneratedFindingDomainName",
        Title = $"[SAMPLE] {type} finding generated for instance i-99999999.",
        Description = $"This is a sample finding of type {type}. EC2 instance i-99999999 is involved in activity of this type.",
    };

    public static JsonObject Build(FindingSpec s, string accountId, string region, string detectorId, ScenarioWorld? world)
    {
        var updated = s.UpdatedAt ?? s.CreatedAt;
        var firstSeen = s.CreatedAt.AddMinutes(-5);
        var resource = new JsonObject();
        if (s.ActionType == "AWS_API_CALL" && s.AccessKeyId is not null)
        {
            resource["accessKeyDetails"] = new JsonObject
            {
                ["accessKeyId"] = s.AccessKeyId,
                ["principalId"] = s.PrincipalId,
                ["userName"] = s.UserName,
                ["userType"] = "AssumedRole",
            };
            if (s.Instance is not null) resource["instanceDetails"] = InstanceDetails(s, world);
            resource["resourceType"] = "AccessKey";
        }
        else
        {
            resource["instanceDetails"] = InstanceDetails(s, world);
            resource["resourceType"] = "Instance";
        }

        var action = new JsonObject { ["actionType"] = s.ActionType };
        var remote = RemoteIp(s);
        switch (s.ActionType)
        {
            case "PORT_PROBE":
                action["portProbeAction"] = new JsonObject
                {
                    ["blocked"] = false,
                    ["portProbeDetails"] = new JsonArray(new JsonObject
                    {
                        ["localPortDetails"] = Port(s.LocalPort),
                        ["localIpDetails"] = new JsonObject { ["ipAddressV4"] = s.Instance?.PrivateIp ?? "10.0.0.10" },
                        ["remoteIpDetails"] = remote,
                    }),
                };
                break;
            case "DNS_REQUEST":
                action["dnsRequestAction"] = new JsonObject { ["domain"] = s.Domain ?? "example.invalid", ["protocol"] = "UDP", ["blocked"] = false };
                break;
            case "AWS_API_CALL":
                action["awsApiCallAction"] = new JsonObject
                {
                    ["api"] = s.Api ?? "ListBuckets",
                    ["callerType"] = "Remote IP",
                    ["remoteIpDetails"] = remote,
                    ["serviceName"] = "s3.amazonaws.com",
                    ["affectedResources"] = new JsonObject(),
                };
                break;
            default:
                action["networkConnectionAction"] = new JsonObject
                {
                    ["blocked"] = false,
                    ["connectionDirection"] = s.Direction,
                    ["localIpDetails"] = new JsonObject { ["ipAddressV4"] = s.Instance?.PrivateIp ?? "10.0.0.10" },
                    ["localPortDetails"] = Port(s.LocalPort),
                    ["protocol"] = s.Protocol,
                    ["remoteIpDetails"] = remote,
                    ["remotePortDetails"] = Port(s.RemotePort),
                };
                break;
        }

        var info = new JsonObject();
        var infoValue = new JsonObject();
        if (s.ThreatListName is not null) infoValue["threatListName"] = s.ThreatListName;
        if (s.Sample) infoValue["sample"] = true;
        info["value"] = infoValue.ToJsonString();
        info["type"] = "default";
        if (s.ThreatListName is not null) info["threatListName"] = s.ThreatListName;
        if (s.Sample) info["sample"] = true;

        var service = new JsonObject
        {
            ["action"] = action,
            ["additionalInfo"] = info,
            ["archived"] = s.Archived,
            ["count"] = s.Count,
            ["detectorId"] = detectorId,
            ["eventFirstSeen"] = Iso(firstSeen),
            ["eventLastSeen"] = Iso(updated),
        };
        if (s.ThreatListName is not null)
            service["evidence"] = new JsonObject
            {
                ["threatIntelligenceDetails"] = new JsonArray(new JsonObject { ["threatListName"] = s.ThreatListName, ["threatNames"] = new JsonArray() }),
            };
        service["resourceRole"] = s.ResourceRole;
        service["serviceName"] = "guardduty";
        service["featureName"] = s.ActionType switch { "DNS_REQUEST" => "DnsLogs", "AWS_API_CALL" => "CloudTrail", _ => "FlowLogs" };

        return new JsonObject
        {
            ["accountId"] = accountId,
            ["arn"] = $"arn:aws:guardduty:{region}:{accountId}:detector/{detectorId}/finding/{s.Id}",
            ["createdAt"] = Iso(s.CreatedAt),
            ["description"] = s.Description,
            ["id"] = s.Id,
            ["partition"] = "aws",
            ["region"] = region,
            ["resource"] = resource,
            ["schemaVersion"] = "2.0",
            ["service"] = service,
            ["severity"] = s.Severity,
            ["title"] = s.Title,
            ["type"] = s.Type,
            ["updatedAt"] = Iso(updated),
        };
    }

    private static JsonObject Port(int port) => new() { ["port"] = port, ["portName"] = PortName(port) };

    private static string PortName(int port) => port switch
    {
        22 => "SSH", 80 => "HTTP", 443 => "HTTPS", 3389 => "RDP", 53 => "DNS", 3306 => "MYSQL", 5432 => "POSTGRESQL", _ => "Unknown",
    };

    private static JsonObject RemoteIp(FindingSpec s) => new()
    {
        ["city"] = new JsonObject { ["cityName"] = s.Geo.City },
        // Real findings usually carry only countryName here (the template does too), though the model also has countryCode.
        ["country"] = new JsonObject { ["countryName"] = s.Geo.CountryName },
        ["geoLocation"] = new JsonObject { ["lat"] = s.Geo.Lat, ["lon"] = s.Geo.Lon },
        ["ipAddressV4"] = s.RemoteIp,
        ["organization"] = new JsonObject { ["asn"] = s.Geo.Asn, ["asnOrg"] = s.Geo.AsnOrg, ["isp"] = s.Geo.Isp, ["org"] = s.Geo.Org },
    };

    private static JsonObject InstanceDetails(FindingSpec s, ScenarioWorld? world)
    {
        if (s.Sample || s.Instance is null) return SampleInstance(world?.AccountId ?? "123456789012", world?.Region ?? "us-east-1");
        var i = s.Instance;
        return new JsonObject
        {
            ["availabilityZone"] = i.AvailabilityZone,
            ["iamInstanceProfile"] = i.InstanceProfileArn is null ? null : new JsonObject { ["arn"] = i.InstanceProfileArn, ["id"] = i.InstanceProfileId },
            ["imageDescription"] = "Amazon Linux 2023 AMI 2023.6.20241010.0 x86_64 HVM kernel-6.1",
            ["imageId"] = i.ImageId,
            ["instanceId"] = i.InstanceId,
            ["instanceState"] = "running",
            ["instanceType"] = i.InstanceType,
            ["launchTime"] = Iso(i.LaunchTime),
            ["networkInterfaces"] = new JsonArray(i.NetworkInterfaces.Select(n => (JsonNode)new JsonObject
            {
                ["ipv6Addresses"] = new JsonArray(),
                ["networkInterfaceId"] = n.NetworkInterfaceId,
                ["privateDnsName"] = "ip-" + n.PrivateIp.Replace('.', '-') + ".ec2.internal",
                ["privateIpAddress"] = n.PrivateIp,
                ["privateIpAddresses"] = new JsonArray(new JsonObject { ["privateDnsName"] = "ip-" + n.PrivateIp.Replace('.', '-') + ".ec2.internal", ["privateIpAddress"] = n.PrivateIp }),
                ["publicDnsName"] = n.PublicIp is null ? "" : "ec2-" + n.PublicIp.Replace('.', '-') + ".compute-1.amazonaws.com",
                ["publicIp"] = n.PublicIp,
                ["securityGroups"] = new JsonArray(n.GroupIds.Select(g => (JsonNode)new JsonObject
                {
                    ["groupId"] = g,
                    ["groupName"] = world?.SecurityGroups.FirstOrDefault(x => x.GroupId == g)?.GroupName ?? g,
                }).ToArray()),
                ["subnetId"] = n.SubnetId,
                ["vpcId"] = n.VpcId,
            }).ToArray()),
            ["platform"] = null,
            ["productCodes"] = new JsonArray(),
            ["tags"] = new JsonArray(i.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => (JsonNode)new JsonObject { ["key"] = t.Key, ["value"] = t.Value }).ToArray()),
        }.WithoutNulls();
    }

    /// <summary>The placeholder resource GuardDuty puts in sample findings.</summary>
    private static JsonObject SampleInstance(string account, string region) => new()
    {
        ["availabilityZone"] = "GeneratedFindingInstaceAvailabilityZone",
        ["iamInstanceProfile"] = new JsonObject { ["arn"] = $"arn:aws:iam::{account}:example/instance/profile", ["id"] = "GeneratedFindingInstanceProfileId" },
        ["imageDescription"] = "GeneratedFindingInstaceImageDescription",
        ["imageId"] = "ami-99999999",
        ["instanceId"] = "i-99999999",
        ["instanceState"] = "running",
        ["instanceType"] = "m3.xlarge",
        ["outpostArn"] = $"arn:aws:outposts:{region}:{account}:outpost/op-0fbc006e9abbc73c3",
        ["launchTime"] = "2016-08-02T02:05:06.000Z",
        ["networkInterfaces"] = new JsonArray(new JsonObject
        {
            ["ipv6Addresses"] = new JsonArray(),
            ["networkInterfaceId"] = "eni-abcdef00",
            ["privateDnsName"] = "GeneratedFindingPrivateDnsName",
            ["privateIpAddress"] = "10.0.0.1",
            ["privateIpAddresses"] = new JsonArray(new JsonObject { ["privateDnsName"] = "GeneratedFindingPrivateName", ["privateIpAddress"] = "10.0.0.1" }),
            ["publicDnsName"] = "GeneratedFindingPublicDNSName",
            ["publicIp"] = "198.51.100.0",
            ["securityGroups"] = new JsonArray(new JsonObject { ["groupId"] = "GeneratedFindingSecurityId", ["groupName"] = "GeneratedFindingSecurityGroupName" }),
            ["subnetId"] = "GeneratedFindingSubnetId",
            ["vpcId"] = "GeneratedFindingVPCId",
        }),
        ["productCodes"] = new JsonArray(new JsonObject { ["productCodeId"] = "GeneratedFindingProductCodeId", ["productCodeType"] = "GeneratedFindingProductCodeType" }),
        ["tags"] = new JsonArray(
            new JsonObject { ["key"] = "GeneratedFindingInstaceTag1", ["value"] = "GeneratedFindingInstaceValue1" },
            new JsonObject { ["key"] = "GeneratedFindingInstaceTag2", ["value"] = "GeneratedFindingInstaceTagValue2" }),
    };

    private static JsonObject WithoutNulls(this JsonObject o)
    {
        foreach (var key in o.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList()) o.Remove(key);
        return o;
    }

    /// <summary>The EventBridge event GuardDuty emits for a finding (envelope from the GuardDuty user guide).</summary>
    public static JsonObject EventBridgeEvent(JsonObject finding, string eventId)
    {
        return new JsonObject
        {
            ["version"] = "0",
            ["id"] = eventId,
            ["detail-type"] = "GuardDuty Finding",
            ["source"] = "aws.guardduty",
            ["account"] = finding["accountId"]?.DeepClone(),
            ["time"] = ((string?)finding["updatedAt"])?.Replace(".000Z", "Z", StringComparison.Ordinal),
            ["region"] = finding["region"]?.DeepClone(),
            ["resources"] = new JsonArray(),
            ["detail"] = finding.DeepClone(),
        };
    }
}
