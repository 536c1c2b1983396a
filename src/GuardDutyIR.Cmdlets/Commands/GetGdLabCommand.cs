using System.Management.Automation;
using GuardDutyIR.Engine.LabControl;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Gets the Labs running in this process.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "GdLab")]
[OutputType(typeof(GdLab))]
public sealed class GetGdLabCommand : GdCmdlet
{
    protected override void EndProcessing()
    {
        foreach (var lab in LabControl.List()) WriteObject(lab);
    }
}
