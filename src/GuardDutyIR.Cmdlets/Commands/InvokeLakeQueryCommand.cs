using System.Collections;
using System.Collections.Concurrent;
using System.Management.Automation;
using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Runs CloudTrail Lake SQL on CloudTrail Lake, on Athena over trail logs, or on local or S3 trail log files, and writes the rows as they arrive.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "LakeQuery", DefaultParameterSetName = QuerySet)]
[OutputType(typeof(PSObject))]
public sealed class InvokeLakeQueryCommand : GdAwsCmdlet
{
    private const string QuerySet = "Query";
    private const string TemplateSet = "Template";
    private const int ProgressActivityId = 4711;

    /// <summary>SQL in CloudTrail Lake's dialect; the table is EDS_ID (or $EDS, or the event data store's ID).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = QuerySet)]
    public string Query { get; set; } = "";

    /// <summary>A named query (Get-LakeQueryTemplate lists them).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = TemplateSet)]
    [ArgumentCompleter(typeof(QueryTemplateCompleter))]
    public string Template { get; set; } = "";

    /// <summary>The template's parameters, e.g. @{ InstanceId = 'i-0abc...' }. Values are validated and embedded as literals.</summary>
    [Parameter(ParameterSetName = TemplateSet)]
    public IDictionary? Parameter { get; set; }

    /// <summary>The instance for templates that take one; binds from a piped finding or instance.</summary>
    [Parameter(ParameterSetName = TemplateSet, ValueFromPipelineByPropertyName = true)]
    public string? InstanceId { get; set; }

    /// <summary>A finding: sets the instance and the time window (its first and last activity, with an hour either side).</summary>
    [Parameter(ValueFromPipeline = true)]
    public GdFinding? InputObject { get; set; }

    /// <summary>CloudTrail Lake: the event data store ID or ARN.</summary>
    [Parameter]
    public string? EventDataStore { get; set; }

    /// <summary>Run on Athena over the CloudTrail table of -Database/-Table.</summary>
    [Parameter]
    public SwitchParameter Athena { get; set; }

    /// <summary>Athena database (default: default).</summary>
    [Parameter]
    public string Database { get; set; } = "default";

    /// <summary>Athena table with AWS's CloudTrail schema (default: cloudtrail_logs).</summary>
    [Parameter]
    public string Table { get; set; } = "cloudtrail_logs";

    /// <summary>Athena data catalog (default: the workgroup's).</summary>
    [Parameter]
    public string? Catalog { get; set; }

    /// <summary>Athena workgroup.</summary>
    [Parameter]
    public string? WorkGroup { get; set; }

    /// <summary>Athena query result location, s3://bucket/prefix/ (unless the workgroup sets one).</summary>
    [Parameter]
    public string? OutputLocation { get; set; }

    /// <summary>Local trail log files (.json, .json.gz), folders or wildcards, read by the embedded engine.</summary>
    [Parameter]
    [SupportsWildcards]
    public string[] Path { get; set; } = Array.Empty<string>();

    /// <summary>Trail logs in S3 (s3://bucket/AWSLogs/...): downloaded into a cache, pruned to the time window, read locally.</summary>
    [Parameter]
    public string? S3Uri { get; set; }

    /// <summary>Where -S3Uri downloads go (default: s3-cache in the user's private GuardDutyIR cache folder).</summary>
    [Parameter]
    public string? CacheDirectory { get; set; }

    /// <summary>Only events at or after this time (templates; and the S3 download).</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>Only events at or before this time.</summary>
    [Parameter]
    public DateTime? Until { get; set; }

    /// <summary>Write every value as the service's text instead of numbers, times and booleans.</summary>
    [Parameter]
    public SwitchParameter Raw { get; set; }

    /// <summary>Cancel the query (on the service too) if it has not finished after this many seconds.</summary>
    [Parameter]
    [ValidateRange(1, 86_400)]
    public int? TimeoutSec { get; set; }

    private InvestigationRequest? _request;
    private InvestigationService? _service;
    private readonly ConcurrentQueue<QueryNotice> _notices = new();

