using Amazon.EC2;
using Amazon.Runtime;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// How one call of a step came out: its status, the request ID AWS answered with, the error, and the detail when the
/// step's own text cannot say it (a group ID only the answer names).
/// </summary>
internal readonly record struct StepOutcome(StepStatus Status, string? RequestId = null, string? Error = null, string? Detail = null)
{
    public static StepOutcome Of<T>(Mutation<T> m) => new(m.Status, m.RequestId, m.Error);
}

/// <summary>
/// The one record that every containment operation (quarantine, restore, a group made ready, a guarded shutdown, a
/// snapshot's history) keeps of what it did: each step in the order it started, with its status, detail, error,
/// request IDs and time. The results' Steps, Actions and RequestIds are read from it. Safe to record into from
/// concurrent steps.
/// </summary>
internal sealed class StepLog
{
    private readonly object _gate = new();
    private readonly List<QuarantineStep> _steps = new();
    private readonly List<string> _actions = new();
    private readonly TimeProvider _time;

    public StepLog(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <summary>Every step, in the order it started.</summary>
    public IReadOnlyList<QuarantineStep> Steps { get { lock (_gate) return _steps.ToList(); } }

    /// <summary>A line per change made, in the order the changes were made (for notifications).</summary>
    public IReadOnlyList<string> Actions { get { lock (_gate) return _actions.ToList(); } }

    /// <summary>The request IDs of every step, in step order (for the case journal).</summary>
    public IReadOnlyList<string> RequestIds => Steps.SelectMany(s => s.RequestIds).ToList();

    public bool Any(StepStatus status) { lock (_gate) return _steps.Any(s => s.Status == status); }

    /// <summary>A step that made no call: nothing to do, or DryRun cannot check it.</summary>
    public QuarantineStep Skip(string name, string target, string detail) => Closed(name, target, StepStatus.Skipped, detail, null);

    /// <summary>A step that could not be tried; <paramref name="error"/> says why.</summary>
    public QuarantineStep Fail(string name, string target, string detail, string? error) => Closed(name, target, StepStatus.Failed, detail, error);

    /// <summary>A change made by a call outside any step (one call shared by several records), with its request IDs.</summary>
    public QuarantineStep Done(string name, string target, string detail, params string?[] requestIds)
    {
        var step = Open(name, target, detail);
        Close(step, new StepOutcome(StepStatus.Done, Detail: detail), requestIds);
        return step;
    }

    /// <summary>Steps another log made (a group made ready once and shared by a run), in their order.</summary>
    public void Add(IEnumerable<QuarantineStep> made)
    {
        lock (_gate)
            foreach (var s in made)
            {
                _steps.Add(s);
                if (s.Status == StepStatus.Done) _actions.Add(s.Detail);
            }
    }

    /// <summary>
    /// Runs one step. A failed call is recorded as a failed step and the run goes on, unless
    /// <paramref name="throwOnFailure"/>; <paramref name="expected"/> turns an AWS answer that is not a failure (another
    /// run got there first) into the step's outcome. Cancellation is never recorded: it ends the operation.
    /// </summary>
    public async Task<QuarantineStep> RunAsync(string name, string target, StepText text, Func<CancellationToken, Task<StepOutcome>> call,
        CancellationToken ct, Func<AwsServiceException, StepText, StepOutcome?>? expected = null, bool throwOnFailure = false)
    {
        var step = Open(name, target, text.Planned);
        StepOutcome outcome;
        try
        {
            outcome = await call(ct).ConfigureAwait(false);
        }
        catch (AwsServiceException e) when (expected?.Invoke(e, text) is { } answer)
        {
            outcome = answer;
        }
        catch (GuardDutyIRException e)
        {
            Close(step, new StepOutcome(StepStatus.Failed, Error: e.Message, Detail: text.For(StepStatus.Failed)));
            if (throwOnFailure) throw;
            return step;
        }
        catch (OperationCanceledException)
        {
            // The call never answered: the step did not happen, and a stopped run's result must not list it (an open
            // step would read as Done).
            lock (_gate) _steps.Remove(step);
            throw;
        }
        Close(step, outcome with { Detail = outcome.Detail ?? text.For(outcome.Status) });
        return step;
    }

    /// <summary>A step that is one mutating EC2 call through the gateway (paced, DryRun-aware).</summary>
    public Task<QuarantineStep> MutateAsync<T>(Ec2Gateway ec2, string name, string target, StepText text, string action,
        Func<IAmazonEC2, bool, CancellationToken, Task<T>> call, CancellationToken ct,
        Func<AwsServiceException, StepText, StepOutcome?>? expected = null, bool throwOnFailure = false) where T : AmazonWebServiceResponse =>
        RunAsync(name, target, text, async t => StepOutcome.Of(await ec2.MutateAsync(action, target, call, t).ConfigureAwait(false)), ct, expected, throwOnFailure);

    private QuarantineStep Open(string name, string target, string detail)
    {
        var step = new QuarantineStep { Name = name, Target = target, Detail = detail, Time = _time.GetUtcNow().UtcDateTime };
        lock (_gate) _steps.Add(step);
        return step;
    }

    private QuarantineStep Closed(string name, string target, StepStatus status, string detail, string? error)
    {
        var step = Open(name, target, detail);
        Close(step, new StepOutcome(status, Error: error, Detail: detail));
        return step;
    }

    private void Close(QuarantineStep step, StepOutcome outcome, params string?[] moreRequestIds)
    {
        lock (_gate)
        {
            step.Status = outcome.Status;
            step.Error = outcome.Error;
            step.Detail = outcome.Detail ?? step.Detail;
            step.RequestIds = new[] { outcome.RequestId }.Concat(moreRequestIds).OfType<string>().ToList();
            if (step.Status == StepStatus.Done) _actions.Add(step.Detail);
        }
    }
}
