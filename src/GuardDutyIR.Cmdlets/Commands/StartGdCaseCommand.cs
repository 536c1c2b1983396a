using System.Management.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Opens an incident case (creating it the first time) and makes it the session's active case: every later change and collection is journaled to it.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "GdCase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(GdCase))]
public sealed class StartGdCaseCommand : GdCaseCommandBase
{
    /// <summary>The case (ticket) ID; also the ir:case tag on contained instances. Default: IR-yyyyMMdd-HHmmss (UTC).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    /// <summary>A title for the report.</summary>
    [Parameter]
    public string? Title { get; set; }

    protected override void ProcessRecord()
    {
        var caseId = CaseId ?? $"IR-{DateTime.UtcNow:yyyyMMdd-HHmmss}";
        ForCase(caseId, () =>
        {
            var store = Store();
            var existing = store.List().FirstOrDefault(c => c.CaseId == caseId);
            if (!ShouldProcess($"case {caseId} in {store.Root}", existing is null ? "Create and make active" : "Make active")) return;
            var handle = existing ?? store.Open(caseId, create: true, Title);
            var wasClosed = store.Describe(handle).Status == "Closed";
            if (wasClosed) store.MarkClosed(handle, closed: false);
            AppendCaseEntry(handle, existing is null ? "Opened" : wasClosed ? "Reopened" : "Resumed",
                existing is null ? $"Case opened{(Title is null ? "" : ": " + Title)}." : "The case was made the active case again.");
            CaseSessionStore.Set(new CaseSessionStore.ActiveCase(handle.CaseId, store.Root, store.KeyRoot));
            WriteObject(Describe(store, handle));
        });
    }
}
