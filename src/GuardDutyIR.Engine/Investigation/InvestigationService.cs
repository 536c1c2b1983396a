using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>Where an investigation query runs.</summary>
public enum InvestigationBackend
{
    CloudTrailLake,
    Athena,
    LocalFiles,
    S3TrailLogs,
    /// <summary>InstanceActivity with nowhere else to run: CloudTrail LookupEvents, management events of the last 90 days.</summary>
    LookupEvents,
}

/// <summary>What was decided for one request: the backend, the Lake SQL it stands for, the time window and the local files.</summary>
public sealed record InvestigationPlan(InvestigationBackend Backend, string Sql, DateTime? Since, DateTime? Until, IReadOnlyList<string> Files, string? InstanceId);

/// <summary>
/// A query that has passed every check and is ready to stream. <paramref name="Target"/> is what a service's refusal is
/// about: the query; for S3 nothing, since every S3 error names its own bucket or object.
/// </summary>
public sealed record InvestigationRun(InvestigationPlan Plan, IAsyncEnumerable<QueryRow> Rows, object? Target);

/// <summary>
/// Invoke-LakeQuery's policy in one place: which backend a request means, the template rendered with its validated
/// parameters, the window a finding sets, the local files, the region, and the LookupEvents fallback. Everything that
/// can be wrong with a request is found by <see cref="Start"/> before any call; what goes wrong later arrives while the
/// rows stream. With no session only local files can be queried: they need no AWS access at all.
/// </summary>
public sealed class InvestigationService(AwsSession? session)
{
    /// <summary>Padding around a finding's first and last activity when it sets the time window.</summary>
    public static readonly TimeSpan FindingPadding = TimeSpan.FromHours(1);

    private const string LookupTemplate = "InstanceActivity";

    /// <summary>Only a query over local files makes no AWS call, so only it can run without credentials or a region.</summary>
    public static bool UsesAws(InvestigationRequest request) => request.Paths is null;

    /// <summary>
    /// The checks that need neither the record nor AWS: one place to query, an s3:// URI with a bucket name, a cache
    /// folder that can be one. A command makes them before it resolves its AWS context (which may call STS).
    /// </summary>
    public static void Check(InvestigationRequest request)
    {
        var places = new[] { request.EventDataStore is not null, request.Athena, request.Paths is not null, request.S3Uri is not null }.Count(b => b);
        if (places > 1)
            throw new GuardDutyIRException("QueryBackendConflict", ErrorKind.InvalidArgument,
                "Choose one place to query: -EventDataStore (CloudTrail Lake), -Athena, -Path or -S3Uri.", null);
        if (request.S3Uri is not null) LakeQueryService.ParseS3Uri(request.S3Uri);
        if (request.CacheDirectory is not null) LakeQueryService.ValidateCacheDirectory(request.CacheDirectory);
    }

    /// <summary>
    /// Decides what the request means, with no call made: the window, the SQL (a template rendered, then checked to be
    /// one SELECT), the backend, and the local files (found here, so a wrong path is reported before anything runs).
    /// </summary>
    public static InvestigationPlan Plan(InvestigationRequest request)
    {
        Check(request);
        var since = request.Since ?? request.Finding?.FirstSeen?.Subtract(FindingPadding);
        var until = request.Until ?? request.Finding?.LastSeen?.Add(FindingPadding);
        var template = request.Template is { } name ? QueryTemplates.Get(name) : null;
        var parameters = template is null ? null : TemplateParameters(template, request);
        var sql = template is null ? request.Query ?? "" : QueryTemplates.Render(template, parameters!, since, until);
        QueryTranslator.Validate(sql);

        var backend = request.EventDataStore is not null ? InvestigationBackend.CloudTrailLake
            : request.Athena ? InvestigationBackend.Athena
            : request.Paths is not null ? InvestigationBackend.LocalFiles
            : request.S3Uri is not null ? InvestigationBackend.S3TrailLogs
            : template?.Name == LookupTemplate ? InvestigationBackend.LookupEvents
            : throw new GuardDutyIRException("NoQueryBackend", ErrorKind.InvalidArgument,
                "Say where to query: -EventDataStore (CloudTrail Lake), -Athena, -Path (local trail files) or -S3Uri (trail logs in S3).", null);
        var files = backend == InvestigationBackend.LocalFiles ? LocalTrailFiles.Resolve(request.Paths!) : Array.Empty<string>();
        var instance = backend == InvestigationBackend.LookupEvents ? parameters!["InstanceId"]?.ToString() : null;
        return new InvestigationPlan(backend, sql, since, until, files, instance);
    }

