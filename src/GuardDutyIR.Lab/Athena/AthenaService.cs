using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;
using GuardDutyIR.Lab.S3;

namespace GuardDutyIR.Lab.Athena;

/// <summary>
/// Athena (awsJson1_1, target prefix AmazonAthena) over the Lab's trail logs: catalog AwsDataCatalog, database
/// <c>default</c>, table <c>cloudtrail_logs</c> with the Athena user guide's CloudTrail schema. Query errors surface
/// asynchronously as FAILED executions, as on Athena; results are written as CSV to the OutputLocation in Lab S3.
/// </summary>
public sealed partial class AthenaService : Json11Service
{
    public const string Database = "default";
    public const string Catalog = "AwsDataCatalog";
    public const string WorkGroup = "primary";

    private readonly ConcurrentDictionary<string, string> _clientTokens = new(StringComparer.Ordinal);
    private TrailQueryRunner? _runner;
    private TimeSpan _delay;

    public AthenaService(LabContext context) : base(context, "athena", "AmazonAthena.")
    {
        Map("StartQueryExecution", Start, mutating: true);
        Map("GetQueryExecution", GetExecution);
        Map("GetQueryResults", GetResults);
        Map("StopQueryExecution", Stop, mutating: true);
    }

    /// <summary>Minimum time a query stays RUNNING (test knob). Default 0.</summary>
    public TimeSpan QueryDelay
    {
        get => _delay;
        set { _delay = value; if (_runner is not null) _runner.MinimumRunTime = value; }
    }

    private TrailQueryRunner Runner
    {
        get
        {
            if (_runner is null)
            {
                var db = Context.GetService<CloudTrailService>()?.Database ?? throw new InvalidOperationException("Athena needs the Lab's CloudTrail service for its table.");
                Interlocked.CompareExchange(ref _runner, new TrailQueryRunner(db, Context.Clock) { MinimumRunTime = _delay }, null);
            }
            return _runner;
        }
    }

    /// <summary>Athena authorizes against the workgroup, and its denial names it.</summary>
    protected override string? DeniedResource(LabRequest r) => $"arn:aws:athena:{r.Region}:{r.AccountId}:workgroup/{WorkGroup}";

    /// <summary>
    /// Athena models one error for bad input, InvalidRequestException: "a required parameter may be missing or out of range".
    /// </summary>
    protected override LabResponse Invalid(LabRequest r, string operation, IReadOnlyList<ModelViolation> violations) =>
        Invalid(r, ModelViolation.Summary(violations));

    private static LabResponse Invalid(LabRequest r, string message) =>
        Error(r, "InvalidRequestException", message, new JsonObject { ["AthenaErrorCode"] = "INVALID_INPUT" });

    /// <summary>readonly is a STRING in the Athena table; comparing it with a boolean literal fails on Athena (Trino's type check).</summary>
    [GeneratedRegex(@"\breadonly\s*(=|<>|!=)\s*(true|false)\b", RegexOptions.IgnoreCase)]
    private static partial Regex ReadOnlyBoolean();

    /// <summary>AwsDataCatalog.default.t, "default"."t", default.t → t (DuckDB has one schema; "default" is a keyword there).</summary>
    [GeneratedRegex(@"(?:""?awsdatacatalog""?\s*\.\s*)?""?default""?\s*\.\s*""?(?<t>[A-Za-z_][A-Za-z0-9_]*)""?", RegexOptions.IgnoreCase)]
    private static partial Regex Qualified();

