using Amazon.EC2.Model;

namespace GuardDutyIR.Engine.Containment;

/// <summary>Options of New-ForensicSnapshot.</summary>
public sealed record SnapshotOptions
{
    public bool PerVolume { get; init; }
    public bool Wait { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromHours(2);
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);
    public string? CopyToRegion { get; init; }
    public string? KmsKeyId { get; init; }
    public IReadOnlyList<string> ShareWithAccountIds { get; init; } = Array.Empty<string>();
    /// <summary>How long to keep retrying when the account's concurrent-snapshot limit is reached.</summary>
    public TimeSpan LimitRetryFor { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>What earlier steps of the pipeline did to the instance, carried on each snapshot.</summary>
    public IReadOnlyList<string> EarlierActions { get; init; } = Array.Empty<string>();
}

/// <summary>An instance as described before a forensic action, so the confirmation can name what will be acted on.</summary>
public class ForensicTarget
{
    internal ForensicTarget(InstanceFacts facts, string region)
    {
        Facts = facts;
        Region = region;
    }

    internal InstanceFacts Facts { get; }
    public string InstanceId => Facts.InstanceId;
    public string Region { get; }
    public string State => Facts.StateName;
    /// <summary>Attached EBS volumes: volume ID → device.</summary>
    public IReadOnlyDictionary<string, string> Volumes => Facts.Volumes.ToDictionary(v => v.Ebs.VolumeId, v => v.DeviceName, StringComparer.Ordinal);
}

/// <summary>What New-ForensicSnapshot will do to one instance: the snapshots to take and those of the case to reuse.</summary>
public sealed class SnapshotPlan : ForensicTarget
{
    internal SnapshotPlan(InstanceFacts facts, string region) : base(facts, region) { }

    public string? CaseId { get; internal init; }
    public string? FindingId { get; internal init; }
    internal GdFinding? Finding { get; init; }
    /// <summary>Snapshots this case already took, by volume.</summary>
    internal IReadOnlyDictionary<string, Snapshot> Reused { get; init; } = new Dictionary<string, Snapshot>();
    /// <summary>Volumes that still need a snapshot.</summary>
    public IReadOnlyList<string> Missing { get; internal init; } = Array.Empty<string>();

    /// <summary>The action, for ShouldProcess ("Performing the operation … on target i-…").</summary>
    public string Describe(bool perVolume)
    {
        var volumes = Volumes;
        var what = Missing.Count == 0 ? "take no new snapshot"
            : $"snapshot {string.Join(", ", Missing.Select(v => $"{v} ({volumes[v]})"))} " + (perVolume || Missing.Count < volumes.Count ? "one CreateSnapshot per volume" : "in one crash-consistent CreateSnapshots");
        var reuse = Reused.Count == 0 ? "" : "; reuse " + string.Join(", ", Reused.Select(r => $"{r.Value.SnapshotId} of {r.Key}"));
        return $"{what} for case {CaseId ?? "(none)"}{reuse}";
    }
}

/// <summary>What Stop-/Remove-CompromisedInstance will do: the evidence found, and whether the gate is forced open.</summary>
public sealed class ShutdownPlan : ForensicTarget
{
    internal ShutdownPlan(InstanceFacts facts, string region) : base(facts, region) { }

    public string? CaseId { get; internal init; }
    public bool Terminate { get; internal init; }
    /// <summary>Volume → the completed snapshot of the case that covers it.</summary>
    public IReadOnlyDictionary<string, string> Covered { get; internal init; } = new Dictionary<string, string>();
    public IReadOnlyList<string> Missing { get; internal init; } = Array.Empty<string>();

    /// <summary>The action, for ShouldProcess.</summary>
    public string Describe() =>
        $"{(Terminate ? "Terminate" : "Stop")}; evidence of case {CaseId ?? "(none)"}: " +
        (Covered.Count == 0 ? "none" : string.Join(", ", Covered.Select(c => $"{c.Key} in {c.Value}"))) +
        (Missing.Count == 0 ? "" : $"; NO completed snapshot of {string.Join(", ", Missing)} (-Force)");
}
