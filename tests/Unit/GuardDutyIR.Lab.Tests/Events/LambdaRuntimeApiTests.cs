using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.Lambda;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests.Events;

/// <summary>
/// Lambda targets served through the Lambda Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
/// a runtime loop written here takes invocations from the function's own endpoint and answers them.
/// </summary>
public sealed class LambdaRuntimeApiTests
{
    private const string MaliciousIp = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom";

    /// <summary>A runtime as custom runtimes are written: GET next, then POST the response or the error.</summary>
    private sealed class RuntimeLoop : IDisposable
    {
        private readonly HttpClient _http;

        public RuntimeLoop(string runtimeApi)
        {
            Assert.StartsWith("127.0.0.1:", runtimeApi);
            // "Do not set a timeout on the GET request": the answer waits for an invocation.
            _http = new HttpClient { BaseAddress = new Uri($"http://{runtimeApi}/2018-06-01/runtime/"), Timeout = Timeout.InfiniteTimeSpan };
        }

        public async Task<(string RequestId, HttpResponseMessage Response, string Event)> NextAsync(CancellationToken ct = default)
        {
            var response = await _http.GetAsync("invocation/next", ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var id = response.Headers.GetValues("Lambda-Runtime-Aws-Request-Id").Single();
            return (id, response, await response.Content.ReadAsStringAsync(ct));
        }

        public Task<HttpResponseMessage> RespondAsync(string requestId, string body) =>
            _http.PostAsync($"invocation/{requestId}/response", new StringContent(body, Encoding.UTF8, "application/json"));

        public Task<HttpResponseMessage> FailAsync(string requestId, string errorType, string body)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"invocation/{requestId}/error") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("Lambda-Runtime-Function-Error-Type", errorType);
            return _http.SendAsync(request);
        }

        public HttpClient Http => _http;

