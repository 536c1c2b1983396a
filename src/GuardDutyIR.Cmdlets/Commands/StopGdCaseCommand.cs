using System.Management.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Closes an incident case: a closing entry in its journal, and it stops being the session's active case.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "GdCase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(GdCase))]
public sealed class StopGdCaseCommand : GdCaseCommandBase
{
    /// <summary>The case; default: the session's active case.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    /// <summary>Write the closed case to the pipeline.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var caseId = CaseId ?? CaseSessionStore.Current?.CaseId;
        if (caseId is null)
        {
            ThrowEngineError(new GuardDutyIRException("NoActiveCase", ErrorKind.InvalidOperation, "No case is active in this session; give -CaseId.", null));
            return;
        }
        ForCase(caseId, () =>
        {
            var store = Store();
            var handle = store.Open(caseId, create: false);
            if (!ShouldProcess($"case {caseId}", "Close")) return;
            AppendCaseEntry(handle, "Closed", "Case closed.");
            store.MarkClosed(handle, closed: true);
            if (CaseSessionStore.Current?.CaseId == caseId) CaseSessionStore.Clear();
            if (PassThru) WriteObject(Describe(store, handle));
        });
    }
}
