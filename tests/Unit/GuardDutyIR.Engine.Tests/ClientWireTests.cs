using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>Our own clients (no AWSSDK service package) against a stub: the exact request, and how answers and errors are read.</summary>
public sealed class ClientWireTests : IDisposable
{
    private readonly WireStub _stub = new();

    public void Dispose() => _stub.Dispose();

    private AwsSession Session() => StubSessions.For(_stub);

    private static void AssertSigV4(CapturedRequest request, string service)
    {
        Assert.Matches(new Regex(
            $@"^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{{8}}/us-east-1/{service}/aws4_request, SignedHeaders=([a-z0-9-]+;)*host(;[a-z0-9-]+)*, Signature=[0-9a-f]{{64}}$"),
            request.Header("Authorization"));
        Assert.Matches(@"^\d{8}T\d{6}Z$", request.Header("X-Amz-Date"));
    }

    [Fact]
    public async Task GuardDuty_ListDetectors_sends_rest_json_GET_and_reads_ids()
    {
        _stub.Enqueue(StubResponse.FromSample("guardduty-ListDetectors.json"));
        using var session = Session();

        var ids = new List<string>();
        await foreach (var id in session.GuardDuty().ListDetectorsAsync()) ids.Add(id);

        Assert.Equal(new[] { "12abc34d567e8fa901bc2d34e56789f0" }, ids);
        var request = _stub.Single();
        Assert.Equal("GET", request.Method);
        Assert.Equal("/detector?maxResults=50", request.PathAndQuery);
        Assert.Empty(request.Body);
        AssertSigV4(request, "guardduty");
    }

    [Fact]
    public async Task Lake_result_rows_keep_every_value_as_text_and_drop_values_that_are_no_scalar()
    {
        // Every value is a string in the model; a number or a boolean sent bare is read as its text, an object as nothing.
        _stub.Enqueue(new StubResponse(200,
            "{\"QueryResultRows\":[[{\"eventname\":\"PutObject\"},{\"total\":3},{\"ok\":true},{\"odd\":{\"a\":1}},{\"none\":null}]],\"NextToken\":\"n2\"}"));
        using var session = Session();

        var page = await session.CloudTrail().GetQueryResultRowsAsync("q-1", null, 1000);

        var row = Assert.Single(page.Rows);
        Assert.Equal(new[] { "eventname", "total", "ok", "odd", "none" }, row.Columns);
        Assert.Equal(new object?[] { "PutObject", "3", "True", null, null }, row.Values);
        Assert.Equal("n2", page.NextToken);
        Assert.Equal("{\"QueryId\":\"q-1\",\"MaxQueryResults\":1000}", _stub.Single().BodyText);
    }

    [Fact]
    public async Task GuardDuty_ListDetectors_follows_nextToken_in_the_query_string()
    {
        _stub.Enqueue(
            new StubResponse(200, "{\"detectorIds\":[\"a1\"],\"nextToken\":\"tok/2+=\"}"),
            new StubResponse(200, "{\"detectorIds\":[\"b2\"]}"));
        using var session = Session();

        var ids = new List<string>();
        await foreach (var id in session.GuardDuty().ListDetectorsAsync()) ids.Add(id);

        Assert.Equal(new[] { "a1", "b2" }, ids);
        var second = _stub.Requests.ElementAt(1);
        Assert.Equal("/detector?maxResults=50&nextToken=tok%2F2%2B%3D", second.PathAndQuery);
    }

