namespace GuardDutyIR;

/// <summary>How one containment step ended. A failed step never reports success; DryRun steps say what AWS answered.</summary>
public enum StepStatus
{
    /// <summary>The change was made.</summary>
    Done,
    /// <summary>Nothing to do: the resource was already in the wanted state (or the step was not asked for).</summary>
    Skipped,
    /// <summary>The call failed; see Error.</summary>
    Failed,
    /// <summary>-DryRun: EC2 answered DryRunOperation (the call would have succeeded).</summary>
    DryRunAllowed,
    /// <summary>-DryRun: EC2 answered UnauthorizedOperation (the call would be denied).</summary>
    DryRunDenied,
}

/// <summary>Overall outcome of quarantining one instance.</summary>
public enum QuarantineStatus
{
    Quarantined,
    /// <summary>Some containment steps failed; the instance may be partly isolated. Re-run to finish.</summary>
    PartiallyQuarantined,
    Failed,
    /// <summary>-DryRun: no change was made.</summary>
    DryRun,
    /// <summary>Undo-InstanceQuarantine put the recorded state back.</summary>
    Released,
    /// <summary>Ctrl+C stopped the run for this instance: Steps lists what was done, and no ENI was left on the conversion group. Re-run to finish.</summary>
    Stopped,
}

/// <summary>One step of a containment run: what was done to which resource, and what AWS answered.</summary>
public sealed class QuarantineStep
{
    public string Name { get; internal init; } = "";
    /// <summary>The resource the step acted on (instance, ENI, group, volume, association).</summary>
    public string Target { get; internal init; } = "";
    public StepStatus Status { get; internal set; }
    public string Detail { get; internal set; } = "";
    /// <summary>The AWS error code and message when the step failed or a DryRun was denied.</summary>
    public string? Error { get; internal set; }
    /// <summary>Request IDs of the mutating calls of this step (for the case journal).</summary>
    public IReadOnlyList<string> RequestIds { get; internal set; } = Array.Empty<string>();
    public DateTime Time { get; internal init; } = DateTime.UtcNow;

    public override string ToString() => $"{Name} {Target}: {Status}{(Error is null ? "" : " (" + Error + ")")}";
}

/// <summary>One network interface of a quarantined instance: its groups before and after.</summary>
public sealed class EniQuarantine
{
    public string NetworkInterfaceId { get; internal init; } = "";
    public string VpcId { get; internal init; } = "";
    public int DeviceIndex { get; internal init; }
    public IReadOnlyList<string> OriginalGroups { get; internal init; } = Array.Empty<string>();
    public IReadOnlyList<string> NewGroups { get; internal set; } = Array.Empty<string>();
    public string? IsolationGroupId { get; internal set; }
}

/// <summary>The pre-containment state recorded on the instance (tags ir:orig:N) and used by Undo-InstanceQuarantine.</summary>
public sealed class QuarantineRecord
{
    public bool DisableApiTermination { get; internal init; }
    public bool DisableApiStop { get; internal init; }
    public string ShutdownBehavior { get; internal init; } = "stop";
    /// <summary>ENI ID → its original security groups.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> NetworkInterfaceGroups { get; internal init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>Device name → DeleteOnTermination before containment.</summary>
    public IReadOnlyDictionary<string, bool> DeleteOnTermination { get; internal init; } = new Dictionary<string, bool>();
    public string? InstanceProfileArn { get; internal init; }
    /// <summary>Elastic IP allocation ID → the ENI it was associated with.</summary>
    public IReadOnlyDictionary<string, string> ElasticIps { get; internal init; } = new Dictionary<string, string>();
    /// <summary>Elastic IP allocation ID → its public address (kept because the finding and the logs name it).</summary>
    public IReadOnlyDictionary<string, string> ElasticIpAddresses { get; internal init; } = new Dictionary<string, string>();
    /// <summary>
    /// Elastic IP allocation ID → the private IP of the ENI it was associated with, so it goes back there and not onto
    /// the primary private IP (absent in records made before this was kept: those go back to the primary one).
    /// </summary>
    public IReadOnlyDictionary<string, string> ElasticIpPrivateAddresses { get; internal init; } = new Dictionary<string, string>();
    public string? AutoScalingGroupName { get; internal init; }
    /// <summary>Standby or Detach: how the instance left its Auto Scaling group.</summary>
    public string? AutoScalingAction { get; internal init; }
    /// <summary>ENI ID → the ENI's own tcp/udpStream/udp idle timeouts (seconds) before they were lowered.</summary>
    public IReadOnlyDictionary<string, string> ConnectionTracking { get; internal init; } = new Dictionary<string, string>();
    public DateTime RecordedAt { get; internal init; }
}

