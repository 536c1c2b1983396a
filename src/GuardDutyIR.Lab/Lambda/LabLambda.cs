using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Lab.Lambda;

public enum LambdaInvocationStatus { Queued, Running, Succeeded, Failed }

/// <summary>One asynchronous invocation of a Lab function, from queued to the runtime's answer.</summary>
public sealed class LambdaInvocation
{
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal LambdaInvocation(string requestId, LambdaFunction function, string invokedArn, string payload, string source, DateTimeOffset queuedAt)
    {
        RequestId = requestId;
        Function = function;
        InvokedFunctionArn = invokedArn;
        Payload = payload;
        Source = source;
        QueuedAt = queuedAt;
        // X-Ray's trace header format: Root=1-<epoch seconds, hex>-<96 random bits, hex>;Parent=<64 bits>;Sampled=0.
        var random = Convert.ToHexString(RandomNumberGenerator.GetBytes(20)).ToLowerInvariant();
        TraceId = $"Root=1-{queuedAt.ToUnixTimeSeconds():x8}-{random[..24]};Parent={random[24..]};Sampled=0";
    }

    public string RequestId { get; }
    internal LambdaFunction Function { get; }
    public string FunctionArn => Function.Arn;
    /// <summary>The ARN the caller named (with a version or alias when it gave one).</summary>
    public string InvokedFunctionArn { get; }
    /// <summary>The event, as the function receives it.</summary>
    public string Payload { get; }
    /// <summary>Who invoked (the EventBridge rule's ARN, or "lab").</summary>
    public string Source { get; }
    public string TraceId { get; }
    public DateTimeOffset QueuedAt { get; }
    public DateTimeOffset? DeliveredAt { get; internal set; }
    /// <summary>Lambda-Runtime-Deadline-Ms of the delivery: when the function's timeout ends, Unix milliseconds.</summary>
    public long? DeadlineMs { get; internal set; }
    public DateTimeOffset? CompletedAt { get; internal set; }
    public LambdaInvocationStatus Status { get; internal set; } = LambdaInvocationStatus.Queued;
    /// <summary>The body the runtime posted to /response.</summary>
    public string? Response { get; internal set; }
    /// <summary>Lambda-Runtime-Function-Error-Type of a posted error (or the error body's errorType).</summary>
    public string? ErrorType { get; internal set; }
    /// <summary>The body the runtime posted to /error.</summary>
    public string? Error { get; internal set; }

    /// <summary>Completes when the runtime has posted a response or an error.</summary>
    public Task Completion => _completed.Task;

    internal void Complete() => _completed.TrySetResult();
}

/// <summary>An error a runtime reported from its initialization (POST /runtime/init/error).</summary>
public sealed record LambdaInitError(DateTimeOffset At, string? ErrorType, string Body);

/// <summary>
/// A function the Lab knows: its queue of invocations and its own runtime API endpoint on 127.0.0.1, as real Lambda
/// gives each execution environment one (AWS_LAMBDA_RUNTIME_API, https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
/// </summary>
public sealed class LambdaFunction
{
    /// <summary>Lambda's payload limit for a function's response (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).</summary>
    public const int MaxResponseBytes = 6 * 1024 * 1024;

    private readonly LinkedList<LambdaInvocation> _queue = new();
    private readonly SemaphoreSlim _available = new(0);
    private readonly Dictionary<string, LambdaInvocation> _running = new(StringComparer.Ordinal);
    private readonly List<LambdaInitError> _initErrors = new();
    private readonly TimeProvider _clock;
    private RuntimeApiServer? _server;
    private int _waiting;

    internal LambdaFunction(string name, string accountId, string region, TimeSpan timeout, TimeProvider clock)
    {
        Name = name;
        AccountId = accountId;
        Region = region;
        Timeout = timeout;
        _clock = clock;
        Arn = $"arn:aws:lambda:{region}:{accountId}:function:{name}";
    }

    public string Name { get; }
    public string AccountId { get; }
    public string Region { get; }
    public string Arn { get; }
    /// <summary>The function's timeout, which sets each delivery's deadline (Lambda's default is 3 seconds).</summary>
    public TimeSpan Timeout { get; }
    public int Port => _server?.Port ?? 0;
    /// <summary>host:port, the value of AWS_LAMBDA_RUNTIME_API for a runtime of this function.</summary>
    public string RuntimeApi => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public IReadOnlyList<LambdaInitError> InitErrors { get { lock (_initErrors) return _initErrors.ToArray(); } }

    /// <summary>Runtimes waiting in GET /next right now (one that hangs up stops counting).</summary>
    public int WaitingRuntimes => Volatile.Read(ref _waiting);

    internal void Start() => _server = new RuntimeApiServer(HandleAsync);

