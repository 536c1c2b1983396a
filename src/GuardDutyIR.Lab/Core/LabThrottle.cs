using System.Collections.Concurrent;

namespace GuardDutyIR.Lab.Core;

/// <summary>Capacity and refill (tokens per second) of one token bucket.</summary>
public readonly record struct BucketSpec(double Capacity, double RefillPerSecond);

/// <summary>
/// Token buckets per key (e.g. "123456789012:ec2:mutating"), the mechanism AWS documents for EC2 and which
/// any Lab service can opt into. Off unless enabled; scale knobs make tests of refill behaviour fast.
/// </summary>
public sealed class LabThrottle
{
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;

    public LabThrottle(TimeProvider clock, bool enabled, double capacityScale = 1, double refillScale = 1)
    {
        _clock = clock;
        Enabled = enabled;
        CapacityScale = capacityScale;
        RefillScale = refillScale;
    }

    /// <summary>Runtime toggle; turning it on starts every bucket full.</summary>
    public bool Enabled { get; set; }
    /// <summary>Multiplies every bucket's capacity (applies to buckets created after the change; call Reset to apply).</summary>
    public double CapacityScale { get; set; }
    /// <summary>Multiplies every bucket's refill rate (as above).</summary>
    public double RefillScale { get; set; }

    public void Reset() => _buckets.Clear();

    /// <summary>Takes <paramref name="tokens"/> from the bucket; false means the caller must answer with its throttling error.</summary>
    public bool TryAcquire(string key, BucketSpec spec, double tokens = 1)
    {
        if (!Enabled) return true;
        var bucket = _buckets.GetOrAdd(key, _ => new Bucket(spec.Capacity * CapacityScale, spec.RefillPerSecond * RefillScale, _clock));
        return bucket.TryTake(tokens, _clock);
    }

    /// <summary>Takes from several buckets atomically enough for the Lab: all or nothing.</summary>
    public bool TryAcquireAll(IReadOnlyList<(string Key, BucketSpec Spec, double Tokens)> requests)
    {
        if (!Enabled) return true;
        var buckets = requests.Select(r => (Bucket: _buckets.GetOrAdd(r.Key, _ => new Bucket(r.Spec.Capacity * CapacityScale, r.Spec.RefillPerSecond * RefillScale, _clock)), r.Tokens)).ToList();
        lock (_buckets)
        {
            foreach (var (b, t) in buckets) if (b.Available(_clock) < t) return false;
            foreach (var (b, t) in buckets) b.TryTake(t, _clock);
            return true;
        }
    }

    private sealed class Bucket
    {
        private readonly double _capacity;
        private readonly double _refill;
        private double _tokens;
        private long _last;

        public Bucket(double capacity, double refill, TimeProvider clock)
        {
            _capacity = capacity;
            _refill = refill;
            _tokens = capacity;
            _last = clock.GetTimestamp();
        }

        private void Refill(TimeProvider clock)
        {
            var now = clock.GetTimestamp();
            var elapsed = clock.GetElapsedTime(_last, now).TotalSeconds;
            _last = now;
            _tokens = Math.Min(_capacity, _tokens + elapsed * _refill);
        }

        public double Available(TimeProvider clock)
        {
            lock (this) { Refill(clock); return _tokens; }
        }

        public bool TryTake(double n, TimeProvider clock)
        {
            lock (this)
            {
                Refill(clock);
                if (_tokens < n) return false;
                _tokens -= n;
                return true;
            }
        }
    }
}
