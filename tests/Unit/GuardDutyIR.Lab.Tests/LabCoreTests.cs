using System.Net;
using System.Net.Http;
using System.Text.Json;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Amazon.SecurityToken;
using Amazon.SecurityToken.Model;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

public sealed class LabCoreTests
{
    [Fact]
    public async Task Host_BindsLoopbackOnly_AndServesInfo()
    {
        await using var lab = await TestLab.StartAsync();
        Assert.StartsWith("http://127.0.0.1:", lab.Endpoint);
        Assert.NotEqual(0, lab.Port);
        using var http = new HttpClient();
        var info = JsonDocument.Parse(await http.GetStringAsync(lab.Endpoint + "/_lab/info")).RootElement;
        Assert.Equal(lab.AccessKeyId, info.GetProperty("accessKeyId").GetString());
        Assert.Equal(lab.AccountId, info.GetProperty("accountId").GetString());
        Assert.Equal("Workshop", info.GetProperty("scenario").GetString());
        Assert.Equal(42, info.GetProperty("seed").GetInt32());
        Assert.Matches("^AKIA[A-Z2-7]{16}$", lab.AccessKeyId);
        Assert.Matches("^[1-9][0-9]{11}$", lab.AccountId);
    }

    [Fact]
    public async Task Info_NamesEveryAssumableRole_AndEachCanBeAssumed()
    {
        await using var lab = await TestLab.StartAsync();
        using var http = new HttpClient();
        var info = JsonDocument.Parse(await http.GetStringAsync(lab.Endpoint + "/_lab/info")).RootElement;
        var facts = info.GetProperty("facts");
        Assert.Equal($"arn:aws:iam::{lab.MemberAccountId}:role/{LabCredentialStore.ResponderRoleName}", facts.GetProperty("MemberResponderRoleArn").GetString());
        Assert.Equal(LabCredentialStore.ResponderExternalId, facts.GetProperty("MemberResponderExternalId").GetString());
        Assert.Equal(lab.Facts["MemberAuditorRoleArn"], facts.GetProperty("MemberAuditorRoleArn").GetString());

        // Every role the Lab lists is one STS hands a session for, with the ExternalId listed beside it.
        using var sts = TestLab.Sts(lab);
        var roles = info.GetProperty("roles").EnumerateArray().ToList();
        Assert.Contains(roles, r => r.GetProperty("arn").GetString() == lab.World.InvestigatedRoleArn);
        foreach (var role in roles)
        {
            var arn = role.GetProperty("arn").GetString()!;
            var externalId = role.GetProperty("externalId").ValueKind == JsonValueKind.Null ? null : role.GetProperty("externalId").GetString();
            var session = await sts.AssumeRoleAsync(new AssumeRoleRequest { RoleArn = arn, RoleSessionName = "info-check", ExternalId = externalId });
            Assert.Equal(role.GetProperty("accountId").GetString(), session.AssumedRoleUser.Arn.Split(':')[4]);
        }
    }

    [Fact]
    public async Task SameSeed_SameCredentials_DifferentSeed_Different()
    {
        await using var a = await TestLab.StartAsync(seed: 7);
        await using var b = await TestLab.StartAsync(seed: 7);
        await using var c = await TestLab.StartAsync(seed: 8);
        Assert.Equal(a.AccessKeyId, b.AccessKeyId);
        Assert.Equal(a.SecretAccessKey, b.SecretAccessKey);
        Assert.NotEqual(a.AccessKeyId, c.AccessKeyId);
        Assert.NotEqual(a.Port, b.Port);
    }

    [Fact]
    public async Task UnknownService_Is400Json_AndUnauthenticated_Is403()
    {
        await using var lab = await TestLab.StartAsync();
        var (status, body, _) = await TestLab.PostFormAsync(lab, "kinesis", "Action=ListStreams");
        Assert.Equal(400, status);
        Assert.Equal("UnknownService", JsonDocument.Parse(body).RootElement.GetProperty("__type").GetString());
        using var http = new HttpClient();
        var resp = await http.PostAsync(lab.Endpoint + "/", new StringContent("Action=DescribeInstances"));
        Assert.Equal(HttpStatusCode.Forbidden, resp.StatusCode);
    }

