namespace GuardDutyIR;

/// <summary>A GuardDuty detector: one per account and region.</summary>
public sealed class GdDetector
{
    public string DetectorId { get; internal init; } = "";
    public string Region { get; internal init; } = "";
    /// <summary>ENABLED or DISABLED.</summary>
    public string? Status { get; internal init; }
    /// <summary>How often updated findings are exported to EventBridge: FIFTEEN_MINUTES, ONE_HOUR or SIX_HOURS.</summary>
    public string? FindingPublishingFrequency { get; internal init; }
    public string? ServiceRole { get; internal init; }
    public DateTime? CreatedAt { get; internal init; }
    public DateTime? UpdatedAt { get; internal init; }
    public IReadOnlyDictionary<string, string> Tags { get; internal init; } = new Dictionary<string, string>();
}