    /// <summary>
    /// A query over local files makes no AWS call, so it looks for no credentials and no region: it works on a machine
    /// with no AWS setup at all.
    /// </summary>
    protected override bool UsesAws => _request is null || InvestigationService.UsesAws(_request);

    /// <summary>The case the result rows are journaled to (stored in its artifacts folder with their SHA-256, beside the SQL that produced them); default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void BeginProcessing()
    {
        // The request is checked before the AWS context is resolved (which may call STS for -RoleArn), so a wrong
        // request is reported as what it is, before any call.
        try
        {
            _request = Request();
            InvestigationService.Check(_request);
        }
        catch (GuardDutyIRException e)
        {
            ThrowEngineError(e);
        }
        base.BeginProcessing();
        _service = new InvestigationService(UsesAws ? Session : null);
    }

    protected override void ProcessRecord()
    {
        InvestigationRun run;
        try
        {
            run = _service!.Start(_request! with { InstanceId = InstanceId, Finding = InputObject, Region = Region },
                p => ReportProgress(new ProgressRecord(ProgressActivityId, "Invoke-LakeQuery", p.Status)), _notices.Enqueue, CancellationToken);
        }
        catch (GuardDutyIRException e)
        {
            // The request itself is wrong (a template, its parameters, the SQL, a path, the region): nothing ran.
            ThrowEngineError(e);
            return;
        }
        WriteNotices();
        ForResource(run.Target, () =>
        {
            // Rows are kept for the journal only when there is a case to journal to.
            var journaling = Journaling(CaseId);
            var rows = new List<Dictionary<string, object?>>();
            try
            {
                foreach (var row in Stream(run.Rows))
                {
                    WriteNotices();
                    var o = ToPSObject(row);
                    WriteObject(o);
                    if (journaling) rows.Add(o.Properties.ToDictionary(p => p.Name, p => (object?)p.Value, StringComparer.OrdinalIgnoreCase));
                }
            }
            finally
            {
                WriteNotices();
                WriteProgress(new ProgressRecord(ProgressActivityId, "Invoke-LakeQuery", "Done") { RecordType = ProgressRecordType.Completed });
            }
            if (!journaling) return;
            var plan = run.Plan;
            var template = ParameterSetName == TemplateSet ? Template : null;
            JournalCollected(CaseId, "query result", template ?? "query", Region, "Collected",
                new { backend = plan.Backend.ToString(), template, sql = plan.Sql, since = plan.Since, until = plan.Until, files = plan.Files, instanceId = plan.InstanceId, rows },
                detail: $"{rows.Count} row(s) from {plan.Backend}{(template is null ? "" : " template " + template)}");
        });
    }

    private void WriteNotices()
    {
        while (_notices.TryDequeue(out var n)) WriteWarning(n.Message);
    }

    private InvestigationRequest Request()
    {
        var parameters = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry e in Parameter ?? new Hashtable())
            parameters[e.Key.ToString()!] = e.Value is PSObject ps ? ps.BaseObject : e.Value;
        return new InvestigationRequest
        {
            Query = ParameterSetName == QuerySet ? Query : null,
            Template = ParameterSetName == TemplateSet ? Template : null,
            Parameters = parameters,
            EventDataStore = EventDataStore,
            Athena = Athena,
            AthenaDatabase = Database,
            AthenaTable = Table,
            AthenaCatalog = Catalog,
            AthenaWorkGroup = WorkGroup,
            AthenaOutputLocation = OutputLocation,
            Paths = Path.Length == 0 ? null : this.FileSystemPaths(Path),
            S3Uri = S3Uri,
            CacheDirectory = CacheDirectory is null ? null : this.FolderPath(CacheDirectory, nameof(CacheDirectory), "InvalidCacheDirectory"),
            Since = Since,
            Until = Until,
            Raw = Raw,
            Timeout = TimeoutSec is { } t ? TimeSpan.FromSeconds(t) : null,
        };
    }

    private static PSObject ToPSObject(QueryRow row)
    {
        var o = new PSObject();
        o.TypeNames.Insert(0, "GuardDutyIR.LakeQueryRow");
        var names = row.PropertyNames;
        for (var i = 0; i < names.Count; i++) o.Properties.Add(new PSNoteProperty(names[i], row.Values[i]));
        return o;
    }
}
