using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.Core;

/// <summary>How a Lab starts. Everything scenario-related is deterministic from <see cref="Seed"/>.</summary>
public sealed record LabOptions
{
    /// <summary>0 picks a free port on 127.0.0.1.</summary>
    public int Port { get; init; }
    /// <summary>Workshop | CompromisedInstance | CloudTrailInvestigation | Empty | Scale.</summary>
    public string Scenario { get; init; } = ScenarioNames.Workshop;
    public int Seed { get; init; } = 42;
    public string Region { get; init; } = "us-east-1";

    /// <summary>
    /// Other regions GuardDuty answers in (without a detector, as where GuardDuty is not enabled), so multi-region
    /// reads can be rehearsed. Only GuardDuty keeps its state per region in the Lab; other services stay single-region.
    /// </summary>
    public IReadOnlyCollection<string> AdditionalGuardDutyRegions { get; init; } = Array.Empty<string>();

    /// <summary>Scale scenario knobs (ignored by the other scenarios).</summary>
    public int Instances { get; init; } = 100;
    public int Vpcs { get; init; } = 4;
    public int Findings { get; init; } = 100;

    /// <summary>Token-bucket throttling as AWS documents it (off by default); LabHost.Throttle toggles it at runtime.</summary>
    public bool Throttling { get; init; }
    /// <summary>Multiplies bucket capacities (test knob).</summary>
    public double ThrottleCapacityScale { get; init; } = 1;
    /// <summary>Multiplies bucket refill rates (test knob: 10 makes a 5/s bucket refill at 50/s).</summary>
    public double ThrottleRefillScale { get; init; } = 1;

    public FaultOptions Faults { get; init; } = new();

    /// <summary>Time a new EBS snapshot takes from pending to completed (progress grows linearly).</summary>
    public double SnapshotCompletionSeconds { get; init; } = 3;
    /// <summary>Snapshots that may be pending at once in the account; more fail with ConcurrentSnapshotLimitExceeded (0 = no limit).</summary>
    public int MaxPendingSnapshots { get; init; }
    /// <summary>Time of stopping→stopped, shutting-down→terminated and pending→running transitions.</summary>
    public double InstanceTransitionSeconds { get; init; } = 2;

    /// <summary>
    /// The EC2 connection-tracking page (older version) says "ICMP traffic is always tracked, regardless of rules";
    /// the current one only names TCP and UDP as untrackable. True follows that: ICMP flows never become untracked.
    /// </summary>
    public bool IcmpAlwaysTracked { get; init; } = true;

    /// <summary>Actions (e.g. "ec2:ModifyInstanceAttribute") the Lab denies with the protocol's authorization error.</summary>
    public IReadOnlyCollection<string> DeniedActions { get; init; } = Array.Empty<string>();

    /// <summary>Optional clock (tests of time-based behaviour); defaults to the system clock.</summary>
    public TimeProvider? Clock { get; init; }

    public ScaleOptions ScaleOptions => new(Instances, Vpcs, Findings);
}
