using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Findings;

namespace GuardDutyIR.Engine.Tests;

/// <summary>Detail and IsSample are read from the parsed element; they must say what the finding's JSON says.</summary>
public sealed class FindingParserTests
{
    private static JsonObject Finding(string vpcId = "vpc-0abc") => JsonNode.Parse($$"""
        {
          "Id": "f1", "Type": "Recon:EC2/Portscan", "Severity": 5.5, "AccountId": "111122223333", "Region": "us-east-1",
          "CreatedAt": "2026-01-02T03:04:05.000Z", "UpdatedAt": 1767323045,
          "Resource": { "ResourceType": "Instance", "InstanceDetails": { "InstanceId": "i-0123456789abcdef0",
            "NetworkInterfaces": [ { "VpcId": "{{vpcId}}", "SecurityGroups": [ { "GroupId": "sg-1" }, null ] } ] } },
          "Service": { "Archived": false, "Count": 3, "Ratio": 0.25, "Big": 12345678901234, "UserFeedback": null,
            "AdditionalInfo": { "Value": "{\"unusual\":7}", "Type": "default" } }
        }
        """)!.AsObject();

    [Fact]
    public void Detail_holds_every_value_with_its_kind_and_keys_in_any_case()
    {
        var f = FindingParser.Parse(Finding());

        var service = Assert.IsType<Dictionary<string, object?>>(f.Detail["service"]);
        Assert.Equal(false, service["archived"]);
        Assert.Equal(3L, service["COUNT"]);
        Assert.Equal(0.25, service["Ratio"]);
        Assert.Equal(12345678901234L, service["big"]);
        Assert.True(service.ContainsKey("userFeedback"));
        Assert.Null(service["userFeedback"]);
        Assert.Equal("{\"unusual\":7}", ((Dictionary<string, object?>)service["additionalInfo"]!)["value"]);
        Assert.Equal(5.5, f.Detail["severity"]);
        Assert.Equal(1767323045L, f.Detail["updatedAt"]);
        var interfaces = Assert.IsType<object?[]>(((Dictionary<string, object?>)((Dictionary<string, object?>)f.Detail["resource"]!)["instanceDetails"]!)["networkInterfaces"]);
        var groups = Assert.IsType<object?[]>(((Dictionary<string, object?>)interfaces.Single()!)["securityGroups"]);
        Assert.Equal(2, groups.Length);
        Assert.Equal("sg-1", ((Dictionary<string, object?>)groups[0]!)["groupId"]);
        Assert.Null(groups[1]);
        Assert.Equal(new[] { "sg-1" }, f.SecurityGroupIds);
        Assert.Equal(JsonNode.Parse(f.RawJson)!.ToJsonString(), Finding().ToJsonString());
    }

    [Fact]
    public void A_generated_placeholder_anywhere_in_the_finding_makes_it_a_sample()
    {
        Assert.False(FindingParser.Parse(Finding()).IsSample);
        Assert.True(FindingParser.Parse(Finding("GeneratedFindingVPCId")).IsSample);
    }
}
