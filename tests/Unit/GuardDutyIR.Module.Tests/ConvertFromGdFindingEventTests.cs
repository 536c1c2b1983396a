using System.Management.Automation;
using System.Text.Json;
using System.Text.Json.Nodes;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests;

/// <summary>ConvertFrom-GdFindingEvent over the shapes findings really arrive in, and over what is not a finding.</summary>
public sealed class ConvertFromGdFindingEventTests : IDisposable
{
    private readonly HostedPowerShell _host = new();
    public void Dispose() => _host.Dispose();

    private static string Sample(string name) => File.ReadAllText(Path.Combine(TestPaths.Samples, name));
    private static readonly string Finding = Sample("guardduty-finding-MaliciousIPCaller.Custom.SYNTHESIZED.json");
    private static readonly string Event = Sample("eventbridge-GuardDutyFinding-MaliciousIPCaller.Custom.SYNTHESIZED.json");
    private const string FindingId = "5ec7a3a0f1b2c3d4e5f6a7b8c9d0e1f2";

    private static JsonObject Node(string json) => (JsonObject)JsonNode.Parse(json)!;

    private static string With(string json, Action<JsonObject> change)
    {
        var node = Node(json);
        change(node);
        return node.ToJsonString();
    }

    public static IEnumerable<object[]> Shapes()
    {
        yield return new object[] { "bare finding (GetFindings wire form)", Finding, 1 };
        yield return new object[] { "EventBridge event", Event, 1 };
        yield return new object[] { "array of events", $"[{Event},{Event}]", 2 };
        yield return new object[] { "GetFindings response", $"{{\"findings\":[{Finding},{Finding}]}}", 2 };
        yield return new object[] { "SNS record batch (Lambda)", JsonSerializer.Serialize(new { Records = new[] { new { EventSource = "aws:sns", Sns = new { Message = Event } } } }), 1 };
        yield return new object[] { "SQS record batch (Lambda)", JsonSerializer.Serialize(new { Records = new[] { new { eventSource = "aws:sqs", body = Event }, new { eventSource = "aws:sqs", body = Event } } }), 2 };
        yield return new object[] { "double-encoded event text", JsonSerializer.Serialize(Event), 1 };
        yield return new object[] { "PascalCase CLI rendering", PascalCase(Finding), 1 };
        yield return new object[] { "epoch timestamps, no evidence block, extra keys", With(Finding, f =>
            {
                f["createdAt"] = 1714565411.123;
                f["updatedAt"] = 1714565533456L;   // milliseconds
                f["service"]!.AsObject().Remove("evidence");
                f["service"]!["eventFirstSeen"] = "1714565100";
                f["somethingNew"] = new JsonObject { ["x"] = 1 };
            }), 1 };
        yield return new object[] { "threat list only inside additionalInfo.value", With(Finding, f =>
            {
                f["service"]!.AsObject().Remove("evidence");
                f["service"]!["additionalInfo"] = new JsonObject { ["value"] = "{\"threatListName\":\"ir-blocklist\",\"sample\":false}", ["type"] = "default" };
            }), 1 };
        yield return new object[] { "minimal finding: no service, no resource", "{\"id\":\"f1\",\"type\":\"Recon:EC2/PortProbeUnprotectedPort\",\"severity\":2,\"accountId\":\"123456789012\",\"region\":\"eu-west-1\"}", 1 };
        yield return new object[] { "null optional values", With(Finding, f => { f["title"] = null; f["service"]!["eventLastSeen"] = null; }), 1 };
        yield return new object[] { "test event without detail-type", With(Event, e => e.Remove("detail-type")), 1 };
        yield return new object[] { "test event with only a detail", new JsonObject { ["detail"] = Node(Finding) }.ToJsonString(), 1 };
        yield return new object[] { "severity at the top of the scale", With(Finding, f => f["severity"] = 10), 1 };
    }