    [Fact]
    public async Task Ec2_UnknownKey_IsAuthFailure401()
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab, new BasicAWSCredentials("AKIAUNKNOWNUNKNOWN00", "x" + lab.SecretAccessKey[1..]));
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeRegionsAsync(new DescribeRegionsRequest()));
        Assert.Equal("AuthFailure", ex.ErrorCode);
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
    }

    [Fact]
    public async Task Ec2_WrongSecret_IsAuthFailure401()
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab, new BasicAWSCredentials(lab.AccessKeyId, "wrong" + lab.SecretAccessKey[5..]));
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeRegionsAsync(new DescribeRegionsRequest()));
        Assert.Equal("AuthFailure", ex.ErrorCode);
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
    }

    [Fact]
    public async Task Sts_UnknownKey_IsInvalidClientTokenId_WrongSecret_IsSignatureDoesNotMatch()
    {
        await using var lab = await TestLab.StartAsync();
        using var unknown = TestLab.Sts(lab, new BasicAWSCredentials("AKIAUNKNOWNUNKNOWN00", lab.SecretAccessKey));
        var ex1 = await Assert.ThrowsAnyAsync<AmazonSecurityTokenServiceException>(() => unknown.GetCallerIdentityAsync(new GetCallerIdentityRequest()));
        Assert.Equal("InvalidClientTokenId", ex1.ErrorCode);
        Assert.Equal(HttpStatusCode.Forbidden, ex1.StatusCode);
        using var wrong = TestLab.Sts(lab, new BasicAWSCredentials(lab.AccessKeyId, "wrong" + lab.SecretAccessKey[5..]));
        var ex2 = await Assert.ThrowsAnyAsync<AmazonSecurityTokenServiceException>(() => wrong.GetCallerIdentityAsync(new GetCallerIdentityRequest()));
        Assert.Equal("SignatureDoesNotMatch", ex2.ErrorCode);
        Assert.Equal(HttpStatusCode.Forbidden, ex2.StatusCode);
    }

    [Fact]
    public async Task RawSigner_Succeeds_ThenStaleDate_AndTampering_AreRejected()
    {
        await using var lab = await TestLab.StartAsync();
        var form = TestLab.Form(("Action", "DescribeRegions"), ("Version", "2016-11-15"));
        var ok = await TestLab.PostFormAsync(lab, "ec2", form);
        Assert.Equal(200, ok.Status);
        Assert.Contains("<regionName>us-east-1</regionName>", ok.Body);

        var stale = await TestLab.PostFormAsync(lab, "ec2", form, signedAt: DateTime.UtcNow.AddMinutes(-16));
        Assert.Equal(400, stale.Status);
        Assert.Contains("<Code>RequestExpired</Code>", stale.Body);

        var staleSts = await TestLab.PostFormAsync(lab, "sts", TestLab.Form(("Action", "GetCallerIdentity"), ("Version", "2011-06-15")), signedAt: DateTime.UtcNow.AddMinutes(-20));
        Assert.Equal(403, staleSts.Status);
        Assert.Contains("<Code>SignatureDoesNotMatch</Code>", staleSts.Body);
        Assert.Contains("Signature expired", staleSts.Body);

        // Within 15 minutes is fine.
        var skewed = await TestLab.PostFormAsync(lab, "ec2", form, signedAt: DateTime.UtcNow.AddMinutes(-10));
        Assert.Equal(200, skewed.Status);

        var tampered = await TestLab.PostFormAsync(lab, "ec2", form, tamper: r => r.Content = new StringContent(form + "&RegionName.1=eu-west-1", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.Equal(401, tampered.Status);
        Assert.Contains("<Code>AuthFailure</Code>", tampered.Body);

        var wrongRegion = await TestLab.PostFormAsync(lab, "ec2", form, region: "eu-west-1");
        Assert.Equal(401, wrongRegion.Status);
    }

    [Fact]
    public async Task ErrorShapes_PerProtocol()
    {
        var rid = "req-1";
        var json = ProtocolErrors.Json11(400, "ThrottlingException", "Rate exceeded", rid);
        Assert.Equal(rid, json.Headers["x-amzn-RequestId"]);
        Assert.Equal("ThrottlingException", JsonDocument.Parse(json.Body).RootElement.GetProperty("__type").GetString());
        var rest = ProtocolErrors.RestJson(400, "BadRequestException", "bad", rid, "InvalidInputException");
        Assert.Equal("BadRequestException", rest.Headers["x-amzn-ErrorType"]);
        Assert.Equal("InvalidInputException", JsonDocument.Parse(rest.Body).RootElement.GetProperty("__type").GetString());
        var s3 = ProtocolErrors.S3(404, "NoSuchKey", "The specified key does not exist.", rid, "/b/k");
        Assert.Equal(rid, s3.Headers["x-amz-request-id"]);
        Assert.Contains("<Resource>/b/k</Resource>", System.Text.Encoding.UTF8.GetString(s3.Body));
        var q = ProtocolErrors.Query(400, "Sender", "InvalidParameter", "x", rid, ProtocolErrors.SnsNamespace);
        Assert.Contains("<Type>Sender</Type>", System.Text.Encoding.UTF8.GetString(q.Body));
        var e = ProtocolErrors.Ec2(400, "InvalidInstanceID.NotFound", "x", rid);
        Assert.Contains($"<RequestID>{rid}</RequestID>", System.Text.Encoding.UTF8.GetString(e.Body));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Counters_CountCallsMutatingAndErrors_AndReset()
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab);
        await ec2.DescribeRegionsAsync(new DescribeRegionsRequest());
        await ec2.CreateTagsAsync(new CreateTagsRequest { Resources = new() { lab.World.CompromisedInstanceId! }, Tags = new() { new Amazon.EC2.Model.Tag("ir:case", "1") } });
        await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.CreateTagsAsync(new CreateTagsRequest { Resources = new() { "i-0000000000000dead" }, Tags = new() { new Amazon.EC2.Model.Tag("a", "b") } }));
        var snap = lab.Counters.Snapshot();
        Assert.Equal(1, snap.CallsOf("ec2", "DescribeRegions"));
        Assert.Equal(2, snap.CallsOf("ec2", "CreateTags"));
        Assert.Equal(1, snap.MutatingOf("ec2", "CreateTags"));
        Assert.Equal(0, snap.MutatingOf("ec2", "DescribeRegions"));
        Assert.Equal(1, snap.Errors["ec2:CreateTags"]);

        using var http = new HttpClient();
        var viaHttp = JsonDocument.Parse(await http.GetStringAsync(lab.Endpoint + "/_lab/counters")).RootElement;
        Assert.Equal(2, viaHttp.GetProperty("calls").GetProperty("ec2:CreateTags").GetInt64());
        await http.PostAsync(lab.Endpoint + "/_lab/counters/reset", null);
        Assert.Equal(0, lab.Counters.Snapshot().TotalCalls);
    }

    [Fact]
    public async Task AdminRouter_IsExtensible()
    {
        await using var lab = await TestLab.StartAsync();
        lab.Context.Admin.Map("/_lab/test/echo", r => new { method = r.Method, q = r.Query["x"] });
        using var http = new HttpClient();
        var doc = JsonDocument.Parse(await http.GetStringAsync(lab.Endpoint + "/_lab/test/echo?x=42")).RootElement;
        Assert.Equal("GET", doc.GetProperty("method").GetString());
        Assert.Equal("42", doc.GetProperty("q").GetString());
        var missing = await http.GetAsync(lab.Endpoint + "/_lab/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Faults_ErrorRateOne_GivesProtocolShapedServerErrors()
    {
        await using var lab = await TestLab.StartAsync(configure: o => o with { Faults = new FaultOptions { ErrorRate = 1.0, Seed = 3 } });
        using var ec2 = TestLab.Ec2(lab);
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeRegionsAsync(new DescribeRegionsRequest()));
        Assert.Contains(ex.ErrorCode, new[] { "InternalError", "Unavailable" });
        Assert.True(ex.StatusCode is HttpStatusCode.InternalServerError or HttpStatusCode.ServiceUnavailable);
        using var sts = TestLab.Sts(lab);
        var ex2 = await Assert.ThrowsAnyAsync<AmazonSecurityTokenServiceException>(() => sts.GetCallerIdentityAsync(new GetCallerIdentityRequest()));
        Assert.Contains(ex2.ErrorCode, new[] { "InternalFailure", "ServiceUnavailable" });
        Assert.Equal(2, lab.Counters.Snapshot().Faults.Values.Sum());

        lab.Faults.ErrorRate = 0;
        var ok = await ec2.DescribeRegionsAsync(new DescribeRegionsRequest());
        Assert.NotEmpty(ok.Regions);
    }

    [Fact]
    public async Task Faults_HalfErrorRate_WithSdkRetries_Succeeds_AndLatencyIsAdded()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { Faults = new FaultOptions { ErrorRate = 0.3, Seed = 11 }, Clock = clock });
        using var ec2 = TestLab.Ec2(lab, maxErrorRetry: 8);
        for (int i = 0; i < 3; i++) Assert.NotEmpty((await ec2.DescribeRegionsAsync(new DescribeRegionsRequest())).Regions);
        Assert.True(lab.Counters.Snapshot().Faults.Values.Sum() > 0);

        // Injected latency is a wait on the Lab's clock before the request is handled: the answer comes once that clock
        // has moved on by the latency, and the request is not handled (counted) before.
        lab.Faults.ErrorRate = 0;
        lab.Faults.LatencyMs = 300;
        var handled = lab.Counters.Snapshot().CallsOf("ec2", "DescribeRegions");
        var call = ec2.DescribeRegionsAsync(new DescribeRegionsRequest());
        await clock.WaitStartedAsync(TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(20));
        Assert.False(call.IsCompleted);
        Assert.Equal(handled, lab.Counters.Snapshot().CallsOf("ec2", "DescribeRegions"));
        clock.Advance(TimeSpan.FromMilliseconds(300));
        Assert.NotEmpty((await call.WaitAsync(TimeSpan.FromSeconds(20))).Regions);
        Assert.Equal(handled + 1, lab.Counters.Snapshot().CallsOf("ec2", "DescribeRegions"));
    }

    [Fact]
    public async Task Holds_KeepAnArrivedCallUnhandledUntilReleased_AndCountArrivals()
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab);
        Task<DescribeRegionsResponse> call;
        using (lab.Holds.Hold("ec2", "DescribeRegions"))
        {
            call = ec2.DescribeRegionsAsync(new DescribeRegionsRequest());
            Assert.True(await lab.Holds.WaitForArrivalsAsync("ec2", "DescribeRegions", 1, TimeSpan.FromSeconds(30)));
            // Other actions are not held.
            Assert.NotEmpty((await ec2.DescribeVpcsAsync(new DescribeVpcsRequest())).Vpcs);
            Assert.False(call.IsCompleted);
            Assert.Equal(0, lab.Counters.Snapshot().CallsOf("ec2", "DescribeRegions"));
        }
        Assert.NotEmpty((await call.WaitAsync(TimeSpan.FromSeconds(30))).Regions);
        Assert.Equal(1, lab.Counters.Snapshot().CallsOf("ec2", "DescribeRegions"));
        Assert.Equal(1, lab.Holds.ArrivedOf("ec2", "DescribeRegions"));
        Assert.False(await lab.Holds.WaitForArrivalsAsync("ec2", "DescribeRegions", 2, TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public async Task Faults_DropRateOne_AbortsTheConnection()
    {
        await using var lab = await TestLab.StartAsync(configure: o => o with { Faults = new FaultOptions { DropRate = 1.0 } });
        using var ec2 = TestLab.Ec2(lab);
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => ec2.DescribeRegionsAsync(new DescribeRegionsRequest()));
        Assert.IsNotType<AmazonEC2Exception>(ex);
        // The client sees the connection end before the answer did, as with a real drop: never an empty answer to parse
        // (the managed HttpListener's Abort alone sent an empty 200, read as a malformed document).
        var chain = new List<Exception>();
        for (Exception? e = ex; e is not null; e = e.InnerException) chain.Add(e);
        Assert.Contains(chain, e => e is IOException or System.Net.Http.HttpRequestException);
        Assert.DoesNotContain(chain, e => e is System.Xml.XmlException);
        // Every attempt the SDK made was dropped (a network failure is retried).
        Assert.Equal(lab.Counters.Snapshot().Faults.Values.Sum(), lab.Counters.Snapshot().Faults.GetValueOrDefault("ec2:DescribeRegions"));
        Assert.True(lab.Counters.Snapshot().Faults.Values.Sum() >= 1);
    }

    [Fact]
    public async Task ConcurrentRequests_AreAllAnswered()
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab);
        var tasks = Enumerable.Range(0, 40).Select(_ => ec2.DescribeInstancesAsync(new DescribeInstancesRequest())).ToList();
        var all = await Task.WhenAll(tasks);
        Assert.All(all, r => Assert.NotEmpty(r.Reservations));
        Assert.Equal(40, lab.Counters.Snapshot().CallsOf("ec2", "DescribeInstances"));
    }

    [Fact]
    public void SigV4_CanonicalUri_DoubleEncodesExceptForS3()
    {
        Assert.Equal("/a%2520b/c", SigV4Verifier.CanonicalUri("/a%20b/c", singleEncode: false));
        Assert.Equal("/a%20b/c", SigV4Verifier.CanonicalUri("/a%20b/c", singleEncode: true));
        Assert.Equal("/", SigV4Verifier.CanonicalUri("", false));
        var q = SigV4Verifier.ParseQuery("b=2&a=x%20y&a=1");
        Assert.Equal("a=1&a=x%20y&b=2", SigV4Verifier.CanonicalQuery(q, presigned: false));
    }

    [Fact]
    public async Task Ec2_QueryStringGet_IsAccepted()
    {
        await using var lab = await TestLab.StartAsync();
        var (status, body, _) = await TestLab.SendAsync(lab, "ec2", HttpMethod.Get, "Action=DescribeInstances&Filter.1.Name=instance-id&Filter.1.Value.1=" + lab.World.CompromisedInstanceId + "&Version=2016-11-15", "");
        Assert.Equal(200, status);
        Assert.Contains(lab.World.CompromisedInstanceId!, body);
        Assert.DoesNotContain(lab.World.BastionInstanceId!, body);
    }

    [Fact]
    public async Task Verifier_AcceptsS3PresignedUrls_AndRejectsTamperedOnes()
    {
        await using var lab = await TestLab.StartAsync();
        using var s3 = new Amazon.S3.AmazonS3Client(TestLab.Credentials(lab), new Amazon.S3.AmazonS3Config { ServiceURL = lab.Endpoint, AuthenticationRegion = lab.Region, ForcePathStyle = true });
        var url = await s3.GetPreSignedURLAsync(new Amazon.S3.Model.GetPreSignedUrlRequest
        {
            BucketName = "evidence-bucket", Key = "case 42/memory.lime", Verb = Amazon.S3.HttpVerb.GET, Expires = DateTime.UtcNow.AddMinutes(5), Protocol = Amazon.S3.Protocol.HTTP,
        });
        var uri = new Uri(url);
        var verifier = new SigV4Verifier(lab.Credentials, TimeProvider.System);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Host"] = uri.Authority };
        var ok = verifier.Verify("GET", uri.PathAndQuery, headers, Array.Empty<byte>());
        Assert.True(ok.Ok, ok.Message);
        Assert.Equal("s3", ok.Service);
        Assert.Equal(lab.AccountId, ok.Principal!.AccountId);
        var tampered = verifier.Verify("GET", uri.PathAndQuery.Replace("memory.lime", "other.lime"), headers, Array.Empty<byte>());
        Assert.Equal(SigV4Failure.SignatureMismatch, tampered.Failure);
    }
}
