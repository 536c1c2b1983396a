using System.Collections.Concurrent;

namespace GuardDutyIR.Lab.Core;

/// <summary>
/// Answers held back on purpose, so a test can check what a client does while some of its calls are unanswered (for
/// example that it reads or prepares other things meanwhile) by the order of events instead of by the clock: a held
/// call has arrived and waits, unhandled, until its hold is released. Every authenticated call that arrives is counted
/// per action, held or not. Actions are named as the request names them (the Query Action or the JSON target).
/// </summary>
public sealed class LabHolds
{
    private readonly ConcurrentDictionary<string, long> _arrived = new(StringComparer.Ordinal);
    private readonly List<Held> _holds = new();
    private readonly object _gate = new();
    private TaskCompletionSource _arrival = NewArrival();

    /// <summary>How many calls of the action have arrived, answered or not.</summary>
    public long ArrivedOf(string service, string action) => _arrived.TryGetValue(service + ":" + action, out var n) ? n : 0;

    /// <summary>
    /// Holds every call of <paramref name="action"/> that arrives from now on until the returned hold is disposed,
    /// which releases them all.
    /// </summary>
    public IDisposable Hold(string service, string action)
    {
        var held = new Held(this, service + ":" + action);
        lock (_gate) _holds.Add(held);
        return held;
    }

    /// <summary>
    /// Waits until at least <paramref name="count"/> calls of the action have arrived; false when <paramref name="timeout"/>
    /// passed first. The timeout only ends a test whose client never makes the call.
    /// </summary>
    public async Task<bool> WaitForArrivalsAsync(string service, string action, long count, TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        while (true)
        {
            Task next;
            lock (_gate) next = _arrival.Task;
            if (ArrivedOf(service, action) >= count) return true;
            try { await next.WaitAsync(limit.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return ArrivedOf(service, action) >= count; }
        }
    }

    /// <summary>Counts the call and, while its action is held, waits for the hold's release.</summary>
    internal Task ArriveAsync(string service, string action, CancellationToken ct)
    {
        var key = service + ":" + action;
        _arrived.AddOrUpdate(key, 1, (_, n) => n + 1);
        Task release = Task.CompletedTask;
        TaskCompletionSource arrival;
        lock (_gate)
        {
            if (_holds.FirstOrDefault(h => h.Key == key) is { } held) release = held.Released;
            arrival = _arrival;
            _arrival = NewArrival();
        }
        arrival.TrySetResult();
        return release.IsCompleted ? Task.CompletedTask : release.WaitAsync(ct);
    }

    private static TaskCompletionSource NewArrival() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Held(LabHolds owner, string key) : IDisposable
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public string Key { get; } = key;
        public Task Released => _released.Task;

        public void Dispose()
        {
            lock (owner._gate) owner._holds.Remove(this);
            _released.TrySetResult();
        }
    }
}
