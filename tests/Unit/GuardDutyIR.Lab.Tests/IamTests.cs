using System.Xml.Linq;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Iam;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

/// <summary>IAM over the wire as a client sends it (awsQuery, signed for us-east-1 with service name iam).</summary>
public sealed class IamTests
{
    private static readonly XNamespace Ns = IamService.Ns;

    internal static Task<RawResponse> Iam(RawAwsClient c, string action, params (string, string)[] form) =>
        c.QueryAsync("iam", new[] { ("Action", action), ("Version", "2010-05-08") }.Concat(form).ToArray());

    private static XElement Result(RawResponse r, string action)
    {
        Assert.True(r.Status == 200, r.Body);
        var root = XDocument.Parse(r.Body).Root!;
        Assert.Equal(Ns + (action + "Response"), root.Name);
        return root.Element(Ns + (action + "Result"))!;
    }

    private static string ErrorCode(RawResponse r) => XDocument.Parse(r.Body).Root!.Element(Ns + "Error")!.Element(Ns + "Code")!.Value;

    [Fact]
    public async Task InstanceProfile_Role_AndPolicies_OfTheInvestigatedInstance()
    {
        await using var lab = await TestLab.StartAsync();
        using var c = new RawAwsClient(lab, region: "us-east-1");
        var w = lab.World;
        var inst = w.InvestigatedInstance!;
        var profileName = inst.InstanceProfileArn!.Split('/').Last();

        var profile = Result(await Iam(c, "GetInstanceProfile", ("InstanceProfileName", profileName)), "GetInstanceProfile").Element(Ns + "InstanceProfile")!;
        Assert.Equal(inst.InstanceProfileArn, profile.Element(Ns + "Arn")!.Value);
        Assert.Equal(inst.InstanceProfileId, profile.Element(Ns + "InstanceProfileId")!.Value);
        var role = profile.Element(Ns + "Roles")!.Element(Ns + "member")!;
        Assert.Equal(w.InvestigatedRoleName, role.Element(Ns + "RoleName")!.Value);
        Assert.Equal(w.InvestigatedRoleArn, role.Element(Ns + "Arn")!.Value);
        // Policy documents travel URL-encoded, as IAM sends them.
        Assert.StartsWith("%7B", role.Element(Ns + "AssumeRolePolicyDocument")!.Value);
        Assert.Contains("ec2.amazonaws.com", Uri.UnescapeDataString(role.Element(Ns + "AssumeRolePolicyDocument")!.Value));

        var getRole = Result(await Iam(c, "GetRole", ("RoleName", w.InvestigatedRoleName!)), "GetRole").Element(Ns + "Role")!;
        Assert.Equal(w.InvestigatedRoleId, getRole.Element(Ns + "RoleId")!.Value);

        var names = Result(await Iam(c, "ListRolePolicies", ("RoleName", w.InvestigatedRoleName!)), "ListRolePolicies")
            .Element(Ns + "PolicyNames")!.Elements(Ns + "member").Select(e => e.Value).ToList();
        Assert.Equal(new[] { "GuardDuty-Example-DynamoDB", "GuardDuty-Example-Parameters" }, names);
        var inline = Result(await Iam(c, "GetRolePolicy", ("RoleName", w.InvestigatedRoleName!), ("PolicyName", names[0])), "GetRolePolicy");
        Assert.Contains("dynamodb:*", Uri.UnescapeDataString(inline.Element(Ns + "PolicyDocument")!.Value));
        Assert.DoesNotContain("{", inline.Element(Ns + "PolicyDocument")!.Value);

        var attached = Result(await Iam(c, "ListAttachedRolePolicies", ("RoleName", w.InvestigatedRoleName!)), "ListAttachedRolePolicies")
            .Element(Ns + "AttachedPolicies")!.Elements(Ns + "member").Select(e => e.Element(Ns + "PolicyArn")!.Value).ToList();
        Assert.Contains(IamSeeder.SsmCorePolicyArn, attached);
        var s3Full = Assert.Single(attached, a => a.EndsWith(":policy/GuardDuty-Example-S3FullAccess", StringComparison.Ordinal));
        var policy = Result(await Iam(c, "GetPolicy", ("PolicyArn", s3Full)), "GetPolicy").Element(Ns + "Policy")!;
        Assert.Equal("1", policy.Element(Ns + "AttachmentCount")!.Value);
        var version = policy.Element(Ns + "DefaultVersionId")!.Value;
        var doc = Result(await Iam(c, "GetPolicyVersion", ("PolicyArn", s3Full), ("VersionId", version)), "GetPolicyVersion")
            .Element(Ns + "PolicyVersion")!.Element(Ns + "Document")!.Value;
        Assert.Equal("""{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}""", Uri.UnescapeDataString(doc));
        // The AWS managed policy is readable from any account.
        var ssm = Result(await Iam(c, "GetPolicy", ("PolicyArn", IamSeeder.SsmCorePolicyArn)), "GetPolicy").Element(Ns + "Policy")!;
        Assert.Equal("AmazonSSMManagedInstanceCore", ssm.Element(Ns + "PolicyName")!.Value);

        var profiles = Result(await Iam(c, "ListInstanceProfilesForRole", ("RoleName", w.InvestigatedRoleName!)), "ListInstanceProfilesForRole")
            .Element(Ns + "InstanceProfiles")!.Elements(Ns + "member").Select(e => e.Element(Ns + "Arn")!.Value).ToList();
        Assert.Equal(new[] { inst.InstanceProfileArn }, profiles);
    }

