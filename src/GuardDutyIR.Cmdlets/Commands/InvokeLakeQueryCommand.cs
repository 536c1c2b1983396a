using System.Collections;
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
    /// <summary>Padding around a piped finding's first and last activity when it sets the time window.</summary>
    private static readonly TimeSpan FindingPadding = TimeSpan.FromHours(1);

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

    /// <summary>Where -S3Uri downloads go (default: a GuardDutyIR folder under the temp directory).</summary>
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

    private LakeQueryService? _service;
    private string? _cacheDirectory;
    private const int ProgressActivityId = 4711;

    /// <summary>
    /// A query over local files makes no AWS call, so it looks for no credentials and no region: it works on a machine
    /// with no AWS setup at all.
    /// </summary>
    protected override bool UsesAws => Path.Length == 0;

    protected override void BeginProcessing()
    {
        // The request is checked before the AWS context is resolved (which may call STS for -RoleArn), so a wrong
        // request is reported as what it is, before any call.
        var backends = new[] { EventDataStore is not null, Athena.IsPresent, Path.Length > 0, S3Uri is not null }.Count(b => b);
        if (backends > 1)
            ThrowEngineError(new GuardDutyIRException("QueryBackendConflict", ErrorKind.InvalidArgument,
                "Choose one place to query: -EventDataStore (CloudTrail Lake), -Athena, -Path or -S3Uri.", null));
        try
        {
            if (S3Uri is not null) LakeQueryService.ParseS3Uri(S3Uri);
            if (CacheDirectory is not null)
                _cacheDirectory = LakeQueryService.ValidateCacheDirectory(ResolveCacheDirectory(CacheDirectory));
        }
        catch (GuardDutyIRException e)
        {
            ThrowEngineError(e);
        }
        base.BeginProcessing();
        if (UsesAws) _service = new LakeQueryService(Session);
    }

    // Relative to PowerShell's current location, as every path parameter is, not to the process's working folder.
    private string ResolveCacheDirectory(string path)
    {
        try
        {
            return SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or PSInvalidOperationException)
        {
            throw new GuardDutyIRException("InvalidCacheDirectory", ErrorKind.InvalidArgument, $"-CacheDirectory '{path}' is not a file system path: {e.Message}", path);
        }
    }

    protected override void ProcessRecord()
    {
        var since = Since ?? InputObject?.FirstSeen?.Subtract(FindingPadding);
        var until = Until ?? InputObject?.LastSeen?.Add(FindingPadding);
        string sql;
        try
        {
            sql = ParameterSetName == TemplateSet ? RenderTemplate(since, until) : Query;
            QueryTranslator.Validate(sql);
        }
        catch (GuardDutyIRException e)
        {
            ThrowEngineError(e);
            return;
        }

        var backend = EventDataStore is not null ? QueryBackend.Lake : Athena ? QueryBackend.Athena : QueryBackend.Local;
        var noBackend = EventDataStore is null && !Athena && Path.Length == 0 && S3Uri is null;
        string? region = null;
        IAsyncEnumerable<QueryRow> rows;
        if (noBackend)
        {
            if (!(ParameterSetName == TemplateSet && Template.Equals("InstanceActivity", StringComparison.OrdinalIgnoreCase)))
                ThrowEngineError(new GuardDutyIRException("NoQueryBackend", ErrorKind.InvalidArgument,
                    "Say where to query: -EventDataStore (CloudTrail Lake), -Athena, -Path (local trail files) or -S3Uri (trail logs in S3).", null));
            WriteWarning("No CloudTrail Lake, Athena or trail files were given: falling back to CloudTrail LookupEvents, which sees only management "
                + "events of the last 90 days, at two requests per second.");
            region = CurrentRegion;
            rows = _service!.LookupInstanceActivityAsync(region, TemplateParameter("InstanceId")!.ToString()!, since, until, Progress, CancellationToken);
        }
        else
        {
            // Local files are found (and a wrong path reported) once, before anything runs.
            IReadOnlyList<string> paths = Array.Empty<string>();
            if (Path.Length > 0)
            {
                try { paths = LocalTrailFiles.Resolve(ResolvePaths()); }
                catch (GuardDutyIRException e) { ThrowEngineError(e); }
            }
            var request = new LakeQueryRequest
            {
                Backend = backend,
                Sql = sql,
                EventDataStore = EventDataStore,
                AthenaDatabase = Database,
                AthenaTable = Table,
                AthenaCatalog = Catalog,
                AthenaWorkGroup = WorkGroup,
                AthenaOutputLocation = OutputLocation,
                Paths = paths,
                S3Uri = S3Uri,
                CacheDirectory = _cacheDirectory,
                Since = since,
                Until = until,
                Raw = Raw,
                Timeout = TimeoutSec is { } t ? TimeSpan.FromSeconds(t) : null,
            };
            if (Path.Length > 0)
            {
                rows = LakeQueryService.RunLocalAsync(request, notice => _notices.Enqueue(notice), CancellationToken);
            }
            else
            {
                // S3 finds the bucket's own region (starting from the given or default one, or us-east-1); Lake and
                // Athena need one.
                region = S3Uri is not null ? Region is { } given ? RegionOrThrow(given) : Session.DefaultRegion : CurrentRegion;
                rows = _service!.RunAsync(region, request, Progress, notice => _notices.Enqueue(notice), CancellationToken);
            }
        }

        try
        {
            foreach (var row in Stream(rows))
            {
                WriteNotices();
                WriteObject(ToPSObject(row));
            }
            WriteNotices();
        }
        catch (AwsServiceException e) when (e.Kind is ErrorKind.AuthenticationError)
        {
            ThrowEngineError(e, region);
        }
        catch (GuardDutyIRException e)
        {
            WriteNotices();
            WriteEngineError(e, e.Target ?? sql);
        }
        finally
        {
            WriteProgress(new ProgressRecord(ProgressActivityId, "Invoke-LakeQuery", "Done") { RecordType = ProgressRecordType.Completed });
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentQueue<QueryNotice> _notices = new();

    private void WriteNotices()
    {
        while (_notices.TryDequeue(out var n)) WriteWarning(n.Message);
    }

    private void Progress(QueryProgress p)
    {
        var status = $"{p.State}, {p.Elapsed.TotalSeconds:0.0} s"
            + (p.BytesScanned is { } b ? $", {b / 1048576.0:0.0} MB scanned" : "")
            + (p.RowsSoFar is { } r ? $", {r} {(p.State == "DOWNLOADING" ? "files" : "rows")}" : "")
            + (p.Detail is { } d ? $" ({d})" : "");
        ReportProgress(new ProgressRecord(ProgressActivityId, "Invoke-LakeQuery", status));
    }

    private string RenderTemplate(DateTime? since, DateTime? until)
    {
        var template = QueryTemplates.Get(Template);
        var parameters = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry e in Parameter ?? new Hashtable())
            parameters[e.Key.ToString()!] = e.Value is PSObject ps ? ps.BaseObject : e.Value;
        var instance = InstanceId ?? InputObject?.InstanceId;
        if (instance is not null && template.ParameterNames.Contains("InstanceId", StringComparer.OrdinalIgnoreCase) && !parameters.ContainsKey("InstanceId"))
            parameters["InstanceId"] = instance;
        return QueryTemplates.Render(template, parameters, since, until);
    }

    private object? TemplateParameter(string name)
    {
        if (Parameter is not null)
            foreach (DictionaryEntry e in Parameter)
                if (string.Equals(e.Key.ToString(), name, StringComparison.OrdinalIgnoreCase)) return e.Value;
        return name == "InstanceId" ? InstanceId ?? InputObject?.InstanceId : null;
    }

    private string[] ResolvePaths()
    {
        var resolved = new List<string>();
        foreach (var p in Path)
        {
            try
            {
                resolved.AddRange(GetResolvedProviderPathFromPSPath(p, out _));
            }
            catch (ItemNotFoundException)
            {
                resolved.Add(SessionState.Path.GetUnresolvedProviderPathFromPSPath(p));
            }
        }
        return resolved.ToArray();
    }

    private static PSObject ToPSObject(QueryRow row)
    {
        var o = new PSObject();
        o.TypeNames.Insert(0, "GuardDutyIR.LakeQueryRow");
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < row.Columns.Count; i++)
        {
            var name = row.Columns[i];
            for (var n = 2; !seen.Add(name); n++) name = row.Columns[i] + n;
            o.Properties.Add(new PSNoteProperty(name, row.Values[i]));
        }
        return o;
    }
}

/// <summary>Completes template names.</summary>
public sealed class QueryTemplateCompleter : NameCompleter
{
    protected override IEnumerable<string> Names(IDictionary fakeBoundParameters) => QueryTemplates.All.Select(t => t.Name);
}
