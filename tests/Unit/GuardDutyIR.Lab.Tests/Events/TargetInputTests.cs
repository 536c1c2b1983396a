using System.Text.Json;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Events;

namespace GuardDutyIR.Lab.Tests.Events;

/// <summary>
/// Input transformers, InputPath and their validation, against the examples of
/// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html and the InputTransformer
/// page of the API reference (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html).
/// </summary>
public sealed class TargetInputTests
{
    // The EC2 event of eb-transform-target-input.html.
    private const string Ec2Event = """
        {
          "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "EC2 Instance State-change Notification",
          "source": "aws.ec2", "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
          "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111" ],
          "detail": { "instance-id": "i-0123456789", "state": "RUNNING" }
        }
        """;

    // The page's Input Path.
    private static readonly Dictionary<string, string> Paths = new()
    {
        ["timestamp"] = "$.time", ["instance"] = "$.detail.instance-id", ["state"] = "$.detail.state", ["resource"] = "$.resources[0]",
    };

    private static readonly TransformContext Rule = new("arn:aws:events:us-east-2:123456789012:rule/example", "example",
        new DateTimeOffset(2015, 11, 11, 21, 29, 55, TimeSpan.Zero));

    private static string Transform(string template, IReadOnlyDictionary<string, string>? paths = null, string evt = Ec2Event)
    {
        using var doc = JsonDocument.Parse(evt);
        return TargetInput.Transform(paths ?? Paths, template, doc.RootElement, Rule);
    }