    [Fact]
    public async Task EveryScenarioInstanceWithAProfile_HasItsProfileAndRoleInIam()
    {
        await using var lab = await TestLab.StartAsync();
        using var c = new RawAwsClient(lab);
        var withProfile = lab.World.InstancesIn(lab.AccountId).Where(i => i.InstanceProfileArn is not null).ToList();
        Assert.True(withProfile.Count >= 3);
        foreach (var i in withProfile)
        {
            var p = Result(await Iam(c, "GetInstanceProfile", ("InstanceProfileName", i.InstanceProfileArn!.Split('/').Last())), "GetInstanceProfile");
            Assert.Equal(i.IamRoleName, p.Descendants(Ns + "RoleName").Single().Value);
        }
    }

    [Fact]
    public async Task PutAndDeleteRolePolicy_RoundTrip_AndErrorsInIamsShape()
    {
        await using var lab = await TestLab.StartAsync();
        using var c = new RawAwsClient(lab);
        var role = lab.World.InvestigatedRoleName!;
        const string deny = """{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2030-01-01T00:00:00Z"}}}]}""";
        var put = await Iam(c, "PutRolePolicy", ("RoleName", role), ("PolicyName", "AWSRevokeOlderSessions"), ("PolicyDocument", deny));
        Assert.True(put.Status == 200, put.Body);
        Assert.Equal(Ns + "PutRolePolicyResponse", XDocument.Parse(put.Body).Root!.Name);
        var got = Result(await Iam(c, "GetRolePolicy", ("RoleName", role), ("PolicyName", "AWSRevokeOlderSessions")), "GetRolePolicy");
        Assert.Equal(deny, Uri.UnescapeDataString(got.Element(Ns + "PolicyDocument")!.Value));

        Assert.Equal(200, (await Iam(c, "DeleteRolePolicy", ("RoleName", role), ("PolicyName", "AWSRevokeOlderSessions"))).Status);
        var gone = await Iam(c, "GetRolePolicy", ("RoleName", role), ("PolicyName", "AWSRevokeOlderSessions"));
        Assert.Equal(404, gone.Status);
        Assert.Equal("NoSuchEntity", ErrorCode(gone));
        var again = await Iam(c, "DeleteRolePolicy", ("RoleName", role), ("PolicyName", "AWSRevokeOlderSessions"));
        Assert.Equal((404, "NoSuchEntity"), (again.Status, ErrorCode(again)));

        var noRole = await Iam(c, "GetRole", ("RoleName", "no-such-role"));
        Assert.Equal((404, "NoSuchEntity"), (noRole.Status, ErrorCode(noRole)));
        Assert.Contains("The role with name no-such-role cannot be found.", noRole.Body);
        var noProfile = await Iam(c, "GetInstanceProfile", ("InstanceProfileName", "nope"));
        Assert.Equal((404, "NoSuchEntity"), (noProfile.Status, ErrorCode(noProfile)));
        var badArn = await Iam(c, "GetPolicy", ("PolicyArn", "arn:aws:s3:::not-a-policy"));
        Assert.Equal((400, "InvalidInput"), (badArn.Status, ErrorCode(badArn)));
        var missing = await Iam(c, "GetRolePolicy", ("RoleName", role));
        Assert.Equal((400, "ValidationError"), (missing.Status, ErrorCode(missing)));

        foreach (var bad in new[] { "not json", """{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}""",
                     """{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*"}]}""",
                     """{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}""" })
        {
            var r = await Iam(c, "PutRolePolicy", ("RoleName", role), ("PolicyName", "bad"), ("PolicyDocument", bad));
            Assert.True((400, "MalformedPolicyDocument") == (r.Status, ErrorCode(r)), bad + " → " + r.Body);
        }
        Assert.Equal(2, lab.GetService<IamService>()!.InlinePolicies(lab.AccountId, role).Count);
    }

