using System.Collections.Concurrent;

namespace GuardDutyIR.Lab.CloudTrail;

/// <summary>Lifecycle states shared by the Lake and Athena front ends (each maps them to its own names).</summary>
public enum TrailQueryState { Queued, Running, Succeeded, Failed, Cancelled }

/// <summary>One asynchronous query execution.</summary>
public sealed class TrailQuery
{
    private readonly object _sync = new();

    internal TrailQuery(string id, string accountId, string statement, string executedSql, TrailDialect dialect, DateTimeOffset created)
    {
        Id = id;
        AccountId = accountId;
        Statement = statement;
        ExecutedSql = executedSql;
        Dialect = dialect;
        CreationTime = created;
    }

    public string Id { get; }
    public string AccountId { get; }
    /// <summary>The statement as submitted.</summary>
    public string Statement { get; }
    /// <summary>The statement DuckDB ran (FROM rewritten).</summary>
    public string ExecutedSql { get; }
    public TrailDialect Dialect { get; }
    public DateTimeOffset CreationTime { get; }
    public DateTimeOffset? CompletionTime { get; private set; }
    public TrailQueryState State { get; private set; }
    public string? ErrorMessage { get; private set; }
    public SqlResult? Result { get; private set; }
    public long ExecutionMillis { get; private set; }
    /// <summary>Free slot for the front end (e.g. Lake's DeliveryS3Uri, Athena's context).</summary>
    public Dictionary<string, string> Properties { get; } = new(StringComparer.Ordinal);
    internal CancellationTokenSource Cancellation { get; } = new();
    internal Action<TrailQuery>? OnSucceeded { get; set; }

    public bool IsActive { get { lock (_sync) return State is TrailQueryState.Queued or TrailQueryState.Running; } }

    internal bool TryMove(TrailQueryState from, TrailQueryState to, DateTimeOffset now, string? error = null, SqlResult? result = null, long? millis = null)
    {
        lock (_sync)
        {
            if (State != from) return false;
            State = to;
            if (error is not null) ErrorMessage = error;
            if (result is not null) Result = result;
            if (millis is not null) ExecutionMillis = millis.Value;
            if (to is TrailQueryState.Succeeded or TrailQueryState.Failed or TrailQueryState.Cancelled) CompletionTime = now;
            return true;
        }
    }

    internal void SetResult(SqlResult result)
    {
        lock (_sync) Result = result;
    }

    /// <summary>Cancels a queued or running query; false when it had already finished.</summary>
    public bool Cancel(DateTimeOffset now)
    {
        lock (_sync)
        {
            if (State is not (TrailQueryState.Queued or TrailQueryState.Running)) return false;
            State = TrailQueryState.Cancelled;
            CompletionTime = now;
        }
        Cancellation.Cancel();
        return true;
    }
}

/// <summary>
/// Runs queries in the background: QUEUED, then RUNNING for at least <see cref="MinimumRunTime"/> (a test knob so
/// polling and cancellation can be exercised), then SUCCEEDED/FAILED unless cancelled first.
/// </summary>
public sealed class TrailQueryRunner
{
    private readonly ConcurrentDictionary<string, TrailQuery> _queries = new(StringComparer.Ordinal);
    private readonly TrailDatabase _db;
    private readonly TimeProvider _clock;

    public TrailQueryRunner(TrailDatabase db, TimeProvider clock)
    {
        _db = db;
        _clock = clock;
    }

    public TimeSpan MinimumRunTime { get; set; }
    /// <summary>How long a query stays QUEUED unless <see cref="QueueTime"/> says otherwise.</summary>
    public static readonly TimeSpan DefaultQueueTime = TimeSpan.FromMilliseconds(5);

    /// <summary>Time a query stays QUEUED before it starts running.</summary>
    public TimeSpan QueueTime { get; set; } = DefaultQueueTime;

    public TrailQuery? Find(string id) => _queries.TryGetValue(id, out var q) ? q : null;

    public IEnumerable<TrailQuery> All => _queries.Values;

