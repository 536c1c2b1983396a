using System.Collections;
using System.Management.Automation;
using GuardDutyIR.Engine.ThreatLists;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Creates a threat list or trusted IP list from local IP addresses and CIDR ranges: uploads it to S3, then creates and activates it in GuardDuty.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "GdThreatList", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = EntrySet)]
[OutputType(typeof(GdThreatList))]
public sealed class NewGdThreatListCommand : GdAwsCmdlet
{
    private const string EntrySet = "Entry";
    private const string FileSet = "File";

    /// <summary>The list's name in GuardDuty (1-300 characters).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public string Name { get; set; } = "";

    /// <summary>IPv4/IPv6 addresses and CIDR ranges; accepts pipeline input, one entry per object.</summary>
    [Parameter(Mandatory = true, ParameterSetName = EntrySet, ValueFromPipeline = true)]
    public string[] Entry { get; set; } = Array.Empty<string>();

    /// <summary>A local text file with one address or range per line (# comments allowed).</summary>
    [Parameter(Mandatory = true, ParameterSetName = FileSet)]
    public string EntryFile { get; set; } = "";

    /// <summary>The S3 bucket that will hold the list file (GuardDuty reads it from there).</summary>
    [Parameter(Mandatory = true)]
    public string Bucket { get; set; } = "";

    /// <summary>The S3 key of the list file; default guardduty/threat-lists/&lt;Name&gt;.txt.</summary>
    [Parameter]
    public string? Key { get; set; }

    /// <summary>Threat (default) or Trusted.</summary>
    [Parameter]
    public ThreatListType ListType { get; set; } = ThreatListType.Threat;

    /// <summary>Create the list without activating it.</summary>
    [Parameter]
    public SwitchParameter Inactive { get; set; }

    /// <summary>Tags for the list.</summary>
    [Parameter]
    public IDictionary? Tag { get; set; }

    /// <summary>The detector; default the region's detector.</summary>
    [Parameter]
    public string? DetectorId { get; set; }

    private readonly List<string> _entries = new();

    protected override void ProcessRecord()
    {
        if (ParameterSetName == EntrySet) _entries.AddRange(Entry);
    }

    /// <summary>The case this change is journaled to; default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void EndProcessing()
    {
        try
        {
            ThreatListService.PlanLocation(ListType, Name, Bucket, Key);
            var region = CurrentRegion;
            if (ParameterSetName == FileSet)
                _entries.AddRange(ThreatListEntries.ReadTxt(File.ReadAllText(SessionState.Path.GetUnresolvedProviderPathFromPSPath(EntryFile))));
            var (entries, notPublic) = ThreatListEntries.Validate(_entries, ListType);
            if (entries.Count == 0)
                throw new GuardDutyIRException("ThreatListEmpty", ErrorKind.InvalidArgument, "The list has no entries.", Name);
            if (notPublic.Count > 0)
                WriteWarning($"GuardDuty applies lists only to publicly routable addresses; these entries will never match: {string.Join(", ", notPublic.Take(10))}{(notPublic.Count > 10 ? ", ..." : "")}");
            var (_, _, key) = ThreatListService.PlanLocation(ListType, Name, Bucket, Key);
            if (!ShouldProcess($"{ListType} list '{Name}' in {region}", $"Upload {entries.Count} entries to s3://{Bucket}/{key} and create the list{(Inactive ? "" : " (active)")}"))
                return;
            var tags = Tag?.Cast<DictionaryEntry>().ToDictionary(e => e.Key.ToString()!, e => e.Value?.ToString() ?? "");
            WriteObject(Journaled(CaseId, Name, region, () => Await(new ThreatListService(Session).CreateAsync(region, DetectorId, ListType, Name, entries, Bucket, key, !Inactive, tags, CancellationToken)),
                list => "Created", list => list.RequestIds));
        }
        catch (IOException e)
        {
            ThrowTerminatingError(ToErrorRecord(e, "EntryFileUnreadable", ErrorCategory.ReadError, EntryFile));
        }
        catch (GuardDutyIRException e)
        {
            // Creating one list is the whole command: any failure ends it.
            ThrowEngineError(e, e.Target ?? Name);
        }
    }
}