    [Fact]
    public async Task InlinePolicies_AreLimitedTo10240NonWhitespaceCharactersPerRole()
    {
        await using var lab = await TestLab.StartAsync();
        using var c = new RawAwsClient(lab);
        var role = lab.World.InvestigatedRoleName!;
        var iam = lab.GetService<IamService>()!;
        int existing = iam.InlinePolicies(lab.AccountId, role).Values.Sum(d => d.Count(ch => !char.IsWhiteSpace(ch)));
        static string Doc(int padTo)
        {
            const string head = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"";
            const string tail = "\",\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}";
            return head + new string('A', padTo - head.Length - tail.Length) + tail;
        }
        var exactly = Doc(IamService.RoleInlinePolicyQuota - existing);
        Assert.Equal(IamService.RoleInlinePolicyQuota - existing, exactly.Count(ch => !char.IsWhiteSpace(ch)));
        // Whitespace does not count: the same document pretty-printed still fits.
        var spaced = exactly.Replace(",", ",\n    ");
        Assert.Equal(200, (await Iam(c, "PutRolePolicy", ("RoleName", role), ("PolicyName", "big"), ("PolicyDocument", spaced))).Status);
        var over = await Iam(c, "PutRolePolicy", ("RoleName", role), ("PolicyName", "one-more"),
            ("PolicyDocument", """{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"""));
        Assert.Equal((409, "LimitExceeded"), (over.Status, ErrorCode(over)));
        Assert.Contains($"Maximum policy size of 10240 bytes exceeded for role {role}", over.Body);
        // Replacing a policy counts its new size, not both.
        Assert.Equal(200, (await Iam(c, "PutRolePolicy", ("RoleName", role), ("PolicyName", "big"), ("PolicyDocument", exactly))).Status);
        var oneTooMany = Doc(IamService.RoleInlinePolicyQuota - existing + 1);
        Assert.Equal(409, (await Iam(c, "PutRolePolicy", ("RoleName", role), ("PolicyName", "big"), ("PolicyDocument", oneTooMany))).Status);
    }

    [Fact]
    public async Task IamIsGlobal_RolesAreThoseOfTheSigningAccount()
    {
        await using var lab = await TestLab.StartAsync();
        using var member = new RawAwsClient(lab, lab.Credentials.Member.AccessKeyId, lab.Credentials.Member.SecretAccessKey);
        var r = await Iam(member, "GetRole", ("RoleName", lab.World.InvestigatedRoleName!));
        Assert.Equal((404, "NoSuchEntity"), (r.Status, ErrorCode(r)));
    }
}
