using System.Management.Automation;
using GuardDutyIR.Commands.Loading;
using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Commands;

/// <summary>
/// What every GuardDutyIR cmdlet shares: a cancellation token that Ctrl+C (StopProcessing) cancels, waiting on
/// engine tasks on the pipeline thread, and turning engine errors into ErrorRecords with stable IDs.
/// </summary>
public abstract class GdCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    static GdCmdlet() => ModuleInitializer.EnsureRegistered();

    /// <summary>Cancelled when the user presses Ctrl+C or the pipeline is stopped.</summary>
    protected CancellationToken CancellationToken => _stopping.Token;

    protected override void StopProcessing() => _stopping.Cancel();

    private ProgressRecord? _pendingProgress;

    /// <summary>
    /// Records progress from any thread; it is written on the pipeline thread while the cmdlet waits (PowerShell
    /// accepts WriteProgress only there), the latest record winning, so fast engines cannot flood the host.
    /// </summary>
    protected void ReportProgress(ProgressRecord record) => Interlocked.Exchange(ref _pendingProgress, record);

    private void FlushProgress()
    {
        if (Interlocked.Exchange(ref _pendingProgress, null) is { } record) WriteProgress(record);
    }

    /// <summary>
    /// Waits for engine work on the pipeline thread; a cancelled wait becomes a pipeline stop. The work always ends
    /// before the cmdlet does, stopped or not: its clean-up (a query stopped on the service, a change rolled forward)
    /// is part of the stop.
    /// </summary>
    protected T Await<T>(Task<T> task)
    {
        try
        {
            while (!task.IsCompleted)
            {
                ((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromMilliseconds(200));
                FlushProgressUnlessStopped(task);
            }
            FlushProgressUnlessStopped(task);
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    // Once the pipeline stops, PowerShell refuses every write with PipelineStoppedException, and that can come before
    // StopProcessing has cancelled our token: the engine is told here, and its clean-up is waited for, instead of being
    // left running behind a cmdlet that already returned (a stopped Athena query went on running on the service).
    private void FlushProgressUnlessStopped(Task task)
    {
        try
        {
            if (!_stopping.IsCancellationRequested) FlushProgress();
        }
        catch (PipelineStoppedException)
        {
            _stopping.Cancel();
            ((IAsyncResult)task).AsyncWaitHandle.WaitOne();
            throw;
        }
    }

    protected void Await(Task task) => Await(AsObject(task));

    private static async Task<object?> AsObject(Task task)
    {
        await task.ConfigureAwait(false);
        return null;
    }

    /// <summary>Enumerates an engine stream on the pipeline thread, so each item can be written as it arrives.</summary>
    protected IEnumerable<T> Stream<T>(IAsyncEnumerable<T> source)
    {
        var enumerator = source.GetAsyncEnumerator(CancellationToken);
        try
        {
            while (Await(enumerator.MoveNextAsync().AsTask())) yield return enumerator.Current;
        }
        finally
        {
            try { enumerator.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            catch (OperationCanceledException) { }
        }
    }

    /// <summary>
    /// ShouldProcess for cmdlets with -Force: -Force skips the confirmation prompt of a high-impact change, but -WhatIf
    /// always wins (AWS.Tools' rule, and PowerShell's design guidance).
    /// </summary>
    protected bool ShouldProcessUnlessForced(bool force, string target, string action)
    {
        var whatIf = MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) ? w is SwitchParameter s && s.IsPresent
            : SessionState.PSVariable.GetValue("WhatIfPreference") is { } pref && LanguagePrimitives.IsTrue(pref);
        if (force && !whatIf)
        {
            WriteVerbose($"Performing the operation \"{action}\" on target \"{target}\" (-Force: not asking).");
            return true;
        }
        return ShouldProcess(target, action);
    }

    /// <summary>
    /// A -Name style wildcard, checked now: PowerShell parses a pattern on first use and reports a malformed one ('[' with
    /// no ']') as a bare RuntimeException; this stops the command with InvalidWildcard and the pattern as target.
    /// </summary>
    protected WildcardPattern? Wildcard(string? pattern)
    {
        if (pattern is null) return null;
        var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
        try
        {
            wildcard.IsMatch("");
        }
        catch (WildcardPatternException e)
        {
            ThrowEngineError(new GuardDutyIRException("InvalidWildcard", ErrorKind.InvalidArgument,
                $"'{pattern}' is not a valid wildcard pattern. Use * and ? as wildcards and [abc] for one of a set; write `[ for a literal '['.", pattern, e));
        }
        return wildcard;
    }

    /// <summary>The ErrorRecord for an engine error: its ErrorId, a category from its kind, the resource as target.</summary>
    protected static ErrorRecord ToErrorRecord(GuardDutyIRException e, object? target = null) =>
        new(e, e.ErrorId, ToCategory(e.Kind), target ?? e.Target);

    protected static ErrorRecord ToErrorRecord(Exception e, string errorId, ErrorCategory category, object? target) =>
        new(e, errorId, category, target);

    protected static ErrorCategory ToCategory(ErrorKind kind) =>
        Enum.TryParse<ErrorCategory>(kind.ToString(), out var category) ? category : ErrorCategory.NotSpecified;

    /// <summary>
    /// Failures that every later resource would meet too: credentials refused or unobtainable, an endpoint that cannot
    /// be reached or does not answer. A command stops on them instead of repeating them per resource. A deadline of one
    /// resource's own work (a query's -TimeoutSec, a snapshot wait) is not one of them: the next may finish.
    /// </summary>
    protected static bool StopsCommand(GuardDutyIRException e) =>
        e is CredentialsUnavailableException || e.Kind is ErrorKind.AuthenticationError or ErrorKind.ConnectionError
        || e.ErrorId == TransportErrors.OperationTimeoutId;

    /// <summary>
    /// Runs the work for one resource. Failures that no other resource could escape (rejected or unobtainable
    /// credentials, an endpoint that cannot be reached or does not answer) stop the command; any other engine error
    /// is written for this resource (with the error's own target when it has one) and the pipeline goes on.
    /// </summary>
    protected void ForResource(object? target, Action work)
    {
        try
        {
            work();
        }
        catch (GuardDutyIRException e)
        {
            ReportFailure(e, target);
        }
    }

    /// <summary>
    /// The one way a failure about one resource becomes an ErrorRecord. It stops the command when no other resource
    /// could escape it (<see cref="GdCmdlet.StopsCommand"/>), else it is written and the pipeline goes on. The target is
    /// the resource for a service's answer about it, and the error's own target otherwise (the endpoint of a transport
    /// failure, the value of a refused input).
    /// </summary>
    protected void ReportFailure(GuardDutyIRException e, object? resource)
    {
        var target = e is AwsServiceException ? resource ?? e.Target : e.Target ?? resource;
        if (StopsCommand(e)) ThrowEngineError(e, target);
        else WriteEngineError(e, target);
    }

    /// <summary>Reports a per-resource failure and lets the pipeline go on.</summary>
    protected void WriteEngineError(GuardDutyIRException e, object? target = null) => WriteError(ToErrorRecord(e, target));

    /// <summary>Stops the command: for contract, configuration and credential failures.</summary>
    protected void ThrowEngineError(GuardDutyIRException e, object? target = null) => ThrowTerminatingError(ToErrorRecord(e, target));

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing) _stopping.Dispose();
    }
}
