namespace GuardDutyIR.Lab.Core;

/// <summary>What the fault injector decided for one request.</summary>
public enum FaultKind { None, Error500, Error503, Drop }

/// <summary>
/// Seeded fault injection: added latency, server errors in the protocol's shape, and dropped connections.
/// All knobs can be changed while the Lab runs; the random sequence is reproducible for a given seed and request order.
/// </summary>
public sealed class LabFaults
{
    private readonly object _lock = new();
    private Random _rng;

    public LabFaults(FaultOptions options)
    {
        ErrorRate = options.ErrorRate;
        DropRate = options.DropRate;
        LatencyMs = options.LatencyMs;
        Services = options.Services;
        _rng = new Random(options.Seed);
    }

    /// <summary>Probability (0..1) that a request is answered with 500/503 instead of being handled.</summary>
    public double ErrorRate { get; set; }
    /// <summary>Probability (0..1) that the connection is aborted without a response.</summary>
    public double DropRate { get; set; }
    /// <summary>Added latency per call.</summary>
    public int LatencyMs { get; set; }
    /// <summary>Signing names affected; null or empty means all.</summary>
    public IReadOnlyCollection<string>? Services { get; set; }

    public void Reseed(int seed) { lock (_lock) _rng = new Random(seed); }

    public bool Active => ErrorRate > 0 || DropRate > 0 || LatencyMs > 0;

    public FaultKind Decide(string service)
    {
        if (Services is { Count: > 0 } s && !s.Contains(service)) return FaultKind.None;
        if (ErrorRate <= 0 && DropRate <= 0) return FaultKind.None;
        lock (_lock)
        {
            var roll = _rng.NextDouble();
            if (roll < DropRate) return FaultKind.Drop;
            if (roll < DropRate + ErrorRate) return _rng.Next(2) == 0 ? FaultKind.Error500 : FaultKind.Error503;
            return FaultKind.None;
        }
    }

    public bool AppliesTo(string service) => Services is not { Count: > 0 } s || s.Contains(service);
}

public sealed record FaultOptions
{
    public double ErrorRate { get; init; }
    public double DropRate { get; init; }
    public int LatencyMs { get; init; }
    public int Seed { get; init; } = 1;
    public IReadOnlyCollection<string>? Services { get; init; }
}
