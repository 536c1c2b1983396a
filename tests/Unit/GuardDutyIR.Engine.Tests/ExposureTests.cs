using System.Text.RegularExpressions;
using GuardDutyIR.Engine.Credentials;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>The exposure checks as a table over collected facts, and the collector against stubbed EC2, SSM and IAM.</summary>
public sealed class ExposureTests
{
    private const string Id = "i-0123456789abcdef0";

    private static ExposureFacts Safe() => new()
    {
        InstanceId = Id, HttpTokens = "required", HopLimit = 1, SsmPingStatus = "Online",
    };

    private static ExposureLevel Level(ExposureFacts f, string check) => ExposureRules.Evaluate(f).Single(c => c.Check == check).Level;

    public static IEnumerable<object[]> Cases() => new (string Name, Func<ExposureFacts, ExposureFacts> Change, string Check, ExposureLevel Expected)[]
    {
        ("IMDSv2 only", f => f, "IMDSv1", ExposureLevel.Pass),
        ("IMDSv1 allowed", f => f with { HttpTokens = "optional" }, "IMDSv1", ExposureLevel.Fail),
        ("tokens unknown counts as optional", f => f with { HttpTokens = null }, "IMDSv1", ExposureLevel.Fail),
        ("metadata service off", f => f with { HttpTokens = "optional", HttpEndpoint = "disabled" }, "IMDSv1", ExposureLevel.Pass),
        ("hop limit 1", f => f, "IMDS hop limit", ExposureLevel.Pass),
        ("hop limit 2", f => f with { HopLimit = 2 }, "IMDS hop limit", ExposureLevel.Warn),
        ("private only", f => f, "Public address", ExposureLevel.Pass),
        ("public IP", f => f with { PublicIp = "198.51.100.7" }, "Public address", ExposureLevel.Warn),
        ("Elastic IP", f => f with { ElasticIps = new[] { "203.0.113.9" } }, "Public address", ExposureLevel.Warn),
        ("SSH from the world", f => f with { Ingress = new[] { new IngressRule("sg-1", "tcp", 22, 22, "0.0.0.0/0") } }, "Admin port open to the internet", ExposureLevel.Fail),
        ("RDP inside a range, IPv6", f => f with { Ingress = new[] { new IngressRule("sg-1", "tcp", 3000, 4000, "::/0") } }, "Admin port open to the internet", ExposureLevel.Fail),
        ("all traffic", f => f with { Ingress = new[] { new IngressRule("sg-1", "-1", null, null, "0.0.0.0/0") } }, "Admin port open to the internet", ExposureLevel.Fail),
        ("HTTPS from the world", f => f with { Ingress = new[] { new IngressRule("sg-1", "tcp", 443, 443, "0.0.0.0/0") } }, "Port open to the internet", ExposureLevel.Warn),
        ("SSH from a private range", f => f with { Ingress = new[] { new IngressRule("sg-1", "tcp", 22, 22, "10.0.0.0/8") } }, "Port open to the internet", ExposureLevel.Pass),
        ("no key pair", f => f, "Key pair", ExposureLevel.Pass),
        ("key pair", f => f with { KeyName = "ops" }, "Key pair", ExposureLevel.Warn),
        ("SSM online", f => f, "SSM managed", ExposureLevel.Pass),
        ("SSM connection lost", f => f with { SsmPingStatus = "ConnectionLost" }, "SSM managed", ExposureLevel.Warn),
        ("not managed", f => f with { SsmPingStatus = null }, "SSM managed", ExposureLevel.Warn),
        ("SSM unknown", f => f with { SsmError = "AccessDenied" }, "SSM managed", ExposureLevel.Warn),
        ("no role", f => f, "Role policy", ExposureLevel.Pass),
        ("admin role", f => f with { RoleArn = "arn:aws:iam::1:role/r", RolePolicies = new[] { new RolePolicy("Admin", "Managed", "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}") } }, "Role policy", ExposureLevel.Fail),
        ("s3:* on *", f => f with { RoleArn = "arn:aws:iam::1:role/r", RolePolicies = new[] { new RolePolicy("p", "Inline", "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":[\"s3:*\"],\"Resource\":[\"*\"]}}") } }, "Role policy", ExposureLevel.Fail),
        ("s3:* on one bucket", f => f with { RoleArn = "arn:aws:iam::1:role/r", RolePolicies = new[] { new RolePolicy("p", "Inline", "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::b/*\"}}") } }, "Role policy", ExposureLevel.Warn),
        ("s3:Get* on *", f => f with { RoleArn = "arn:aws:iam::1:role/r", RolePolicies = new[] { new RolePolicy("p", "Inline", "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:Get*\",\"Resource\":\"*\"}}") } }, "Role policy", ExposureLevel.Warn),
        ("NotAction", f => f with { RoleArn = "arn:aws:iam::1:role/r", RolePolicies = new[] { new RolePolicy("p", "Inline", "{\"Statement\":{\"Effect\":\"Allow\",\"NotAction\":\"iam:*\",\"Resource\":\"arn:aws:s3:::b\"}}") } }, "Role policy", ExposureLevel.Warn),
        ("deny * is not a grant", f => f with { RoleArn = "arn:aws:iam::1:role/r", RolePolicies = new[] { new RolePolicy("p", "Inline", RoleSessionRevoker.Document(DateTime.UtcNow)) } }, "Role policy", ExposureLevel.Pass),
        ("exact grant", f => f with { RoleArn = "arn:aws:iam::1:role/r", RolePolicies = new[] { new RolePolicy("p", "Inline", "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/k\"}}") } }, "Role policy", ExposureLevel.Pass),
        ("role unreadable", f => f with { RoleArn = "arn:aws:iam::1:role/r", RoleError = "AccessDenied" }, "Role policy", ExposureLevel.Warn),
        ("no user data", f => f, "User data", ExposureLevel.Pass),
        ("user data", f => f with { UserData = true }, "User data", ExposureLevel.Warn),
    }.Select(c => new object[] { c.Name, c.Change, c.Check, c.Expected });

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_check_gives_its_verdict(string name, Func<ExposureFacts, ExposureFacts> change, string check, ExposureLevel expected)
    {
        Assert.True(expected == Level(change(Safe()), check), name);
    }

    [Fact]
    public void A_safe_instance_passes_every_check_one_line_each()
    {
        var checks = ExposureRules.Evaluate(Safe());
        Assert.All(checks, c => Assert.Equal(ExposureLevel.Pass, c.Level));
        Assert.Equal(new[] { "IMDSv1", "IMDS hop limit", "Public address", "Port open to the internet", "Key pair", "SSM managed", "Role policy", "User data" },
            checks.Select(c => c.Check));
    }

    [Fact]
    public void Admin_ports_come_before_other_open_ports_with_the_rule_as_evidence()
    {
        var checks = ExposureRules.Evaluate(Safe() with
        {
            Ingress = new[] { new IngressRule("sg-web", "tcp", 443, 443, "0.0.0.0/0"), new IngressRule("sg-adm", "tcp", 5985, 5986, "::/0") },
        });
        var open = checks.Where(c => c.Check.Contains("open to the internet")).ToList();
        Assert.Equal(new[] { "FAIL Admin port open to the internet sg-adm: tcp 5985-5986 from ::/0", "WARN Port open to the internet sg-web: tcp 443 from 0.0.0.0/0" },
            open.Select(c => c.ToString()));
    }

    [Fact]
    public void An_Elastic_IP_that_is_the_public_IP_is_named_once()
    {
        var check = ExposureRules.Evaluate(Safe() with { PublicIp = "203.0.113.9", ElasticIps = new[] { "203.0.113.9" } }).Single(c => c.Check == "Public address");
        Assert.Equal("Elastic IP 203.0.113.9", check.Evidence);
    }

    [Fact]
    public async Task The_collector_reads_EC2_SSM_and_the_roles_policies()
    {
        using var stub = new WireStub();
        const string ns = "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"";
        const string profile = "arn:aws:iam::123456789012:instance-profile/web-profile";
        static StubResponse Xml(string body) => new(200, body, new() { ["Content-Type"] = "text/xml" });
        stub.Responder = r =>
        {
            if (r.Header("X-Amz-Target") == "AmazonSSM.DescribeInstanceInformation")
                return new StubResponse(400, "{\"__type\":\"AccessDeniedException\",\"message\":\"no ssm\"}", new() { ["Content-Type"] = "application/x-amz-json-1.1" });
            var action = Regex.Match(r.BodyText, "Action=([A-Za-z]+)").Groups[1].Value;
            return action switch
            {
                "DescribeInstances" => Xml($"<DescribeInstancesResponse {ns}><requestId>1</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet><item>"
                    + $"<instanceId>{Id}</instanceId><keyName>ops</keyName><ipAddress>198.51.100.7</ipAddress><instanceState><code>16</code><name>running</name></instanceState>"
                    + $"<iamInstanceProfile><arn>{profile}</arn><id>AIPA</id></iamInstanceProfile>"
                    + "<groupSet><item><groupId>sg-0aaa</groupId><groupName>web</groupName></item></groupSet>"
                    + "<metadataOptions><state>applied</state><httpTokens>optional</httpTokens><httpPutResponseHopLimit>2</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint></metadataOptions>"
                    + "</item></instancesSet></item></reservationSet></DescribeInstancesResponse>"),
                "DescribeIamInstanceProfileAssociations" => Xml($"<DescribeIamInstanceProfileAssociationsResponse {ns}><iamInstanceProfileAssociationSet/></DescribeIamInstanceProfileAssociationsResponse>"),
                "DescribeSecurityGroups" => Xml($"<DescribeSecurityGroupsResponse {ns}><securityGroupInfo><item><groupId>sg-0aaa</groupId><groupName>web</groupName><ipPermissions>"
                    + "<item><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item>"
                    + "</ipPermissions></item></securityGroupInfo></DescribeSecurityGroupsResponse>"),
                "DescribeInstanceAttribute" => Xml($"<DescribeInstanceAttributeResponse {ns}><instanceId>{Id}</instanceId><userData><value>IyEvYmluL2Jhc2g=</value></userData></DescribeInstanceAttributeResponse>"),
                "GetInstanceProfile" => IamClientTests.Xml("GetInstanceProfile", $"<InstanceProfile>{IamClientTests.ProfileXml("web-profile", "web-role")}</InstanceProfile>"),
                "ListAttachedRolePolicies" => IamClientTests.Xml("ListAttachedRolePolicies", "<AttachedPolicies><member><PolicyName>S3Full</PolicyName><PolicyArn>arn:aws:iam::aws:policy/AmazonS3FullAccess</PolicyArn></member></AttachedPolicies><IsTruncated>false</IsTruncated>"),
                "GetPolicy" => IamClientTests.Xml("GetPolicy", "<Policy><PolicyName>S3Full</PolicyName><Arn>arn:aws:iam::aws:policy/AmazonS3FullAccess</Arn><DefaultVersionId>v2</DefaultVersionId></Policy>"),
                "GetPolicyVersion" => IamClientTests.Xml("GetPolicyVersion", "<PolicyVersion><Document>" + Uri.EscapeDataString("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}") + "</Document></PolicyVersion>"),
                "ListRolePolicies" => IamClientTests.Xml("ListRolePolicies", "<PolicyNames/><IsTruncated>false</IsTruncated>"),
                _ => null,
            };
        };
        using var session = StubSessions.For(stub);

        var exposure = await new ExposureCollector(session).InspectAsync(Id, null, "IR-13", null, CancellationToken.None);

        Assert.Equal("arn:aws:iam::123456789012:role/web-role", exposure.RoleArn);
        var byCheck = exposure.Checks.ToDictionary(c => c.Check + " " + c.Target, c => c.Level);
        Assert.Equal(ExposureLevel.Fail, byCheck[$"IMDSv1 {Id}"]);
        Assert.Equal(ExposureLevel.Warn, byCheck[$"IMDS hop limit {Id}"]);
        Assert.Equal(ExposureLevel.Warn, byCheck[$"Public address {Id}"]);
        Assert.Equal(ExposureLevel.Fail, byCheck["Admin port open to the internet sg-0aaa"]);
        Assert.Equal(ExposureLevel.Warn, byCheck[$"Key pair {Id}"]);
        Assert.Equal(ExposureLevel.Fail, byCheck["Role policy Managed S3Full"]);
        Assert.Equal(ExposureLevel.Warn, byCheck[$"User data {Id}"]);
        var ssm = exposure.Checks.Single(c => c.Check == "SSM managed");
        Assert.Equal(ExposureLevel.Warn, ssm.Level);
        Assert.StartsWith("Unknown:", ssm.Evidence);
        Assert.Equal(ExposureLevel.Fail, exposure.Level);
    }
}
