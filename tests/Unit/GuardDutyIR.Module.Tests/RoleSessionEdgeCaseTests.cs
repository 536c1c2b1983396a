using System.Management.Automation;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Iam;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// Revoke-InstanceRoleSession at its edges, through the module against the Lab: a role many instances share, a role
/// whose inline policies are at IAM's size limit, a member account through -RoleArn, and a profile without a role.
/// </summary>
public sealed class RoleSessionEdgeCaseTests : IDisposable
{
    private readonly LabSession _s;

    static RoleSessionEdgeCaseTests() => Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");

    public RoleSessionEdgeCaseTests() : this(ScenarioNames.Workshop) { }

    private RoleSessionEdgeCaseTests(string scenario) => _s = LabSession.Start(new LabOptions { Scenario = scenario, Seed = 37, Instances = 12 });

    public void Dispose() => _s.Dispose();

    private LabHost Lab => _s.Lab;
    private IamService Iam => Lab.GetService<IamService>()!;

    private static ScriptResult Ok(ScriptResult r)
    {
        Assert.Null(r.Terminating);
        Assert.True(r.Errors.Count == 0, string.Join("\n", r.Errors));
        return r;
    }

    private static List<string> Strings(PSObject o, string property) =>
        ((System.Collections.IEnumerable)o.Properties[property].Value).Cast<object>().Select(x => x.ToString()!).ToList();

    /// <summary>
    /// The document IAM's console writes to revoke a role's sessions (a deny of everything conditioned on
    /// aws:TokenIssueTime, UTC to the second): its size is the same whatever the time.
    /// </summary>
    private const string RevocationShape =
        """{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-05T13:14:15Z"}}}}""";

    private static int Size(string document) => document.Count(c => !char.IsWhiteSpace(c));

    private const int RoleInlineLimit = 10_240;

    // ------------------------------------------------------------------ a role used by 50 instances