    // -Parameter first; the instance given or the finding's fills InstanceId when the template takes one.
    private static Dictionary<string, object?> TemplateParameters(QueryTemplate template, InvestigationRequest request)
    {
        var parameters = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in request.Parameters) parameters[key] = value;
        var instance = request.InstanceId ?? request.Finding?.InstanceId;
        if (instance is not null && template.ParameterNames.Contains("InstanceId", StringComparer.OrdinalIgnoreCase) && !parameters.ContainsKey("InstanceId"))
            parameters["InstanceId"] = instance;
        return parameters;
    }

    /// <summary>
    /// Plans the request and starts it: a wrong request (or region) throws here, before any call; the rows, and every
    /// failure of the run itself, arrive as the returned stream is read. Notices (skipped files, the LookupEvents
    /// fallback) go to <paramref name="notice"/>, from any thread.
    /// </summary>
    public InvestigationRun Start(InvestigationRequest request, Action<QueryProgress> progress, Action<QueryNotice> notice,
        CancellationToken cancellationToken = default)
    {
        var plan = Plan(request);
        var query = LakeQuery(request, plan);
        if (plan.Backend == InvestigationBackend.LocalFiles)
            return new InvestigationRun(plan, LakeQueryService.RunLocalAsync(query, notice, cancellationToken), plan.Sql);

        var aws = session ?? throw new InvalidOperationException("Only local files can be queried without an AWS session.");
        // S3 finds the bucket's own region, starting from the one given or the session's (us-east-1 when there is
        // none); Lake, Athena and LookupEvents need one.
        var region = plan.Backend == InvestigationBackend.S3TrailLogs
            ? request.Region is { } given ? aws.RegionFor(given) : aws.DefaultRegion
            : aws.RegionFor(request.Region);
        var service = new LakeQueryService(aws);
        if (plan.Backend == InvestigationBackend.LookupEvents)
            notice(new QueryNotice("LookupEventsFallback", "No CloudTrail Lake, Athena or trail files were given: falling back to CloudTrail "
                + "LookupEvents, which sees only management events of the last 90 days, at two requests per second.", plan.InstanceId));
        // Every backend runs under the request's timeout, LookupEvents too: its pages come at two a second.
        var rows = LakeQueryService.WithTimeout(query, token => plan.Backend switch
        {
            InvestigationBackend.CloudTrailLake => service.RunLakeAsync(region!, query, progress, token),
            InvestigationBackend.Athena => service.RunAthenaAsync(region!, query, progress, token),
            InvestigationBackend.LookupEvents => service.LookupInstanceActivityAsync(region!, plan.InstanceId!, plan.Since, plan.Until, progress, token),
            _ => service.RunS3Async(region, query, progress, notice, token),
        }, cancellationToken);
        return new InvestigationRun(plan, rows, plan.Backend == InvestigationBackend.S3TrailLogs ? null : plan.Sql);
    }

    // The request for the runners: the plan's SQL, window and files, and the place's own settings.
    private static LakeQueryRequest LakeQuery(InvestigationRequest request, InvestigationPlan plan) => new()
    {
        Backend = plan.Backend switch
        {
            InvestigationBackend.CloudTrailLake => QueryBackend.Lake,
            InvestigationBackend.Athena => QueryBackend.Athena,
            _ => QueryBackend.Local,
        },
        Sql = plan.Sql,
        EventDataStore = request.EventDataStore,
        AthenaDatabase = request.AthenaDatabase,
        AthenaTable = request.AthenaTable,
        AthenaCatalog = request.AthenaCatalog,
        AthenaWorkGroup = request.AthenaWorkGroup,
        AthenaOutputLocation = request.AthenaOutputLocation,
        Paths = plan.Files,
        S3Uri = request.S3Uri,
        CacheDirectory = request.CacheDirectory,
        Since = plan.Since,
        Until = plan.Until,
        Raw = request.Raw,
        Timeout = request.Timeout,
    };
}