    private LabResponse Start(LabRequest r, JsonObject body)
    {
        var sql = Str(body, "QueryString")!;
        var workGroup = Str(body, "WorkGroup") ?? WorkGroup;
        if (workGroup != WorkGroup)
            return Invalid(r, $"WorkGroup {workGroup} is not found.");
        var token = Str(body, "ClientRequestToken");
        if (token is not null && _clientTokens.TryGetValue(r.AccountId + "|" + token, out var existing))
        {
            var prev = Runner.Find(existing);
            if (prev is not null && prev.Statement != sql)
                return Invalid(r, "Idempotent parameters do not match the original request.");
            return Ok(r, new JsonObject { ["QueryExecutionId"] = existing });
        }
        var ctx = body["QueryExecutionContext"] as JsonObject;
        var database = ctx is null ? Database : Str(ctx, "Database") ?? Database;
        var catalog = ctx is null ? Catalog : Str(ctx, "Catalog") ?? Catalog;
        var output = (body["ResultConfiguration"] as JsonObject) is { } rc ? Str(rc, "OutputLocation") : null;
        if (output is null)
            return Invalid(r, "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.");
        if (!S3Store.TryParseUri(output, out var outputBucket, out _))
            return Invalid(r, $"outputLocation {output} is not a valid S3 path.");

        string? error = null;
        var text = TrailSql.SingleSelect(sql);
        if (text is null)
            error = "NOT_SUPPORTED: The GuardDutyIR Lab runs SELECT queries only (one statement, no table functions).";
        else if (!string.Equals(catalog, Catalog, StringComparison.OrdinalIgnoreCase))
            error = $"CATALOG_NOT_FOUND: Catalog '{catalog.ToLowerInvariant()}' does not exist";
        else if (!string.Equals(database, Database, StringComparison.OrdinalIgnoreCase))
            error = $"SCHEMA_NOT_FOUND: line 1:1: Schema '{database.ToLowerInvariant()}' does not exist";
        else if (ReadOnlyBoolean().Match(text) is { Success: true } rb)
            error = $"TYPE_MISMATCH: line {Line(text, rb.Index)}: Cannot apply operator: varchar {rb.Groups[1].Value} boolean";
        else if (Context.GetService<S3Service>()?.Store.Bucket(outputBucket) is null)
            error = $"Unable to verify/create output bucket {outputBucket}";
        else
        {
            foreach (var t in TrailSql.Tables(Qualified().Replace(text, "${t}")))
                if (!string.Equals(t, TrailDatabase.AthenaTable, StringComparison.OrdinalIgnoreCase))
                {
                    error = $"TABLE_NOT_FOUND: line 1:1: Table '{Catalog.ToLowerInvariant()}.{Database}.{t.ToLowerInvariant()}' does not exist";
                    break;
                }
        }

        TrailQuery q;
        if (error is not null) q = Runner.StartFailed(r.AccountId, sql, TrailDialect.Athena, error);
        else q = Runner.Start(r.AccountId, sql, Qualified().Replace(text!, "${t}"), TrailDialect.Athena, WriteCsv);
        q.Properties["OutputLocation"] = output.TrimEnd('/') + "/" + q.Id + ".csv";
        q.Properties["Database"] = database;
        q.Properties["Catalog"] = catalog;
        if (token is not null) _clientTokens[r.AccountId + "|" + token] = q.Id;
        return Ok(r, new JsonObject { ["QueryExecutionId"] = q.Id });
    }

    private static string Line(string text, int index)
    {
        int line = 1, col = 1;
        for (int i = 0; i < index; i++) { if (text[i] == '\n') { line++; col = 1; } else col++; }
        return $"{line}:{col}";
    }

    /// <summary>Athena writes every result as CSV with all values quoted, header first, to OutputLocation/&lt;id&gt;.csv.</summary>
    private void WriteCsv(TrailQuery q)
    {
        var store = Context.GetService<S3Service>()?.Store;
        if (store is null || !S3Store.TryParseUri(q.Properties.GetValueOrDefault("OutputLocation") ?? "", out var bucket, out var key)
            || q.Result is not { } res || store.Bucket(bucket) is null) return;
        static string Quote(string? v) => v is null ? "" : "\"" + v.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        store.Put(bucket, new S3StoredObject(key, res.ToCsv(Quote), "text/csv", Context.Clock.GetUtcNow()));
    }

    private LabResponse? Find(LabRequest r, JsonObject body, out TrailQuery q)
    {
        q = null!;
        var id = Str(body, "QueryExecutionId")!;
        var found = Runner.Find(id);
        if (found is null || found.AccountId != r.AccountId)
            return Invalid(r, $"QueryExecution {id} was not found");
        q = found;
        return null;
    }

    private static string State(TrailQueryState s) => s switch
    {
        TrailQueryState.Queued => "QUEUED",
        TrailQueryState.Running => "RUNNING",
        TrailQueryState.Succeeded => "SUCCEEDED",
        TrailQueryState.Failed => "FAILED",
        _ => "CANCELLED",
    };

