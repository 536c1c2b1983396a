namespace GuardDutyIR;

/// <summary>A CloudTrail Lake event data store.</summary>
public sealed class LakeEventDataStore
{
    public string Name { get; internal init; } = "";
    /// <summary>The store's ID: what a query's FROM clause and -EventDataStore take.</summary>
    public string EventDataStore { get; internal init; } = "";
    public string EventDataStoreArn { get; internal init; } = "";
    /// <summary>CREATED, ENABLED, PENDING_DELETION, STARTING_INGESTION, STOPPING_INGESTION or STOPPED_INGESTION.</summary>
    public string? Status { get; internal init; }
    public long? RetentionPeriod { get; internal init; }
    public bool MultiRegionEnabled { get; internal init; }
    public bool OrganizationEnabled { get; internal init; }
    public DateTime? CreatedTimestamp { get; internal init; }
    public string Region { get; internal init; } = "";
}
