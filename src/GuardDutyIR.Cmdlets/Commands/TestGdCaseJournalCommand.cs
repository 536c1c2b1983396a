using System.Management.Automation;
using GuardDutyIR.Engine.Cases;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Verifies a case journal's hash chain and signed head, and reports which entry was edited, inserted, reordered or removed, and whether the tail was cut.</para>
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "GdCaseJournal", DefaultParameterSetName = "ByCase")]
[OutputType(typeof(CaseJournalCheck))]
public sealed class TestGdCaseJournalCommand : GdCaseCommandBase
{
    /// <summary>The case; default: the session's active case.</summary>
    [Parameter(ParameterSetName = "ByCase", Position = 0)]
    public string? CaseId { get; set; }

    /// <summary>A case folder (a copy, or one in an evidence bundle); binds from Get-GdCase output.</summary>
    [Parameter(ParameterSetName = "ByPath", Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LiteralPath")]
    public string? Path { get; set; }

    /// <summary>Write only $true or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        var store = Store();
        var target = Path ?? CaseId ?? CaseSessionStore.Current?.CaseId;
        if (target is null)
        {
            ThrowEngineError(new GuardDutyIRException("NoActiveCase", ErrorKind.InvalidOperation, "No case is active in this session; give -CaseId or -Path.", null));
            return;
        }
        ForCase(target, () =>
        {
            var folder = Path is null ? CaseFolders.CaseFolder(store.Root, target) : this.FolderPath(Path, nameof(Path), "InvalidCasePath");
            if (!File.Exists(System.IO.Path.Combine(folder, CaseStore.CaseFile)))
                throw new GuardDutyIRException("CaseNotFound", ErrorKind.ObjectNotFound, $"'{folder}' holds no case ({CaseStore.CaseFile}).", target);
            var check = CaseJournalVerifier.Check(folder, store.KeyRoot);
            WriteObject(Quiet ? check.Valid : check);
        });
    }
}
