namespace GuardDutyIR;

/// <summary>GuardDuty's severity bands (guardduty_findings-severity): Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0.</summary>
public enum SeverityLabel
{
    Low,
    Medium,
    High,
    Critical,
}

public static class Severity
{
    public static SeverityLabel Label(double severity) => severity switch
    {
        < 4.0 => SeverityLabel.Low,
        < 7.0 => SeverityLabel.Medium,
        < 9.0 => SeverityLabel.High,
        _ => SeverityLabel.Critical,
    };

    /// <summary>
    /// Reads a severity floor as a user types it: a band name (Low, Medium, High, Critical, any case) or a plain decimal
    /// number from 0 to 10. Signs, exponents and enum positions ("+1", "-1", "1e1") are not severities.
    /// </summary>
    public static bool TryParseFloor(string text, out double floor)
    {
        var trimmed = text.Trim();
        foreach (var label in Enum.GetValues<SeverityLabel>())
        {
            if (!string.Equals(label.ToString(), trimmed, StringComparison.OrdinalIgnoreCase)) continue;
            floor = Floor(label);
            return true;
        }
        if (double.TryParse(trimmed, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out floor)
            && floor is >= 0 and <= 10)
            return true;
        floor = 0;
        return false;
    }

    /// <summary>The lowest severity of a band, for -MinSeverity High and the like.</summary>
    public static double Floor(SeverityLabel label) => label switch
    {
        SeverityLabel.Low => 1.0,
        SeverityLabel.Medium => 4.0,
        SeverityLabel.High => 7.0,
        _ => 9.0,
    };
}

/// <summary>
/// A GuardDuty finding as responders read it. The property names bind by name to the containment and
/// investigation cmdlets (InstanceId, FindingId, DetectorId, Region, AccountId); <see cref="Detail"/> is the full
/// finding as nested dictionaries and arrays, navigable with dot notation ($f.Detail.service.action).
/// </summary>
public sealed class GdFinding
{
    public string Id { get; internal init; } = "";
    /// <summary>Same as Id, named so it binds to -FindingId.</summary>
    public string FindingId => Id;
    public string? DetectorId { get; internal init; }
    public string AccountId { get; internal init; } = "";
    public string Region { get; internal init; } = "";
    public string? Partition { get; internal init; }
    public string? Arn { get; internal init; }
    public string Type { get; internal init; } = "";
    public double Severity { get; internal init; }
    public SeverityLabel SeverityLabel => GuardDutyIR.Severity.Label(Severity);
    public string? Title { get; internal init; }
    public string? Description { get; internal init; }
    public string? ResourceType { get; internal init; }

    public string? InstanceId { get; internal init; }
    public string? InstanceState { get; internal init; }
    public string? InstanceType { get; internal init; }
    public string? ImageId { get; internal init; }
    public string? AvailabilityZone { get; internal init; }
    public string? VpcId { get; internal init; }
    public string? SubnetId { get; internal init; }
    public string? PrivateIpAddress { get; internal init; }
    public string? PublicIp { get; internal init; }
    public IReadOnlyList<string> NetworkInterfaceIds { get; internal init; } = Array.Empty<string>();
    public IReadOnlyList<string> SecurityGroupIds { get; internal init; } = Array.Empty<string>();
    public string? IamInstanceProfileArn { get; internal init; }
    public IReadOnlyDictionary<string, string> Tags { get; internal init; } = new Dictionary<string, string>();

    public string? ActionType { get; internal init; }
    /// <summary>INBOUND or OUTBOUND for network findings.</summary>
    public string? Direction { get; internal init; }
    public string? Protocol { get; internal init; }
    public string? RemoteIpAddress { get; internal init; }
    public int? RemotePort { get; internal init; }
    public int? LocalPort { get; internal init; }
    public string? RemoteCountry { get; internal init; }
    public string? RemoteOrganization { get; internal init; }
    public string? ThreatListName { get; internal init; }
    public IReadOnlyList<string> ThreatNames { get; internal init; } = Array.Empty<string>();
    public string? ResourceRole { get; internal init; }

    public long Count { get; internal init; }
    public DateTime? FirstSeen { get; internal init; }
    public DateTime? LastSeen { get; internal init; }
    public DateTime? CreatedAt { get; internal init; }
    public DateTime? UpdatedAt { get; internal init; }
    public bool Archived { get; internal init; }
    /// <summary>A sample finding (CreateSampleFindings, or GeneratedFinding placeholders), not a real event.</summary>
    public bool IsSample { get; internal init; }

    /// <summary>The whole finding as GuardDuty sent it, as nested dictionaries (case-insensitive keys) and arrays.</summary>
    public Dictionary<string, object?> Detail { get; internal init; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>The finding's JSON as received, for evidence and the case journal.</summary>
    public string RawJson { get; internal init; } = "{}";

    public override string ToString() => $"{Type} {Id}";
}
