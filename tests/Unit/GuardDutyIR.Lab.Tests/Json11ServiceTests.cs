using System.Collections.Specialized;
using System.Text;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.Tests;

/// <summary>
/// The json-1.1 base on its own: a service of a few lines (the shape an EventBridge service would take) gets routing,
/// parsing, denial, model validation, throttling and the protocol's answers without writing any of them.
/// </summary>
public sealed class Json11ServiceTests
{
    /// <summary>Two Athena operations under a target prefix of its own, to show what a new json-1.1 service has to write.</summary>
    private sealed class Probe : Json11Service
    {
        public Probe(LabContext context) : base(context, "athena", "Probe_20240101.")
        {
            Map("GetQueryExecution", (r, body) => Ok(r, new JsonObject { ["Echo"] = Str(body, "QueryExecutionId") }));
            Map("StopQueryExecution", (r, _) => Ok(r, new JsonObject()), mutating: true, rate: new BucketSpec(1, 0.001));
        }
    }

    private static (Probe Service, LabContext Context) Start()
    {
        var world = ScenarioWorld.Create(ScenarioNames.Empty, 1);
        var context = new LabContext(new LabOptions { Scenario = ScenarioNames.Empty, Throttling = true }, world,
            new LabCredentialStore(world.AccountId, world.MemberAccountId, 1));
        return (new Probe(context), context);
    }

    private static LabRequest Request(string? target, string body) => new()
    {
        Method = "POST", RawPath = "/", Query = new NameValueCollection(), Body = Encoding.UTF8.GetBytes(body),
        Headers = target is null ? new Dictionary<string, string>() : new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["X-Amz-Target"] = target },
        Service = "athena", Region = "us-east-1", AccessKeyId = "AKIDEXAMPLE", AccountId = "111122223333", RequestId = "rid-1",
    };

    private static async Task<(LabResponse Response, JsonObject Body, LabRequest Request)> Call(Probe p, string? target, string body)
    {
        var request = Request(target, body);
        var response = await p.HandleAsync(request, CancellationToken.None);
        return (response, JsonNode.Parse(response.Body)!.AsObject(), request);
    }

    [Fact]
    public async Task A_mapped_operation_is_routed_by_its_target_and_answered_in_json_1_1()
    {
        var (probe, _) = Start();
        var (response, body, request) = await Call(probe, "Probe_20240101.GetQueryExecution", """{"QueryExecutionId":"q-1"}""");
        Assert.Equal(200, response.StatusCode);
        Assert.Equal("application/x-amz-json-1.1", response.ContentType);
        Assert.Equal("rid-1", response.Headers["x-amzn-RequestId"]);
        Assert.Equal("q-1", (string?)body["Echo"]);
        Assert.Equal("GetQueryExecution", request.Action);
        Assert.False(request.Mutating);
        Assert.Equal(new[] { "GetQueryExecution", "StopQueryExecution" }, probe.Operations.Order());
    }

    [Theory]
    [InlineData(null, "{}", "UnknownOperationException")]
    [InlineData("AmazonAthena.GetQueryExecution", "{}", "UnknownOperationException")]
    [InlineData("Probe_20240101.ListQueryExecutions", "{}", "UnknownOperationException")]
    [InlineData("Probe_20240101.GetQueryExecution", "[1]", "SerializationException")]
    [InlineData("Probe_20240101.GetQueryExecution", "{\"QueryExecutionId\":5}", "SerializationException")]
    [InlineData("Probe_20240101.GetQueryExecution", "{}", "ValidationException")]
    public async Task What_the_protocol_refuses_is_answered_with_its_type_before_the_handler_runs(string? target, string requestBody, string expected)
    {
        var (probe, _) = Start();
        var (response, body, _) = await Call(probe, target, requestBody);
        Assert.Equal(400, response.StatusCode);
        Assert.Equal(expected, (string?)body["__type"]);
        Assert.Equal(expected, response.ErrorCode);
        Assert.Equal("rid-1", response.Headers["x-amzn-RequestId"]);
        Assert.Null(body["Echo"]);
        if (expected == "ValidationException")
            Assert.Equal("1 validation error detected: Value null at 'queryExecutionId' failed to satisfy constraint: Member must not be null", (string?)body["Message"]);
    }

    [Fact]
    public async Task A_denied_action_names_the_principal_and_action()
    {
        var (probe, context) = Start();
        context.DeniedActions["athena:GetQueryExecution"] = true;
        var (response, body, _) = await Call(probe, "Probe_20240101.GetQueryExecution", """{"QueryExecutionId":"q-1"}""");
        Assert.Equal("AccessDeniedException", response.ErrorCode);
        Assert.Contains("is not authorized to perform: athena:GetQueryExecution because no identity-based policy allows", (string?)body["Message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_operation_with_a_rate_is_throttled_per_account_and_region_and_counted_as_mutating()
    {
        var (probe, _) = Start();
        var body = """{"QueryExecutionId":"q-1"}""";
        var first = await Call(probe, "Probe_20240101.StopQueryExecution", body);
        Assert.Equal(200, first.Response.StatusCode);
        Assert.True(first.Request.Mutating);
        var second = await Call(probe, "Probe_20240101.StopQueryExecution", body);
        Assert.Equal("ThrottlingException", second.Response.ErrorCode);
        Assert.Equal("Rate exceeded", (string?)second.Body["Message"]);
        // Operations without a rate have no bucket.
        Assert.Equal(200, (await Call(probe, "Probe_20240101.GetQueryExecution", body)).Response.StatusCode);
    }
}
