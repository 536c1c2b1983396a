using System.Text.RegularExpressions;
using Amazon.Runtime.Endpoints;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>The engine's own IAM client against a stub: query requests, XML answers, URL-encoded documents, paging, errors.</summary>
public sealed class IamClientTests : IDisposable
{
    private readonly WireStub _stub = new();
    public void Dispose() => _stub.Dispose();
    private AwsSession Session() => StubSessions.For(_stub);

    internal static StubResponse Xml(string operation, string resultBody, string requestId = "iam-req-1") => new(200,
        $"<{operation}Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><{operation}Result>{resultBody}</{operation}Result>"
        + $"<ResponseMetadata><RequestId>{requestId}</RequestId></ResponseMetadata></{operation}Response>",
        new() { ["Content-Type"] = "text/xml", ["x-amzn-RequestId"] = requestId });

    internal static StubResponse Empty(string operation, string requestId) => new(200,
        $"<{operation}Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata><RequestId>{requestId}</RequestId></ResponseMetadata></{operation}Response>",
        new() { ["Content-Type"] = "text/xml", ["x-amzn-RequestId"] = requestId });

    internal static StubResponse Error(int status, string code, string message, string requestId = "iam-err-1") => new(status,
        $"<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{requestId}</RequestId></ErrorResponse>",
        new() { ["Content-Type"] = "text/xml", ["x-amzn-RequestId"] = requestId });

    internal static string ProfileXml(string name, string roleName, string account = "123456789012") =>
        $"<InstanceProfileName>{name}</InstanceProfileName><InstanceProfileId>AIPAEXAMPLE</InstanceProfileId><Path>/</Path>"
        + $"<Arn>arn:aws:iam::{account}:instance-profile/{name}</Arn>"
        + $"<Roles><member><RoleName>{roleName}</RoleName><RoleId>AROAEXAMPLE</RoleId><Path>/</Path><Arn>arn:aws:iam::{account}:role/{roleName}</Arn>"
        + "<AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument></member></Roles>";

    [Fact]
    public async Task GetInstanceProfile_sends_a_signed_query_form_for_us_east_1_and_reads_the_role()
    {
        _stub.Enqueue(Xml("GetInstanceProfile", $"<InstanceProfile>{ProfileXml("web-profile", "web-role")}</InstanceProfile>"));
        using var session = Session();

        var profile = await session.Iam("eu-west-1").GetInstanceProfileAsync("web-profile", CancellationToken.None);

        Assert.Equal("arn:aws:iam::123456789012:instance-profile/web-profile", profile.Arn);
        var role = Assert.Single(profile.Roles);
        Assert.Equal(("web-role", "arn:aws:iam::123456789012:role/web-role"), (role.RoleName, role.Arn));
        var request = _stub.Single();
        Assert.Equal("POST", request.Method);
        Assert.StartsWith("application/x-www-form-urlencoded", request.Header("Content-Type"));
        Assert.Equal("Action=GetInstanceProfile&Version=2010-05-08&InstanceProfileName=web-profile", request.BodyText);
        // Global service: signed for us-east-1 even when the caller works in eu-west-1.
        Assert.Matches(new Regex(@"^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/us-east-1/iam/aws4_request, "), request.Header("Authorization"));
    }

