using System.Management.Automation;
using GuardDutyIR.Engine.Containment;
using GuardDutyIR.Engine.Cases;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Saves an instance's console output, console screenshot and full description to files, each with its SHA-256.</para>
/// </summary>
[Cmdlet(VerbsData.Save, "InstanceEvidence", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(InstanceEvidence))]
public sealed class SaveInstanceEvidenceCommand : GdAwsCmdlet
{
    /// <summary>The instance; binds by property name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [InstanceIdInput]
    public string InstanceId { get; set; } = "";

    /// <summary>The folder the files go to (created if missing).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    public string Path { get; set; } = "";

    /// <summary>The case ID recorded on the evidence object, and the case each captured file's hash is journaled to; default: the session's active case.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    /// <summary>The finding ID recorded on the evidence object.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? FindingId { get; set; }

    /// <summary>The finding, carried on the evidence object.</summary>
    [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    public GdFinding? Finding { get; set; }

    private ForensicService? _service;
    // One service per invocation: its clients and EC2 buckets pace the whole pipeline, not each record.
    private ForensicService Service => _service ??= new ForensicService(Session);

    protected override void ProcessRecord()
    {
        if (InstanceIdInputAttribute.Refusal(InstanceId) is { } refused)
        {
            WriteEngineError(refused);
            return;
        }
        var region = CurrentRegion;
        string folder;
        try
        {
            folder = this.FolderPath(Path, nameof(Path), "InvalidEvidencePath");
        }
        catch (GuardDutyIRException e)
        {
            WriteEngineError(e);
            return;
        }
        try
        {
            var target = Await(Service.ResolveAsync(InstanceId, region, CancellationToken));
            if (!ShouldProcess($"{InstanceId} ({target.State}, {region})", $"Save console output, screenshot and description to {folder}")) return;
            var caseId = CaseId ?? CaseSessionStore.Current?.CaseId;
            var evidence = Await(Service.CaptureAsync(target, folder, caseId, FindingId, Finding, CancellationToken));
            foreach (var missing in evidence.Missing) WriteWarning($"{InstanceId}: not captured: {missing}");
            WriteObject(evidence);
            Journal(caseId, new JournalDraft(JournalEntryKinds.Artifact, MyInvocation.MyCommand.Name, evidence.Missing.Count == 0 ? "Captured" : "PartlyCaptured")
            {
                Target = InstanceId,
                Region = region,
                Detail = evidence.Missing.Count == 0 ? null : "Not captured: " + string.Join("; ", evidence.Missing),
                Artifacts = evidence.Files.Select(f => new CaseArtifact(f.Kind, f.Sha256, f.Length, f.Path)).ToList(),
                Result = CaseRecords.ToJson(evidence),
            });
        }
        catch (GuardDutyIRException e)
        {
            ReportFailure(e, InstanceId);
        }
        catch (IOException e)
        {
            WriteError(ToErrorRecord(e, "EvidenceWriteFailed", ErrorCategory.WriteError, folder));
        }
    }
}
