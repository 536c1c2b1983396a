using System.Management.Automation;
using GuardDutyIR.Lab.Core;
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
    private PSObject StealKeys() => Ok(_s.Run("""
        $base = $args[0]
        $role = Invoke-RestMethod -Uri "$($base)latest/meta-data/iam/security-credentials/"
        Invoke-RestMethod -Uri "$($base)latest/meta-data/iam/security-credentials/$role"
        """, _s.Lab.InstanceMetadataEndpointOf(Instance))).Output.Single();

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
