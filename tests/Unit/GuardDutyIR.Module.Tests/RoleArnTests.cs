using GuardDutyIR.Lab.Core;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// -RoleArn must make a cmdlet act in the role's account for every call it makes, whichever service it calls. The Lab
/// records the account each authenticated call was signed for; with a member-account role, nothing but the STS
/// AssumeRole itself may be signed as the caller's own account.
/// </summary>
public sealed class RoleArnTests : IClassFixture<RoleArnTests.Fixture>
{
    public sealed class Fixture : IDisposable
    {
        public LabSession Session { get; } = LabSession.Start(new LabOptions { Scenario = "Workshop", Seed = 9, SnapshotCompletionSeconds = 0 });
        public string Evidence { get; } = Directory.CreateTempSubdirectory("gdir-role-").FullName;

        public void Dispose()
        {
            Session.Dispose();
            Directory.Delete(Evidence, recursive: true);
        }
    }

    private readonly Fixture _f;

    static RoleArnTests() => Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");

    public RoleArnTests(Fixture fixture) => _f = fixture;

    private LabHost Lab => _f.Session.Lab;

    /// <summary>
    /// One invocation per AWS cmdlet that makes at least one call. The IDs are the main account's, which the member
    /// account cannot see: an answer of NotFound from the member account is the proof this test wants.
    /// </summary>
    public static TheoryData<string, string> Invocations => new()
    {
        { "Add-GdThreatListEntry", "Add-GdThreatListEntry -Entry 203.0.113.9 -ListId 0123456789abcdef0123456789abcdef -ListType Threat -Confirm:$false" },
        { "Copy-GdCaseJournal", "Start-GdCase -CaseId IR-ROLE-COPY | Out-Null; Stop-GdCase; Copy-GdCaseJournal -CaseId IR-ROLE-COPY -S3Uri s3://role-bucket/cases/ -Confirm:$false" },
        { "Get-GdCallerIdentity", "Get-GdCallerIdentity" },
        { "Get-GdDetector", "Get-GdDetector" },
        { "Get-GdFinding", "Get-GdFinding" },
        { "Get-GdResponseRule", "Get-GdResponseRule" },
        { "Get-GdThreatList", "Get-GdThreatList" },
        { "Get-InstanceExposure", "Get-InstanceExposure -InstanceId $instance" },
        { "Get-LakeEventDataStore", "Get-LakeEventDataStore" },
        { "Invoke-LakeQuery", "Invoke-LakeQuery -Template InstancesListingBuckets -EventDataStore 00000000-0000-0000-0000-000000000000" },
        { "New-ForensicSnapshot", "New-ForensicSnapshot -InstanceId $instance -CaseId IR-ROLE -Confirm:$false" },
        { "New-GdResponseRule", "New-GdResponseRule -TopicArn \"arn:aws:sns:$($region):$($member):ir-alerts\" -Confirm:$false" },
        { "New-GdSampleFinding", "New-GdSampleFinding -Confirm:$false" },
        { "New-GdThreatList", "New-GdThreatList -Name role-list -Entry 203.0.113.7 -Bucket role-bucket -Confirm:$false" },
        { "Remove-CompromisedInstance", "Remove-CompromisedInstance -InstanceId $instance -CaseId IR-ROLE -Force -Confirm:$false" },
        { "Remove-GdResponseRule", "Remove-GdResponseRule -Name GuardDuty-Event-EC2-MaliciousIPCaller -Force -Confirm:$false" },
        { "Revoke-InstanceRoleSession", "Revoke-InstanceRoleSession -InstanceId $instance -Force -Confirm:$false" },
        { "Remove-GdThreatList", "Remove-GdThreatList -ListId 0123456789abcdef0123456789abcdef -ListType Threat -Force -Confirm:$false" },
        { "Save-InstanceEvidence", "Save-InstanceEvidence -InstanceId $instance -Path $evidence -CaseId IR-ROLE -Confirm:$false" },
        { "Send-GdNotification", "[pscustomobject]@{ InstanceId = $instance } | Send-GdNotification -TopicArn \"arn:aws:sns:$($region):$($member):ir-alerts\" -Subject s -Message m -Confirm:$false" },
        { "Set-GdFinding", "Set-GdFinding -FindingId 0123456789abcdef0123456789abcdef -Archive -Confirm:$false" },
        { "Set-GdThreatList", "Set-GdThreatList -ListId 0123456789abcdef0123456789abcdef -ListType Threat -Activate -Confirm:$false" },
        { "Set-InstanceMetadataOption", "Set-InstanceMetadataOption -InstanceId $instance -RequireToken -Confirm:$false" },
        { "Set-InstanceQuarantine", "Set-InstanceQuarantine -InstanceId $instance -CaseId IR-ROLE -ConversionWaitSeconds 0 -Confirm:$false" },
        { "Stop-CompromisedInstance", "Stop-CompromisedInstance -InstanceId $instance -CaseId IR-ROLE -Force -Confirm:$false" },
        { "Test-GdResponseRule", "'{\"id\":\"f1\",\"type\":\"Recon:EC2/PortProbeUnprotectedPort\",\"severity\":2,\"accountId\":\"123456789012\",\"region\":\"us-east-1\"}' | ConvertFrom-GdFindingEvent | Test-GdResponseRule" },
        { "Test-InstanceQuarantine", "Test-InstanceQuarantine -InstanceId $instance" },
        { "Undo-InstanceQuarantine", "Undo-InstanceQuarantine -InstanceId $instance -Confirm:$false" },
        { "Undo-InstanceRoleSessionRevocation", "Undo-InstanceRoleSessionRevocation -RoleName GuardDuty-Example-EC2-Compromised -Force -Confirm:$false" },
    };

