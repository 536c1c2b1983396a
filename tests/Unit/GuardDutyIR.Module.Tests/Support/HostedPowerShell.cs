using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>What one hosted script produced, stream by stream.</summary>
public sealed class ScriptResult
{
    public required Collection<PSObject> Output { get; init; }
    public required IReadOnlyList<ErrorRecord> Errors { get; init; }
    public required IReadOnlyList<WarningRecord> Warnings { get; init; }
    public required IReadOnlyList<VerboseRecord> Verbose { get; init; }
    public required IReadOnlyList<ProgressRecord> Progress { get; init; }
    public required IReadOnlyList<InformationRecord> Information { get; init; }
    /// <summary>The terminating error that ended the script, if one did.</summary>
    public RuntimeException? Terminating { get; init; }
    /// <summary>For a stopped script: from the call to Stop to the end of the pipeline.</summary>
    public TimeSpan? StopToEnd { get; init; }

    public ErrorRecord SingleError()
    {
        if (Terminating is not null) return Terminating.ErrorRecord;
        return Assert.Single(Errors);
    }
}

/// <summary>
/// A PowerShell 7.6 runspace in this process with the built module imported: the same module layout a user installs.
/// </summary>
public sealed class HostedPowerShell : IDisposable
{
    private readonly Runspace _runspace;

    public HostedPowerShell(bool importModule = true)
    {
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
        var state = InitialSessionState.CreateDefault2();
        _runspace = RunspaceFactory.CreateRunspace(state);
        _runspace.Open();
        if (importModule)
        {
            var result = Run("Import-Module $args[0] -PassThru", ModuleLayout.ManifestPath);
            if (result.Terminating is not null || result.Errors.Count > 0)
                throw new InvalidOperationException("Import-Module failed: " + (result.Terminating?.Message ?? result.Errors[0].ToString()));
        }
    }

    public Runspace Runspace => _runspace;

    /// <summary>
    /// Runs script text; $args holds the arguments. A terminating error (a cmdlet's ThrowTerminatingError, which
    /// PowerShell treats as statement-terminating) ends the script as it would under try/catch and is reported in
    /// <see cref="ScriptResult.Terminating"/>; non-terminating errors stay in <see cref="ScriptResult.Errors"/>.
    /// </summary>
    public ScriptResult Run(string script, params object?[] args)
    {
        using var ps = PowerShell.Create();
        ps.Runspace = _runspace;
        ps.AddScript("$global:__gdTerminating = $null; try { . {\n" + script + "\n} @args } catch { $global:__gdTerminating = $_ }");
        foreach (var arg in args) ps.AddArgument(arg);
        Collection<PSObject> output = new();
        RuntimeException? terminating = null;
        try
        {
            output = ps.Invoke();
        }
        catch (RuntimeException e)
        {
            terminating = e;
        }
        if (terminating is null && _runspace.SessionStateProxy.GetVariable("__gdTerminating") is { } caught)
        {
            var record = caught is PSObject wrapped ? (ErrorRecord)wrapped.BaseObject : (ErrorRecord)caught;
            terminating = record.Exception as RuntimeException ?? new RuntimeException(record.Exception.Message, record.Exception, record);
            if (!ReferenceEquals(terminating.ErrorRecord, record)) terminating = new RecordedTermination(record);
        }
        return Collect(ps, output, terminating);
    }

    /// <summary>A captured terminating error whose ErrorRecord is the one the cmdlet threw.</summary>
    private sealed class RecordedTermination(ErrorRecord record) : RuntimeException(record.Exception.Message, record.Exception)
    {
        public override ErrorRecord ErrorRecord => record;
    }

    /// <summary>
    /// Starts a script and stops it, as Ctrl+C does, as soon as <paramref name="stopWhen"/> sees the moment the test
    /// wants (a request in flight, a first call counted by the Lab). The guard (a minute unless given) only keeps a hang
    /// from holding up the suite: a moment that never comes, or a stop that never ends the script, is a
    /// TimeoutException. Whether the stop was prompt is for the test to prove from what happened, not from a clock.
    /// </summary>
    /// <summary>Runs a script, failing (instead of hanging the suite) when it has not ended within the guard.</summary>
    public ScriptResult RunWithin(TimeSpan hangGuard, string script, params object?[] args)
    {
        var run = Task.Run(() => Run(script, args));
        if (!run.Wait(hangGuard)) throw new TimeoutException($"The script did not end within {hangGuard}: {script}");
        return run.Result;
    }

