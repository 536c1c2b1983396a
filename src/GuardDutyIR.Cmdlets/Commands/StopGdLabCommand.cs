using System.Management.Automation;
using GuardDutyIR.Engine.LabControl;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Stops Labs started with Start-GdLab in this process.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "GdLab", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(void))]
public sealed class StopGdLabCommand : GdCmdlet
{
    /// <summary>The Lab's port (binds from Get-GdLab / Start-GdLab output); every Lab when not given.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public int[] Port { get; set; } = Array.Empty<int>();

    protected override void ProcessRecord()
    {
        var ports = Port.Length > 0 ? Port : LabControl.List().Select(l => l.Port).ToArray();
        foreach (var port in ports)
        {
            if (!ShouldProcess($"Lab on 127.0.0.1:{port}", "Stop")) continue;
            if (!Await(LabControl.StopAsync(port)))
            {
                WriteError(ToErrorRecord(new ItemNotFoundException($"No Lab started in this process runs on port {port}."), "LabNotFound", ErrorCategory.ObjectNotFound, port));
                continue;
            }
            // Defaults that pointed at the stopped Lab would only produce connection errors now.
            if (SessionDefaultsStore.Current is { Source: "Start-GdLab" } d && d.EndpointUrl == $"http://127.0.0.1:{port}") SessionDefaultsStore.Clear();
        }
    }
}
