using System.Management.Automation;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Iam;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// Scenario 2's stolen instance credentials, through the module against the Lab: keys read from the instance's metadata
/// service work from outside; Revoke-InstanceRoleSession cuts them off on every service while a newer session works;
/// Undo lifts it. And Get-InstanceExposure says how the instance could be reached.
/// </summary>
public sealed class RoleSessionRevocationTests : IDisposable
{
    private readonly LabSession _s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, Seed = 31 });

    static RoleSessionRevocationTests() => Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");

    public void Dispose() => _s.Dispose();

    private string Instance => _s.Lab.World.InvestigatedInstanceId!;

    /// <summary>The role's session as a program on the instance reads it with IMDSv1 (the scenario allows it): what an attacker takes.</summary>
    private PSObject StealKeys() => StealKeys(Instance);

    private PSObject StealKeys(string instanceId) => Ok(_s.Run("""
        $base = $args[0]
        $role = Invoke-RestMethod -Uri "$($base)latest/meta-data/iam/security-credentials/"
        Invoke-RestMethod -Uri "$($base)latest/meta-data/iam/security-credentials/$role"
        """, _s.Lab.InstanceMetadataEndpointOf(instanceId))).Output.Single();

    /// <summary>The same with IMDSv2's token, as a program on an instance that requires it reads its credentials.</summary>
    private PSObject StealKeysWithToken(string instanceId) => Ok(_s.Run("""
        $base = $args[0]
        $token = Invoke-RestMethod -Method Put -Uri "$($base)latest/api/token" -Headers @{ 'X-aws-ec2-metadata-token-ttl-seconds' = '300' }
        $h = @{ 'X-aws-ec2-metadata-token' = $token }
        $role = Invoke-RestMethod -Uri "$($base)latest/meta-data/iam/security-credentials/" -Headers $h
        Invoke-RestMethod -Uri "$($base)latest/meta-data/iam/security-credentials/$role" -Headers $h
        """, _s.Lab.InstanceMetadataEndpointOf(instanceId))).Output.Single();

    private static ScriptResult Ok(ScriptResult r)
    {
        Assert.Null(r.Terminating);
        Assert.True(r.Errors.Count == 0, string.Join("\n", r.Errors));
        return r;
    }

    /// <summary>
    /// The keys used from outside through the module: EC2 (Test-InstanceQuarantine's describes), S3 (Invoke-LakeQuery
    /// listing the trail bucket) and STS (AssumeRole with -RoleArn). "ok" or the first error's ErrorId, per service.
    /// </summary>
    private (string Ec2, string S3, string Sts) UseFromOutside(PSObject keys)
    {
        const string script = """
            param($k, $instance, $bucket, $role, $externalId, $cache)
            $cred = @{ AccessKey = $k.AccessKeyId; SecretKey = $k.SecretAccessKey; SessionToken = $k.Token }
            function Test-Call([scriptblock] $call) { try { $null = & $call; 'ok' } catch { $_.FullyQualifiedErrorId.Split(',')[0] } }
            $ec2 = Test-Call { Test-InstanceQuarantine -InstanceId $instance -Credential $cred -ErrorAction Stop }
            $s3 = Test-Call { Invoke-LakeQuery -Template InstancesListingBuckets -S3Uri "s3://$bucket/AWSLogs/" -CacheDirectory $cache -Credential $cred -ErrorAction Stop }
            $sts = Test-Call { Get-GdCallerIdentity -RoleArn $role -ExternalId $externalId -Credential $cred -ErrorAction Stop }
            "$ec2|$s3|$sts"
            """;
        var cache = Directory.CreateTempSubdirectory("gdir-revoke-").FullName;
        try
        {
            var parts = _s.Run(script, keys, Instance, _s.Lab.Facts["TrailBucket"], _s.Lab.Context.Credentials.MainResponder.Arn,
                LabCredentialStore.ResponderExternalId, cache).Output.Single().ToString().Split('|');
            return (parts[0], parts[1], parts[2]);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public void Stolen_instance_keys_are_cut_off_everywhere_by_the_revocation_a_newer_session_works_and_undo_lifts_it()
    {
        var stolen = StealKeys();
        Assert.Equal(("ok", "ok", "ok"), UseFromOutside(stolen));

        // -WhatIf names the role and changes nothing.
        _s.Lab.Counters.Reset();
        Ok(_s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -WhatIf", Instance));
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalMutating);

        Thread.Sleep(TimeSpan.FromSeconds(1.1));   // the deny's cut-off is in whole seconds; the stolen session is older
        var revoked = Ok(_s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -Force", Instance)).Output.Single();
        Assert.Equal("Revoked", revoked.Properties["Status"].Value.ToString());
        Assert.Equal(_s.Lab.World.InvestigatedRoleName, revoked.Properties["RoleName"].Value);
        Assert.NotEmpty(((System.Collections.IEnumerable)revoked.Properties["RequestIds"].Value).Cast<object>());

        // The stolen keys are refused by EC2, S3 and STS, from wherever they are used.
        var (ec2, s3, sts) = UseFromOutside(stolen);
        // EC2's answer is UnauthorizedOperation; S3's a 403 (Forbidden for a HEAD, which has no body to name AccessDenied).
        Assert.Equal("EC2.UnauthorizedOperation", ec2);
        Assert.Contains(s3, new[] { "S3.AccessDenied", "S3.Forbidden" });
        Assert.Equal("STS.AccessDenied", sts);

        // The instance's next read of its metadata gets a session issued after the revocation, and it works.
        Thread.Sleep(TimeSpan.FromSeconds(1.1));
        var fresh = StealKeys();
        Assert.NotEqual(stolen.Properties["AccessKeyId"].Value, fresh.Properties["AccessKeyId"].Value);
        Assert.Equal(("ok", "ok", "ok"), UseFromOutside(fresh));

        // Undo lifts the revocation: the old keys work again.
        var undone = Ok(_s.Run("$args[0] | Undo-InstanceRoleSessionRevocation -Force", revoked)).Output.Single();
        Assert.NotEqual("Revoked", undone.Properties["Status"].Value.ToString());
        Assert.Equal(("ok", "ok", "ok"), UseFromOutside(stolen));
    }

    private IamService Iam => _s.Lab.Context.GetService<IamService>()!;

    /// <summary>The instance profile ARN the Lab's EC2 has associated with the instance now.</summary>
    private string? ProfileOf(string instanceId) => _s.Lab.Context.GetService<GuardDutyIR.Lab.Ec2.Ec2Service>()!.AssociatedProfileArn(instanceId);

    private (string First, string Second) TwoAppServers()
    {
        var servers = _s.Lab.World.Instances.Where(i => i.AccountId == _s.Lab.AccountId && i.Role == "workload" && i.InstanceProfileArn is not null).ToList();
        Assert.Equal(2, servers.Count);
        Assert.Equal(servers[0].InstanceProfileArn, servers[1].InstanceProfileArn);
        return (servers[0].InstanceId, servers[1].InstanceId);
    }

    [Fact]
    public void ReplaceRole_moves_the_other_instances_to_a_fresh_copy_and_undo_moves_them_back_and_deletes_it()
    {
        var (compromised, other) = TwoAppServers();
        var originalProfile = ProfileOf(other)!;
        var roleName = Iam.RoleOfInstanceProfile(_s.Lab.AccountId, originalProfile[(originalProfile.LastIndexOf('/') + 1)..])!.RoleName;
        var stolenFromOther = StealKeysWithToken(other);

        // -WhatIf changes nothing.
        _s.Lab.Counters.Reset();
        Ok(_s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -ReplaceRole -WhatIf", compromised));
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalMutating);

        Thread.Sleep(TimeSpan.FromSeconds(1.1));
        var revoked = Ok(_s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -ReplaceRole -Force", compromised)).Output.Single();
        var copyName = (string)revoked.Properties["ReplacementRoleName"].Value;
        Assert.StartsWith(roleName + "-ir-", copyName);
        Assert.Equal(new[] { other + "=" + originalProfile }, ((System.Collections.IEnumerable)revoked.Properties["MovedInstances"].Value).Cast<object>().Select(o => o.ToString()));
        var steps = ((System.Collections.IEnumerable)revoked.Properties["Steps"].Value).Cast<object>().Select(o => PSObject.AsPSObject(o)).ToList();
        Assert.All(steps, st => Assert.Equal("Done", st.Properties["Status"].Value.ToString()));
        Assert.All(steps, st => Assert.Single((System.Collections.IEnumerable)st.Properties["RequestIds"].Value));

        // The copy carries the role's policies but not the revocation, and the other instance is on its profile.
        var role = Iam.FindRole(_s.Lab.AccountId, roleName)!;
        var copy = Iam.FindRole(_s.Lab.AccountId, copyName)!;
        Assert.Equal(role.AttachedPolicyArns, copy.AttachedPolicyArns);
        Assert.Equal(role.InlinePolicies.Where(p => p.Key != "GuardDutyIR-RevokeOlderSessions"), copy.InlinePolicies);
        Assert.Contains("GuardDutyIR-RevokeOlderSessions", role.InlinePolicies.Keys);
        Assert.Equal(role.AssumeRolePolicyDocument, copy.AssumeRolePolicyDocument);
        Assert.Equal(role.Arn, copy.Tags["GuardDutyIR:ReplacesRole"]);
        Assert.Equal(copy.Arn.Replace(":role/", ":instance-profile/"), ProfileOf(other));
        Assert.Equal(originalProfile, ProfileOf(compromised));

        // The keys taken from the other instance before are refused; what its metadata service hands out now is the
        // copy's session, and it works.
        Assert.Equal("EC2.UnauthorizedOperation", UseFromOutside(stolenFromOther).Ec2);
        var fresh = StealKeysWithToken(other);
        Assert.Equal(("ok", "ok", "ok"), UseFromOutside(fresh));
        var freshRole = _s.Run("""
            $k = $args[0]
            (Get-GdCallerIdentity -Credential @{ AccessKey = $k.AccessKeyId; SecretKey = $k.SecretAccessKey; SessionToken = $k.Token }).Arn
            """, fresh).Output.Single().ToString();
        Assert.Contains(":assumed-role/" + copyName + "/", freshRole);

        // Undo: the instance goes back, the revocation is lifted, the copy and its profile are deleted.
        var undone = Ok(_s.Run("$args[0] | Undo-InstanceRoleSessionRevocation -Force", revoked)).Output.Single();
        Assert.Equal("Lifted", undone.Properties["Status"].Value.ToString());
        Assert.Equal(originalProfile, ProfileOf(other));
        Assert.Null(Iam.FindRole(_s.Lab.AccountId, copyName));
        Assert.DoesNotContain("GuardDutyIR-RevokeOlderSessions", Iam.InlinePolicies(_s.Lab.AccountId, roleName).Keys);
        var undoSteps = ((System.Collections.IEnumerable)undone.Properties["Steps"].Value).Cast<object>().Select(o => PSObject.AsPSObject(o))
            .Select(st => $"{st.Properties["Name"].Value}={st.Properties["Status"].Value}").ToList();
        Assert.Equal(new[]
        {
            "ReplaceIamInstanceProfileAssociation=Done", "DeleteRolePolicy=Done", "RemoveRoleFromInstanceProfile=Done", "DeleteInstanceProfile=Done",
        }, undoSteps.Take(4));
        Assert.Equal("DeleteRole=Done", undoSteps[^1]);
        Assert.Equal(("ok", "ok", "ok"), UseFromOutside(stolenFromOther));
    }

    [Fact]
    public void A_copy_that_cannot_be_finished_is_taken_back_and_the_revocation_stands()
    {
        var (compromised, other) = TwoAppServers();
        var originalProfile = ProfileOf(other)!;
        var roleName = Iam.RoleOfInstanceProfile(_s.Lab.AccountId, originalProfile[(originalProfile.LastIndexOf('/') + 1)..])!.RoleName;
        _s.Lab.Deny("iam", "AddRoleToInstanceProfile");

        var result = _s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -ReplaceRole -Force", compromised);
        Assert.Equal("RoleReplacementIncomplete", result.SingleError().FullyQualifiedErrorId.Split(',')[0]);
        var revoked = result.Output.Single();
        Assert.Equal("Revoked", revoked.Properties["Status"].Value.ToString());
        Assert.Null(revoked.Properties["ReplacementRoleName"].Value);
        Assert.Contains("GuardDutyIR-RevokeOlderSessions", Iam.InlinePolicies(_s.Lab.AccountId, roleName).Keys);
        // Nothing of the copy is left, and the other instance never moved.
        Assert.Equal(originalProfile, ProfileOf(other));
        var names = ((System.Collections.IEnumerable)revoked.Properties["Steps"].Value).Cast<object>().Select(o => PSObject.AsPSObject(o))
            .Select(st => $"{st.Properties["Name"].Value}={st.Properties["Status"].Value}").ToList();
        Assert.True(names.Contains("DeleteInstanceProfile=Done"), string.Join("\n", ((System.Collections.IEnumerable)revoked.Properties["Steps"].Value).Cast<object>()));
        Assert.Contains("DeleteRole=Done", names);
        Assert.Equal("ReplaceRole=Failed", names[^1]);
        Assert.Null(Iam.FindRole(_s.Lab.AccountId, RoleSessionRevokerName(revoked, roleName)));
    }

    // The copy's name from the revocation's cut-off (the result has no replacement when it failed), as the help gives it.
    private static string RoleSessionRevokerName(PSObject revoked, string roleName) =>
        roleName + "-ir-" + ((DateTime)revoked.Properties["TokenIssuedBefore"].Value).ToUniversalTime().ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void An_instance_without_a_role_is_refused_with_nothing_changed()
    {
        var bare = _s.Lab.World.Instances.FirstOrDefault(i => i.AccountId == _s.Lab.AccountId && string.IsNullOrEmpty(i.InstanceProfileArn));
        Assert.NotNull(bare);
        _s.Lab.Counters.Reset();
        var result = _s.Run("Revoke-InstanceRoleSession -InstanceId $args[0] -Force", bare!.InstanceId);
        Assert.Equal("InstanceHasNoRole", result.SingleError().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalMutating);
    }

    [Fact]
    public void Requiring_IMDSv2_closes_the_way_the_keys_left_and_a_rerun_changes_nothing()
    {
        var changed = Ok(_s.Run("Get-InstanceExposure -InstanceId $args[0] | Set-InstanceMetadataOption -RequireToken -HopLimit 1 -Confirm:$false", Instance)).Output.Single();
        Assert.Equal(("Changed", "optional", "required"), (changed.Properties["Status"].Value.ToString(), changed.Properties["HttpTokensBefore"].Value?.ToString(), changed.Properties["HttpTokens"].Value?.ToString()));
        Assert.NotEmpty(((System.Collections.IEnumerable)changed.Properties["RequestIds"].Value).Cast<object>());

        // IMDSv1 (no token) is refused now; the exposure check passes it.
        var v1 = _s.Run("try { Invoke-RestMethod -Uri ($args[0] + 'latest/meta-data/iam/security-credentials/'); 'answered' } catch { [int] $_.Exception.Response.StatusCode }",
            _s.Lab.InstanceMetadataEndpointOf(Instance)).Output.Single().ToString();
        Assert.Equal("401", v1);
        var checks = ((System.Collections.IEnumerable)Ok(_s.Run("Get-InstanceExposure -InstanceId $args[0]", Instance)).Output.Single().Properties["Checks"].Value)
            .Cast<object>().Select(c => c.ToString()!).ToList();
        Assert.DoesNotContain(checks, c => c.StartsWith("FAIL IMDS", StringComparison.OrdinalIgnoreCase));

        _s.Lab.Counters.Reset();
        var again = Ok(_s.Run("Set-InstanceMetadataOption -InstanceId $args[0] -RequireToken -HopLimit 1 -Confirm:$false", Instance)).Output.Single();
        Assert.Equal("Unchanged", again.Properties["Status"].Value.ToString());
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalMutating);
    }

    [Fact]
    public void The_exposure_of_the_scenario_instance_names_its_weaknesses()
    {
        var exposure = Ok(_s.Run("Get-InstanceExposure -InstanceId $args[0]", Instance)).Output.Single();
        var checks = ((System.Collections.IEnumerable)exposure.Properties["Checks"].Value).Cast<object>().Select(c => c.ToString()!).ToList();
        var all = string.Join("\n", checks);
        // The scenario's attacked instance allows IMDSv1: the way its role's keys left it.
        Assert.True(checks.Any(c => c.StartsWith("FAIL IMDS", StringComparison.OrdinalIgnoreCase)), all);
        Assert.Equal("Fail", exposure.Properties["Level"].Value.ToString());
    }
}