    internal ValueTask StopAsync() => _server?.DisposeAsync() ?? ValueTask.CompletedTask;

    internal void Enqueue(LambdaInvocation invocation)
    {
        lock (_queue) _queue.AddLast(invocation);
        _available.Release();
    }

    /// <summary>An invocation the runtime never received goes back to the head of the queue.</summary>
    private void Requeue(LambdaInvocation invocation)
    {
        lock (_queue)
        {
            _running.Remove(invocation.RequestId);
            invocation.Status = LambdaInvocationStatus.Queued;
            invocation.DeliveredAt = null;
            invocation.DeadlineMs = null;
            _queue.AddFirst(invocation);
        }
        _available.Release();
    }

    private async Task<LambdaInvocation> NextAsync(CancellationToken ct)
    {
        Interlocked.Increment(ref _waiting);
        try { await _available.WaitAsync(ct).ConfigureAwait(false); }
        finally { Interlocked.Decrement(ref _waiting); }
        lock (_queue)
        {
            var invocation = _queue.First!.Value;
            _queue.RemoveFirst();
            var now = _clock.GetUtcNow();
            invocation.Status = LambdaInvocationStatus.Running;
            invocation.DeliveredAt = now;
            invocation.DeadlineMs = (now + Timeout).ToUnixTimeMilliseconds();
            _running[invocation.RequestId] = invocation;
            return invocation;
        }
    }

    private static RuntimeResponse Accepted() => RuntimeResponse.Json(202, "{\"status\":\"OK\"}");

    private static RuntimeResponse RuntimeError(int status, string type, string message) =>
        RuntimeResponse.Json(status, JsonSerializer.Serialize(new Dictionary<string, string> { ["errorMessage"] = message, ["errorType"] = type }));

    private const string Prefix = "/2018-06-01/runtime/";

    private static readonly Regex s_invocationPath = new(@"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$", RegexOptions.CultureInvariant);

    private async Task<RuntimeResponse> HandleAsync(RuntimeRequest request, CancellationToken ct)
    {
        if (request.Path == Prefix + "invocation/next")
        {
            if (request.Method != "GET") return RuntimeError(405, "InvalidRequest", "Method not allowed");
            var invocation = await NextAsync(ct).ConfigureAwait(false);
            var response = new RuntimeResponse { Status = 200, Body = Encoding.UTF8.GetBytes(invocation.Payload), Undelivered = () => Requeue(invocation) };
            response.Headers["Lambda-Runtime-Aws-Request-Id"] = invocation.RequestId;
            response.Headers["Lambda-Runtime-Deadline-Ms"] = invocation.DeadlineMs!.Value.ToString(CultureInfo.InvariantCulture);
            response.Headers["Lambda-Runtime-Invoked-Function-Arn"] = invocation.InvokedFunctionArn;
            response.Headers["Lambda-Runtime-Trace-Id"] = invocation.TraceId;
            return response;
        }
        if (request.Path == Prefix + "init/error")
        {
            if (request.Method != "POST") return RuntimeError(405, "InvalidRequest", "Method not allowed");
            lock (_initErrors) _initErrors.Add(new LambdaInitError(_clock.GetUtcNow(), request.Header("Lambda-Runtime-Function-Error-Type"), Encoding.UTF8.GetString(request.Body)));
            return Accepted();
        }
        var m = s_invocationPath.Match(request.Path);
        if (!m.Success) return RuntimeError(404, "InvalidRequest", $"No runtime API route {request.Method} {request.Path}");
        if (request.Method != "POST") return RuntimeError(405, "InvalidRequest", "Method not allowed");
        if (request.Body.Length > MaxResponseBytes)
            return RuntimeError(413, "RequestEntityTooLarge", $"Exceeded maximum allowed payload size ({MaxResponseBytes} bytes).");
        LambdaInvocation? done;
        lock (_queue)
        {
            // Only the invocation a runtime holds may be answered, and only once.
            if (_running.Remove(Uri.UnescapeDataString(m.Groups[1].Value), out done))
            {
                done.CompletedAt = _clock.GetUtcNow();
                var body = Encoding.UTF8.GetString(request.Body);
                if (m.Groups[2].Value == "response")
                {
                    done.Status = LambdaInvocationStatus.Succeeded;
                    done.Response = body;
                }
                else
                {
                    done.Status = LambdaInvocationStatus.Failed;
                    done.Error = body;
                    done.ErrorType = request.Header("Lambda-Runtime-Function-Error-Type") ?? ErrorTypeOf(body);
                }
            }
        }
        if (done is null) return RuntimeError(400, "InvalidRequestID", "Invalid request ID");
        done.Complete();
        return Accepted();
    }