    [Fact]
    public async Task GuardDuty_error_code_comes_from_the_ErrorType_header_not_the_body_subtype()
    {
        _stub.Enqueue(StubResponse.FromSample("guardduty-Error-BadRequest.http"));
        using var session = Session();

        var error = await Assert.ThrowsAsync<AwsServiceException>(() => session.GuardDuty().GetDetectorAsync("bad id/1"));

        Assert.Equal("BadRequestException", error.ErrorCode);
        Assert.Equal(400, error.StatusCode);
        Assert.Equal("f31cdd9e-5804-45e5-be72-f30c711585d7", error.RequestId);
        Assert.Contains("detectorId has an invalid value", error.ServiceMessage);
        Assert.Equal("GuardDuty.BadRequestException", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal("/detector/bad%20id%2F1", _stub.Single().PathAndQuery);
    }

    [Theory]
    [InlineData("{\"__type\":\"com.amazonaws.cloudtrail.v20131101#EventDataStoreNotFoundException\",\"Message\":\"nope\"}", "EventDataStoreNotFoundException")]
    [InlineData("{\"__type\":\"EventDataStoreNotFoundException:http://internal.amazon.com/\",\"message\":\"nope\"}", "EventDataStoreNotFoundException")]
    [InlineData("{\"code\":\"ThrottlingExceptionX\",\"__type\":\"Other\",\"message\":\"nope\"}", "ThrottlingExceptionX")]
    public async Task Json_error_codes_are_read_namespaced_or_plain(string body, string expected)
    {
        _stub.Enqueue(new StubResponse(400, body, new() { ["Content-Type"] = "application/x-amz-json-1.1" }));
        using var session = Session();
        var error = await Assert.ThrowsAsync<AwsServiceException>(async () =>
        {
            await foreach (var _ in session.CloudTrail().ListEventDataStoresAsync()) { }
        });
        Assert.Equal(expected, error.ErrorCode);
        Assert.Equal("nope", error.ServiceMessage);
    }

    [Fact]
    public async Task CloudTrail_ListEventDataStores_sends_json11_with_target()
    {
        _stub.Enqueue(StubResponse.FromSample("cloudtrail-ListEventDataStores.json"));
        using var session = Session();

        var stores = new List<JsonObject>();
        await foreach (var s in session.CloudTrail().ListEventDataStoresAsync()) stores.Add(s);

        Assert.Equal("org-audit", Assert.Single(stores)["Name"]!.GetValue<string>());
        var request = _stub.Single();
        Assert.Equal("POST", request.Method);
        Assert.Equal("/", request.PathAndQuery);
        Assert.Equal("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListEventDataStores", request.Header("X-Amz-Target"));
        Assert.StartsWith("application/x-amz-json-1.1", request.Header("Content-Type"));
        Assert.Equal("{\"MaxResults\":1000}", request.BodyText);
        AssertSigV4(request, "cloudtrail");
    }

    [Fact]
    public async Task CloudTrail_error_template_is_read()
    {
        _stub.Enqueue(StubResponse.FromSample("cloudtrail-Error-InvalidQueryStatement.http"));
        using var session = Session();
        var error = await Assert.ThrowsAsync<AwsServiceException>(async () =>
        {
            await foreach (var _ in session.CloudTrail().ListEventDataStoresAsync()) { }
        });
        Assert.Equal("InvalidQueryStatementException", error.ErrorCode);
        Assert.Equal("5b0f8e3a-0000-4000-8000-example", error.RequestId);
        Assert.Contains("Failed to parse query", error.ServiceMessage);
    }

    [Fact]
    public async Task Athena_GetQueryExecution_sends_json11_and_reads_the_status()
    {
        _stub.Enqueue(new StubResponse(200,
            "{\"QueryExecution\":{\"QueryExecutionId\":\"q-1\",\"Query\":\"select 1\",\"Status\":{\"State\":\"SUCCEEDED\",\"SubmissionDateTime\":1.7E9},\"Statistics\":{\"DataScannedInBytes\":42}}}",
            new() { ["Content-Type"] = "application/x-amz-json-1.1", ["x-amzn-RequestId"] = "r-athena" }));
        using var session = Session();

        var execution = await session.Athena().GetQueryExecutionAsync("q-1");

        Assert.Equal("SUCCEEDED", execution["Status"]!["State"]!.GetValue<string>());
        var request = _stub.Single();
        Assert.Equal("AmazonAthena.GetQueryExecution", request.Header("X-Amz-Target"));
        Assert.Equal("{\"QueryExecutionId\":\"q-1\"}", request.BodyText);
        AssertSigV4(request, "athena");
    }

    [Fact]
    public async Task Athena_error_is_read()
    {
        _stub.Enqueue(new StubResponse(400, "{\"__type\":\"InvalidRequestException\",\"Message\":\"QueryExecution q-9 was not found\",\"AthenaErrorCode\":\"INVALID_INPUT\"}",
            new() { ["Content-Type"] = "application/x-amz-json-1.1", ["x-amzn-RequestId"] = "r-9" }));
        using var session = Session();
        var error = await Assert.ThrowsAsync<AwsServiceException>(() => session.Athena().GetQueryExecutionAsync("q-9"));
        Assert.Equal("InvalidRequestException", error.ErrorCode);
        Assert.Equal("r-9", error.RequestId);
    }

    [Fact]
    public async Task Sns_Publish_sends_query_form_and_reads_message_id()
    {
        _stub.Enqueue(StubResponse.FromSample("sns-Publish.xml"));
        using var session = Session();

        var (messageId, requestId) = await session.Sns().PublishAsync("arn:aws:sns:us-east-1:123456789012:ir-alerts",
            "The EC2 instance i-0abc may be compromised & should be investigated", "GuardDuty Finding",
            new Dictionary<string, string> { ["severity"] = "HIGH" });

        Assert.False(string.IsNullOrEmpty(messageId));
        Assert.NotNull(requestId);
        var request = _stub.Single();
        Assert.Equal("POST", request.Method);
        Assert.StartsWith("application/x-www-form-urlencoded", request.Header("Content-Type"));
        Assert.Equal(
            "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Air-alerts"
            + "&Message=The%20EC2%20instance%20i-0abc%20may%20be%20compromised%20%26%20should%20be%20investigated"
            + "&Subject=GuardDuty%20Finding&MessageAttributes.entry.1.Name=severity&MessageAttributes.entry.1.Value.DataType=String"
            + "&MessageAttributes.entry.1.Value.StringValue=HIGH",
            request.BodyText);
        AssertSigV4(request, "sns");
    }

    [Fact]
    public async Task Sns_error_uses_the_error_code_not_the_shape_name()
    {
        _stub.Enqueue(new StubResponse(404, File.ReadAllText(Path.Combine(TestPaths.Samples, "sns-Error-NotFound.xml")),
            new() { ["Content-Type"] = "text/xml" }));
        using var session = Session();
        var error = await Assert.ThrowsAsync<AwsServiceException>(() =>
            session.Sns().PublishAsync("arn:aws:sns:us-east-1:123456789012:gone", "m", null));
        Assert.True(error.ServiceMessage == "Topic does not exist", error.ServiceMessage + " // " + error.InnerException);
        Assert.Equal("NotFound", error.ErrorCode);
        Assert.Equal(404, error.StatusCode);
        Assert.Equal("8c4c8aa7-436b-5b46-91d5-c0a339158557", error.RequestId);
        Assert.Equal(ErrorKind.ObjectNotFound, error.Kind);
    }

    [Fact]
    public async Task Sns_limits_are_checked_before_sending()
    {
        using var session = Session();
        var tooLong = new string('é', 131_073);  // 262,146 UTF-8 bytes: under the limit in characters, over it in bytes
        var e1 = await Assert.ThrowsAsync<GuardDutyIRException>(() => session.Sns().PublishAsync("arn:aws:sns:us-east-1:1:t", tooLong, null));
        Assert.Equal("SnsMessageTooLong", e1.ErrorId);
        var e2 = await Assert.ThrowsAsync<GuardDutyIRException>(() => session.Sns().PublishAsync("arn:aws:sns:us-east-1:1:t", "m", "two\nlines"));
        Assert.Equal("SnsSubjectInvalid", e2.ErrorId);
        Assert.Empty(_stub.Requests);
    }

    [Fact]
    public async Task Throttling_and_5xx_are_retried_by_the_sdk_pipeline()
    {
        _stub.Enqueue(
            new StubResponse(400, "{\"__type\":\"ThrottlingException\",\"Message\":\"Rate exceeded\"}", new() { ["Content-Type"] = "application/x-amz-json-1.1" }),
            new StubResponse(503, "{\"__type\":\"ServiceUnavailableException\",\"Message\":\"busy\"}", new() { ["Content-Type"] = "application/x-amz-json-1.1" }),
            StubResponse.FromSample("cloudtrail-ListEventDataStores.json"));
        using var session = Session();

        var count = 0;
        await foreach (var _ in session.CloudTrail().ListEventDataStoresAsync()) count++;

        Assert.Equal(1, count);
        Assert.Equal(3, _stub.Requests.Count);
    }

    [Fact]
    public async Task Cancellation_stops_a_call_in_flight()
    {
        // The answer would come after 10 minutes; only cancelling the call in flight ends it.
        _stub.Default = new StubResponse(200, "{}", Delay: TimeSpan.FromMinutes(10));
        using var session = Session();
        using var cts = new CancellationTokenSource();

        var call = session.Athena().GetQueryExecutionAsync("q-1", cts.Token);
        await Until(() => !_stub.Requests.IsEmpty);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(TimeSpan.FromMinutes(1)));
    }

    // Waits for something the test can observe; the limit only keeps a broken build from hanging.
    private static async Task Until(Func<bool> condition)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (!condition()) await Task.Delay(10, guard.Token);
    }
}
