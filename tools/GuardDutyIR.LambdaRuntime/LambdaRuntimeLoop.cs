using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace GuardDutyIR.LambdaRuntime;

/// <summary>How the runtime is set up: what Lambda gives a custom runtime (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT).</summary>
public sealed record LambdaRuntimeOptions
{
    /// <summary>host:port of the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API).</summary>
    public required string RuntimeApi { get; init; }

    /// <summary>
    /// The handler, in the PowerShell runtime's three forms: <c>script.ps1</c> (the whole script runs per invocation),
    /// <c>script.ps1::Function</c> (the script is dot-sourced once at init, the function runs per invocation), or
    /// <c>Module::Name::Function</c> (the module is imported at init).
    /// </summary>
    public required string Handler { get; init; }

    /// <summary>The function package's folder (LAMBDA_TASK_ROOT, /var/task on Lambda).</summary>
    public required string TaskRoot { get; init; }

    /// <summary>
    /// Folders searched for modules, in order: where layers put them (/opt/modules on Lambda), then the function
    /// package's modules folder. The engine's own modules come first, as the runtime puts pwsh's before them.
    /// </summary>
    public IReadOnlyList<string> ModulePaths { get; init; } = Array.Empty<string>();

    /// <summary>Where the function's log lines go (CloudWatch Logs on Lambda).</summary>
    public TextWriter Log { get; init; } = TextWriter.Null;
}

/// <summary>What one invocation did: its request ID, whether the response or an error was posted, and the body.</summary>
public sealed record LambdaInvocationOutcome(string RequestId, bool Succeeded, string Body, string? ErrorType, TimeSpan HandlerDuration, DateTimeOffset ReceivedAt);

/// <summary>The handler could not be loaded; the runtime reported it to /runtime/init/error.</summary>
public sealed class LambdaInitException(string message, Exception? inner) : Exception(message, inner);

/// <summary>
/// A runtime loop that does what AWS's PowerShell runtime does (github.com/awslabs/aws-lambda-powershell-runtime,
/// Runtime API: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): at init it sets PSModulePath to the
/// engine's, the layers' and the package's module folders and loads the handler; then, per invocation, it GETs
/// /invocation/next, sets the invocation's environment variables, converts the event from JSON to objects
/// ($LambdaInput), runs the handler with $LambdaInput and $LambdaContext, turns what it returned into JSON (a string is
/// sent as it is) and POSTs it to /response, or POSTs a terminating error to /error.
/// </summary>
public sealed class LambdaRuntimeLoop : IDisposable
{
    private enum HandlerKind { Script, Function, Module }

    // The invocation, run in a scope of its own so nothing of it outlives the call. A handler that returns something
    // other than a string is sent as ConvertTo-Json -Compress with its default depth, as the runtime does: a handler
    // that returns nested data should return its own JSON text.
    private const string InvokeScript = """
        param($EventJson, $Handler, $Context)
        $LambdaInput = ConvertFrom-Json -InputObject $EventJson
        $LambdaContext = $Context
        $response = & $Handler $LambdaInput $LambdaContext
        if ($null -ne $response -and $response -isnot [string]) { ConvertTo-Json -InputObject $response -Compress } else { $response }
        """;

    private readonly LambdaRuntimeOptions _options;
    private readonly HttpClient _http;
    private readonly HandlerKind _kind;
    private readonly string _target;
    private readonly string? _moduleOrScript;
    private Runspace? _runspace;

    public LambdaRuntimeLoop(LambdaRuntimeOptions options)
    {
        _options = options;
        // "Do not set a timeout on the GET request": /next waits for the next invocation.
        _http = new HttpClient { BaseAddress = new Uri($"http://{options.RuntimeApi}/2018-06-01/runtime/"), Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("GuardDutyIR.LambdaRuntime", "1.0"));
        (_kind, _target, _moduleOrScript) = ParseHandler(options.Handler, options.TaskRoot);
    }

    /// <summary>The runspace the handler runs in (open after <see cref="InitializeAsync"/>); idle between invocations.</summary>
    public Runspace Runspace => _runspace ?? throw new InvalidOperationException("The runtime is not initialized.");

    /// <summary>Engine start, module path, and the handler's own init (dot-sourcing the script or importing the module).</summary>
    public TimeSpan InitDuration { get; private set; }

