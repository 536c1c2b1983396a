using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>Start-GdLab runs the Lab inside the module and makes it the session's default AWS.</summary>
public sealed class LabCmdletTests : IDisposable
{
    private readonly HostedPowerShell _host = new();

    public void Dispose()
    {
        _host.Run("Get-GdLab | Where-Object { $_.Port -eq $global:labPort } | Stop-GdLab");
        _host.Dispose();
    }

    [Fact]
    public void A_started_Lab_is_the_session_default_and_stops_cleanly()
    {
        var started = _host.Run("$lab = Start-GdLab -Scenario CompromisedInstance -Seed 7; $global:labPort = $lab.Port; $lab");
        Assert.Null(started.Terminating);
        var lab = Assert.Single(started.Output);
        var endpoint = (string)lab.Properties["EndpointUrl"].Value;
        Assert.StartsWith("http://127.0.0.1:", endpoint);
        var facts = (IReadOnlyDictionary<string, string>)lab.Properties["Facts"].Value;
        Assert.StartsWith("i-", facts["CompromisedInstanceId"]);

        // No parameters: region, endpoint and keys come from the defaults Start-GdLab set.
        var identity = _host.Run("Get-GdCallerIdentity");
        Assert.Null(identity.Terminating);
        Assert.Equal(lab.Properties["AccountId"].Value, identity.Output.Single().Properties["Account"].Value);
        Assert.Equal("session defaults (Start-GdLab)", identity.Output.Single().Properties["CredentialSource"].Value);

        Assert.Contains(_host.Run("Get-GdLab").Output, l => (string)l.Properties["EndpointUrl"].Value == endpoint);
        _host.Run("$lab | Stop-GdLab");
        Assert.DoesNotContain(_host.Run("Get-GdLab").Output, l => (string)l.Properties["EndpointUrl"].Value == endpoint);
        Assert.Empty(_host.Run("Get-GdDefault").Output);

        var missing = _host.Run("Stop-GdLab -Port $global:labPort");
        Assert.Equal("LabNotFound", Assert.Single(missing.Errors).FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public void The_member_account_is_reached_with_the_role_and_external_id_in_the_facts()
    {
        var started = _host.Run("$lab = Start-GdLab -Scenario Workshop -Seed 5; $global:labPort = $lab.Port; $lab");
        Assert.Null(started.Terminating);
        var lab = Assert.Single(started.Output);
        var member = (string)lab.Properties["MemberAccountId"].Value;
        var facts = (IReadOnlyDictionary<string, string>)lab.Properties["Facts"].Value;
        Assert.Equal($"arn:aws:iam::{member}:role/GuardDutyIR-Responder", facts["MemberResponderRoleArn"]);
        Assert.False(string.IsNullOrEmpty(facts["MemberResponderExternalId"]));

        // Straight from $lab.Facts, as the help and README show it.
        var identity = _host.Run("Get-GdCallerIdentity -RoleArn $lab.Facts.MemberResponderRoleArn -ExternalId $lab.Facts.MemberResponderExternalId");
        Assert.Null(identity.Terminating);
        Assert.Empty(identity.Errors);
        var who = identity.Output.Single();
        Assert.Equal(member, who.Properties["Account"].Value);
        Assert.Contains($":assumed-role/GuardDutyIR-Responder/", (string)who.Properties["Arn"].Value, StringComparison.Ordinal);

        // The responder role demands its ExternalId; the auditor role named in the facts needs none.
        var refused = _host.Run("Get-GdCallerIdentity -RoleArn $lab.Facts.MemberResponderRoleArn");
        Assert.NotNull(refused.Terminating);
        Assert.Equal("STS.AccessDenied", refused.Terminating!.ErrorRecord.FullyQualifiedErrorId.Split(',')[0]);
        var auditor = _host.Run("Get-GdCallerIdentity -RoleArn $lab.Facts.MemberAuditorRoleArn");
        Assert.Null(auditor.Terminating);
        Assert.Equal(member, auditor.Output.Single().Properties["Account"].Value);
    }

    [Fact]
    public void The_same_seed_gives_the_same_scenario()
    {
        var a = _host.Run("$l = Start-GdLab -Scenario CompromisedInstance -Seed 11 -NoDefault; $l.Facts.CompromisedInstanceId; $l | Stop-GdLab").Output.Single();
        var b = _host.Run("$l = Start-GdLab -Scenario CompromisedInstance -Seed 11 -NoDefault; $l.Facts.CompromisedInstanceId; $l | Stop-GdLab").Output.Single();
        var c = _host.Run("$l = Start-GdLab -Scenario CompromisedInstance -Seed 12 -NoDefault; $l.Facts.CompromisedInstanceId; $l | Stop-GdLab").Output.Single();
        Assert.Equal(a.BaseObject, b.BaseObject);
        Assert.NotEqual(a.BaseObject, c.BaseObject);
    }

    [Fact]
    public void WhatIf_starts_nothing()
    {
        var before = _host.Run("@(Get-GdLab).Count").Output.Single().BaseObject;
        var result = _host.Run("Start-GdLab -WhatIf");
        Assert.Empty(result.Output);
        Assert.Equal(before, _host.Run("@(Get-GdLab).Count").Output.Single().BaseObject);
    }
}
