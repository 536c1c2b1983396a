using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests;

/// <summary>The README's main job, examples/Demo.ps1, runs to the end without an error in the hosted engine.</summary>
public sealed class DemoScriptTests
{
    [Fact]
    public void The_demo_script_plays_both_workshop_scenarios_without_errors()
    {
        using var host = new HostedPowerShell();
        var result = host.Run("& $args[0]", Path.Combine(TestPaths.RepoRoot, "examples", "Demo.ps1"));
        Assert.True(result.Terminating is null, result.Terminating?.ErrorRecord + " " + result.Terminating?.ErrorRecord.InvocationInfo?.PositionMessage);
        Assert.Empty(result.Errors);
        Assert.Empty(host.Run("Get-GdLab").Output);
    }
}
