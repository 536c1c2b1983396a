using System.Net;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Amazon.SecurityToken;
using Amazon.SecurityToken.Model;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

public sealed class StsTests
{
    [Fact]
    public async Task GetCallerIdentity_ReturnsTheSigningUser()
    {
        await using var lab = await TestLab.StartAsync();
        using var sts = TestLab.Sts(lab);
        var id = await sts.GetCallerIdentityAsync(new GetCallerIdentityRequest());
        Assert.Equal(lab.AccountId, id.Account);
        Assert.Equal($"arn:aws:iam::{lab.AccountId}:user/lab-admin", id.Arn);
        Assert.StartsWith("AIDA", id.UserId);
    }

    [Fact]
    public async Task AssumeRole_CrossAccount_TempCredsActInMemberAccount()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { Clock = clock });
        using var sts = TestLab.Sts(lab);
        var roleArn = $"arn:aws:iam::{lab.MemberAccountId}:role/{LabCredentialStore.AuditorRoleName}";
        var resp = await sts.AssumeRoleAsync(new AssumeRoleRequest { RoleArn = roleArn, RoleSessionName = "ir-case-42", DurationSeconds = 900 });
        Assert.StartsWith("ASIA", resp.Credentials.AccessKeyId);
        Assert.False(string.IsNullOrEmpty(resp.Credentials.SessionToken));
        Assert.Equal($"arn:aws:sts::{lab.MemberAccountId}:assumed-role/{LabCredentialStore.AuditorRoleName}/ir-case-42", resp.AssumedRoleUser.Arn);
        Assert.EndsWith(":ir-case-42", resp.AssumedRoleUser.AssumedRoleId);
        Assert.Equal(TestClock.Start.AddSeconds(900).UtcDateTime, resp.Credentials.Expiration!.Value.ToUniversalTime());

        var temp = new SessionAWSCredentials(resp.Credentials.AccessKeyId, resp.Credentials.SecretAccessKey, resp.Credentials.SessionToken);
        using var sts2 = TestLab.Sts(lab, temp);
        var who = await sts2.GetCallerIdentityAsync(new GetCallerIdentityRequest());
        Assert.Equal(lab.MemberAccountId, who.Account);
        Assert.Equal(resp.AssumedRoleUser.Arn, who.Arn);
        Assert.Equal(resp.AssumedRoleUser.AssumedRoleId, who.UserId);

        using var ec2 = TestLab.Ec2(lab, temp);
        var instances = (await ec2.DescribeInstancesAsync(new DescribeInstancesRequest())).Reservations.SelectMany(r => r.Instances).ToList();
        var member = Assert.Single(instances);
        Assert.Equal(lab.World.InstancesIn(lab.MemberAccountId).Single().InstanceId, member.InstanceId);
        // The main account's instances are invisible from the member account.
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { lab.World.CompromisedInstanceId! } }));
        Assert.Equal("InvalidInstanceID.NotFound", ex.ErrorCode);

        // The session ends when the Lab's clock reaches its expiration, not a moment before.
        clock.Advance(TimeSpan.FromSeconds(899));
        Assert.Equal(lab.MemberAccountId, (await sts2.GetCallerIdentityAsync(new GetCallerIdentityRequest())).Account);
        clock.Advance(TimeSpan.FromSeconds(1));
        var expired = await Assert.ThrowsAnyAsync<AmazonSecurityTokenServiceException>(() => sts2.GetCallerIdentityAsync(new GetCallerIdentityRequest()));
        Assert.Equal("ExpiredToken", expired.ErrorCode);
    }

    [Fact]
    public async Task AssumeRole_ExternalId_IsEnforced()
    {
        await using var lab = await TestLab.StartAsync();
        using var sts = TestLab.Sts(lab);
        var roleArn = $"arn:aws:iam::{lab.MemberAccountId}:role/{LabCredentialStore.ResponderRoleName}";
        var denied = await Assert.ThrowsAnyAsync<AmazonSecurityTokenServiceException>(() => sts.AssumeRoleAsync(new AssumeRoleRequest { RoleArn = roleArn, RoleSessionName = "s1" }));
        Assert.Equal("AccessDenied", denied.ErrorCode);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        var wrong = await Assert.ThrowsAnyAsync<AmazonSecurityTokenServiceException>(() => sts.AssumeRoleAsync(new AssumeRoleRequest { RoleArn = roleArn, RoleSessionName = "s1", ExternalId = "nope-nope" }));
        Assert.Equal("AccessDenied", wrong.ErrorCode);
        var ok = await sts.AssumeRoleAsync(new AssumeRoleRequest { RoleArn = roleArn, RoleSessionName = "s1", ExternalId = LabCredentialStore.ResponderExternalId });
        Assert.StartsWith("ASIA", ok.Credentials.AccessKeyId);
    }

    [Theory]
    [InlineData("arn:aws:iam::999999999999:role/GuardDutyIR-Responder", "s1", null, "AccessDenied")]
    [InlineData("MEMBER:role/NoSuchRole", "s1", null, "AccessDenied")]
    [InlineData("MEMBER:role/GuardDutyIR-Auditor", "bad session!", null, "ValidationError")]
    [InlineData("MEMBER:role/GuardDutyIR-Auditor", "s1", 899, "ValidationError")]
    [InlineData("MEMBER:role/GuardDutyIR-Auditor", "s1", 43201, "ValidationError")]
    public async Task AssumeRole_Rejects(string roleArn, string session, int? duration, string code)
    {
        await using var lab = await TestLab.StartAsync();
        using var sts = TestLab.Sts(lab);
        roleArn = roleArn.Replace("MEMBER:", $"arn:aws:iam::{lab.MemberAccountId}:");
        var ex = await Assert.ThrowsAnyAsync<AmazonSecurityTokenServiceException>(() =>
            sts.AssumeRoleAsync(new AssumeRoleRequest { RoleArn = roleArn, RoleSessionName = session, DurationSeconds = duration }));
        Assert.Equal(code, ex.ErrorCode);
    }

    [Fact]
    public async Task TempCreds_WithoutOrWithWrongToken_AreRejected()
    {
        await using var lab = await TestLab.StartAsync();
        using var sts = TestLab.Sts(lab);
        var resp = await sts.AssumeRoleAsync(new AssumeRoleRequest { RoleArn = $"arn:aws:iam::{lab.MemberAccountId}:role/{LabCredentialStore.AuditorRoleName}", RoleSessionName = "tt" });
        using var noToken = TestLab.Ec2(lab, new BasicAWSCredentials(resp.Credentials.AccessKeyId, resp.Credentials.SecretAccessKey));
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => noToken.DescribeRegionsAsync(new DescribeRegionsRequest()));
        Assert.Equal("AuthFailure", ex.ErrorCode);
        using var badToken = TestLab.Sts(lab, new SessionAWSCredentials(resp.Credentials.AccessKeyId, resp.Credentials.SecretAccessKey, "forged"));
        var ex2 = await Assert.ThrowsAnyAsync<AmazonSecurityTokenServiceException>(() => badToken.GetCallerIdentityAsync(new GetCallerIdentityRequest()));
        Assert.Equal("InvalidClientTokenId", ex2.ErrorCode);
    }

    [Fact]
    public async Task RoleChaining_IsCappedAtOneHour_AndScenarioRolesAreAssumable()
    {
        await using var lab = await TestLab.StartAsync();
        using var sts = TestLab.Sts(lab);
        var first = await sts.AssumeRoleAsync(new AssumeRoleRequest { RoleArn = $"arn:aws:iam::{lab.AccountId}:role/{LabCredentialStore.ResponderRoleName}", RoleSessionName = "aa" });
        using var chained = TestLab.Sts(lab, new SessionAWSCredentials(first.Credentials.AccessKeyId, first.Credentials.SecretAccessKey, first.Credentials.SessionToken));
        var ex = await Assert.ThrowsAnyAsync<AmazonSecurityTokenServiceException>(() => chained.AssumeRoleAsync(new AssumeRoleRequest
        {
            RoleArn = $"arn:aws:iam::{lab.MemberAccountId}:role/{LabCredentialStore.AuditorRoleName}", RoleSessionName = "bb", DurationSeconds = 7200,
        }));
        Assert.Equal("ValidationError", ex.ErrorCode);
        var ok = await chained.AssumeRoleAsync(new AssumeRoleRequest { RoleArn = lab.World.InvestigatedRoleArn!, RoleSessionName = "bb" });
        Assert.Contains(lab.World.InvestigatedRoleName!, ok.AssumedRoleUser.Arn);
        Assert.StartsWith(lab.World.InvestigatedRoleId!, ok.AssumedRoleUser.AssumedRoleId);
    }
}
