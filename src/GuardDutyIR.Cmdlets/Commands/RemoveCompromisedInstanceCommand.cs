using System.Management.Automation;
using GuardDutyIR.Engine.Containment;

namespace GuardDutyIR.Commands;

/// <summary>Shared by the guarded stop and terminate: the evidence gate, then the protections lifted, the call, the wait.</summary>
public abstract class CompromisedInstanceShutdownCommand : GdAwsCmdlet
{
    /// <summary>The instance; binds by property name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [InstanceIdInput]
    public string InstanceId { get; set; } = "";

    /// <summary>The case whose completed snapshots (tag ir:case) must cover every volume; the stop or terminate is journaled to it. Default: the session's active case.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    /// <summary>Go ahead even when a volume lacks a completed snapshot of the case. -WhatIf still wins.</summary>
    [Parameter] public SwitchParameter Force { get; set; }

    /// <summary>How long to wait for the final state, in minutes; default 10.</summary>
    [Parameter]
    [ValidateRange(0.01, 120)]
    public double TimeoutMinutes { get; set; } = 10;

    /// <summary>Seconds between state polls; default 5.</summary>
    [Parameter]
    [ValidateRange(0.1, 300)]
    public double PollIntervalSeconds { get; set; } = 5;

    private protected abstract bool Terminate { get; }

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
        var verb = Terminate ? "Terminate" : "Stop";
        var caseId = CaseId ?? CaseSessionStore.Current?.CaseId;
        var attempted = false;
        try
        {
            // The instance and its evidence are read first (a missing snapshot refuses here, with no prompt), so the
            // confirmation names them; -WhatIf still wins over -Force and changes nothing.
            var plan = Await(Service.PlanShutdownAsync(InstanceId, region, caseId, Terminate, Force, CancellationToken));
            if (!ShouldProcess($"{InstanceId} ({plan.State}, {region})", plan.Describe())) return;
            attempted = true;
            var result = Await(Service.ShutdownAsync(plan, TimeSpan.FromMinutes(TimeoutMinutes), TimeSpan.FromSeconds(PollIntervalSeconds),
                s => ReportProgress(new ProgressRecord(63, $"{verb} {InstanceId}", s)), CancellationToken));
            WriteProgress(new ProgressRecord(63, $"{verb} {InstanceId}", "Done") { RecordType = ProgressRecordType.Completed });
            WriteObject(result);
            JournalChange(result.CaseId ?? caseId, InstanceId, region, result.State, result, result.RequestIds, $"{result.Action}: {result.PreviousState} -> {result.State}");
        }
        catch (GuardDutyIRException e)
        {
            if (attempted) JournalFailure(caseId, InstanceId, region, e);
            ReportFailure(e, InstanceId);
        }
    }
}

/// <summary>
/// <para type="synopsis">Terminates a compromised instance only when every volume has a completed snapshot of the case; lifts termination protection just before and waits for terminated.</para>
/// </summary>
[Cmdlet(VerbsCommon.Remove, "CompromisedInstance", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(InstanceShutdown))]
public sealed class RemoveCompromisedInstanceCommand : CompromisedInstanceShutdownCommand
{
    private protected override bool Terminate => true;
}

/// <summary>
/// <para type="synopsis">Stops a compromised instance only when every volume has a completed snapshot of the case; lifts stop protection just before and waits for stopped.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "CompromisedInstance", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(InstanceShutdown))]
public sealed class StopCompromisedInstanceCommand : CompromisedInstanceShutdownCommand
{
    private protected override bool Terminate => false;
}