    [Fact]
    public void A_role_of_50_instances_lists_the_49_others_and_is_revoked_with_one_PutRolePolicy()
    {
        var first = Lab.World.Instances.Single(i => i.Name == "app-server-1");
        var sharing = Lab.World.Instances.Where(i => i.IamRoleName == first.IamRoleName).Select(i => i.InstanceId).ToList();
        var copies = Lab.Ec2.LaunchCopiesOf(first.InstanceId, 50 - sharing.Count, first.InstanceProfileArn);
        var all = sharing.Concat(copies).ToList();
        Assert.Equal(50, all.Count);
        var others = all.Where(id => id != first.InstanceId).Order(StringComparer.Ordinal).ToList();

        // -WhatIf in a session with a host, as a user sees it: the message names 20 of the others, then "...".
        var whatIf = FreshProcess.Run($$"""
            $env:GUARDDUTYIR_EC2_RATE_SCALE = 'off'
            Set-GdDefault -Region '{{Lab.Region}}' -EndpointUrl '{{Lab.Endpoint}}' -Credential @{ AccessKey = '{{Lab.AccessKeyId}}'; SecretKey = '{{Lab.SecretAccessKey}}' }
            Revoke-InstanceRoleSession -InstanceId {{first.InstanceId}} -WhatIf
            """);
        Assert.True(whatIf.ExitCode == 0, whatIf.All);
        var message = string.Join(" ", whatIf.Output.Split('\n', StringSplitOptions.TrimEntries));
        Assert.Contains("What if:", message);
        Assert.Contains("49 other instance(s)", message);
        Assert.Contains(string.Join(", ", others.Take(20)) + ", ...", message);
        Assert.All(others.Skip(20), id => Assert.DoesNotContain(id, message));
        Assert.Equal(0, Lab.Counters.Snapshot().TotalMutating);

        Lab.Counters.Reset();
        var revoked = Ok(_s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -Force", first.InstanceId)).Output.Single();
        Assert.Equal("Revoked", revoked.Properties["Status"].Value.ToString());
        Assert.Equal(others, Strings(revoked, "OtherInstances").Order(StringComparer.Ordinal));
        var counts = Lab.Counters.Snapshot();
        Assert.Equal(1, counts.MutatingOf("iam", "PutRolePolicy"));
        Assert.Equal(1, counts.TotalMutating);
        Assert.True(Iam.InlinePolicies(Lab.AccountId, first.IamRoleName!).ContainsKey("GuardDutyIR-RevokeOlderSessions"));
    }

    /// <summary>
    /// EC2 returns at most 1,000 instances a page: a role on more instances than that is only listed whole when the
    /// revocation follows DescribeInstances' NextToken.
    /// </summary>
    [Fact]
    public void A_role_on_more_instances_than_one_DescribeInstances_page_holds_lists_every_one()
    {
        using var scale = new RoleSessionEdgeCaseTests(ScenarioNames.Scale);
        var lab = scale.Lab;
        var first = lab.World.Instances.First(i => i.IamRoleName is not null);
        var copies = lab.Ec2.LaunchCopiesOf(first.InstanceId, 1000, first.InstanceProfileArn);
        var others = lab.World.Instances.Where(i => i.IamRoleName == first.IamRoleName && i.InstanceId != first.InstanceId).Select(i => i.InstanceId)
            .Concat(copies).Order(StringComparer.Ordinal).ToList();
        Assert.True(others.Count >= 1000);

        lab.Counters.Reset();
        var plan = Ok(scale._s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -Force", first.InstanceId)).Output.Single();
        Assert.Equal(others, Strings(plan, "OtherInstances").Order(StringComparer.Ordinal));
        Assert.True(lab.Counters.Snapshot().CallsOf("ec2", "DescribeInstances") >= 3, "one describe of the instance and two pages of the role's instances");
    }

    // ------------------------------------------------------------------ IAM's role policy size limit

    /// <summary>
    /// Fills the role's inline policies with one more (valid) policy so that exactly <paramref name="room"/> characters of
    /// IAM's limit are left, and returns the role's policies as they are then.
    /// </summary>
    private IReadOnlyDictionary<string, string> LeaveRoom(string roleName, int room)
    {
        var role = Iam.FindRole(Lab.AccountId, roleName)!;
        var used = role.InlinePolicies.Values.Sum(Size);
        const string head = """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::padding/""";
        const string tail = "\"}]}";
        var pad = RoleInlineLimit - room - used - Size(head) - Size(tail);
        Assert.True(pad > 0);
        role.InlinePolicies["Padding"] = head + new string('x', pad) + tail;
        Assert.Equal(RoleInlineLimit - room, Iam.InlinePolicies(Lab.AccountId, roleName).Values.Sum(Size));
        return Iam.InlinePolicies(Lab.AccountId, roleName);
    }

    [Fact]
    public void Exactly_enough_room_for_the_revocation_fills_the_role_to_the_limit_and_a_rerun_replaces_only_itself()
    {
        var instance = Lab.World.InvestigatedInstanceId!;
        var roleName = Lab.World.InvestigatedRoleName!;
        LeaveRoom(roleName, Size(RevocationShape));

        var revoked = Ok(_s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -Force", instance)).Output.Single();
        Assert.Equal("Revoked", revoked.Properties["Status"].Value.ToString());
        Assert.Equal(RoleInlineLimit, revoked.Properties["InlinePolicySize"].Value);
        Assert.Equal(RoleInlineLimit, revoked.Properties["InlinePolicySizeLimit"].Value);
        Assert.Equal(Size(RevocationShape), Size((string)revoked.Properties["PolicyDocument"].Value));
        Assert.Equal(RoleInlineLimit, Iam.InlinePolicies(Lab.AccountId, roleName).Values.Sum(Size));

        // A second revocation on the full role: ours replaces itself, so it still fits.
        Thread.Sleep(TimeSpan.FromSeconds(1.1));
        Lab.Counters.Reset();
        var again = Ok(_s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -Force", instance)).Output.Single();
        Assert.Equal("Revoked", again.Properties["Status"].Value.ToString());
        Assert.Equal(RoleInlineLimit, again.Properties["InlinePolicySize"].Value);
        Assert.Equal(revoked.Properties["PolicyDocument"].Value, again.Properties["PreviousPolicyDocument"].Value);
        Assert.NotEqual(revoked.Properties["PolicyDocument"].Value, again.Properties["PolicyDocument"].Value);
        Assert.Equal(1, Lab.Counters.Snapshot().MutatingOf("iam", "PutRolePolicy"));
        var policies = Iam.InlinePolicies(Lab.AccountId, roleName);
        Assert.Equal(again.Properties["PolicyDocument"].Value, policies["GuardDutyIR-RevokeOlderSessions"]);
        Assert.Equal(RoleInlineLimit, policies.Values.Sum(Size));
    }

    [Fact]
    public void One_character_too_little_room_is_refused_before_any_change()
    {
        var instance = Lab.World.InvestigatedInstanceId!;
        var roleName = Lab.World.InvestigatedRoleName!;
        var before = LeaveRoom(roleName, Size(RevocationShape) - 1);

        Lab.Counters.Reset();
        var error = _s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -Force", instance).SingleError();
        Assert.Equal("RolePolicySizeLimit", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.LimitsExceeded, error.CategoryInfo.Category);
        Assert.Equal(Lab.World.InvestigatedRoleArn, error.TargetObject?.ToString());
        Assert.Equal(0, Lab.Counters.Snapshot().TotalMutating);
        Assert.Equal(before, Iam.InlinePolicies(Lab.AccountId, roleName));

        // -WhatIf says so too: the plan reads the role before ShouldProcess, so the refusal comes instead of the prompt.
        var whatIf = _s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -WhatIf", instance).SingleError();
        Assert.Equal("RolePolicySizeLimit", whatIf.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(0, Lab.Counters.Snapshot().TotalMutating);
        Assert.Equal(before, Iam.InlinePolicies(Lab.AccountId, roleName));
    }

    // ------------------------------------------------------------------ a member account through -RoleArn

    [Fact]
    public void A_member_instance_role_is_revoked_and_restored_through_RoleArn_and_its_stolen_keys_are_cut_off()
    {
        // The member account's workload gets an instance role, as its owners would give it one.
        var member = Lab.MemberAccountId;
        var workload = Lab.World.InstancesIn(member).Single();
        const string roleName = "member-workload-role";
        var role = new IamRole
        {
            AccountId = member, RoleName = roleName, RoleId = "AROAMEMBERWORKLOAD01", CreateDate = Lab.World.BaseTime.AddDays(-10),
            AssumeRolePolicyDocument = IamSeeder.Ec2TrustPolicy,
        };
        role.AttachedPolicyArns.Add(IamSeeder.SsmCorePolicyArn);
        Iam.AddRole(role);
        var profile = new IamInstanceProfile { AccountId = member, Name = roleName, InstanceProfileId = "AIPAMEMBERWORKLOAD01", CreateDate = role.CreateDate };
        profile.RoleNames.Add(roleName);
        Iam.AddInstanceProfile(profile);
        Lab.Ec2.AssociateInstanceProfile(workload.InstanceId, profile.Arn);

        // The keys, as a program on the instance reads them (IMDSv2: the member workload requires a token).
        var stolen = Ok(_s.Run("""
            $base = $args[0]
            $token = Invoke-RestMethod -Method Put -Uri "$($base)latest/api/token" -Headers @{ 'X-aws-ec2-metadata-token-ttl-seconds' = '300' }
            $h = @{ 'X-aws-ec2-metadata-token' = $token }
            $role = Invoke-RestMethod -Uri "$($base)latest/meta-data/iam/security-credentials/" -Headers $h
            Invoke-RestMethod -Uri "$($base)latest/meta-data/iam/security-credentials/$role" -Headers $h
            """, Lab.InstanceMetadataEndpointOf(workload.InstanceId))).Output.Single();
        Assert.Equal(member, Lab.Credentials.Find((string)stolen.Properties["AccessKeyId"].Value)!.AccountId);
        string Use() => _s.Run("""
            $k = $args[0]
            $cred = @{ AccessKey = $k.AccessKeyId; SecretKey = $k.SecretAccessKey; SessionToken = $k.Token }
            try { $null = Test-InstanceQuarantine -InstanceId $args[1] -Credential $cred -ErrorAction Stop; 'ok' } catch { $_.FullyQualifiedErrorId.Split(',')[0] }
            """, stolen, workload.InstanceId).Output.Single().ToString()!;
        Assert.Equal("ok", Use());

        var responder = Lab.Credentials.MemberResponder.Arn;
        var assume = $"{Lab.AccountId}:sts:AssumeRole";
        void AllInMember(string what)
        {
            var calls = Lab.Counters.CallsByAccount();
            Assert.Equal(1, calls.GetValueOrDefault(assume));
            var rest = calls.Where(c => c.Key != assume).ToList();
            Assert.NotEmpty(rest);
            Assert.All(rest, c => Assert.True(c.Key.StartsWith(member + ":", StringComparison.Ordinal), $"{what}: {c.Key}"));
        }

        Thread.Sleep(TimeSpan.FromSeconds(1.1));   // the cut-off is in whole seconds; the stolen session is older
        Lab.Counters.Reset();
        var revoked = Ok(_s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -RoleArn $args[1] -ExternalId $args[2] -Force",
            workload.InstanceId, responder, LabCredentialStore.ResponderExternalId)).Output.Single();
        Assert.Equal("Revoked", revoked.Properties["Status"].Value.ToString());
        Assert.Equal(role.Arn, revoked.Properties["RoleArn"].Value);
        Assert.Equal(1, Lab.Counters.Snapshot().MutatingOf("iam", "PutRolePolicy"));
        AllInMember("revoke");
        Assert.True(Iam.InlinePolicies(member, roleName).ContainsKey("GuardDutyIR-RevokeOlderSessions"));
        Assert.Equal("EC2.UnauthorizedOperation", Use());

        Lab.Counters.Reset();
        var undone = Ok(_s.Run("$args[0] | Undo-InstanceRoleSessionRevocation -RoleArn $args[1] -ExternalId $args[2] -Force",
            revoked, responder, LabCredentialStore.ResponderExternalId)).Output.Single();
        Assert.Equal("Lifted", undone.Properties["Status"].Value.ToString());
        AllInMember("undo");
        Assert.False(Iam.InlinePolicies(member, roleName).ContainsKey("GuardDutyIR-RevokeOlderSessions"));
        Assert.Equal("ok", Use());
    }

    // ------------------------------------------------------------------ a profile without a role

    [Fact]
    public void An_instance_whose_profile_holds_no_role_is_refused_with_nothing_changed()
    {
        var worker = Lab.World.Instance(Lab.World.AutoScalingInstanceId!);
        Assert.Null(worker.InstanceProfileArn);
        var profile = new IamInstanceProfile { AccountId = Lab.AccountId, Name = "empty-profile", InstanceProfileId = "AIPAEMPTYPROFILE0001", CreateDate = Lab.World.BaseTime };
        Iam.AddInstanceProfile(profile);
        Lab.Ec2.AssociateInstanceProfile(worker.InstanceId, profile.Arn);

        Lab.Counters.Reset();
        var error = _s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -Force", worker.InstanceId).SingleError();
        Assert.Equal("InstanceHasNoRole", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidOperation, error.CategoryInfo.Category);
        Assert.Equal(worker.InstanceId, error.TargetObject?.ToString());
        Assert.Contains(profile.Arn, error.Exception.Message);
        Assert.Equal(0, Lab.Counters.Snapshot().TotalMutating);

        // The exposure agrees: no role, nothing a thief could take.
        var exposure = Ok(_s.Run("Get-InstanceExposure -InstanceId $args[0]", worker.InstanceId)).Output.Single();
        Assert.Null(exposure.Properties["RoleArn"].Value);
        var role = ((System.Collections.IEnumerable)exposure.Properties["Checks"].Value).Cast<object>().Select(PSObject.AsPSObject)
            .Single(c => (string)c.Properties["Check"].Value == "Role policy");
        Assert.Equal("Pass", role.Properties["Level"].Value.ToString());
    }
}
