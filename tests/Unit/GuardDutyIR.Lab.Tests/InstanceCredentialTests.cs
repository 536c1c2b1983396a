using System.Net;
using System.Net.Http;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Amazon.SecurityToken;
using Amazon.SecurityToken.Model;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

/// <summary>The instance metadata service of Lab instances, and role sessions revoked by an explicit deny on the role.</summary>
public sealed class InstanceCredentialTests
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(20) };

    private static async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> Imds(LabHost lab, string instanceId, HttpMethod method, string path,
        params (string Name, string Value)[] headers)
    {
        using var req = new HttpRequestMessage(method, lab.InstanceMetadataEndpointOf(instanceId) + path);
        foreach (var (n, v) in headers) req.Headers.TryAddWithoutValidation(n, v);
        var resp = await s_http.SendAsync(req);
        return (resp.StatusCode, await resp.Content.ReadAsStringAsync(), resp);
    }

    private static async Task<string> Token(LabHost lab, string instanceId)
    {
        var (status, body, _) = await Imds(lab, instanceId, HttpMethod.Put, "latest/api/token", ("X-aws-ec2-metadata-token-ttl-seconds", "300"));
        Assert.Equal(HttpStatusCode.OK, status);
        return body;
    }

    /// <summary>The instance role's credentials as a program on the instance reads them (IMDSv2).</summary>
    private static async Task<JsonObject> InstanceCredentials(LabHost lab, string instanceId)
    {
        var token = await Token(lab, instanceId);
        var (s1, roleName, _) = await Imds(lab, instanceId, HttpMethod.Get, "latest/meta-data/iam/security-credentials/", ("X-aws-ec2-metadata-token", token));
        Assert.Equal(HttpStatusCode.OK, s1);
        var (s2, doc, _) = await Imds(lab, instanceId, HttpMethod.Get, "latest/meta-data/iam/security-credentials/" + roleName, ("X-aws-ec2-metadata-token", token));
        Assert.Equal(HttpStatusCode.OK, s2);
        return JsonNode.Parse(doc)!.AsObject();
    }

    private static SessionAWSCredentials Aws(JsonObject c) => new((string)c["AccessKeyId"]!, (string)c["SecretAccessKey"]!, (string)c["Token"]!);

    [Fact]
    public async Task Imds_HandsOutTheInstanceRolesSession_OverV1AndV2()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { Clock = clock });
        var id = lab.World.InvestigatedInstanceId!;
        var role = lab.World.InvestigatedRoleName!;

        // IMDSv1 works while HttpTokens is optional (the scenario's instance allows it).
        var (v1Status, v1Role, _) = await Imds(lab, id, HttpMethod.Get, "latest/meta-data/iam/security-credentials/");
        Assert.Equal((HttpStatusCode.OK, role), (v1Status, v1Role));
        var (_, v1Doc, _) = await Imds(lab, id, HttpMethod.Get, "latest/meta-data/iam/security-credentials/" + role);
        var creds = JsonNode.Parse(v1Doc)!.AsObject();
        Assert.Equal("Success", (string)creds["Code"]!);
        Assert.Equal("AWS-HMAC", (string)creds["Type"]!);
        Assert.StartsWith("ASIA", (string)creds["AccessKeyId"]!);
        Assert.Equal(new[] { "Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token", "Expiration" }, creds.Select(p => p.Key));
        Assert.Equal("2026-11-20T18:00:00Z", (string)creds["Expiration"]!);

        // The same session on every read until it nears expiry; over v2 too.
        var v2 = await InstanceCredentials(lab, id);
        Assert.Equal((string)creds["AccessKeyId"]!, (string)v2["AccessKeyId"]!);
        clock.Advance(TimeSpan.FromHours(5) + TimeSpan.FromMinutes(50));
        Assert.NotEqual((string)creds["AccessKeyId"]!, (string)(await InstanceCredentials(lab, id))["AccessKeyId"]!);

        using var sts = TestLab.Sts(lab, Aws(v2));
        var who = await sts.GetCallerIdentityAsync(new GetCallerIdentityRequest());
        Assert.Equal($"arn:aws:sts::{lab.AccountId}:assumed-role/{role}/{id}", who.Arn);
    }

    [Fact]
    public async Task Imds_TokenRules_RequiredTokens_DisabledEndpoint_AndInstancesWithoutARole()
    {
        await using var lab = await TestLab.StartAsync();
        var id = lab.World.InvestigatedInstanceId!;
        Assert.Equal(HttpStatusCode.BadRequest, (await Imds(lab, id, HttpMethod.Put, "latest/api/token")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Imds(lab, id, HttpMethod.Put, "latest/api/token", ("X-aws-ec2-metadata-token-ttl-seconds", "21601"))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Imds(lab, id, HttpMethod.Put, "latest/api/token",
            ("X-aws-ec2-metadata-token-ttl-seconds", "60"), ("X-Forwarded-For", "203.0.113.7"))).Status);
        var (_, _, tokenResponse) = await Imds(lab, id, HttpMethod.Put, "latest/api/token", ("X-aws-ec2-metadata-token-ttl-seconds", "60"));
        Assert.Equal("60", tokenResponse.Headers.GetValues("X-aws-ec2-metadata-token-ttl-seconds").Single());
        Assert.Equal(HttpStatusCode.Unauthorized, (await Imds(lab, id, HttpMethod.Get, "latest/meta-data/instance-id", ("X-aws-ec2-metadata-token", "forged"))).Status);
        // A token belongs to the instance it was issued on.
        var other = lab.World.CompromisedInstanceId!;
        var otherToken = await Token(lab, other);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Imds(lab, id, HttpMethod.Get, "latest/meta-data/instance-id", ("X-aws-ec2-metadata-token", otherToken))).Status);

        using var ec2 = TestLab.Ec2(lab);
        await ec2.ModifyInstanceMetadataOptionsAsync(new ModifyInstanceMetadataOptionsRequest { InstanceId = id, HttpTokens = HttpTokensState.Required });
        Assert.Equal(HttpStatusCode.Unauthorized, (await Imds(lab, id, HttpMethod.Get, "latest/meta-data/iam/security-credentials/")).Status);
        var token = await Token(lab, id);
        var (status, instanceId, _) = await Imds(lab, id, HttpMethod.Get, "latest/meta-data/instance-id", ("X-aws-ec2-metadata-token", token));
        Assert.Equal((HttpStatusCode.OK, id), (status, instanceId));

        await ec2.ModifyInstanceMetadataOptionsAsync(new ModifyInstanceMetadataOptionsRequest { InstanceId = id, HttpEndpoint = InstanceMetadataEndpointState.Disabled });
        Assert.Equal(HttpStatusCode.Forbidden, (await Imds(lab, id, HttpMethod.Get, "latest/meta-data/instance-id", ("X-aws-ec2-metadata-token", token))).Status);

        // The bastion has no instance profile: no credentials to hand out.
        var bastion = lab.World.BastionInstanceId!;
        var bt = await Token(lab, bastion);
        Assert.Equal(HttpStatusCode.NotFound, (await Imds(lab, bastion, HttpMethod.Get, "latest/meta-data/iam/security-credentials/", ("X-aws-ec2-metadata-token", bt))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Imds(lab, "i-0123456789abcdef0", HttpMethod.Get, "latest/meta-data/instance-id")).Status);
    }

    private const string RevokePolicyName = "AWSRevokeOlderSessions";

    private static string RevokeDocument(DateTimeOffset before) =>
        """{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":" """.TrimEnd()
        + before.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture) + "\"}}}]}";

    [Fact]
    public async Task RevokedRoleSessions_GetAccessDeniedEverywhere_NewerSessionsWork_AndDeletingTheDenyLiftsIt()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { Clock = clock });
        var id = lab.World.InvestigatedInstanceId!;
        var role = lab.World.InvestigatedRoleName!;
        var stolen = await InstanceCredentials(lab, id);
        var stolenAws = Aws(stolen);
        using var ec2 = TestLab.Ec2(lab, stolenAws);
        using var sts = TestLab.Sts(lab, stolenAws);
        using var s3 = new RawAwsClient(lab, (string)stolen["AccessKeyId"]!, (string)stolen["SecretAccessKey"]!, (string)stolen["Token"]!);
        var assume = new AssumeRoleRequest { RoleArn = lab.Credentials.MainResponder.Arn, RoleSessionName = "pivot" };

        // The stolen keys work from "outside" on EC2, S3 and STS.
        Assert.NotEmpty((await ec2.DescribeInstancesAsync(new DescribeInstancesRequest())).Reservations);
        Assert.Equal(200, (await s3.SendAsync("s3", HttpMethod.Get, "/", "", Array.Empty<byte>(), new Dictionary<string, string>())).Status);
        Assert.StartsWith("ASIA", (await sts.AssumeRoleAsync(assume)).Credentials.AccessKeyId);

        // The responder revokes every session issued before now.
        clock.Advance(TimeSpan.FromMinutes(10));
        using var admin = new RawAwsClient(lab);
        var put = await IamTests.Iam(admin, "PutRolePolicy", ("RoleName", role), ("PolicyName", RevokePolicyName), ("PolicyDocument", RevokeDocument(clock.GetUtcNow())));
        Assert.True(put.Status == 200, put.Body);

        var ec2Denied = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeInstancesAsync(new DescribeInstancesRequest()));
        Assert.Equal("UnauthorizedOperation", ec2Denied.ErrorCode);
        Assert.Contains("with an explicit deny", ec2Denied.Message);
        var s3Denied = await s3.SendAsync("s3", HttpMethod.Get, "/" + lab.World.ExfilBucket, "", Array.Empty<byte>(), new Dictionary<string, string>());
        Assert.Equal(403, s3Denied.Status);
        Assert.Equal("AccessDenied", XDocument.Parse(s3Denied.Body).Root!.Element("Code")!.Value);
        var stsDenied = await Assert.ThrowsAnyAsync<AmazonSecurityTokenServiceException>(() => sts.AssumeRoleAsync(assume));
        Assert.Equal("AccessDenied", stsDenied.ErrorCode);
        var iamDenied = await IamTests.Iam(s3, "GetRole", ("RoleName", role));
        Assert.Equal(403, iamDenied.Status);
        Assert.Contains("<Code>AccessDenied</Code>", iamDenied.Body);
        // GetCallerIdentity needs no permission and an explicit deny does not stop it, on AWS as here.
        Assert.Equal($"arn:aws:sts::{lab.AccountId}:assumed-role/{role}/{id}", (await sts.GetCallerIdentityAsync(new GetCallerIdentityRequest())).Arn);

        // The instance's next read gets a session issued after the revocation, and it works.
        var fresh = await InstanceCredentials(lab, id);
        Assert.NotEqual((string)stolen["AccessKeyId"]!, (string)fresh["AccessKeyId"]!);
        using var freshEc2 = TestLab.Ec2(lab, Aws(fresh));
        Assert.NotEmpty((await freshEc2.DescribeInstancesAsync(new DescribeInstancesRequest())).Reservations);
        // Other roles' sessions are untouched.
        using var responder = TestLab.Sts(lab);
        var other = (await responder.AssumeRoleAsync(assume)).Credentials;
        using var otherEc2 = TestLab.Ec2(lab, new SessionAWSCredentials(other.AccessKeyId, other.SecretAccessKey, other.SessionToken));
        Assert.NotEmpty((await otherEc2.DescribeInstancesAsync(new DescribeInstancesRequest())).Reservations);

        // Deleting the deny lifts the revocation: the old keys work again.
        Assert.Equal(200, (await IamTests.Iam(admin, "DeleteRolePolicy", ("RoleName", role), ("PolicyName", RevokePolicyName))).Status);
        Assert.NotEmpty((await ec2.DescribeInstancesAsync(new DescribeInstancesRequest())).Reservations);
        Assert.Equal(200, (await s3.SendAsync("s3", HttpMethod.Get, "/", "", Array.Empty<byte>(), new Dictionary<string, string>())).Status);
    }

    [Fact]
    public async Task DenyStatements_ThatDoNotApply_RefuseNothing()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { Clock = clock });
        var role = lab.World.InvestigatedRoleName!;
        using var admin = new RawAwsClient(lab);
        // A revocation dated before the session was issued, a deny scoped to another service, and a condition on a key the Lab does not know.
        var put = await IamTests.Iam(admin, "PutRolePolicy", ("RoleName", role), ("PolicyName", "not-applicable"), ("PolicyDocument",
            """{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":" """.TrimEnd()
            + clock.GetUtcNow().AddMinutes(-1).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) + "\"}}}," + """{"Effect":"Deny","Action":"dynamodb:*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}]}"""));
        Assert.True(put.Status == 200, put.Body);
        var creds = await InstanceCredentials(lab, lab.World.InvestigatedInstanceId!);
        using var ec2 = TestLab.Ec2(lab, Aws(creds));
        Assert.NotEmpty((await ec2.DescribeInstancesAsync(new DescribeInstancesRequest())).Reservations);
        // A deny naming the action does refuse it.
        put = await IamTests.Iam(admin, "PutRolePolicy", ("RoleName", role), ("PolicyName", "no-describe"), ("PolicyDocument",
            """{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ec2:Describe*","Resource":"*"}}"""));
        Assert.True(put.Status == 200, put.Body);
        var denied = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeInstancesAsync(new DescribeInstancesRequest()));
        Assert.Equal("UnauthorizedOperation", denied.ErrorCode);
    }
}
