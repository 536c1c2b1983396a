using System.Management.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Removes the session defaults, so cmdlets fall back to the standard AWS configuration chain.</para>
/// </summary>
[Cmdlet(VerbsCommon.Clear, "GdDefault", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(void))]
public sealed class ClearGdDefaultCommand : GdCmdlet
{
    protected override void EndProcessing()
    {
        if (ShouldProcess("GuardDutyIR session defaults", "Clear")) SessionDefaultsStore.Clear();
    }
}
