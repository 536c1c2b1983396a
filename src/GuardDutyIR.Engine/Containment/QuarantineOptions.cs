namespace GuardDutyIR.Engine.Containment;

/// <summary>How an instance leaves its Auto Scaling group before the network cut.</summary>
public enum AutoScalingAction { Standby, Detach }

/// <summary>One instance to quarantine, with what the pipeline knew about it.</summary>
public sealed record QuarantineRequest(string InstanceId, string Region, string? CaseId = null, string? FindingId = null, GdFinding? Finding = null);

/// <summary>The knobs of Set-InstanceQuarantine; defaults follow AWS's incident-response guidance.</summary>
public sealed record QuarantineOptions
{
    public bool TerminationProtection { get; init; } = true;
    public bool StopProtection { get; init; } = true;
    public bool ShutdownBehaviorStop { get; init; } = true;
    public bool PreserveVolumes { get; init; } = true;
    public AutoScalingAction AutoScaling { get; init; } = AutoScalingAction.Standby;
    /// <summary>
    /// Time the ENIs stay on the all-open conversion group so tracked flows become untracked. AWS documents no interval
    /// (AFO waits 0 s, AEI 180 s); 5 s lets in-flight packets of active flows be seen untracked.
    /// </summary>
    public TimeSpan ConversionWait { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Lower each ENI's idle timeouts to the minimum (TCP 60 s, UDP stream 60 s, UDP 30 s).</summary>
    public bool LowerConnectionTracking { get; init; }
    public bool DisassociateElasticIps { get; init; }
    public bool DisassociateInstanceProfile { get; init; }
    /// <summary>Replace the profile with this one (for example a deny-all forensic profile) instead of removing it.</summary>
    public string? ReplacementInstanceProfileArn { get; init; }
    public bool DryRun { get; init; }
    /// <summary>Instances worked on at once.</summary>
    public int MaxConcurrency { get; init; } = 16;
    public string IsolationGroupName { get; init; } = "GuardDutyIR-Isolation";
    public string ConversionGroupName { get; init; } = "GuardDutyIR-Conversion";
    /// <summary>Client-side pacing; null uses EC2's documented buckets.</summary>
    public Ec2RateLimiter? RateLimiter { get; init; }
}

/// <summary>Progress of a bulk run, for the cmdlet's progress bar.</summary>
public readonly record struct QuarantineProgress(int Received, int Finished, string? CurrentInstanceId, string? Activity);

/// <summary>A plan waiting for the caller's yes (ShouldProcess): what will be done to one instance, ENI by ENI.</summary>
public sealed class QuarantinePlanApproval
{
    private readonly TaskCompletionSource<bool> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal QuarantinePlanApproval(string instanceId, string region, string plan)
    {
        InstanceId = instanceId;
        Region = region;
        Plan = plan;
    }

    public string InstanceId { get; }
    public string Region { get; }
    /// <summary>The exact changes, one per line.</summary>
    public string Plan { get; }
    public void Answer(bool approved) => _answer.TrySetResult(approved);
    internal Task<bool> Answered => _answer.Task;
}

/// <summary>What a bulk run produced for one instance: a result, or the error that kept it from starting.</summary>
public sealed record QuarantineOutcome(string InstanceId, string Region, QuarantineResult? Result, GuardDutyIRException? Error);