    private LabResponse GetExecution(LabRequest r, JsonObject body)
    {
        if (Find(r, body, out var q) is { } err) return err;
        var status = new JsonObject
        {
            ["State"] = State(q.State),
            ["SubmissionDateTime"] = Epoch(q.CreationTime),
        };
        if (q.CompletionTime is { } done) status["CompletionDateTime"] = Epoch(done);
        if (q.State == TrailQueryState.Failed)
        {
            status["StateChangeReason"] = q.ErrorMessage;
            status["AthenaError"] = new JsonObject { ["ErrorCategory"] = 2, ["ErrorType"] = 1006, ["Retryable"] = false, ["ErrorMessage"] = q.ErrorMessage };
        }
        else if (q.State == TrailQueryState.Cancelled) status["StateChangeReason"] = "Query cancelled by user";
        long total = q.CompletionTime is { } c ? Math.Max(1, (long)(c - q.CreationTime).TotalMilliseconds) : 0;
        var exec = new JsonObject
        {
            ["QueryExecutionId"] = q.Id,
            ["Query"] = q.Statement,
            ["StatementType"] = "DML",
            ["ResultConfiguration"] = new JsonObject { ["OutputLocation"] = q.Properties["OutputLocation"] },
            ["ResultReuseConfiguration"] = new JsonObject { ["ResultReuseByAgeConfiguration"] = new JsonObject { ["Enabled"] = false } },
            ["QueryExecutionContext"] = new JsonObject { ["Database"] = q.Properties["Database"], ["Catalog"] = q.Properties["Catalog"].ToLowerInvariant() },
            ["Status"] = status,
            ["Statistics"] = new JsonObject
            {
                ["EngineExecutionTimeInMillis"] = q.ExecutionMillis,
                ["DataScannedInBytes"] = q.Result?.BytesScanned ?? 0,
                ["TotalExecutionTimeInMillis"] = total,
                ["QueryQueueTimeInMillis"] = (long)Runner.QueueTime.TotalMilliseconds,
                ["ServicePreProcessingTimeInMillis"] = 0,
                ["QueryPlanningTimeInMillis"] = 0,
                ["ServiceProcessingTimeInMillis"] = 0,
                ["ResultReuseInformation"] = new JsonObject { ["ReusedPreviousResult"] = false },
            },
            ["WorkGroup"] = WorkGroup,
            ["EngineVersion"] = new JsonObject { ["SelectedEngineVersion"] = "AUTO", ["EffectiveEngineVersion"] = "Athena engine version 3" },
            ["SubstatementType"] = "SELECT",
        };
        return Ok(r, new JsonObject { ["QueryExecution"] = exec });
    }

    private LabResponse GetResults(LabRequest r, JsonObject body)
    {
        if (Find(r, body, out var q) is { } err) return err;
        if (q.State == TrailQueryState.Failed) return Invalid(r, q.ErrorMessage ?? "Query failed");
        if (q.State == TrailQueryState.Cancelled) return Invalid(r, "Query was cancelled");
        if (q.State != TrailQueryState.Succeeded || q.Result is not { } res)
            return Invalid(r, $"Query has not yet finished. Current state: {State(q.State)}");
        // The model bounds MaxResults to 1-1000; absent, the Lab serves the largest page, as Athena does.
        int max = Int(body, "MaxResults") ?? (int)Model.Range("GetQueryResults", "MaxResults").Max!.Value;
        int offset = 0;
        if (Str(body, "NextToken") is { } token && !TryReadPageToken(token, q.Id, out offset))
            return Invalid(r, "The NextToken is not valid.");
        // The header row counts as the first row of the first page, as Athena returns SELECT results.
        int total = res.Rows.Count + 1;
        var rows = new JsonArray();
        for (int i = offset; i < Math.Min(total, offset + max); i++)
        {
            var values = i == 0 ? res.Columns.Select(c => (string?)c.Name).ToArray() : res.Rows[i - 1];
            rows.Add(new JsonObject
            {
                ["Data"] = new JsonArray(values.Select(v => (JsonNode)(v is null ? new JsonObject() : new JsonObject { ["VarCharValue"] = v })).ToArray()),
            });
        }
        var columns = new JsonArray(res.Columns.Select(c => (JsonNode)new JsonObject
        {
            ["CatalogName"] = "hive",
            ["SchemaName"] = "",
            ["TableName"] = "",
            ["Name"] = c.Name,
            ["Label"] = c.Name,
            ["Type"] = c.TrinoType,
            ["Precision"] = c.TrinoType switch { "varchar" => 2147483647, "bigint" => 19, "integer" => 10, "double" => 17, "timestamp" => 3, _ => 0 },
            ["Scale"] = 0,
            ["Nullable"] = "UNKNOWN",
            ["CaseSensitive"] = c.TrinoType == "varchar",
        }).ToArray());
        var o = new JsonObject
        {
            ["UpdateCount"] = 0,
            ["ResultSet"] = new JsonObject { ["Rows"] = rows, ["ResultSetMetadata"] = new JsonObject { ["ColumnInfo"] = columns } },
        };
        if (offset + rows.Count < total) o["NextToken"] = PageToken(q.Id, offset + rows.Count);
        return Ok(r, o);
    }

    private LabResponse Stop(LabRequest r, JsonObject body)
    {
        if (Find(r, body, out var q) is { } err) return err;
        // Idempotent: stopping a finished query is not an error on Athena.
        q.Cancel(Context.Clock.GetUtcNow());
        return Ok(r, new JsonObject());
    }
}
