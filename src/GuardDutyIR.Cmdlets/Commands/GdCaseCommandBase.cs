using System.Management.Automation;
using GuardDutyIR.Engine.Cases;

namespace GuardDutyIR.Commands;

/// <summary>What the case cmdlets share: where cases and keys live, and journal entries about the case itself.</summary>
public abstract class GdCaseCommandBase : GdCmdlet
{
    /// <summary>The folder that holds the cases; default: the active case's, else GUARDDUTYIR_CASE_ROOT, else the user's data folder.</summary>
    [Parameter]
    public string? CaseRoot { get; set; }

    /// <summary>The folder that holds the journal keys (kept apart from the cases); default: GUARDDUTYIR_CASE_KEY_ROOT, else the user's configuration folder.</summary>
    [Parameter]
    public string? KeyRoot { get; set; }

    private protected CaseStore Store()
    {
        var active = CaseSessionStore.Current;
        var root = CaseRoot is null ? active?.Root : this.FolderPath(CaseRoot, nameof(CaseRoot), "InvalidCaseRoot");
        var keys = KeyRoot is null ? active?.KeyRoot : this.FolderPath(KeyRoot, nameof(KeyRoot), "InvalidKeyRoot");
        return new CaseStore(root, keys);
    }

    private protected static string LocalCaller => $"local:{Environment.UserName}@{Environment.MachineName}";

    private protected static GdCase Describe(CaseStore store, CaseHandle handle) =>
        store.Describe(handle, active: CaseSessionStore.Current is { } active && active.CaseId == handle.CaseId
            && string.Equals(Path.GetFullPath(active.Root), store.Root, StringComparison.Ordinal));

    private protected void AppendCaseEntry(CaseHandle handle, string status, string detail) =>
        handle.Journal.Append(new JournalDraft(JournalEntryKinds.Case, MyInvocation.MyCommand.Name, status)
        {
            Target = handle.CaseId,
            Caller = LocalCaller,
            Detail = detail,
        }, CancellationToken);

    /// <summary>Runs case work, turning engine and file-system failures into errors about the case.</summary>
    private protected void ForCase(string? caseId, Action work)
    {
        try
        {
            work();
        }
        catch (GuardDutyIRException e)
        {
            WriteEngineError(e, e.Target ?? caseId);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteEngineError(new GuardDutyIRException("CaseFolderUnavailable", ErrorKind.ResourceUnavailable, $"Case '{caseId}': {e.Message}", caseId, e));
        }
    }
}
