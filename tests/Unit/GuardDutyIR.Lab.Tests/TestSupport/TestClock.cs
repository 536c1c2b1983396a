using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace GuardDutyIR.Lab.Tests.TestSupport;

/// <summary>
/// A Lab clock (LabOptions.Clock) that moves only when the test moves it, so snapshot completion, instance
/// transitions, bucket refills, query runs and injected latency happen exactly when the test says. It also tells the
/// test when the Lab starts waiting on it. Request signing still uses the real clock (clients sign with theirs).
/// </summary>
internal sealed class TestClock : TimeProvider
{
    /// <summary>A fixed start, so nothing a test sees depends on the day it runs.</summary>
    public static readonly DateTimeOffset Start = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _fake = new(Start);
    private readonly ConcurrentQueue<TimeSpan> _waits = new();
    private readonly SemaphoreSlim _waitStarted = new(0);

    public void Advance(TimeSpan by) => _fake.Advance(by);

    public override DateTimeOffset GetUtcNow() => _fake.GetUtcNow();
    public override long GetTimestamp() => _fake.GetTimestamp();
    public override long TimestampFrequency => _fake.TimestampFrequency;
    public override TimeZoneInfo LocalTimeZone => _fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = _fake.CreateTimer(callback, state, dueTime, period);
        _waits.Enqueue(dueTime);
        _waitStarted.Release();
        return timer;
    }

    /// <summary>Returns once something in the Lab waits <paramref name="due"/> on this clock; fails after <paramref name="guard"/> of real time.</summary>
    public async Task WaitStartedAsync(TimeSpan due, TimeSpan guard)
    {
        using var cts = new CancellationTokenSource(guard);
        while (!_waits.Contains(due))
        {
            try { await _waitStarted.WaitAsync(cts.Token); }
            catch (OperationCanceledException) { Assert.Fail($"Nothing waited {due} on the Lab's clock within {guard} (waits seen: {string.Join(", ", _waits)})."); }
        }
    }
}

/// <summary>Waiting for something a test can observe, with a guard against hanging instead of a fixed sleep.</summary>
internal static class Eventually
{
    public static async Task<T> WaitAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, TimeSpan? guard = null)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)((guard ?? TimeSpan.FromSeconds(30)).TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (true)
        {
            var value = await read();
            if (done(value)) return value;
            Assert.True(TimeProvider.System.GetTimestamp() < deadline, $"Timed out waiting for {what}; last seen: {value}");
            await Task.Delay(10);
        }
    }
}