    private static string? ErrorTypeOf(string body)
    {
        try { using var doc = JsonDocument.Parse(body); return doc.RootElement.TryGetProperty("errorType", out var t) ? t.GetString() : null; }
        catch (JsonException) { return null; }
    }
}

/// <summary>
/// The Lab's Lambda: no control-plane API, only functions declared to it (or created by a first delivery to their ARN),
/// each served through its own Lambda Runtime API endpoint so any runtime loop can take the invocations; every
/// invocation and its result is kept.
/// </summary>
public sealed class LabLambda : IAsyncDisposable
{
    /// <summary>Lambda's default function timeout.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(3);

    private static readonly Regex s_functionArn = new(@"^arn:aws[\w-]*:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]{1,64})(?::([A-Za-z0-9$_-]+))?$", RegexOptions.CultureInvariant);
    private static readonly Regex s_functionName = new(@"^[A-Za-z0-9_-]{1,64}$", RegexOptions.CultureInvariant);

    private readonly Dictionary<string, LambdaFunction> _functions = new(StringComparer.Ordinal);
    private readonly List<LambdaInvocation> _invocations = new();
    private readonly TimeProvider _clock;
    private bool _disposed;

    public LabLambda(TimeProvider clock, string region, string defaultAccountId)
    {
        _clock = clock;
        Region = region;
        DefaultAccountId = defaultAccountId;
    }

    public string Region { get; }
    public string DefaultAccountId { get; }

    public IReadOnlyList<LambdaFunction> Functions { get { lock (_functions) return _functions.Values.OrderBy(f => f.Arn, StringComparer.Ordinal).ToArray(); } }

    public IReadOnlyList<LambdaInvocation> Invocations { get { lock (_invocations) return _invocations.ToArray(); } }

    public static bool TryParseFunctionArn(string arn, out string region, out string accountId, out string name, out string? qualifier)
    {
        var m = s_functionArn.Match(arn);
        region = m.Groups[1].Value;
        accountId = m.Groups[2].Value;
        name = m.Groups[3].Value;
        qualifier = m.Groups[4].Success ? m.Groups[4].Value : null;
        return m.Success;
    }

    /// <summary>Declares a function in the Lab's region (idempotent) and starts its runtime API endpoint.</summary>
    public LambdaFunction Register(string name, string? accountId = null, TimeSpan? timeout = null)
    {
        if (!s_functionName.IsMatch(name)) throw new ArgumentException($"'{name}' is not a Lambda function name.", nameof(name));
        var account = accountId ?? DefaultAccountId;
        var arn = $"arn:aws:lambda:{Region}:{account}:function:{name}";
        lock (_functions)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_functions.TryGetValue(arn, out var existing)) return existing;
            var function = new LambdaFunction(name, account, Region, timeout ?? DefaultTimeout, _clock);
            function.Start();
            _functions[arn] = function;
            return function;
        }
    }

    /// <summary>A function by name (in the default account) or by ARN, qualified or not.</summary>
    public LambdaFunction? Find(string nameOrArn)
    {
        var arn = TryParseFunctionArn(nameOrArn, out var region, out var account, out var name, out _)
            ? $"arn:aws:lambda:{region}:{account}:function:{name}"
            : $"arn:aws:lambda:{Region}:{DefaultAccountId}:function:{nameOrArn}";
        lock (_functions) return _functions.TryGetValue(arn, out var f) ? f : null;
    }

    /// <summary>
    /// Queues an asynchronous invocation (what EventBridge makes) of the function an ARN names, declaring the function on
    /// first use; null with <paramref name="error"/> when the ARN names no function in the Lab's region.
    /// </summary>
    public LambdaInvocation? QueueInvocation(string functionArn, string payload, string source, out string? error)
    {
        error = null;
        if (!TryParseFunctionArn(functionArn, out var region, out var account, out var name, out _))
        {
            error = $"{functionArn} is not a Lambda function ARN.";
            return null;
        }
        if (region != Region)
        {
            error = $"Function not found: {functionArn} (the Lab's Lambda runs in {Region} only).";
            return null;
        }
        LambdaFunction function;
        try { function = Register(name, account); }
        catch (ObjectDisposedException) { error = "The Lab is stopping."; return null; }
        var invocation = new LambdaInvocation(Guid.NewGuid().ToString(), function, functionArn, payload, source, _clock.GetUtcNow());
        lock (_invocations) _invocations.Add(invocation);
        function.Enqueue(invocation);
        return invocation;
    }

    public async ValueTask DisposeAsync()
    {
        LambdaFunction[] functions;
        lock (_functions)
        {
            _disposed = true;
            functions = _functions.Values.ToArray();
        }
        foreach (var f in functions) await f.StopAsync().ConfigureAwait(false);
    }
}
