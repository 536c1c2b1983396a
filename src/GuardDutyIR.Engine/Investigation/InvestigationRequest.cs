namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// What Invoke-LakeQuery was asked, as plain data: the query or template, where to run it, and the time window. Nothing
/// is decided here; <see cref="InvestigationService"/> checks it, chooses the backend and runs it.
/// </summary>
public sealed record InvestigationRequest
{
    /// <summary>SQL in CloudTrail Lake's dialect (the table as EDS_ID, $EDS or the store's ID); unused with a template.</summary>
    public string? Query { get; init; }
    /// <summary>A named query (<see cref="QueryTemplates"/>).</summary>
    public string? Template { get; init; }
    /// <summary>The template's parameters, by name (any case).</summary>
    public IReadOnlyDictionary<string, object?> Parameters { get; init; } = new Dictionary<string, object?>();
    /// <summary>The instance for templates that take one, when <see cref="Parameters"/> does not name it.</summary>
    public string? InstanceId { get; init; }
    /// <summary>A finding: the instance (after <see cref="InstanceId"/>) and the time window (after Since/Until).</summary>
    public GdFinding? Finding { get; init; }

    /// <summary>CloudTrail Lake: the event data store ID or ARN.</summary>
    public string? EventDataStore { get; init; }
    /// <summary>Athena over the CloudTrail table of <see cref="AthenaDatabase"/>.<see cref="AthenaTable"/>.</summary>
    public bool Athena { get; init; }
    public string AthenaDatabase { get; init; } = "default";
    public string AthenaTable { get; init; } = "cloudtrail_logs";
    public string? AthenaCatalog { get; init; }
    public string? AthenaWorkGroup { get; init; }
    public string? AthenaOutputLocation { get; init; }
    /// <summary>
    /// Local trail files: file-system paths of files, folders or wildcards (a shell's own paths already made file-system
    /// paths). Null when no local files were asked for; empty when they were and nothing matched.
    /// </summary>
    public IReadOnlyList<string>? Paths { get; init; }
    /// <summary>Trail logs in S3, s3://bucket/prefix, downloaded into <see cref="CacheDirectory"/> (a file-system path).</summary>
    public string? S3Uri { get; init; }
    public string? CacheDirectory { get; init; }
    /// <summary>The region given for this request; null for the session's.</summary>
    public string? Region { get; init; }

    public DateTime? Since { get; init; }
    public DateTime? Until { get; init; }
    /// <summary>Values as the service's strings instead of typed values.</summary>
    public bool Raw { get; init; }
    /// <summary>Give up (and cancel the query on the service) after this long.</summary>
    public TimeSpan? Timeout { get; init; }
}