    private static (HandlerKind, string, string?) ParseHandler(string handler, string taskRoot)
    {
        var parts = handler.Split("::");
        if (parts.Length == 1 && parts[0].EndsWith(".ps1", StringComparison.OrdinalIgnoreCase))
            return (HandlerKind.Script, Path.Combine(taskRoot, parts[0]), null);
        if (parts.Length == 2 && parts[0].EndsWith(".ps1", StringComparison.OrdinalIgnoreCase))
            return (HandlerKind.Function, parts[1], Path.Combine(taskRoot, parts[0]));
        if (parts.Length == 3 && parts[0] == "Module")
            return (HandlerKind.Module, parts[2], parts[1]);
        throw new ArgumentException($"Invalid Lambda handler: '{handler}'. Use script.ps1, script.ps1::Function or Module::Name::Function.", nameof(handler));
    }

    /// <summary>
    /// Opens the engine and loads the handler. A handler that cannot be loaded is reported to /runtime/init/error
    /// (as Lambda expects of a runtime) and thrown as <see cref="LambdaInitException"/>.
    /// </summary>
    public async Task InitializeAsync(CancellationToken ct = default)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            var engineModules = Path.Combine(Path.GetDirectoryName(typeof(PSObject).Assembly.Location)!, "Modules");
            var paths = new[] { engineModules }.Where(Directory.Exists).Concat(_options.ModulePaths);
            Environment.SetEnvironmentVariable("PSModulePath", string.Join(Path.PathSeparator, paths));
            _runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
            _runspace.Open();
            switch (_kind)
            {
                case HandlerKind.Function:
                    // Dot-sourced in the global scope: the script's top level (Import-Module, configuration) runs once.
                    RunInit(ps => ps.AddScript(". $args[0]", useLocalScope: false).AddArgument(_moduleOrScript!));
                    break;
                case HandlerKind.Module:
                    RunInit(ps => ps.AddCommand("Import-Module").AddParameter("Name", _moduleOrScript!).AddParameter("Force"));
                    break;
                case HandlerKind.Script when !File.Exists(_target):
                    throw new FileNotFoundException($"The handler script {_target} does not exist.", _target);
            }
        }
        catch (Exception e) when (e is RuntimeException or FileNotFoundException or PSInvalidOperationException)
        {
            var record = (e as IContainsErrorRecord)?.ErrorRecord;
            var type = record is null ? "Runtime.InitError" : $"{record.CategoryInfo.Category}.{record.CategoryInfo.Reason}";
            await PostAsync("init/error", ErrorBody(e.Message, record?.CategoryInfo.Reason ?? e.GetType().Name), type, ct).ConfigureAwait(false);
            throw new LambdaInitException($"The handler '{_options.Handler}' could not be loaded: {e.Message}", e);
        }
        finally
        {
            InitDuration = watch.Elapsed;
        }
    }

    private void RunInit(Action<PowerShell> add)
    {
        using var ps = PowerShell.Create();
        ps.Runspace = _runspace;
        add(ps);
        ps.Invoke();
        WriteLogs(ps, "INIT");
        // An error while loading is an init failure, not something to find out at the first invocation.
        if (ps.Streams.Error.Count > 0) throw new RuntimeException(ps.Streams.Error[0].ToString(), ps.Streams.Error[0].Exception, ps.Streams.Error[0]);
    }

    /// <summary>Takes the next invocation (waiting for one), runs the handler, posts its answer.</summary>
    public async Task<LambdaInvocationOutcome> InvokeNextAsync(CancellationToken ct = default)
    {
        if (_runspace is null) throw new InvalidOperationException("Call InitializeAsync first.");
        using var next = await _http.GetAsync("invocation/next", HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        next.EnsureSuccessStatusCode();
        var received = DateTimeOffset.UtcNow;
        string Header(string name) => next.Headers.TryGetValues(name, out var v) ? v.First() : "";
        var requestId = Header("Lambda-Runtime-Aws-Request-Id");
        var eventJson = await next.Content.ReadAsStringAsync(ct).ConfigureAwait(false);

        // The per-invocation environment the runtime sets before calling the handler.
        Environment.SetEnvironmentVariable("AWS_LAMBDA_RUNTIME_AWS_REQUEST_ID", requestId);
        Environment.SetEnvironmentVariable("AWS_LAMBDA_RUNTIME_DEADLINE_MS", Header("Lambda-Runtime-Deadline-Ms"));
        Environment.SetEnvironmentVariable("AWS_LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN", Header("Lambda-Runtime-Invoked-Function-Arn"));
        Environment.SetEnvironmentVariable("_X_AMZN_TRACE_ID", Header("Lambda-Runtime-Trace-Id"));
        var context = new LambdaContext(
            Env("AWS_LAMBDA_FUNCTION_NAME"), Env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"), Header("Lambda-Runtime-Invoked-Function-Arn"),
            int.TryParse(Env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), NumberStyles.None, CultureInfo.InvariantCulture, out var memory) ? memory : 0,
            requestId, Env("AWS_LAMBDA_LOG_GROUP_NAME"), Env("AWS_LAMBDA_LOG_STREAM_NAME"),
            NullIfEmpty(Header("Lambda-Runtime-Cognito-Identity")), NullIfEmpty(Header("Lambda-Runtime-Client-Context")),
            long.TryParse(Header("Lambda-Runtime-Deadline-Ms"), NumberStyles.None, CultureInfo.InvariantCulture, out var deadline) ? deadline : 0);

        var watch = Stopwatch.StartNew();
        string body;
        string? errorType = null;
        using (var ps = PowerShell.Create())
        {
            ps.Runspace = _runspace;
            ps.AddScript(InvokeScript, useLocalScope: true)
                .AddArgument(eventJson)
                .AddArgument(_target)
                .AddArgument(context);
            try
            {
                var output = ps.Invoke();
                body = string.Concat(output.Select(o => o?.BaseObject?.ToString()));
            }
            catch (RuntimeException e)
            {
                var info = e.ErrorRecord.CategoryInfo;
                errorType = $"{info.Category}.{info.Reason}";
                body = ErrorBody(e.Message, info.Reason);
                _options.Log.WriteLine($"[{requestId}] {e.ErrorRecord}");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The engine itself failed (a broken runspace): still an answer for this invocation, never a hang.
                errorType = "Runtime." + e.GetType().Name;
                body = ErrorBody(e.Message, e.GetType().Name);
                _options.Log.WriteLine($"[{requestId}] {e}");
            }
            WriteLogs(ps, requestId);
        }
        var handlerDuration = watch.Elapsed;
        if (errorType is null) await PostAsync($"invocation/{Uri.EscapeDataString(requestId)}/response", body, null, ct).ConfigureAwait(false);
        else await PostAsync($"invocation/{Uri.EscapeDataString(requestId)}/error", body, errorType, ct).ConfigureAwait(false);
        Environment.SetEnvironmentVariable("_X_AMZN_TRACE_ID", "");
        return new LambdaInvocationOutcome(requestId, errorType is null, body, errorType, handlerDuration, received);
    }

    /// <summary>Serves invocations until cancelled, or until the Runtime API goes away (the execution environment ends).</summary>
    public async Task RunAsync(CancellationToken ct = default)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await InvokeNextAsync(ct).ConfigureAwait(false); }
            catch (HttpRequestException e) when (e.StatusCode is null)
            {
                _options.Log.WriteLine($"The Runtime API at {_options.RuntimeApi} is gone ({e.Message}); the runtime ends.");
                return;
            }
        }
    }

    private static string Env(string name, string fallback = "") => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static string ErrorBody(string message, string? type) =>
        JsonSerializer.Serialize(new Dictionary<string, string?> { ["errorMessage"] = message, ["errorType"] = type });

    private async Task PostAsync(string path, string body, string? errorType, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (errorType is not null) request.Headers.Add("Lambda-Runtime-Function-Error-Type", errorType);
        using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
            _options.Log.WriteLine($"The Runtime API refused POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)}");
    }

    /// <summary>What the handler wrote to its streams goes to the log, as the runtime sends it to CloudWatch Logs.</summary>
    private void WriteLogs(PowerShell ps, string tag)
    {
        var log = _options.Log;
        if (ReferenceEquals(log, TextWriter.Null)) return;
        foreach (var i in ps.Streams.Information) log.WriteLine($"[{tag}] {i.MessageData}");
        foreach (var w in ps.Streams.Warning) log.WriteLine($"[{tag}] WARNING: {w.Message}");
        foreach (var v in ps.Streams.Verbose) log.WriteLine($"[{tag}] VERBOSE: {v.Message}");
        foreach (var e in ps.Streams.Error) log.WriteLine($"[{tag}] ERROR: {e}");
        log.Flush();
    }

    public void Dispose()
    {
        _runspace?.Dispose();
        _http.Dispose();
    }
}
