using System.Management.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Shows the session defaults set by Set-GdDefault or Start-GdLab.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "GdDefault")]
[OutputType(typeof(SessionDefaults))]
public sealed class GetGdDefaultCommand : GdCmdlet
{
    protected override void EndProcessing()
    {
        if (SessionDefaultsStore.Current is { } defaults) WriteObject(defaults);
    }
}
