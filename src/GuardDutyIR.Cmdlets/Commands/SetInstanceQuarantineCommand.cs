using System.Management.Automation;
using GuardDutyIR.Engine.Cases;
using GuardDutyIR.Engine.Containment;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Isolates EC2 instances the way AWS's incident-response guidance says: record, protect, leave the Auto Scaling group, then per ENI the untracked conversion and a no-rule isolation group.</para>
/// </summary>
[Cmdlet(VerbsCommon.Set, "InstanceQuarantine", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(QuarantineResult))]
public sealed class SetInstanceQuarantineCommand : GdAwsCmdlet
{
    /// <summary>The instance; binds by property name, so findings pipe in.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [InstanceIdInput]
    public string InstanceId { get; set; } = "";

    /// <summary>The finding the instance came from (piped findings bind here); carried on the result.</summary>
    [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    public GdFinding? Finding { get; set; }

    /// <summary>The case (ticket) ID, tagged on the instance as ir:case; default: the session's active case. Each result is journaled to the case.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    /// <summary>The finding ID, tagged as ir:finding; binds from findings.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? FindingId { get; set; }

    /// <summary>Leave the instance's termination protection as it is.</summary>
    [Parameter] public SwitchParameter NoTerminationProtection { get; set; }
    /// <summary>Leave the instance's stop protection as it is.</summary>
    [Parameter] public SwitchParameter NoStopProtection { get; set; }
    /// <summary>Leave the instance-initiated shutdown behaviour as it is.</summary>
    [Parameter] public SwitchParameter NoShutdownBehaviorStop { get; set; }
    /// <summary>Leave DeleteOnTermination of the volumes as it is.</summary>
    [Parameter] public SwitchParameter NoVolumePreservation { get; set; }

    /// <summary>Detach the instance from its Auto Scaling group instead of putting it in standby.</summary>
    [Parameter] public SwitchParameter DetachFromAutoScalingGroup { get; set; }

    /// <summary>Seconds the ENIs stay on the conversion group before isolation; default 5.</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public double ConversionWaitSeconds { get; set; } = 5;

    /// <summary>Lower each ENI's connection-tracking idle timeouts to the minimum.</summary>
    [Parameter] public SwitchParameter LowerConnectionTracking { get; set; }
    /// <summary>Disassociate the instance's Elastic IPs (recorded first).</summary>
    [Parameter] public SwitchParameter DisassociateElasticIp { get; set; }
    /// <summary>Disassociate the instance profile (recorded first).</summary>
    [Parameter] public SwitchParameter DisassociateInstanceProfile { get; set; }
    /// <summary>Replace the instance profile with this one (for example a deny-all profile).</summary>
    [Parameter] public string? ReplacementInstanceProfileArn { get; set; }

    /// <summary>Send every mutating EC2 call with DryRun=true and report which would be allowed or denied.</summary>
    [Parameter] public SwitchParameter DryRun { get; set; }

    /// <summary>Instances worked on at once; default 16.</summary>
    [Parameter]
    [ValidateRange(1, 256)]
    public int ThrottleLimit { get; set; } = 16;

    /// <summary>Name of the isolation group created per VPC.</summary>
    [Parameter] public string IsolationGroupName { get; set; } = "GuardDutyIR-Isolation";

    private QuarantineRun? _run;
    private const int ActivityId = 61;

    protected override void BeginProcessing()
    {
        // Values that are wrong for every record stop the command before any call.
        try { Ec2Ids.RequireQuarantineOptions(ReplacementInstanceProfileArn, IsolationGroupName); }
        catch (GuardDutyIRException e) { ThrowEngineError(e); }
        base.BeginProcessing();
        var options = new QuarantineOptions
        {
            TerminationProtection = !NoTerminationProtection,
            StopProtection = !NoStopProtection,
            ShutdownBehaviorStop = !NoShutdownBehaviorStop,
            PreserveVolumes = !NoVolumePreservation,
            AutoScaling = DetachFromAutoScalingGroup ? AutoScalingAction.Detach : AutoScalingAction.Standby,
            ConversionWait = TimeSpan.FromSeconds(ConversionWaitSeconds),
            LowerConnectionTracking = LowerConnectionTracking,
            DisassociateElasticIps = DisassociateElasticIp,
            DisassociateInstanceProfile = DisassociateInstanceProfile,
            ReplacementInstanceProfileArn = ReplacementInstanceProfileArn,
            DryRun = DryRun,
            MaxConcurrency = ThrottleLimit,
            IsolationGroupName = IsolationGroupName,
        };
        // -DryRun asks EC2 rather than the user, so its plans are not put to ShouldProcess, unless -WhatIf is given
        // too: then nothing at all is sent beyond the describes.
        var whatIf = MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter { IsPresent: true };
        _run = new QuarantineService(Session).Start(options, askApproval: !DryRun || whatIf, CancellationToken);
    }

    protected override void ProcessRecord()
    {
        if (InstanceIdInputAttribute.Refusal(InstanceId) is { } refused)
        {
            WriteEngineError(refused);
            Pump(untilDone: false);
            return;
        }
        var region = CurrentRegion;
        _run!.Add(new QuarantineRequest(InstanceId, region, CaseId ?? CaseSessionStore.Current?.CaseId, FindingId ?? Finding?.Id, Finding));
        Pump(untilDone: false);
    }

    protected override void EndProcessing()
    {
        _run!.Complete();
        Pump(untilDone: true);
        WriteProgress(new ProgressRecord(ActivityId, "Quarantining instances", "Done") { RecordType = ProgressRecordType.Completed });
    }

    /// <summary>
    /// Runs on the pipeline thread: answers plans with ShouldProcess (the only place it may be called), writes outcomes
    /// as they finish, and reports progress. Without untilDone it only drains what is ready.
    /// </summary>
    private void Pump(bool untilDone)
    {
        var run = _run!;
        try
        {
            while (true)
            {
                while (run.Approvals.TryRead(out var approval))
                    approval.Answer(ShouldProcess(approval.Plan, $"{approval.InstanceId} ({approval.Region})", "Set-InstanceQuarantine"));
                while (run.Outcomes.TryRead(out var outcome)) Write(outcome);
                var p = run.Progress;
                if (p.Received > 0)
                    WriteProgress(new ProgressRecord(ActivityId, "Quarantining instances", $"{p.Finished} of {p.Received} done")
                    { PercentComplete = Math.Min(100, p.Finished * 100 / p.Received), CurrentOperation = p.CurrentInstanceId });
                if (!untilDone) return;
                if (run.Completion.IsCompleted && !run.Approvals.TryPeek(out _) && !run.Outcomes.TryPeek(out _)) break;
                Task.WhenAny(run.Outcomes.WaitToReadAsync(CancellationToken).AsTask(), run.Approvals.WaitToReadAsync(CancellationToken).AsTask(), run.Completion)
                    .Wait(TimeSpan.FromMilliseconds(200));
                if (CancellationToken.IsCancellationRequested) throw new PipelineStoppedException();
            }
            run.Completion.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (CancellationToken.IsCancellationRequested)
        {
            JournalAfterStop(run);
            throw new PipelineStoppedException();
        }
        catch (PipelineStoppedException)
        {
            // Ctrl+C, noticed here or by a write refused once the pipeline stops.
            JournalAfterStop(run);
            throw;
        }
    }

    /// <summary>
    /// After Ctrl+C the run finishes its roll-forward to the isolation group; what it did is journaled even though it
    /// can no longer be written to the pipeline.
    /// </summary>
    private void JournalAfterStop(QuarantineRun run)
    {
        try { run.Completion.Wait(TimeSpan.FromSeconds(150)); } catch (AggregateException) { }
        while (run.Outcomes.TryRead(out var finished))
        {
            try { JournalOutcome(finished, finished.Result is { } r ? Resumed(r) : null); }
            catch (PipelineStoppedException) { }   // a journal error that could not be reported; the next outcome still goes in
        }
    }

    private readonly Dictionary<string, IReadOnlyDictionary<string, CaseJournalEntry>> _journaled = new(StringComparer.Ordinal);

    /// <summary>
    /// Why nothing was redone, when the case's journal already has this instance quarantined and the run (which checks
    /// the instance's tags and groups) changed nothing: a re-run of a runbook continues where it stopped.
    /// </summary>
    private string? Resumed(QuarantineResult result)
    {
        if (result.Status != QuarantineStatus.Quarantined || result.Steps.Any(s => s.Status == StepStatus.Done) || !Journaling(result.CaseId)) return null;
        var handle = CaseFor(result.CaseId);
        if (handle is null) return null;
        if (!_journaled.TryGetValue(handle.CaseId, out var last))
            _journaled[handle.CaseId] = last = CaseProgress.LastChanges(handle, "Set-InstanceQuarantine", "Undo-InstanceQuarantine");
        return last.TryGetValue(result.InstanceId, out var earlier) && earlier.Action == "Set-InstanceQuarantine" && earlier.Status == nameof(QuarantineStatus.Quarantined)
            ? $"{result.InstanceId}: skipped: quarantined in case {handle.CaseId} by journal entry {earlier.Sequence} at {earlier.Time:u}, and its tags and security groups still say so; nothing was redone."
            : null;
    }

    /// <summary>Journals an outcome; <paramref name="skipped"/> is <see cref="Resumed"/>'s answer for its result.</summary>
    private void JournalOutcome(QuarantineOutcome outcome, string? skipped)
    {
        if (outcome.Result is { } result)
        {
            JournalChange(result.CaseId, result.InstanceId, result.Region, skipped is null ? result.Status.ToString() : "AlreadyQuarantined", result, result.RequestIds,
                skipped, skipped is null ? JournalEntryKinds.Change : JournalEntryKinds.Skip);
        }
        else if (outcome.Error is { } error)
        {
            JournalFailure(CaseId ?? CaseSessionStore.Current?.CaseId, outcome.InstanceId, outcome.Region, error);
        }
    }

    private void Write(QuarantineOutcome outcome)
    {
        // Journaled before it is written: a write refused by Ctrl+C must not lose the record of the change.
        var skipped = outcome.Result is { } done ? Resumed(done) : null;
        JournalOutcome(outcome, skipped);
        if (outcome.Result is { } result)
        {
            foreach (var failed in result.Steps.Where(s => s.Status == StepStatus.Failed))
                WriteWarning($"{result.InstanceId}: {failed.Name} {failed.Target} failed: {failed.Error}");
            if (skipped is not null)
            {
                WriteVerbose(skipped);
                WriteInformation(new InformationRecord(skipped, "Set-InstanceQuarantine") { Tags = { "Skipped" } });
                var output = PSObject.AsPSObject(result);
                output.Properties.Add(new PSNoteProperty("Skipped", skipped));
                WriteObject(output);
            }
            else
            {
                WriteObject(result);
            }
            if (result.Status is QuarantineStatus.Failed or QuarantineStatus.PartiallyQuarantined)
                WriteError(ToErrorRecord(new GuardDutyIRException(result.Status == QuarantineStatus.Failed ? "QuarantineFailed" : "QuarantineIncomplete", ErrorKind.InvalidOperation,
                    $"{result.InstanceId} is {result.Status}: " + string.Join("; ", result.Steps.Where(s => s.Status == StepStatus.Failed).Select(s => s.ToString())) + ". Run Set-InstanceQuarantine again to finish.",
                    result.InstanceId), result.InstanceId));
        }
        else if (outcome.Error is { } error)
        {
            ReportFailure(error, outcome.InstanceId);
        }
    }
}