        public void Dispose() => _http.Dispose();
    }

    private static async Task WaitForPollers(LambdaFunction function, int count) =>
        await Eventually.WaitAsync(() => Task.FromResult(function.WaitingRuntimes), n => n == count, $"{count} runtime(s) waiting in /next", TimeSpan.FromSeconds(10));

    [Fact]
    public async Task A_GuardDuty_finding_is_taken_by_a_runtime_loop_and_its_result_kept()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync("Workshop", configure: o => o with { Clock = clock });
        using var c = new RawAwsClient(lab);
        var functionArn = lab.Facts["RemediationFunctionArn"];
        var function = lab.Lambda.Find(functionArn)!;
        Assert.Equal(lab.Facts["RemediationRuntimeApi"], function.RuntimeApi);
        Assert.Equal(lab.LambdaRuntimeEndpoint(function.Name), function.RuntimeApi);

        Assert.Equal(200, (await c.EventsAsync("PutRule", new JsonObject
        {
            ["Name"] = "GuardDuty-Event-EC2-MaliciousIPCaller",
            ["EventPattern"] = """{"source":["aws.guardduty"],"detail":{"type":["UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"]}}""",
        })).Status);
        Assert.Equal(200, (await c.EventsAsync("PutTargets", new JsonObject
        {
            ["Rule"] = "GuardDuty-Event-EC2-MaliciousIPCaller",
            ["Targets"] = new JsonArray(new JsonObject { ["Id"] = "Remediation", ["Arn"] = functionArn }),
        })).Status);

        // The runtime asks before there is anything to do; its GET waits.
        using var runtime = new RuntimeLoop(function.RuntimeApi);
        var next = runtime.NextAsync();
        await WaitForPollers(function, 1);
        Assert.False(next.IsCompleted);

        var detector = lab.GetService<GuardDutyService>()!.DetectorOf(lab.AccountId)!.Id;
        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{detector}/findings/create", new JsonObject { ["findingTypes"] = new JsonArray(MaliciousIp) })).Status);

        var (requestId, response, body) = await next.WaitAsync(TimeSpan.FromSeconds(10));
        var evt = JsonNode.Parse(body)!;
        Assert.Equal("GuardDuty Finding", (string?)evt["detail-type"]);
        Assert.Equal(MaliciousIp, (string?)evt["detail"]!["type"]);
        Assert.Equal(functionArn, response.Headers.GetValues("Lambda-Runtime-Invoked-Function-Arn").Single());
        // The deadline is the Lab's clock at delivery plus the function's timeout (the remediation has 60 seconds).
        Assert.Equal((TestClock.Start + TimeSpan.FromSeconds(60)).ToUnixTimeMilliseconds().ToString(), response.Headers.GetValues("Lambda-Runtime-Deadline-Ms").Single());
        Assert.Matches("^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$", response.Headers.GetValues("Lambda-Runtime-Trace-Id").Single());

        var instanceId = (string)evt["detail"]!["resource"]!["instanceDetails"]!["instanceId"]!;
        clock.Advance(TimeSpan.FromSeconds(2));
        var posted = await runtime.RespondAsync(requestId, $$"""{"isolated":"{{instanceId}}"}""");
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        Assert.Equal("""{"status":"OK"}""", await posted.Content.ReadAsStringAsync());

        var invocation = Assert.Single(lab.Lambda.Invocations);
        Assert.True(invocation.Completion.IsCompleted);
        Assert.Equal(requestId, invocation.RequestId);
        Assert.Equal(LambdaInvocationStatus.Succeeded, invocation.Status);
        Assert.Equal($$"""{"isolated":"{{instanceId}}"}""", invocation.Response);
        Assert.Equal(body, invocation.Payload);
        Assert.Equal(TestClock.Start, invocation.DeliveredAt);
        Assert.Equal(TestClock.Start + TimeSpan.FromSeconds(2), invocation.CompletedAt);
        Assert.EndsWith(":rule/GuardDuty-Event-EC2-MaliciousIPCaller", invocation.Source);
        var delivery = Assert.Single(lab.GetService<GuardDutyIR.Lab.Events.EventBridgeService>()!.Deliveries);
        Assert.Equal(("Invoked", requestId), (delivery.Outcome, delivery.Detail));

        // An invocation is answered once.
        var again = await runtime.RespondAsync(requestId, "{}");
        Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
        Assert.Equal("InvalidRequestID", (string?)JsonNode.Parse(await again.Content.ReadAsStringAsync())!["errorType"]);

        using var http = new HttpClient();
        var admin = JsonNode.Parse(await http.GetStringAsync(lab.Endpoint + "/_lab/lambda/invocations?function=" + function.Name))!.AsArray();
        Assert.Equal("Succeeded", (string?)Assert.Single(admin)!["status"]);
        var info = JsonNode.Parse(await http.GetStringAsync(lab.Endpoint + "/_lab/info"))!;
        Assert.Contains(info["lambdaFunctions"]!.AsArray(), f => (string?)f!["runtimeApi"] == function.RuntimeApi && (string?)f["arn"] == functionArn);
        Assert.Equal(function.RuntimeApi, (string?)info["facts"]!["RemediationRuntimeApi"]);
    }

    [Fact]
    public async Task Errors_and_init_errors_are_recorded()
    {
        await using var lab = await TestLab.StartAsync("Empty");
        var function = lab.RegisterLambdaFunction("isolate");
        Assert.Equal(LabLambda.DefaultTimeout, function.Timeout);
        var invocation = lab.Lambda.QueueInvocation(function.Arn + ":live", """{"detail":{}}""", "lab", out var error)!;
        Assert.Null(error);
        using var runtime = new RuntimeLoop(function.RuntimeApi);

        var (id, response, body) = await runtime.NextAsync();
        Assert.Equal("""{"detail":{}}""", body);
        Assert.Equal(function.Arn + ":live", response.Headers.GetValues("Lambda-Runtime-Invoked-Function-Arn").Single());
        var failed = await runtime.FailAsync(id, "Unhandled", """{"errorMessage":"no such instance","errorType":"InstanceNotFound","stackTrace":[]}""");
        Assert.Equal(HttpStatusCode.Accepted, failed.StatusCode);
        Assert.Equal(LambdaInvocationStatus.Failed, invocation.Status);
        Assert.Equal("Unhandled", invocation.ErrorType);
        Assert.Contains("no such instance", invocation.Error);
        Assert.Null(invocation.Response);

        var init = await runtime.Http.PostAsync("init/error", new StringContent("""{"errorMessage":"cannot load handler","errorType":"Runtime.ImportModuleError"}"""));
        Assert.Equal(HttpStatusCode.Accepted, init.StatusCode);
        Assert.Contains("cannot load handler", Assert.Single(function.InitErrors).Body);

        Assert.Equal(HttpStatusCode.NotFound, (await runtime.Http.GetAsync("invocation/nope")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await runtime.RespondAsync("not-a-request", "{}")).StatusCode);

        // A response beyond Lambda's 6 MB payload is refused.
        lab.Lambda.QueueInvocation(function.Arn, "{}", "lab", out _);
        var (big, _, _) = await runtime.NextAsync();
        var tooLarge = await runtime.RespondAsync(big, new string('x', LambdaFunction.MaxResponseBytes + 1));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Equal(LambdaInvocationStatus.Running, lab.Lambda.Invocations[^1].Status);

        Assert.Null(lab.Lambda.QueueInvocation("arn:aws:lambda:eu-west-1:111122223333:function:elsewhere", "{}", "lab", out var otherRegion));
        Assert.Contains("eu-west-1", otherRegion);
    }

    [Fact]
    public async Task A_runtime_that_hangs_up_while_waiting_does_not_take_the_next_invocation()
    {
        await using var lab = await TestLab.StartAsync("Empty");
        var function = lab.RegisterLambdaFunction("isolate");
        using var gone = new RuntimeLoop(function.RuntimeApi);
        using var cts = new CancellationTokenSource();
        var abandoned = gone.NextAsync(cts.Token);
        await WaitForPollers(function, 1);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        gone.Dispose();
        await WaitForPollers(function, 0);

        var invocation = lab.Lambda.QueueInvocation(function.Arn, """{"n":1}""", "lab", out _)!;
        using var runtime = new RuntimeLoop(function.RuntimeApi);
        var (id, _, body) = await runtime.NextAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(invocation.RequestId, id);
        Assert.Equal("""{"n":1}""", body);
    }

    [Fact]
    public async Task Functions_are_declared_through_the_admin_route_and_each_has_its_own_endpoint()
    {
        await using var lab = await TestLab.StartAsync("Empty");
        Assert.False(lab.Facts.ContainsKey("RemediationFunctionArn"));
        using var http = new HttpClient();
        var declared = await http.PostAsync(lab.Endpoint + "/_lab/lambda/functions?name=notify&timeoutSeconds=30", null);
        var f = JsonNode.Parse(await declared.Content.ReadAsStringAsync())!;
        Assert.Equal($"arn:aws:lambda:{lab.Region}:{lab.AccountId}:function:notify", (string?)f["arn"]);
        Assert.Equal(30, (double?)f["timeoutSeconds"]);
        var other = lab.RegisterLambdaFunction("isolate");
        Assert.NotEqual((string?)f["runtimeApi"], other.RuntimeApi);
        Assert.Same(other, lab.RegisterLambdaFunction("isolate"));
        Assert.Throws<ArgumentException>(() => lab.RegisterLambdaFunction("not a name"));
    }
}