    private static string PascalCase(string json)
    {
        static JsonNode? Convert(JsonNode? n) => n switch
        {
            JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(char.ToUpperInvariant(p.Key[0]) + p.Key[1..], Convert(p.Value)))),
            JsonArray a => new JsonArray(a.Select(Convert).ToArray()),
            _ => n?.DeepClone(),
        };
        return new JsonObject { ["Findings"] = new JsonArray(Convert(JsonNode.Parse(json))) }.ToJsonString();
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Converts_each_shape(string shape, string json, int expected)
    {
        var result = _host.Run("$args[0] | ConvertFrom-GdFindingEvent", json);
        Assert.True(result.Terminating is null && result.Errors.Count == 0, shape + ": " + result.Terminating?.Message + string.Join("; ", result.Errors));
        Assert.Equal(expected, result.Output.Count);
        foreach (var o in result.Output)
        {
            Assert.Equal("GuardDutyIR.GdFinding", o.BaseObject.GetType().FullName);
            Assert.False(string.IsNullOrEmpty((string)o.Properties["Id"].Value), shape);
            Assert.False(string.IsNullOrEmpty((string)o.Properties["Type"].Value), shape);
        }
    }

    [Fact]
    public void The_workshop_finding_is_read_field_by_field()
    {
        var f = _host.Run("$args[0] | ConvertFrom-GdFindingEvent", Event).Output.Single();
        object? P(string name) => f.Properties[name].Value;
        Assert.Equal(FindingId, P("Id"));
        Assert.Equal(FindingId, P("FindingId"));
        Assert.Equal("12abc34d567e8fa901bc2d34e56789f0", P("DetectorId"));
        Assert.Equal("123456789012", P("AccountId"));
        Assert.Equal("us-east-1", P("Region"));
        Assert.Equal("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", P("Type"));
        Assert.Equal(5.0, P("Severity"));
        Assert.Equal("Medium", P("SeverityLabel")!.ToString());
        Assert.Equal("i-0abc1234def567890", P("InstanceId"));
        Assert.Equal("vpc-0123456789abcdef0", P("VpcId"));
        Assert.Equal("OUTBOUND", P("Direction"));
        Assert.Equal("198.51.100.7", P("RemoteIpAddress"));
        Assert.Equal(443, P("RemotePort"));
        Assert.Equal("ir-blocklist", P("ThreatListName"));
        Assert.Equal("Example Org", P("RemoteOrganization"));
        Assert.Equal(3L, P("Count"));
        Assert.Equal(new DateTime(2024, 5, 1, 12, 5, 0, DateTimeKind.Utc), P("FirstSeen"));
        Assert.False((bool)P("IsSample")!);
        Assert.False((bool)P("Archived")!);
        // The whole finding stays navigable with dot notation.
        var port = _host.Run("($args[0] | ConvertFrom-GdFindingEvent).Detail.service.action.networkConnectionAction.remotePortDetails.port", Event);
        Assert.Equal(443L, port.Output.Single().BaseObject);
    }

    [Fact]
    public void The_Lambda_runtime_input_object_converts()
    {
        // The Lambda PowerShell runtime hands the script the event as PSCustomObjects (ConvertFrom-Json output).
        var lambdaInput = ToPSObject(JsonNode.Parse(Event));
        var result = _host.Run("param($LambdaInput) ConvertFrom-GdFindingEvent -InputObject $LambdaInput", lambdaInput);
        Assert.Empty(result.Errors);
        Assert.Equal(FindingId, result.Output.Single().Properties["Id"].Value);
    }

    [Fact]
    public void A_hashtable_and_a_file_convert_and_a_converted_finding_passes_through()
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, $"[{Event},{Finding}]");
        try
        {
            var fromFile = _host.Run("ConvertFrom-GdFindingEvent -Path $args[0]", file);
            Assert.Equal(2, fromFile.Output.Count);
            var passThrough = _host.Run("ConvertFrom-GdFindingEvent -Path $args[0] | ConvertFrom-GdFindingEvent", file);
            Assert.Equal(2, passThrough.Output.Count);
            var table = _host.Run("@{ id = 'h1'; type = 'Backdoor:EC2/C&CActivity.B'; severity = 8; accountId = '123456789012'; region = 'us-west-2'; service = @{ additionalInfo = @{ sample = $true } } } | ConvertFrom-GdFindingEvent");
            Assert.Empty(table.Errors);
            Assert.True((bool)table.Output.Single().Properties["IsSample"].Value);
            Assert.Equal("High", table.Output.Single().Properties["SeverityLabel"].Value.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    public static IEnumerable<object[]> Malformed()
    {
        yield return new object[] { "{ not json", "InvalidFindingJson" };
        yield return new object[] { "{\"version\":\"0\",\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\",\"detail\":{}}", "NotAGuardDutyEvent" };
        yield return new object[] { "{\"detail-type\":\"GuardDuty Finding\",\"source\":\"aws.guardduty\",\"id\":\"e1\"}", "FindingMissingField" };
        yield return new object[] { With(Finding, f => f.Remove("type")), "NotAGuardDutyFinding" };
        yield return new object[] { With(Finding, f => f["id"] = ""), "FindingMissingField" };
        yield return new object[] { With(Finding, f => f["severity"] = "high"), "FindingInvalidField" };
        yield return new object[] { With(Finding, f => f["createdAt"] = "yesterday"), "FindingInvalidField" };
        yield return new object[] { With(Finding, f => { f.Remove("accountId"); f.Remove("arn"); }), "FindingMissingField" };
        yield return new object[] { "42", "NotAGuardDutyFinding" };
        yield return new object[] { "[\"hello\"]", "NotAGuardDutyFinding" };
        yield return new object[] { "{\"foo\":1,\"bar\":2}", "NotAGuardDutyFinding" };
        yield return new object[] { "{\"Records\":[{\"eventSource\":\"aws:s3\"}]}", "NotAGuardDutyFinding" };
        yield return new object[] { "null", "NotAGuardDutyFinding" };
        yield return new object[] { With(Event, e => e["detail"]!["service"] = new JsonObject { ["count"] = "many" }), "FindingInvalidField" };
        yield return new object[] { With(Finding, f => f["severity"] = 1e308), "InvalidFindingSeverity" };
        yield return new object[] { With(Finding, f => f["severity"] = -5), "InvalidFindingSeverity" };
        yield return new object[] { With(Finding, f => f["severity"] = "NaN"), "InvalidFindingSeverity" };
        yield return new object[] { With(Event, e => { e.Remove("detail-type"); e["source"] = "aws.ec2"; }), "NotAGuardDutyEvent" };
        yield return new object[] { With(Event, e => { e.Remove("detail-type"); e["detail"] = new JsonObject { ["state"] = "running" }; }), "NotAGuardDutyEvent" };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_input_is_a_non_terminating_error_with_a_stable_id(string json, string errorId)
    {
        var result = _host.Run("$args[0] | ConvertFrom-GdFindingEvent", json);
        Assert.Null(result.Terminating);
        Assert.Empty(result.Output);
        var error = Assert.Single(result.Errors);
        Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.NotNull(error.TargetObject);
    }

    [Fact]
    public void Bad_items_do_not_stop_the_good_ones()
    {
        var result = _host.Run("$args | ConvertFrom-GdFindingEvent", Event, "{ broken", $"[{Finding}, {{\"foo\":1}}]", Event);
        Assert.Equal(3, result.Output.Count);
        Assert.Equal(new[] { "InvalidFindingJson", "NotAGuardDutyFinding" }, result.Errors.Select(e => e.FullyQualifiedErrorId.Split(',')[0]).ToArray());
        Assert.Equal("the input text[1]", result.Errors[1].TargetObject);
    }

    [Fact]
    public void A_missing_file_is_an_ObjectNotFound_error()
    {
        var result = _host.Run("ConvertFrom-GdFindingEvent -LiteralPath '/nonexistent/finding.json'");
        var error = Assert.Single(result.Errors);
        Assert.Equal("FindingFileNotFound", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
    }

    [Fact]
    public void A_folder_given_as_Path_is_named_as_a_folder()
    {
        var folder = Directory.CreateTempSubdirectory("gdir-events-").FullName;
        try
        {
            var result = _host.Run("ConvertFrom-GdFindingEvent -LiteralPath $args[0]", folder);
            var error = Assert.Single(result.Errors);
            Assert.Equal("FindingFileIsFolder", error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
            Assert.Equal(folder, error.TargetObject);
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    private static object? ToPSObject(JsonNode? node) => node switch
    {
        JsonObject o => o.Aggregate(new PSObject(), (ps, p) => { ps.Properties.Add(new PSNoteProperty(p.Key, ToPSObject(p.Value))); return ps; }),
        JsonArray a => a.Select(ToPSObject).ToArray(),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.Number => v.TryGetValue<long>(out var l) ? (object)l : v.GetValue<double>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => null,
        },
        _ => null,
    };
}
