using System.Management.Automation;
using GuardDutyIR.Engine.Cases;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Copies a case's journal (case.json, journal.jsonl, journal.head.json, and with -IncludeArtifacts its artifacts) to S3, each object with its SHA-256 checked by S3 on receipt.</para>
/// </summary>
[Cmdlet(VerbsCommon.Copy, "GdCaseJournal", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(CaseJournalObject))]
public sealed class CopyGdCaseJournalCommand : GdAwsCmdlet
{
    /// <summary>The case; default: the session's active case. Binds from Get-GdCase output.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    /// <summary>Where the copies go, s3://bucket/prefix/; the objects are &lt;prefix&gt;&lt;case&gt;/case.json, journal.jsonl, journal.head.json.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    public string S3Uri { get; set; } = "";

    /// <summary>Also copy the files in the case's artifacts folder.</summary>
    [Parameter]
    public SwitchParameter IncludeArtifacts { get; set; }

    private string _bucket = "";
    private string _prefix = "";

    protected override void BeginProcessing()
    {
        // A wrong URI is refused before any call, the role's AssumeRole included.
        try
        {
            (_bucket, _prefix) = CaseJournalUploader.ParseS3Uri(S3Uri);
        }
        catch (GuardDutyIRException e)
        {
            ThrowEngineError(e);
        }
        base.BeginProcessing();
    }

    protected override void ProcessRecord()
    {
        var active = CaseSessionStore.Current;
        var caseId = string.IsNullOrEmpty(CaseId) ? active?.CaseId : CaseId;
        if (caseId is null)
        {
            ThrowEngineError(new GuardDutyIRException("NoActiveCase", ErrorKind.InvalidOperation, "No case is active in this session; give -CaseId.", null));
            return;
        }
        var region = CurrentRegion;
        ForResource(caseId, () =>
        {
            // The same store the journal entry below goes to: the active case's root, else the default one.
            var store = active is null ? new CaseStore() : new CaseStore(active.Root, active.KeyRoot);
            if (!File.Exists(System.IO.Path.Combine(CaseFolders.CaseFolder(store.Root, caseId), CaseStore.CaseFile)))
                throw new GuardDutyIRException("CaseNotFound", ErrorKind.ObjectNotFound, $"There is no case '{caseId}' in '{store.Root}'.", caseId);
            var handle = CaseFor(caseId)!;
            var objects = CaseJournalUploader.Plan(handle, _prefix, IncludeArtifacts, CancellationToken);
            var target = $"s3://{_bucket}/{_prefix}{CaseFolders.FolderName(caseId)}/";
            if (!ShouldProcess($"case {caseId} to {target} ({region})", $"Upload {objects.Count} objects")) return;
            IReadOnlyList<CaseJournalObject> written;
            try
            {
                written = Await(new CaseJournalUploader(Session).UploadAsync(region, handle, _bucket, objects, CancellationToken));
            }
            catch (GuardDutyIRException e)
            {
                JournalChange(caseId, target, region, "Failed", null, e is AwsServiceException aws ? new[] { aws.RequestId ?? "" } : null, detail: e.Message);
                throw;
            }
            foreach (var o in written) WriteObject(o);
            JournalChange(caseId, target, region, "Uploaded", written, written.Select(o => o.RequestId ?? ""),
                detail: $"{written.Count} objects copied with their SHA-256 (the copy ends before this entry).");
        });
    }
}
