using Microsoft.Extensions.Time.Testing;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// Virtual time for pacing tests: a <see cref="FakeTimeProvider"/> that also keeps when each wait started on it will
/// end, so a test can let time run only up to the waits it allows and observe one that is still pending.
/// </summary>
internal sealed class WatchedTime : TimeProvider
{
    private readonly List<DateTimeOffset> _dues = new();

    public FakeTimeProvider Fake { get; } = new(DateTimeOffset.UtcNow);

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();
    public override long GetTimestamp() => Fake.GetTimestamp();
    public override long TimestampFrequency => Fake.TimestampFrequency;
    public override TimeZoneInfo LocalTimeZone => Fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        lock (_dues) _dues.Add(Fake.GetUtcNow() + dueTime);
        return Fake.CreateTimer(callback, state, dueTime, period);
    }

    /// <summary>How far ahead of now each wait not yet over ends.</summary>
    public IReadOnlyList<TimeSpan> Pending
    {
        get
        {
            var now = Fake.GetUtcNow();
            lock (_dues) return _dues.Where(d => d > now).Select(d => d - now).OrderBy(d => d).ToList();
        }
    }

    /// <summary>Moves time to the end of the next pending wait that ends within <paramref name="within"/>; false when there is none.</summary>
    public bool RunNext(TimeSpan within)
    {
        var next = Pending.Where(d => d <= within).DefaultIfEmpty(TimeSpan.Zero).First();
        if (next <= TimeSpan.Zero) return false;
        Fake.Advance(next);
        return true;
    }

    /// <summary>
    /// Polls <paramref name="condition"/>, running the pending waits that end within <paramref name="within"/> as they
    /// appear, until it holds. The guard only stops a hang (the code under test waits on this virtual clock alone).
    /// </summary>
    public async Task RunUntilAsync(Func<bool> condition, TimeSpan within, string what)
    {
        var guard = Task.Delay(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            if (guard.IsCompleted) throw new TimeoutException($"Still waiting for {what} after 60 s; pending waits: {string.Join(", ", Pending)}.");
            if (!RunNext(within)) await Task.Delay(5);
        }
    }
}