    [Fact]
    public async Task Policy_documents_are_url_decoded_and_a_plus_stays_a_plus()
    {
        const string encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Aa+b%2F*%22%7D%5D%7D";
        _stub.Enqueue(
            Xml("GetRolePolicy", $"<RoleName>r</RoleName><PolicyName>p</PolicyName><PolicyDocument>{encoded}</PolicyDocument>"),
            Xml("GetPolicy", "<Policy><PolicyName>m</PolicyName><Arn>arn:aws:iam::aws:policy/m</Arn><DefaultVersionId>v3</DefaultVersionId><AttachmentCount>2</AttachmentCount></Policy>"),
            Xml("GetPolicyVersion", $"<PolicyVersion><Document>{encoded}</Document><VersionId>v3</VersionId><IsDefaultVersion>true</IsDefaultVersion></PolicyVersion>"));
        using var session = Session();
        var iam = session.Iam();

        var inline = await iam.GetRolePolicyAsync("r", "p", CancellationToken.None);
        var managed = await iam.GetDefaultPolicyDocumentAsync("arn:aws:iam::aws:policy/m", CancellationToken.None);

        const string expected = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::a+b/*\"}]}";
        Assert.Equal(expected, inline);
        Assert.Equal(expected, managed);
        var bodies = _stub.Requests.Select(r => r.BodyText).ToList();
        Assert.Equal("Action=GetRolePolicy&Version=2010-05-08&RoleName=r&PolicyName=p", bodies[0]);
        Assert.Equal("Action=GetPolicy&Version=2010-05-08&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2Fm", bodies[1]);
        Assert.Equal("Action=GetPolicyVersion&Version=2010-05-08&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2Fm&VersionId=v3", bodies[2]);
    }

    [Fact]
    public async Task Lists_follow_Marker_while_IsTruncated()
    {
        _stub.Enqueue(
            Xml("ListRolePolicies", "<PolicyNames><member>a</member><member>b</member></PolicyNames><IsTruncated>true</IsTruncated><Marker>m/1+=</Marker>"),
            Xml("ListRolePolicies", "<PolicyNames><member>c</member></PolicyNames><IsTruncated>false</IsTruncated>"),
            Xml("ListAttachedRolePolicies", "<AttachedPolicies><member><PolicyName>ReadOnly</PolicyName><PolicyArn>arn:aws:iam::aws:policy/ReadOnlyAccess</PolicyArn></member></AttachedPolicies><IsTruncated>false</IsTruncated>"),
            Xml("ListInstanceProfilesForRole", $"<InstanceProfiles><member>{ProfileXml("p1", "r")}</member></InstanceProfiles><IsTruncated>true</IsTruncated><Marker>n2</Marker>"),
            Xml("ListInstanceProfilesForRole", $"<InstanceProfiles><member>{ProfileXml("p2", "r")}</member></InstanceProfiles><IsTruncated>false</IsTruncated>"));
        using var session = Session();
        var iam = session.Iam();

        Assert.Equal(new[] { "a", "b", "c" }, await iam.ListRolePoliciesAsync("r", CancellationToken.None));
        Assert.Equal(new[] { new IamAttachedPolicy("ReadOnly", "arn:aws:iam::aws:policy/ReadOnlyAccess") }, await iam.ListAttachedRolePoliciesAsync("r", CancellationToken.None));
        Assert.Equal(new[] { "p1", "p2" }, (await iam.ListInstanceProfilesForRoleAsync("r", CancellationToken.None)).Select(p => p.InstanceProfileName));

        var bodies = _stub.Requests.Select(r => r.BodyText).ToList();
        Assert.Equal("Action=ListRolePolicies&Version=2010-05-08&RoleName=r", bodies[0]);
        Assert.Equal("Action=ListRolePolicies&Version=2010-05-08&RoleName=r&Marker=m%2F1%2B%3D", bodies[1]);
        Assert.Equal("Action=ListInstanceProfilesForRole&Version=2010-05-08&RoleName=r&Marker=n2", bodies[4]);
    }

    [Fact]
    public async Task Put_and_Delete_send_the_document_form_encoded_and_return_request_ids()
    {
        _stub.Enqueue(Empty("PutRolePolicy", "put-1"), Empty("DeleteRolePolicy", "del-1"));
        using var session = Session();
        var iam = session.Iam();

        Assert.Equal("put-1", await iam.PutRolePolicyAsync("r", "p", "{\"a\": \"b&c\"}", CancellationToken.None));
        Assert.Equal("del-1", await iam.DeleteRolePolicyAsync("r", "p", CancellationToken.None));
        var bodies = _stub.Requests.Select(r => r.BodyText).ToList();
        Assert.Equal("Action=PutRolePolicy&Version=2010-05-08&RoleName=r&PolicyName=p&PolicyDocument=%7B%22a%22%3A%20%22b%26c%22%7D", bodies[0]);
        Assert.Equal("Action=DeleteRolePolicy&Version=2010-05-08&RoleName=r&PolicyName=p", bodies[1]);
    }

    [Theory]
    [InlineData(404, "NoSuchEntity", ErrorKind.ObjectNotFound)]
    [InlineData(409, "LimitExceeded", ErrorKind.LimitsExceeded)]
    [InlineData(400, "MalformedPolicyDocument", ErrorKind.InvalidArgument)]
    [InlineData(400, "UnmodifiableEntity", ErrorKind.InvalidOperation)]
    [InlineData(403, "AccessDenied", ErrorKind.PermissionDenied)]
    public async Task Errors_keep_IAMs_code_request_id_and_map_to_a_kind(int status, string code, ErrorKind kind)
    {
        _stub.Enqueue(Error(status, code, "The role with name gone cannot be found.", "err-7"));
        using var session = Session();

        var error = await Assert.ThrowsAsync<AwsServiceException>(() => session.Iam().GetRoleAsync("gone", CancellationToken.None));

        Assert.Equal(code, error.ErrorCode);
        Assert.Equal("IAM." + code, error.ErrorId);
        Assert.Equal("err-7", error.RequestId);
        Assert.Equal(kind, error.Kind);
        Assert.Equal("The role with name gone cannot be found.", error.ServiceMessage);
    }

    [Theory]
    [InlineData("us-east-1", "us-east-1", "https://iam.amazonaws.com")]
    [InlineData("ap-southeast-2", "us-east-1", "https://iam.amazonaws.com")]
    [InlineData("cn-northwest-1", "cn-north-1", "https://iam.cn-north-1.amazonaws.com.cn")]
    [InlineData("us-gov-east-1", "us-gov-west-1", "https://iam.us-gov.amazonaws.com")]
    public void The_global_endpoint_and_signing_region_follow_the_partition(string region, string signing, string endpoint)
    {
        Assert.Equal(signing, IamClient.SigningRegionFor(region));
        var parameters = new EndpointParameters();
        parameters["Region"] = signing;
        parameters["Endpoint"] = null;
        Assert.Equal(endpoint, new AwsProtocolEndpointProvider(AwsServiceDescriptor.Iam).ResolveEndpoint(parameters).URL);
        // Regional services are unchanged.
        parameters["Region"] = region;
        Assert.Equal($"https://sns.{region}.amazonaws.com{(region.StartsWith("cn-") ? ".cn" : "")}",
            new AwsProtocolEndpointProvider(AwsServiceDescriptor.Sns).ResolveEndpoint(parameters).URL);
    }

    [Fact]
    public async Task Ssm_DescribeInstanceInformation_filters_by_instance_and_reads_the_ping_status()
    {
        _stub.Enqueue(
            new StubResponse(200, "{\"InstanceInformationList\":[{\"InstanceId\":\"i-0abc\",\"PingStatus\":\"Online\",\"AgentVersion\":\"3.3.0\",\"PlatformName\":\"Amazon Linux\",\"LastPingDateTime\":1.7E9}]}",
                new() { ["Content-Type"] = "application/x-amz-json-1.1" }),
            new StubResponse(200, "{\"InstanceInformationList\":[]}", new() { ["Content-Type"] = "application/x-amz-json-1.1" }));
        using var session = Session();

        var managed = await session.Ssm().DescribeInstanceAsync("i-0abc", CancellationToken.None);
        var unmanaged = await session.Ssm().DescribeInstanceAsync("i-0def", CancellationToken.None);

        Assert.Equal("Online", managed!.PingStatus);
        Assert.Equal(new DateTime(2023, 11, 14, 22, 13, 20, DateTimeKind.Utc), managed.LastPing);
        Assert.Null(unmanaged);
        var request = _stub.Requests.First();
        Assert.Equal("AmazonSSM.DescribeInstanceInformation", request.Header("X-Amz-Target"));
        Assert.Equal("{\"Filters\":[{\"Key\":\"InstanceIds\",\"Values\":[\"i-0abc\"]}]}", request.BodyText);
    }
}