/// <summary>What Set-InstanceQuarantine (or Undo-InstanceQuarantine) did to one instance.</summary>
public sealed class QuarantineResult
{
    public string InstanceId { get; internal init; } = "";
    public string Region { get; internal init; } = "";
    public string? CaseId { get; internal init; }
    public string? FindingId { get; internal init; }
    public GdFinding? Finding { get; internal init; }
    public QuarantineStatus Status { get; internal set; }
    public IReadOnlyList<QuarantineStep> Steps { get; internal init; } = new List<QuarantineStep>();
    public IReadOnlyList<EniQuarantine> NetworkInterfaces { get; internal set; } = new List<EniQuarantine>();
    /// <summary>VPC ID → the isolation group used there.</summary>
    public IReadOnlyDictionary<string, string> IsolationGroups { get; internal set; } = new Dictionary<string, string>();
    public QuarantineRecord? Original { get; internal set; }
    /// <summary>The instance as DescribeInstances returned it before any change (JSON).</summary>
    public string? OriginalDescription { get; internal set; }
    /// <summary>A line per change made, for notifications (Send-GdNotification's &lt;ActionsTaken&gt;).</summary>
    public IReadOnlyList<string> Actions { get; internal set; } = new List<string>();
    /// <summary>Request IDs of every mutating call, in order.</summary>
    public IReadOnlyList<string> RequestIds => Steps.SelectMany(s => s.RequestIds).ToList();
    /// <summary>Security groups do not end tracked ICMP or automatically tracked flows; say so with every result.</summary>
    public string Caveat { get; internal init; } =
        "Security-group isolation is best effort: ICMP and automatically tracked connections may survive it. Stronger options: a NACL, detaching a secondary ENI, stopping the instance after evidence is collected, a host firewall.";
}

/// <summary>One guarantee checked by Test-InstanceQuarantine.</summary>
public sealed class QuarantineCheck
{
    public string Name { get; internal init; } = "";
    public string Target { get; internal init; } = "";
    public bool Passed { get; internal init; }
    public string Detail { get; internal init; } = "";
    public override string ToString() => $"{(Passed ? "PASS" : "FAIL")} {Name} {Target}: {Detail}";
}

/// <summary>Test-InstanceQuarantine's verdict on one instance, check by check.</summary>
public sealed class QuarantineTestResult
{
    public string InstanceId { get; internal init; } = "";
    public string Region { get; internal init; } = "";
    public string? CaseId { get; internal init; }
    public bool Passed => Checks.Count > 0 && Checks.All(c => c.Passed);
    public IReadOnlyList<QuarantineCheck> Checks { get; internal init; } = new List<QuarantineCheck>();
    public IReadOnlyList<string> Failed => Checks.Where(c => !c.Passed).Select(c => c.ToString()).ToList();
}

/// <summary>One EBS snapshot taken as evidence.</summary>
public sealed class ForensicSnapshot
{
    public string SnapshotId { get; internal init; } = "";
    public string VolumeId { get; internal init; } = "";
    public string InstanceId { get; internal init; } = "";
    public string? Device { get; internal init; }
    public string State { get; internal set; } = "pending";
    public string? Progress { get; internal set; }
    public DateTime? StartTime { get; internal init; }
    public string? CaseId { get; internal init; }
    public string? FindingId { get; internal init; }
    public string Region { get; internal init; } = "";
    public bool Encrypted { get; internal init; }
    /// <summary>True when an earlier run of the same case had already taken this snapshot.</summary>
    public bool Reused { get; internal init; }
    public string? CopySnapshotId { get; internal set; }
    public string? CopyRegion { get; internal set; }
    public string? KmsKeyId { get; internal set; }
    public IReadOnlyList<string> SharedWith { get; internal set; } = Array.Empty<string>();
    public IReadOnlyList<string> RequestIds { get; internal set; } = Array.Empty<string>();
    public GdFinding? Finding { get; internal init; }
    public IReadOnlyList<string> Actions { get; internal set; } = new List<string>();
    /// <summary>
    /// What the earlier steps of the pipeline reported doing to this instance (a piped quarantine result's Actions),
    /// carried on so a notification at the end of the runbook tells everything that was done.
    /// </summary>
    public IReadOnlyList<string> EarlierActions { get; internal set; } = Array.Empty<string>();
}

/// <summary>One file of captured evidence with its SHA-256.</summary>
public sealed class EvidenceFile
{
    public string Kind { get; internal init; } = "";
    public string Path { get; internal init; } = "";
    public long Length { get; internal init; }
    public string Sha256 { get; internal init; } = "";
}

/// <summary>What Save-InstanceEvidence captured for one instance.</summary>
public sealed class InstanceEvidence
{
    public string InstanceId { get; internal init; } = "";
    public string Region { get; internal init; } = "";
    public string? CaseId { get; internal init; }
    public string? FindingId { get; internal init; }
    public DateTime CapturedAt { get; internal init; }
    public IReadOnlyList<EvidenceFile> Files { get; internal init; } = new List<EvidenceFile>();
    /// <summary>Artifacts that could not be captured, with the reason (e.g. a screenshot of a stopped instance).</summary>
    public IReadOnlyList<string> Missing { get; internal init; } = new List<string>();
    public GdFinding? Finding { get; internal init; }
}

/// <summary>The end of a compromised instance: stopped or terminated after the evidence gate.</summary>
public sealed class InstanceShutdown
{
    public string InstanceId { get; internal init; } = "";
    public string Region { get; internal init; } = "";
    public string? CaseId { get; internal init; }
    /// <summary>Stop or Terminate.</summary>
    public string Action { get; internal init; } = "";
    public string PreviousState { get; internal init; } = "";
    public string State { get; internal set; } = "";
    /// <summary>The completed snapshots of this case that let the gate open (volume ID → snapshot ID).</summary>
    public IReadOnlyDictionary<string, string> EvidenceSnapshots { get; internal init; } = new Dictionary<string, string>();
    public bool Forced { get; internal init; }
    public IReadOnlyList<QuarantineStep> Steps { get; internal init; } = new List<QuarantineStep>();
    public IReadOnlyList<string> RequestIds => Steps.SelectMany(s => s.RequestIds).ToList();
}