    public ScriptResult RunAndStopWhen(string script, Func<bool> stopWhen, TimeSpan? hangGuard = null) =>
        RunAndStopWhen(script, _ => stopWhen(), hangGuard);

    /// <summary>As above, with the script's streams (its progress, its verbose output) to choose the moment from.</summary>
    public ScriptResult RunAndStopWhen(string script, Func<PSDataStreams, bool> stopWhen, TimeSpan? hangGuard = null)
    {
        using var ps = PowerShell.Create();
        ps.Runspace = _runspace;
        ps.AddScript(script);
        var output = new PSDataCollection<PSObject>();
        var async = ps.BeginInvoke<PSObject, PSObject>(null, output);
        var limit = hangGuard ?? TimeSpan.FromMinutes(1);
        var guard = System.Diagnostics.Stopwatch.StartNew();
        while (!stopWhen(ps.Streams))
        {
            if (async.IsCompleted) throw new InvalidOperationException("The script ended before the moment to stop it came: " + Ending(ps, async));
            if (guard.Elapsed > limit) throw new TimeoutException($"The moment to stop the script did not come within {limit}.");
            Thread.Sleep(10);
        }
        var sinceStop = System.Diagnostics.Stopwatch.StartNew();
        var stopping = ps.BeginStop(null, null);
        if (!async.AsyncWaitHandle.WaitOne(limit)) throw new TimeoutException($"The script did not stop within {limit}.");
        var stopToEnd = sinceStop.Elapsed;
        if (!stopping.AsyncWaitHandle.WaitOne(limit)) throw new TimeoutException($"The stop did not finish within {limit}.");
        ps.EndStop(stopping);
        RuntimeException? terminating = null;
        try { ps.EndInvoke(async); }
        catch (RuntimeException e) { terminating = e; }
        return Collect(ps, new Collection<PSObject>(output.ToList()), terminating, stopToEnd);
    }

    // What a script that ended too early said: its errors and its terminating error, so the failure names its cause.
    private static string Ending(PowerShell ps, IAsyncResult invocation)
    {
        string? terminating = null;
        try { ps.EndInvoke(invocation); }
        catch (RuntimeException e) { terminating = e.ErrorRecord?.FullyQualifiedErrorId + ": " + e.Message; }
        var errors = ps.Streams.Error.Select(e => e.FullyQualifiedErrorId + ": " + e.Exception?.Message).ToList();
        return errors.Count == 0 && terminating is null ? "no error" : string.Join("; ", errors.Append(terminating).OfType<string>());
    }

    private static ScriptResult Collect(PowerShell ps, Collection<PSObject> output, RuntimeException? terminating, TimeSpan? stopToEnd = null) => new()
    {
        StopToEnd = stopToEnd,
        Output = output,
        Errors = ps.Streams.Error.ToList(),
        Warnings = ps.Streams.Warning.ToList(),
        Verbose = ps.Streams.Verbose.ToList(),
        Progress = ps.Streams.Progress.ToList(),
        Information = ps.Streams.Information.ToList(),
        Terminating = terminating,
    };

    public void Dispose() => _runspace.Dispose();
}

/// <summary>Where the build put the module layout (stamped into this assembly at build time).</summary>
public static class ModuleLayout
{
    private static string Metadata(string key) =>
        typeof(ModuleLayout).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    public static string Directory => Metadata("ModuleLayoutDir");
    public static string Version => Metadata("ModuleVersion");
    public static string ManifestPath => Path.Combine(Directory, "GuardDutyIR.psd1");
    /// <summary>The build's out/ folder, a module root (out/GuardDutyIR/&lt;version&gt;/) to put on PSModulePath.</summary>
    public static string ModuleRoot => Path.GetDirectoryName(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Directory)))!;
    /// <summary>The console host that runs a script in a fresh process with the module imported.</summary>
    public static string DemoHostDll => Metadata("DemoHostDll");
}
