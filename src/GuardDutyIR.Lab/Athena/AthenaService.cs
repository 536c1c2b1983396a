using System.Collections.Concurrent;
using System.Text;
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
public sealed partial class AthenaService : ILabService, IModeledService
{
    private static readonly ServiceModel s_model = ServiceModel.For("athena");
    public const string TargetPrefix = "AmazonAthena.";
    public const string Database = "default";
    public const string Catalog = "AwsDataCatalog";
    public const string WorkGroup = "primary";

    private readonly LabContext _context;
    private readonly ConcurrentDictionary<string, string> _clientTokens = new(StringComparer.Ordinal);
    private TrailQueryRunner? _runner;
    private TimeSpan _delay;

    private readonly Dictionary<string, Func<LabRequest, JsonObject, LabResponse>> _handlers;

    public AthenaService(LabContext context)
    {
        _context = context;
        _handlers = new(StringComparer.Ordinal)
        {
            ["StartQueryExecution"] = Start,
            ["GetQueryExecution"] = GetExecution,
            ["GetQueryResults"] = GetResults,
            ["StopQueryExecution"] = Stop,
        };
    }

    public string SigningName => "athena";

    public IReadOnlyCollection<string> Operations => _handlers.Keys;

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
                var db = _context.GetService<CloudTrailService>()?.Database ?? throw new InvalidOperationException("Athena needs the Lab's CloudTrail service for its table.");
                Interlocked.CompareExchange(ref _runner, new TrailQueryRunner(db, _context.Clock) { MinimumRunTime = _delay }, null);
            }
            return _runner;
        }
    }

    public Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken)
    {
        var target = request.Target ?? "";
        var op = target.StartsWith(TargetPrefix, StringComparison.Ordinal) ? target[TargetPrefix.Length..] : "";
        request.Action = op.Length > 0 ? op : "Unknown";
        request.Mutating = op is "StartQueryExecution" or "StopQueryExecution";
        var body = Json11.Body(request);
        if (op.Length == 0)
            return Task.FromResult(Json11.Error(400, "UnknownOperationException", $"Unknown operation {target}", request.RequestId));
        if (body is null)
            return Task.FromResult(Json11.Error(400, "SerializationException", "Start of structure or map found where not expected.", request.RequestId));
        if (_context.IsDenied("athena", op))
            return Task.FromResult(Json11.Error(400, "AccessDeniedException",
                $"User: {request.Principal?.Arn} is not authorized to perform: athena:{op} on resource: arn:aws:athena:{request.Region}:{request.AccountId}:workgroup/{WorkGroup} because no identity-based policy allows the athena:{op} action", request.RequestId));
        if (!_handlers.TryGetValue(op, out var handler))
            return Task.FromResult(Json11.Error(400, "UnknownOperationException", $"Unknown operation {op}", request.RequestId));
        // Athena models one error for bad input, InvalidRequestException: "a required parameter may be missing or out
        // of range". A value of the wrong JSON type fails deserialization first.
        if (s_model.ValidateJson(op, body) is { Count: > 0 } violations)
            return Task.FromResult(violations[0].Kind == ViolationKind.Type
                ? Json11.Error(400, "SerializationException", $"Cannot read {violations[0].Value} as {violations[0].ExpectedType} at '{violations[0].Path}'.", request.RequestId)
                : Invalid(ModelViolation.Summary(violations), request.RequestId));
        return Task.FromResult(handler(request, body));
    }

    private static LabResponse Invalid(string message, string requestId) =>
        Json11.Error(400, "InvalidRequestException", message, requestId, new JsonObject { ["AthenaErrorCode"] = "INVALID_INPUT" });

    [GeneratedRegex(@"^s3://(?<bucket>[a-z0-9][.\-a-z0-9]{1,61}[a-z0-9])(?:/(?<prefix>.*))?$")]
    private static partial Regex S3Uri();

    /// <summary>readonly is a STRING in the Athena table; comparing it with a boolean literal fails on Athena (Trino's type check).</summary>
    [GeneratedRegex(@"\breadonly\s*(=|<>|!=)\s*(true|false)\b", RegexOptions.IgnoreCase)]
    private static partial Regex ReadOnlyBoolean();

    /// <summary>AwsDataCatalog.default.t, "default"."t", default.t → t (DuckDB has one schema; "default" is a keyword there).</summary>
    [GeneratedRegex(@"(?:""?awsdatacatalog""?\s*\.\s*)?""?default""?\s*\.\s*""?(?<t>[A-Za-z_][A-Za-z0-9_]*)""?", RegexOptions.IgnoreCase)]
    private static partial Regex Qualified();

    private LabResponse Start(LabRequest r, JsonObject body)
    {
        var sql = Json11.Str(body, "QueryString")!;
        var workGroup = Json11.Str(body, "WorkGroup") ?? WorkGroup;
        if (workGroup != WorkGroup)
            return Invalid($"WorkGroup {workGroup} is not found.", r.RequestId);
        var token = Json11.Str(body, "ClientRequestToken");
        if (token is not null && _clientTokens.TryGetValue(r.AccountId + "|" + token, out var existing))
        {
            var prev = Runner.Find(existing);
            if (prev is not null && prev.Statement != sql)
                return Invalid("Idempotent parameters do not match the original request.", r.RequestId);
            return Json11.Ok(new JsonObject { ["QueryExecutionId"] = existing }, r.RequestId);
        }
        var ctx = body["QueryExecutionContext"] as JsonObject;
        var database = ctx is null ? Database : Json11.Str(ctx, "Database") ?? Database;
        var catalog = ctx is null ? Catalog : Json11.Str(ctx, "Catalog") ?? Catalog;
        var output = (body["ResultConfiguration"] as JsonObject) is { } rc ? Json11.Str(rc, "OutputLocation") : null;
        if (output is null)
            return Invalid("No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.", r.RequestId);
        var m = S3Uri().Match(output);
        if (!m.Success)
            return Invalid($"outputLocation {output} is not a valid S3 path.", r.RequestId);

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
        else if (_context.GetService<S3Service>()?.Store.Bucket(m.Groups["bucket"].Value) is null)
            error = $"Unable to verify/create output bucket {m.Groups["bucket"].Value}";
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
        return Json11.Ok(new JsonObject { ["QueryExecutionId"] = q.Id }, r.RequestId);
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
        var store = _context.GetService<S3Service>()?.Store;
        var m = S3Uri().Match(q.Properties.GetValueOrDefault("OutputLocation") ?? "");
        if (store is null || !m.Success || q.Result is not { } res || store.Bucket(m.Groups["bucket"].Value) is null) return;
        static string Quote(string? v) => v is null ? "" : "\"" + v.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var sb = new StringBuilder();
        sb.AppendJoin(',', res.Columns.Select(c => Quote(c.Name))).Append('\n');
        foreach (var row in res.Rows) sb.AppendJoin(',', row.Select(Quote)).Append('\n');
        store.Put(m.Groups["bucket"].Value, new S3StoredObject(m.Groups["prefix"].Value, Encoding.UTF8.GetBytes(sb.ToString()), "text/csv", _context.Clock.GetUtcNow()));
    }

    private LabResponse? Find(LabRequest r, JsonObject body, out TrailQuery q)
    {
        q = null!;
        var id = Json11.Str(body, "QueryExecutionId")!;
        var found = Runner.Find(id);
        if (found is null || found.AccountId != r.AccountId)
            return Invalid($"QueryExecution {id} was not found", r.RequestId);
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
            ["SubmissionDateTime"] = Json11.Epoch(q.CreationTime),
        };
        if (q.CompletionTime is { } done) status["CompletionDateTime"] = Json11.Epoch(done);
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
        return Json11.Ok(new JsonObject { ["QueryExecution"] = exec }, r.RequestId);
    }

    private LabResponse GetResults(LabRequest r, JsonObject body)
    {
        if (Find(r, body, out var q) is { } err) return err;
        if (q.State == TrailQueryState.Failed) return Invalid(q.ErrorMessage ?? "Query failed", r.RequestId);
        if (q.State == TrailQueryState.Cancelled) return Invalid("Query was cancelled", r.RequestId);
        if (q.State != TrailQueryState.Succeeded || q.Result is not { } res)
            return Invalid($"Query has not yet finished. Current state: {State(q.State)}", r.RequestId);
        // The model bounds MaxResults to 1-1000; absent, the Lab serves the largest page, as Athena does.
        int max = Json11.Int(body, "MaxResults") ?? (int)s_model.Range("GetQueryResults", "MaxResults").Max!.Value;
        int offset = 0;
        if (Json11.Str(body, "NextToken") is { } token && !CloudTrailService.TryReadToken(token, q.Id, out offset))
            return Invalid("The NextToken is not valid.", r.RequestId);
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
        if (offset + rows.Count < total) o["NextToken"] = CloudTrailService.MakeToken(q.Id, offset + rows.Count);
        return Json11.Ok(o, r.RequestId);
    }

    private LabResponse Stop(LabRequest r, JsonObject body)
    {
        if (Find(r, body, out var q) is { } err) return err;
        // Idempotent: stopping a finished query is not an error on Athena.
        q.Cancel(_context.Clock.GetUtcNow());
        return Json11.Ok(new JsonObject(), r.RequestId);
    }
}
