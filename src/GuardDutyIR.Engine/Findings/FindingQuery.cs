namespace GuardDutyIR.Engine.Findings;

/// <summary>Which archived findings a query returns.</summary>
public enum ArchivedFilter
{
    /// <summary>Only findings that are not archived (the default, as in the console).</summary>
    Exclude,
    /// <summary>Only archived findings.</summary>
    Only,
    /// <summary>Both.</summary>
    Include,
}

/// <summary>What Get-GdFinding asks for. Empty collections and nulls mean "no restriction".</summary>
public sealed class FindingQuery
{
    public string? DetectorId { get; init; }
    /// <summary>Specific finding IDs: fetched directly, whatever their archived or sample state.</summary>
    public IReadOnlyList<string> Ids { get; init; } = Array.Empty<string>();
    /// <summary>Finding types; entries with * ? or [ are wildcards and are matched client side. Malformed ones are refused here, before any call.</summary>
    public IReadOnlyList<string> Types
    {
        get => _types;
        init
        {
            foreach (var type in value.Where(Glob.HasWildcard)) Glob.ToRegex(type);
            _types = value;
        }
    }

    private readonly IReadOnlyList<string> _types = Array.Empty<string>();
    public double? MinSeverity { get; init; }
    public IReadOnlyList<string> InstanceIds { get; init; } = Array.Empty<string>();
    public IReadOnlyList<string> AccountIds { get; init; } = Array.Empty<string>();
    /// <summary>Findings updated at or after this time.</summary>
    public DateTime? Since { get; init; }
    /// <summary>Findings updated at or before this time.</summary>
    public DateTime? Until { get; init; }
    public ArchivedFilter Archived { get; init; } = ArchivedFilter.Exclude;
    public bool IncludeSample { get; init; }
    /// <summary>GuardDuty sort attribute; default severity, highest first.</summary>
    public string SortBy { get; init; } = "severity";
    public bool Ascending { get; init; }
    /// <summary>
    /// Overlap each GetFindings with the next ListFindings (the default). Off, every call waits for the one before:
    /// the baseline the benchmark compares against.
    /// </summary>
    public bool Pipelined { get; init; } = true;
    /// <summary>
    /// When the findings are ordered by severity and fill more than one page, read disjoint severity bands side by side
    /// (the default). Off, one ListFindings chain reads them all.
    /// </summary>
    public bool Partitioned { get; init; } = true;
}
