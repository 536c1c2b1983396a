namespace GuardDutyIR;

/// <summary>Which GuardDuty IP list: a threat list (ThreatIntelSet) or a trusted IP list (IPSet).</summary>
public enum ThreatListType
{
    /// <summary>ThreatIntelSet: traffic to these addresses raises findings such as MaliciousIPCaller.Custom.</summary>
    Threat,
    /// <summary>IPSet: traffic with these addresses raises no findings.</summary>
    Trusted,
}

/// <summary>A GuardDuty threat list or trusted IP list.</summary>
public sealed class GdThreatList
{
    /// <summary>The ThreatIntelSet or IPSet ID.</summary>
    public string ListId { get; internal init; } = "";
    public ThreatListType ListType { get; internal init; }
    public string Name { get; internal init; } = "";
    /// <summary>TXT, STIX, OTX_CSV, ALIEN_VAULT, PROOF_POINT or FIRE_EYE.</summary>
    public string Format { get; internal init; } = "";
    /// <summary>The S3 URL of the list file.</summary>
    public string Location { get; internal init; } = "";
    /// <summary>INACTIVE, ACTIVATING, ACTIVE, DEACTIVATING, ERROR, DELETE_PENDING or DELETED.</summary>
    public string Status { get; internal init; } = "";
    public string DetectorId { get; internal init; } = "";
    public string Region { get; internal init; } = "";
    public IReadOnlyDictionary<string, string> Tags { get; internal init; } = new Dictionary<string, string>();
    /// <summary>Entries in the list file, when this object comes from a change that read or wrote it.</summary>
    public int? EntryCount { get; internal init; }
    /// <summary>The request IDs of the calls that made this change, for the case journal.</summary>
    public IReadOnlyList<string> RequestIds { get; internal init; } = Array.Empty<string>();
}
