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
