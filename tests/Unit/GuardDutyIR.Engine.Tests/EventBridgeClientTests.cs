using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>The EventBridge client's wire form (json-1.1, target prefix AWSEvents) and how it reads answers.</summary>
public sealed class EventBridgeClientTests : IDisposable
{
    private readonly WireStub _stub = new();

    public void Dispose() => _stub.Dispose();

    private AwsSession Session() => StubSessions.For(_stub);

    private static StubResponse Json(string body) => new(200, body, new() { ["Content-Type"] = "application/x-amz-json-1.1", ["x-amzn-RequestId"] = "req-eb-1" });

    private static JsonObject Body(CapturedRequest request) => (JsonObject)JsonNode.Parse(request.BodyText)!;

    [Fact]
    public async Task PutRule_and_PutTargets_send_the_pattern_and_the_input_transformer()
    {
        _stub.Enqueue(Json("{\"RuleArn\":\"arn:aws:events:us-east-1:123456789012:rule/GuardDuty-Event-EC2-MaliciousIPCaller\"}"),
            Json("{\"FailedEntryCount\":0,\"FailedEntries\":[]}"));
        using var session = Session();
        var client = session.EventBridge();

        var (arn, requestId) = await client.PutRuleAsync("GuardDuty-Event-EC2-MaliciousIPCaller", "{\"source\":[\"aws.guardduty\"]}", "workshop", enabled: true, null, null, CancellationToken.None);
        await client.PutTargetsAsync("GuardDuty-Event-EC2-MaliciousIPCaller", null, new[]
        {
            new EventTargetDescription("email", "arn:aws:sns:us-east-1:123456789012:GuardDuty-Example",
                InputPathsMap: new Dictionary<string, string> { ["instanceId"] = "$.detail.resource.instanceDetails.instanceId" },
                InputTemplate: "\"The EC2 instance <instanceId> may be compromised\""),
        }, CancellationToken.None);

        Assert.Equal("arn:aws:events:us-east-1:123456789012:rule/GuardDuty-Event-EC2-MaliciousIPCaller", arn);
        Assert.Equal("req-eb-1", requestId);
        var requests = _stub.Requests.ToArray();
        Assert.Equal("AWSEvents.PutRule", requests[0].Header("X-Amz-Target"));
        Assert.Equal("application/x-amz-json-1.1", requests[0].Header("Content-Type"));
        Assert.Equal("ENABLED", (string?)Body(requests[0])["State"]);
        Assert.Equal("{\"source\":[\"aws.guardduty\"]}", (string?)Body(requests[0])["EventPattern"]);
        Assert.Matches(@"Credential=AKIDEXAMPLE/\d{8}/us-east-1/events/aws4_request", requests[0].Header("Authorization"));
        var target = Body(requests[1])["Targets"]![0]!;
        Assert.Equal("$.detail.resource.instanceDetails.instanceId", (string?)target["InputTransformer"]!["InputPathsMap"]!["instanceId"]);
        Assert.Equal("\"The EC2 instance <instanceId> may be compromised\"", (string?)target["InputTransformer"]!["InputTemplate"]);
    }

    [Fact]
    public async Task A_target_EventBridge_refused_in_a_200_answer_is_an_error_naming_it()
    {
        _stub.Enqueue(Json("{\"FailedEntryCount\":1,\"FailedEntries\":[{\"TargetId\":\"isolate\",\"ErrorCode\":\"LimitExceededException\",\"ErrorMessage\":\"too many targets\"}]}"));
        using var session = Session();

        var error = await Assert.ThrowsAsync<GuardDutyIRException>(() => session.EventBridge().PutTargetsAsync("r", null,
            new[] { new EventTargetDescription("isolate", "arn:aws:lambda:us-east-1:123456789012:function:isolate") }, CancellationToken.None));

        Assert.Equal("EventBridge.LimitExceededException", error.ErrorId);
        Assert.Contains("target isolate", error.Message);
        Assert.Equal("r", error.Target);
    }

    [Fact]
    public async Task Rules_and_targets_are_read_page_after_page()
    {
        _stub.Enqueue(
            Json("{\"Rules\":[{\"Name\":\"a\",\"Arn\":\"arn:a\",\"EventPattern\":\"{}\",\"State\":\"ENABLED\",\"EventBusName\":\"default\"}],\"NextToken\":\"t2\"}"),
            Json("{\"Rules\":[{\"Name\":\"b\",\"Arn\":\"arn:b\",\"State\":\"DISABLED\",\"EventBusName\":\"default\"}]}"),
            Json("{\"Targets\":[{\"Id\":\"email\",\"Arn\":\"arn:aws:sns:us-east-1:123456789012:t\",\"InputTransformer\":{\"InputPathsMap\":{\"id\":\"$.detail.id\"},\"InputTemplate\":\"\\\"<id>\\\"\"}}]}"));
        using var session = Session();
        var client = session.EventBridge();

        var rules = new List<EventRuleDescription>();
        await foreach (var rule in client.ListRulesAsync("GuardDuty", null)) rules.Add(rule);
        var targets = new List<EventTargetDescription>();
        await foreach (var target in client.ListTargetsByRuleAsync("a", null)) targets.Add(target);

        Assert.Equal(new[] { "a", "b" }, rules.Select(r => r.Name));
        Assert.Equal("DISABLED", rules[1].State);
        Assert.Equal("t2", (string?)Body(_stub.Requests.ElementAt(1))["NextToken"]);
        Assert.Equal("GuardDuty", (string?)Body(_stub.Requests.ElementAt(0))["NamePrefix"]);
        var email = Assert.Single(targets);
        Assert.Equal("$.detail.id", email.InputPathsMap!["id"]);
        Assert.Equal("\"<id>\"", email.InputTemplate);
    }

    [Fact]
    public async Task TestEventPattern_reads_the_result_and_errors_keep_their_code()
    {
        _stub.Enqueue(Json("{\"Result\":true}"),
            new StubResponse(400, "{\"__type\":\"InvalidEventPatternException\",\"message\":\"Event pattern is not valid.\"}",
                new() { ["Content-Type"] = "application/x-amz-json-1.1", ["x-amzn-RequestId"] = "req-eb-2" }));
        using var session = Session();
        var client = session.EventBridge();

        Assert.True(await client.TestEventPatternAsync("{\"source\":[\"aws.guardduty\"]}", "{\"source\":\"aws.guardduty\"}", CancellationToken.None));
        var error = await Assert.ThrowsAsync<AwsServiceException>(() => client.TestEventPatternAsync("{", "{}", CancellationToken.None));

        Assert.Equal("EventBridge.InvalidEventPatternException", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal("req-eb-2", error.RequestId);
    }
}
