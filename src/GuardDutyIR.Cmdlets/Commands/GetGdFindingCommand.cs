using System.Management.Automation;
using GuardDutyIR.Engine.Containment;
using GuardDutyIR.Engine.Findings;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Gets GuardDuty findings, filtered on the service wherever GuardDuty can filter, streamed as pages arrive.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "GdFinding", DefaultParameterSetName = QuerySet)]
[OutputType(typeof(GdFinding))]
public sealed class GetGdFindingCommand : GdAwsMultiRegionCmdlet
{
    private const string QuerySet = "Query";
    private const string IdSet = "Id";

    /// <summary>The detector; default the region's detector.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? DetectorId { get; set; }

    /// <summary>Specific finding IDs, returned whatever their archived or sample state.</summary>
    [Parameter(Mandatory = true, ParameterSetName = IdSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FindingId")]
    public string[] Id { get; set; } = Array.Empty<string>();

    /// <summary>Finding types, e.g. 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom' or 'UnauthorizedAccess:EC2/*'.</summary>
    [Parameter(ParameterSetName = QuerySet)]
    [SupportsWildcards]
    public string[] Type { get; set; } = Array.Empty<string>();

    /// <summary>The lowest severity: a band (Low, Medium, High, Critical) or a number from 1 to 10.</summary>
    [Parameter(ParameterSetName = QuerySet)]
    [ArgumentCompleter(typeof(SeverityCompleter))]
    public string? MinSeverity { get; set; }

    /// <summary>Only findings about these EC2 instances.</summary>
    [Parameter(ParameterSetName = QuerySet, ValueFromPipelineByPropertyName = true)]
    public string[] InstanceId { get; set; } = Array.Empty<string>();

    /// <summary>Only findings of these accounts (an administrator account sees its members' findings).</summary>
    [Parameter(ParameterSetName = QuerySet)]
    public string[] AccountId { get; set; } = Array.Empty<string>();

    /// <summary>Only findings updated at or after this time.</summary>
    [Parameter(ParameterSetName = QuerySet)]
    public DateTime? Since { get; set; }

    /// <summary>Only findings updated at or before this time.</summary>
    [Parameter(ParameterSetName = QuerySet)]
    public DateTime? Until { get; set; }

    /// <summary>Only archived findings.</summary>
    [Parameter(ParameterSetName = QuerySet)]
    public SwitchParameter Archived { get; set; }

    /// <summary>Archived and current findings together.</summary>
    [Parameter(ParameterSetName = QuerySet)]
    public SwitchParameter IncludeArchived { get; set; }

    /// <summary>Include sample findings (CreateSampleFindings), which are left out by default.</summary>
    [Parameter(ParameterSetName = QuerySet)]
    public SwitchParameter IncludeSample { get; set; }

    /// <summary>The order: severity (default, highest first), updatedAt, createdAt, or any GuardDuty sort attribute.</summary>
    [Parameter(ParameterSetName = QuerySet)]
    [ArgumentCompleter(typeof(SortAttributeCompleter))]
    public string SortBy { get; set; } = "severity";

    /// <summary>Sort ascending instead of descending.</summary>
    [Parameter(ParameterSetName = QuerySet)]
    public SwitchParameter Ascending { get; set; }

    private FindingService? _service;

    /// <summary>The case the findings are journaled to (stored in its artifacts folder with their SHA-256); default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if (Archived && IncludeArchived)
            ThrowEngineError(new GuardDutyIRException("ArchivedConflict", ErrorKind.InvalidArgument,
                "-Archived returns only archived findings and -IncludeArchived returns both; use one of them.", "Archived"));
        _service = new FindingService(Session);
    }

    protected override void ProcessRecord()
    {
        FindingQuery query;
        try
        {
            query = NewQuery();
        }
        catch (GuardDutyIRException e)
        {
            ThrowEngineError(e);
            return;
        }
        foreach (var region in CurrentRegions)
        {
            ForResource(region, () =>
            {
                var journaling = Journaling(CaseId);
                var collected = new List<GdFinding>();
                foreach (var finding in Stream(_service!.GetFindingsAsync(region, query, CancellationToken)))
                {
                    WriteObject(finding);
                    if (journaling) collected.Add(finding);
                }
                if (collected.Count > 0)
                    JournalCollected(CaseId, "findings", string.Join(",", collected.Select(f => f.Id)), region, "Collected", collected,
                        detail: $"{collected.Count} finding(s): " + string.Join(", ", collected.Select(f => f.Type).Distinct().Take(10)));
            });
        }
    }

    private FindingQuery NewQuery()
    {
        CheckFilters();
        return new()
        {
        DetectorId = DetectorId,
        Ids = Id,
        Types = Type,
        MinSeverity = ParseSeverity(MinSeverity),
        InstanceIds = InstanceId,
        AccountIds = AccountId,
        Since = Since,
        Until = Until,
        Archived = Archived ? ArchivedFilter.Only : IncludeArchived ? ArchivedFilter.Include : ArchivedFilter.Exclude,
        IncludeSample = IncludeSample,
        SortBy = SortBy,
        Ascending = Ascending,
        };
    }

    // Filters go into GuardDuty's criteria as they are: a malformed one would match nothing and say nothing, so it is
    // refused before any call.
    private void CheckFilters()
    {
        foreach (var id in InstanceId)
            if (!Ec2Ids.IsInstanceId(id)) throw Ec2Ids.InvalidInstanceId(id);
        foreach (var account in AccountId)
            if (account is null || account.Length != 12 || !account.All(char.IsAsciiDigit))
                throw new GuardDutyIRException("InvalidAccountId", ErrorKind.InvalidArgument, $"'{account}' is not an AWS account ID (12 digits).", account);
        foreach (var id in Id)
            if (!FindingIds.IsFindingId(id)) throw FindingIds.InvalidFindingId(id);
        if (Since is { } since && Until is { } until && since > until)
            throw new GuardDutyIRException("InvalidTimeWindow", ErrorKind.InvalidArgument,
                $"-Since ({since:o}) is after -Until ({until:o}): no finding can match.", since);
    }

    private double? ParseSeverity(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (Severity.TryParseFloor(text, out var floor)) return floor;
        ThrowEngineError(new GuardDutyIRException("InvalidMinSeverity", ErrorKind.InvalidArgument,
            $"'{text}' is not a severity. Use Low, Medium, High, Critical, or a number from 0 to 10.", text));
        return null;
    }
}

/// <summary>Completes the severity bands.</summary>
public sealed class SeverityCompleter : NameCompleter
{
    protected override IEnumerable<string> Names(System.Collections.IDictionary fakeBoundParameters) => Enum.GetNames<SeverityLabel>();
}

/// <summary>Completes the GuardDuty sort attributes responders use most.</summary>
public sealed class SortAttributeCompleter : NameCompleter
{
    protected override IEnumerable<string> Names(System.Collections.IDictionary fakeBoundParameters) =>
        new[] { "severity", "updatedAt", "createdAt", "type", "accountId", "resource.instanceDetails.instanceId" };
}