    [Fact]
    public void Every_cmdlet_with_RoleArn_is_in_the_table()
    {
        var names = _f.Session.Run(
            "Get-Command -Module GuardDutyIR | Where-Object { $_.Parameters.ContainsKey('RoleArn') -and $_.Parameters.ContainsKey('EndpointUrl') -and $_.Name -ne 'Set-GdDefault' } | ForEach-Object Name")
            .Output.Select(o => (string)o.BaseObject).Order(StringComparer.Ordinal).ToList();
        var listed = Invocations.Select(row => (string)row[0]).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(names, listed);
    }

    [Theory]
    [MemberData(nameof(Invocations))]
    public void Every_call_is_made_in_the_role_account(string cmdlet, string invocation)
    {
        var role = $"arn:aws:iam::{Lab.MemberAccountId}:role/{LabCredentialStore.ResponderRoleName}";
        Lab.Counters.Reset();

        var result = _f.Session.Run(
            "param($instance, $evidence, $region, $member, $role, $externalId) " +
            // A child scope, so the defaults end with this case.
            "& { $PSDefaultParameterValues = @{ '*:RoleArn' = $role; '*:ExternalId' = $externalId }; " + invocation + " }",
            Lab.World.CompromisedInstanceId, _f.Evidence, Lab.Region, Lab.MemberAccountId, role, LabCredentialStore.ResponderExternalId);

        // The role is assumed once, with the caller's own keys; every other call is signed as the role.
        var calls = Lab.Counters.CallsByAccount();
        var assume = $"{Lab.AccountId}:sts:AssumeRole";
        Assert.Equal(1, calls.GetValueOrDefault(assume));
        var asRole = calls.Where(c => c.Key != assume).ToList();
        Assert.True(asRole.Count > 0, $"{cmdlet} made no call as the role: {Describe(result)}");
        Assert.All(asRole, c => Assert.StartsWith(Lab.MemberAccountId + ":", c.Key));
    }

    [Fact]
    public void Set_GdDefault_RoleArn_makes_later_cmdlets_act_in_the_member_account_until_ClearRole()
    {
        var role = $"arn:aws:iam::{Lab.MemberAccountId}:role/{LabCredentialStore.AuditorRoleName}";
        try
        {
            var set = _f.Session.Run("Set-GdDefault -RoleArn $args[0] -RoleSessionName ir-defaults", role);
            Assert.Null(set.Terminating);
            var identity = _f.Session.Run("Get-GdCallerIdentity").Output.Single();
            Assert.Equal(Lab.MemberAccountId, identity.Properties["Account"].Value);
            Assert.EndsWith("/ir-defaults", (string)identity.Properties["Arn"].Value);

            var own = _f.Session.Run("Set-GdDefault -ClearRole; Get-GdCallerIdentity").Output.Single();
            Assert.Equal(Lab.AccountId, own.Properties["Account"].Value);
        }
        finally
        {
            _f.Session.Run("Set-GdDefault -ClearRole");
        }
    }

    [Fact]
    public void A_refused_AssumeRole_stops_the_command_before_any_other_call()
    {
        Lab.Counters.Reset();
        var role = $"arn:aws:iam::{Lab.MemberAccountId}:role/{LabCredentialStore.ResponderRoleName}";

        var result = _f.Session.Run("Set-InstanceQuarantine -InstanceId $args[0] -RoleArn $args[1] -ExternalId wrong-external-id -Confirm:$false",
            Lab.World.CompromisedInstanceId, role);

        var error = result.SingleError();
        Assert.NotNull(result.Terminating);
        Assert.True(error.FullyQualifiedErrorId.StartsWith("STS.AccessDenied,", StringComparison.Ordinal), error.FullyQualifiedErrorId + ": " + error.Exception.Message);
        Assert.Equal(System.Management.Automation.ErrorCategory.PermissionDenied, error.CategoryInfo.Category);
        Assert.Equal(role, error.TargetObject);
        Assert.Equal(new[] { $"{Lab.AccountId}:sts:AssumeRole" }, Lab.Counters.CallsByAccount().Keys);
    }

    private static string Describe(ScriptResult result) =>
        result.Terminating?.Message ?? string.Join(" | ", result.Errors.Select(e => e.FullyQualifiedErrorId + ": " + e.Exception.Message));
}
