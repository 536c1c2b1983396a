using System.Management.Automation;
using GuardDutyIR.Engine.Cases;
using GuardDutyIR.Engine.Cases.Evidence;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Checks an evidence bundle (folder or zip) against its manifest: missing, extra and changed files, and the bundled case journal.</para>
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "GdCaseEvidence")]
[OutputType(typeof(CaseEvidenceCheck), typeof(bool))]
public sealed class TestGdCaseEvidenceCommand : GdCmdlet
{
    /// <summary>The bundle folder or its zip; binds from Export-GdCaseEvidence output.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LiteralPath")]
    public string Path { get; set; } = "";

    /// <summary>The folder that holds the case's journal key. Given, the journal head's signature must check; not given, the key is looked for where Start-GdCase keeps keys, and the chain alone is checked when it is not there.</summary>
    [Parameter]
    public string? KeyRoot { get; set; }

    /// <summary>Write only $true or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            var bundle = this.FolderPath(Path, nameof(Path), "InvalidEvidencePath");
            var keyRoot = KeyRoot is not null ? this.FolderPath(KeyRoot, nameof(KeyRoot), "InvalidKeyRoot")
                : CaseSessionStore.Current?.KeyRoot ?? CaseFolders.DefaultKeyRoot();
            var check = EvidenceBundleVerifier.Check(bundle, keyRoot, keyRequired: KeyRoot is not null);
            WriteObject(Quiet ? check.Valid : check);
        }
        catch (GuardDutyIRException e)
        {
            WriteEngineError(e, e.Target ?? Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteEngineError(new GuardDutyIRException("EvidenceBundleUnreadable", ErrorKind.ResourceUnavailable, $"'{Path}': {e.Message}", Path, e));
        }
    }
}