    private static void SameJson(string expected, string actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)), $"expected {expected}\nactual   {actual}");

    [Fact]
    public void Simple_string() =>
        Assert.Equal("\"instance i-0123456789 is in RUNNING\"", Transform("\"instance <instance> is in <state>\""));

    [Fact]
    public void String_with_escaped_quotes() =>
        Assert.Equal("\"instance \\\"i-0123456789\\\" is in RUNNING\"", Transform("\"instance \\\"<instance>\\\" is in <state>\""));

    [Fact]
    public void Simple_json() =>
        SameJson("""{ "instance" : "i-0123456789", "state": "RUNNING" }""", Transform("""{ "instance" : <instance>, "state": <state> }"""));

    [Fact]
    public void Json_with_strings_and_variables() => SameJson(
        """{ "instance" : "i-0123456789", "state": "RUNNING", "instanceStatus": "instance \"i-0123456789\" is in RUNNING" }""",
        Transform("""{ "instance" : <instance>, "state": "<state>", "instanceStatus": "instance \"<instance>\" is in <state>" }"""));

    [Fact]
    public void Json_with_a_mix_of_variables_and_static_information() => SameJson(
        """{ "instance" : "i-0123456789", "state": [ 9, "RUNNING", true ], "Transformed" : "Yes" }""",
        Transform("""{ "instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes" }"""));

    [Fact]
    public void Reserved_variables_in_json()
    {
        var output = JsonNode.Parse(Transform("""{ "instance" : <instance>, "state": <state>, "ruleArn" : <aws.events.rule-arn>, "ruleName" : <aws.events.rule-name>, "originalEvent" : <aws.events.event.json> }"""))!;
        Assert.Equal("i-0123456789", (string?)output["instance"]);
        Assert.Equal("arn:aws:events:us-east-2:123456789012:rule/example", (string?)output["ruleArn"]);
        Assert.Equal("example", (string?)output["ruleName"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Ec2Event), output["originalEvent"]));
    }

    [Fact]
    public void Reserved_variables_in_a_string() =>
        Assert.Equal("\"example triggered at 2015-11-11T21:29:55Z\"", Transform("\"<aws.events.rule-name> triggered at <aws.events.event.ingestion-time>\""));

    [Fact]
    public void The_event_variable_is_the_envelope_without_detail()
    {
        var output = JsonNode.Parse(Transform("""{ "e": <aws.events.event> }"""))!["e"]!.AsObject();
        Assert.Null(output["detail"]);
        Assert.Equal("EC2 Instance State-change Notification", (string?)output["detailType"]);
        Assert.Equal("7bf73129-1428-4cd3-a780-95db273d1602", (string?)output["id"]);
        Assert.Equal("2015-11-11T21:29:55Z", (string?)output["time"]);
    }

    [Fact]
    public void Array_indices_select_from_arrays() =>
        Assert.Equal("\"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111\"", Transform("\"<resource>\""));

    /// <summary>The API reference's examples: a template that is not JSON takes values as text; one that is takes them quoted or not.</summary>
    [Fact]
    public void Api_reference_examples()
    {
        var paths = new Dictionary<string, string> { ["instance"] = "$.detail.instance", ["status"] = "$.detail.status" };
        const string evt = """{ "detail": { "instance": "i-1234", "status": "running" } }""";
        Assert.Equal("i-1234 is in state running", Transform("<instance> is in state <status>", paths, evt));
        Assert.Equal("i-1234 is in state \"running\"", Transform("<instance> is in state \"<status>\"", paths, evt));
        SameJson("""{"myInstance": "i-1234","myStatus": "i-1234 is in state \"running\""}""",
            Transform("""{"myInstance": <instance>,"myStatus": "<instance> is in state \"<status>\""}""", paths, evt));
    }

    /// <summary>A variable whose path matches nothing is left empty inside quotes; outside them the output stays JSON.</summary>
    [Fact]
    public void A_path_that_matches_nothing()
    {
        var paths = new Dictionary<string, string> { ["missing"] = "$.detail.nothing", ["state"] = "$.detail.state" };
        Assert.Equal("\"state RUNNING, missing \"", Transform("\"state <state>, missing <missing>\"", paths));
        SameJson("""{ "a": "", "b": null }""", Transform("""{ "a": "<missing>", "b": <missing> }""", paths));
    }

    /// <summary>Objects go in as JSON; strings inside a JSON string are escaped so the output stays JSON.</summary>
    [Fact]
    public void Objects_are_inserted_raw_and_quotes_in_values_are_escaped()
    {
        var paths = new Dictionary<string, string> { ["detail"] = "$.detail", ["title"] = "$.detail.title" };
        const string evt = """{ "detail": { "title": "Instance \"web\" is probed", "n": 1 } }""";
        var output = JsonNode.Parse(Transform("""{ "d": <detail>, "t": "Title: <title>" }""", paths, evt))!;
        Assert.Equal(1, (int?)output["d"]!["n"]);
        Assert.Equal("Title: Instance \"web\" is probed", (string?)output["t"]);
    }

    [Fact]
    public void Input_path_selects_part_of_the_event()
    {
        using var doc = JsonDocument.Parse(Ec2Event);
        SameJson("""{ "instance-id": "i-0123456789", "state": "RUNNING" }""", TargetInput.FromInputPath("$.detail", doc.RootElement));
        Assert.Equal("\"RUNNING\"", TargetInput.FromInputPath("$.detail.state", doc.RootElement));
        Assert.Equal("\"RUNNING\"", TargetInput.FromInputPath("$['detail']['state']", doc.RootElement));
        Assert.Equal("[\"i-0123456789\",\"RUNNING\"]", TargetInput.FromInputPath("$.detail.*", doc.RootElement));
        SameJson(Ec2Event, TargetInput.FromInputPath("$", doc.RootElement));
    }

    /// <summary>
    /// The workshop's e-mail: the SNS target of the GuardDuty rule takes the finding's ID, type, severity, Region and
    /// instance through InputPathsMap and writes scenario 1's sentence.
    /// </summary>
    [Fact]
    public void The_workshop_email_transformer()
    {
        const string finding = """
            { "version": "0", "id": "cd2d702e-ab31-411b-9344-793ce56b1bc7", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
              "account": "111122223333", "time": "2024-05-01T12:12:14Z", "region": "us-east-1", "resources": [],
              "detail": { "id": "5ec7a3a0f1b2c3d4e5f6a7b8c9d0e1f2", "type": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "severity": 5,
                          "region": "us-east-1", "resource": { "instanceDetails": { "instanceId": "i-0abc1234def567890" } } } }
            """;
        var output = Transform(WorkshopEmail.Template, WorkshopEmail.Paths, finding);
        Assert.Equal("\"GuardDuty Finding | ID: 5ec7a3a0f1b2c3d4e5f6a7b8c9d0e1f2: The EC2 instance i-0abc1234def567890 may be compromised and should be investigated\"", output);
        Assert.Null(TargetInput.ValidateTransformer("email", WorkshopEmail.Paths, WorkshopEmail.Template));
    }

    public static IEnumerable<object[]> RefusedTransformers() => new[]
    {
        new object[] { new Dictionary<string, string> { ["a"] = "$.a" }, "\"<a> and <notdefinedkey>\"", "InputTemplate for target t1 contains invalid placeholder notdefinedkey." },
        new object[] { new Dictionary<string, string>(), "[<aws.events.event.json>]", "InputTemplate for target t1 contains placeholder aws.events.event.json valid only for JSON template." },
        new object[] { new Dictionary<string, string>(), "\"<aws.events.event>\"", "InputTemplate for target t1 contains placeholder aws.events.event valid only for JSON template." },
        new object[] { new Dictionary<string, string> { ["AWSRegion"] = "$.region" }, "\"<AWSRegion>\"", "InputPathsMap for target t1 has the reserved key AWSRegion." },
        new object[] { new Dictionary<string, string> { ["a"] = "detail.a" }, "\"<a>\"", "Input path detail.a for target t1 is not a valid JSON path." },
    };

    [Theory]
    [MemberData(nameof(RefusedTransformers))]
    public void Transformers_PutTargets_refuses(Dictionary<string, string> paths, string template, string message) =>
        Assert.Equal(message, TargetInput.ValidateTransformer("t1", paths, template));

    [Fact]
    public void Predefined_json_variables_are_accepted_in_a_json_template() =>
        Assert.Null(TargetInput.ValidateTransformer("t1", new Dictionary<string, string>(), """{ "e": <aws.events.event.json>, "f": <aws.events.event> }"""));
}

/// <summary>The workshop-style input transformer for scenario 1's e-mail (also used by the GuardDuty → SNS test).</summary>
internal static class WorkshopEmail
{
    public static readonly Dictionary<string, string> Paths = new()
    {
        ["severity"] = "$.detail.severity",
        ["Finding_ID"] = "$.detail.id",
        ["Finding_Type"] = "$.detail.type",
        ["region"] = "$.region",
        ["instanceId"] = "$.detail.resource.instanceDetails.instanceId",
    };

    public const string Template = "\"GuardDuty Finding | ID: <Finding_ID>: The EC2 instance <instanceId> may be compromised and should be investigated\"";
}