    public int ActiveCount(string accountId) => _queries.Values.Count(q => q.AccountId == accountId && q.IsActive);

    public TrailQuery Start(string accountId, string statement, string executedSql, TrailDialect dialect, Action<TrailQuery>? onSucceeded = null)
    {
        var q = new TrailQuery(Guid.NewGuid().ToString(), accountId, statement, executedSql, dialect, _clock.GetUtcNow()) { OnSucceeded = onSucceeded };
        _queries[q.Id] = q;
        _ = Task.Run(() => RunAsync(q));
        return q;
    }

    /// <summary>Marks a query FAILED without running it (validation errors that surface asynchronously, as Athena reports them).</summary>
    public TrailQuery StartFailed(string accountId, string statement, TrailDialect dialect, string error)
    {
        var q = new TrailQuery(Guid.NewGuid().ToString(), accountId, statement, statement, dialect, _clock.GetUtcNow());
        _queries[q.Id] = q;
        _ = Task.Run(async () =>
        {
            try { await Task.Delay(QueueTime, _clock, q.Cancellation.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            q.TryMove(TrailQueryState.Queued, TrailQueryState.Failed, _clock.GetUtcNow(), error);
        });
        return q;
    }

    private async Task RunAsync(TrailQuery q)
    {
        var ct = q.Cancellation.Token;
        try
        {
            await Task.Delay(QueueTime, _clock, ct).ConfigureAwait(false);
            if (!q.TryMove(TrailQueryState.Queued, TrailQueryState.Running, _clock.GetUtcNow())) return;
            var started = _clock.GetTimestamp();
            SqlResult? result = null;
            string? error = null;
            // DuckDB blocks the thread it runs on for the whole query: on a thread of its own, not one of the pool's few
            // (on two cores, a pool thread held here left the Lab's HTTP work and a test's pipeline stop waiting about
            // half a second for the pool to add a thread).
            try { result = await Task.Factory.StartNew(() => _db.Execute(q.ExecutedSql, q.Dialect, ct), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false); }
            catch (TrailQueryException ex) { error = ex.Message; }
            var remaining = MinimumRunTime - _clock.GetElapsedTime(started);
            if (remaining > TimeSpan.Zero) await Task.Delay(remaining, _clock, ct).ConfigureAwait(false);
            var millis = Math.Max(1, (long)_clock.GetElapsedTime(started).TotalMilliseconds);
            if (error is not null) q.TryMove(TrailQueryState.Running, TrailQueryState.Failed, _clock.GetUtcNow(), error, millis: millis);
            else
            {
                // Side effects (S3 delivery) complete before the query reports success, so a client that sees it finished finds the file.
                q.SetResult(result!);
                q.OnSucceeded?.Invoke(q);
                q.TryMove(TrailQueryState.Running, TrailQueryState.Succeeded, _clock.GetUtcNow(), millis: millis);
            }
        }
        catch (OperationCanceledException)
        {
            // CancelQuery already moved the state.
        }
        catch (Exception ex)
        {
            var message = "Internal error: " + (NativeEngineMissing(ex) ?? ex.Message);
            q.TryMove(TrailQueryState.Running, TrailQueryState.Failed, _clock.GetUtcNow(), message);
            q.TryMove(TrailQueryState.Queued, TrailQueryState.Failed, _clock.GetUtcNow(), message);
        }
    }

    /// <summary>
    /// The Lab inside a module installed without DuckDB's native library: say what is missing and what to install (the
    /// host that loads the Lab may leave that in AppContext data under GuardDutyIR.DuckDB.Problem) instead of the
    /// native loader's list of every path it tried.
    /// </summary>
    private static string? NativeEngineMissing(Exception ex) => ex switch
    {
        DllNotFoundException => "the Lab answers CloudTrail Lake and Athena queries with DuckDB, whose native library could not be loaded. " +
            (AppContext.GetData("GuardDutyIR.DuckDB.Problem") as string ?? ex.Message.Split('\n')[0].Trim()),
        TypeInitializationException { InnerException: { } inner } => NativeEngineMissing(inner),
        _ => null,
    };
}
