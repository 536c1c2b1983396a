namespace GuardDutyIR.Engine.Investigation;

/// <summary>What Invoke-LakeQuery asks for: one Lake-dialect query and where to run it.</summary>
public sealed class LakeQueryRequest
{
    public required QueryBackend Backend { get; init; }
    /// <summary>The query in CloudTrail Lake SQL (the table as EDS_ID, $EDS or the store's ID).</summary>
    public required string Sql { get; init; }

    /// <summary>Lake: the event data store ID or ARN.</summary>
    public string? EventDataStore { get; init; }

    /// <summary>Athena: database, table, catalog, workgroup and result location.</summary>
    public string AthenaDatabase { get; init; } = "default";
    public string AthenaTable { get; init; } = "cloudtrail_logs";
    public string? AthenaCatalog { get; init; }
    public string? AthenaWorkGroup { get; init; }
    public string? AthenaOutputLocation { get; init; }

    /// <summary>Local: trail log files, folders or wildcards.</summary>
    public IReadOnlyList<string> Paths { get; init; } = Array.Empty<string>();

    /// <summary>S3: s3://bucket/prefix of trail logs, downloaded into <see cref="CacheDirectory"/>.</summary>
    public string? S3Uri { get; init; }
    public string? CacheDirectory { get; init; }
    /// <summary>Prunes the S3 download by the AWSLogs date folders.</summary>
    public DateTime? Since { get; init; }
    public DateTime? Until { get; init; }

    /// <summary>Values as the service's strings instead of typed values.</summary>
    public bool Raw { get; init; }
    /// <summary>Give up (and cancel the query on the service) after this long.</summary>
    public TimeSpan? Timeout { get; init; }
    /// <summary>Rows per result page (Lake and Athena allow 1000 at most).</summary>
    public int PageSize { get; init; } = 1000;
    /// <summary>The first status poll; later polls back off to <see cref="MaxPollInterval"/>.</summary>
    public TimeSpan FirstPollInterval { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromSeconds(5);
}
