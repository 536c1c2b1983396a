using System.Management.Automation;
using GuardDutyIR.Engine.Containment;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Puts a quarantined instance back as it was: every ENI's groups, Elastic IPs, instance profile, protections and Auto Scaling state, from the record on the instance.</para>
/// </summary>
[Cmdlet(VerbsCommon.Undo, "InstanceQuarantine", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(QuarantineResult))]
public sealed class UndoInstanceQuarantineCommand : GdAwsCmdlet
{
    /// <summary>The instance; binds by property name from quarantine results.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [InstanceIdInput]
    public string InstanceId { get; set; } = "";

    /// <summary>The case this change is journaled to; binds from quarantine results; default: the session's active case.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    private QuarantineService? _service;
    // One service per invocation: its clients and EC2 buckets pace the whole pipeline, not each record.
    private QuarantineService Service => _service ??= new QuarantineService(Session);

    protected override void ProcessRecord()
    {
        if (InstanceIdInputAttribute.Refusal(InstanceId) is { } refused)
        {
            WriteEngineError(refused);
            return;
        }
        var region = CurrentRegion;
        var service = Service;
        var attempted = false;
        try
        {
            var (plan, _) = Await(service.PlanUndoAsync(InstanceId, region, CancellationToken));
            if (!ShouldProcess(plan, $"{InstanceId} ({region})", "Undo-InstanceQuarantine")) return;
            attempted = true;
            var result = Await(service.UndoAsync(InstanceId, region, CancellationToken));
            WriteObject(result);
            JournalChange(CaseId, InstanceId, region, result.Status.ToString(), result, result.RequestIds);
            if (result.Status != QuarantineStatus.Released)
                WriteError(ToErrorRecord(new GuardDutyIRException("RestoreIncomplete", ErrorKind.InvalidOperation,
                    $"{InstanceId} was not fully restored: " + string.Join("; ", result.Steps.Where(s => s.Status == StepStatus.Failed)) + ". The record is kept; run again.", InstanceId), InstanceId));
        }
        catch (GuardDutyIRException e)
        {
            if (attempted) JournalFailure(CaseId, InstanceId, region, e);
            ReportFailure(e, InstanceId);
        }
    }
}
