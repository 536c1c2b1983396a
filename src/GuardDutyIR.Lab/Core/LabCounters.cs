using System.Collections.Concurrent;

namespace GuardDutyIR.Lab.Core;

/// <summary>A point-in-time copy of the counters; keys are "service:Action".</summary>
public sealed record LabCounterSnapshot(
    IReadOnlyDictionary<string, long> Calls,
    IReadOnlyDictionary<string, long> Mutating,
    IReadOnlyDictionary<string, long> Throttled,
    IReadOnlyDictionary<string, long> Errors,
    IReadOnlyDictionary<string, long> Faults)
{
    public long TotalCalls => Calls.Values.Sum();
    public long TotalMutating => Mutating.Values.Sum();
    public long TotalThrottled => Throttled.Values.Sum();
    public long CallsOf(string service, string action) => Calls.TryGetValue(service + ":" + action, out var n) ? n : 0;
    public long MutatingOf(string service, string action) => Mutating.TryGetValue(service + ":" + action, out var n) ? n : 0;
    public long ThrottledOf(string service, string action) => Throttled.TryGetValue(service + ":" + action, out var n) ? n : 0;
}

/// <summary>
/// Calls per (service, action), and of those the mutating, throttled, failed and fault-injected ones, so tests can
/// assert how many writes a cmdlet made and how it behaved under throttling. Thread-safe; resettable.
/// </summary>
public sealed class LabCounters
{
    private readonly ConcurrentDictionary<string, long> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _mutating = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _throttled = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _errors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _faults = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _byAccount = new(StringComparer.Ordinal);

    private static readonly HashSet<string> s_throttleCodes = new(StringComparer.Ordinal)
    {
        "RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown",
    };

    public static bool IsThrottleCode(string? code) => code is not null && s_throttleCodes.Contains(code);

    /// <summary>Records one answered request. A mutating call is counted only when it was not rejected by throttling.</summary>
    public void Record(string service, string action, bool mutating, string? errorCode, bool injectedFault = false, string? accountId = null)
    {
        var key = service + ":" + action;
        _calls.AddOrUpdate(key, 1, (_, n) => n + 1);
        if (accountId is not null) _byAccount.AddOrUpdate(accountId + ":" + key, 1, (_, n) => n + 1);
        if (injectedFault) { _faults.AddOrUpdate(key, 1, (_, n) => n + 1); return; }
        if (IsThrottleCode(errorCode)) { _throttled.AddOrUpdate(key, 1, (_, n) => n + 1); return; }
        if (errorCode is not null) _errors.AddOrUpdate(key, 1, (_, n) => n + 1);
        if (mutating && errorCode is null) _mutating.AddOrUpdate(key, 1, (_, n) => n + 1);
    }

    public LabCounterSnapshot Snapshot() => new(
        new SortedDictionary<string, long>(_calls, StringComparer.Ordinal),
        new SortedDictionary<string, long>(_mutating, StringComparer.Ordinal),
        new SortedDictionary<string, long>(_throttled, StringComparer.Ordinal),
        new SortedDictionary<string, long>(_errors, StringComparer.Ordinal),
        new SortedDictionary<string, long>(_faults, StringComparer.Ordinal));

    /// <summary>
    /// Authenticated calls per signing account, keyed "account:service:Action": which account a client really acted
    /// in (for example with credentials of an assumed cross-account role).
    /// </summary>
    public IReadOnlyDictionary<string, long> CallsByAccount() => new SortedDictionary<string, long>(_byAccount, StringComparer.Ordinal);

    public void Reset()
    {
        _byAccount.Clear();
        _calls.Clear(); _mutating.Clear(); _throttled.Clear(); _errors.Clear(); _faults.Clear();
    }

    /// <summary>Read-only actions by AWS naming convention; everything else counts as mutating.</summary>
    public static bool IsReadOnlyAction(string action) =>
        action.StartsWith("Describe", StringComparison.Ordinal) || action.StartsWith("List", StringComparison.Ordinal) ||
        action.StartsWith("Get", StringComparison.Ordinal) || action.StartsWith("Search", StringComparison.Ordinal) ||
        action.StartsWith("Lookup", StringComparison.Ordinal) || action.StartsWith("Head", StringComparison.Ordinal);
}
