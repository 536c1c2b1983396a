using System.Management.Automation;
using GuardDutyIR.Engine.Containment;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Snapshots every EBS volume of an instance as evidence (crash-consistent), tags them with the case, and optionally waits, copies re-encrypted and shares.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "ForensicSnapshot", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(ForensicSnapshot))]
public sealed class NewForensicSnapshotCommand : GdAwsCmdlet
{
    /// <summary>The instance; binds by property name from findings and quarantine results.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [InstanceIdInput]
    public string InstanceId { get; set; } = "";

    /// <summary>The case ID, tagged as ir:case; binds from quarantine results; default the instance's ir:case tag.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    /// <summary>The finding ID, tagged as ir:finding.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? FindingId { get; set; }

    /// <summary>The finding, carried on each snapshot object; a piped finding binds here.</summary>
    [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    public GdFinding? Finding { get; set; }

    /// <summary>What earlier steps did to the instance; binds from a piped quarantine result's Actions and is carried on each snapshot.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Actions")]
    public string[] EarlierAction { get; set; } = Array.Empty<string>();

    /// <summary>One CreateSnapshot per volume instead of one crash-consistent CreateSnapshots.</summary>
    [Parameter] public SwitchParameter PerVolume { get; set; }

    /// <summary>Wait until every snapshot is completed.</summary>
    [Parameter] public SwitchParameter Wait { get; set; }

    /// <summary>How long -Wait waits, in minutes; default 120.</summary>
    [Parameter]
    [ValidateRange(0.01, 1440)]
    public double TimeoutMinutes { get; set; } = 120;

    /// <summary>Seconds between DescribeSnapshots polls; default 5.</summary>
    [Parameter]
    [ValidateRange(0.1, 300)]
    public double PollIntervalSeconds { get; set; } = 5;

    /// <summary>Copy each completed snapshot to this region, encrypted.</summary>
    [Parameter] public string? CopyToRegion { get; set; }

    /// <summary>The customer-managed KMS key of the copy (snapshots under aws/ebs cannot be shared).</summary>
    [Parameter] public string? KmsKeyId { get; set; }

    /// <summary>Accounts to share the (copied) snapshots with; never public.</summary>
    [Parameter]
    [ValidatePattern(@"^[0-9]{12}\z")]
    public string[] ShareWithAccountId { get; set; } = Array.Empty<string>();

    private const int ActivityId = 62;

    private ForensicService? _service;
    // One service per invocation: its clients and EC2 buckets pace the whole pipeline, not each record.
    private ForensicService Service => _service ??= new ForensicService(Session);

    protected override void BeginProcessing()
    {
        try
        {
            if (KmsKeyId is not null) Ec2Ids.RequireKmsKeyId(KmsKeyId);
        }
        catch (GuardDutyIRException e) { ThrowEngineError(e); }
        base.BeginProcessing();
        if (CopyToRegion is not null) RegionOrThrow(CopyToRegion);
    }

    protected override void ProcessRecord()
    {
        if (InstanceIdInputAttribute.Refusal(InstanceId) is { } refused)
        {
            WriteEngineError(refused);
            return;
        }
        var region = CurrentRegion;
        var options = new SnapshotOptions
        {
            PerVolume = PerVolume, Wait = Wait, Timeout = TimeSpan.FromMinutes(TimeoutMinutes), PollInterval = TimeSpan.FromSeconds(PollIntervalSeconds),
            CopyToRegion = CopyToRegion, KmsKeyId = KmsKeyId, ShareWithAccountIds = ShareWithAccountId, EarlierActions = EarlierAction,
        };
        var caseId = CaseId ?? CaseSessionStore.Current?.CaseId;
        var attempted = false;
        try
        {
            // Resolved first, so the confirmation names the volumes and the snapshots the case already has.
            var plan = Await(Service.PlanSnapshotAsync(InstanceId, region, caseId, FindingId, Finding, CancellationToken));
            if (!ShouldProcess($"{InstanceId} ({plan.State}, {region})", plan.Describe(PerVolume))) return;
            attempted = true;
            var snapshots = Await(Service.SnapshotAsync(plan, options,
                (status, percent) => ReportProgress(new ProgressRecord(ActivityId, $"Snapshots of {InstanceId}", status) { PercentComplete = percent }), CancellationToken));
            WriteProgress(new ProgressRecord(ActivityId, $"Snapshots of {InstanceId}", "Done") { RecordType = ProgressRecordType.Completed });
            WriteObject(snapshots, enumerateCollection: true);
            foreach (var snapshot in snapshots)
                JournalChange(snapshot.CaseId ?? caseId, snapshot.SnapshotId, region, snapshot.Reused ? "Reused" : snapshot.State, snapshot, snapshot.RequestIds,
                    $"{snapshot.VolumeId} of {snapshot.InstanceId}" + (snapshot.Reused ? ": the case's earlier snapshot, not taken again" : ""),
                    snapshot.Reused ? JournalEntryKinds.Skip : JournalEntryKinds.Change);
        }
        catch (GuardDutyIRException e)
        {
            if (attempted) JournalFailure(caseId, InstanceId, region, e);
            ReportFailure(e, InstanceId);
        }
    }
}
