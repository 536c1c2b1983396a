using System.Collections.Concurrent;

namespace GuardDutyIR.Engine.Containment;

/// <summary>A token bucket: capacity and refill per second.</summary>
public readonly record struct BucketSpec(double Capacity, double RefillPerSecond);

/// <summary>
/// Client-side token buckets that mirror EC2's documented request buckets
/// (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html; one bucket per API action, sized by its
/// category), so a bulk run paces itself instead of overshooting and living on RequestLimitExceeded retries. Each call reserves a token; when none is left it waits exactly until its reserved
/// token has refilled, so waiters are served in order and the bucket is used at its full rate, never above it.
/// </summary>
public sealed class Ec2RateLimiter
{
    public static readonly BucketSpec NonMutating = new(100, 20);
    public static readonly BucketSpec Mutating = new(50, 5);
    public static readonly BucketSpec ResourceIntensive = new(50, 5);

    private static readonly Dictionary<string, BucketSpec> s_uncategorized = new(StringComparer.Ordinal)
    {
        ["CreateSnapshot"] = new(100, 5),
        ["CreateSnapshots"] = new(100, 5),
        ["CreateTags"] = new(100, 10),
        ["AssociateIamInstanceProfile"] = new(100, 5),
        ["DisassociateIamInstanceProfile"] = new(100, 5),
        ["ModifyNetworkInterfaceAttribute"] = new(100, 5),
        ["TerminateInstances"] = new(100, 5),
        ["StartInstances"] = new(5, 2),
    };

    private static readonly HashSet<string> s_resourceIntensive = new(StringComparer.Ordinal)
    {
        "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress",
    };

    /// <summary>The documented bucket of an EC2 action (we always filter or paginate describes, so never the 50/10 one).</summary>
    public static BucketSpec SpecOf(string action)
    {
        if (s_uncategorized.TryGetValue(action, out var own)) return own;
        if (s_resourceIntensive.Contains(action)) return ResourceIntensive;
        return IsReadOnly(action) ? NonMutating : Mutating;
    }

    /// <summary>The actions the table names one by one (the rest go by their category).</summary>
    internal static IEnumerable<string> NamedActions => s_uncategorized.Keys.Concat(s_resourceIntensive);

    public static bool IsReadOnly(string action) =>
        action.StartsWith("Describe", StringComparison.Ordinal) || action.StartsWith("Get", StringComparison.Ordinal) ||
        action.StartsWith("List", StringComparison.Ordinal) || action.StartsWith("Search", StringComparison.Ordinal);

    /// <summary>
    /// The shortest time the buckets allow for these calls: per bucket (calls - capacity) / refill, the largest of
    /// them. The benchmark divides wall time by this.
    /// </summary>
    public static TimeSpan LowerBound(IReadOnlyDictionary<string, long> callsPerAction, double capacityScale = 1, double refillScale = 1) =>
        TimeSpan.FromSeconds(callsPerAction.Select(kv =>
        {
            var spec = SpecOf(kv.Key);
            return Math.Max(0, (kv.Value - spec.Capacity * capacityScale) / (spec.RefillPerSecond * refillScale));
        }).DefaultIfEmpty(0).Max());

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly double _capacityScale;
    private readonly double _refillScale;
    private readonly TimeProvider _time;

    /// <param name="capacityScale">Scales every bucket's capacity (a Lab or an account with raised limits).</param>
    /// <param name="refillScale">Scales every refill rate.</param>
    /// <param name="headroom">The share of each bucket we use: other callers in the account draw on it too, and the
    /// server's clock is not ours, so we stay a little under it rather than trade our margin for throttling retries.</param>
    /// <param name="time">The clock the buckets refill by and waits are measured on (the system clock unless a test gives its own).</param>
    public Ec2RateLimiter(double capacityScale = 1, double refillScale = 1, double headroom = 0.95, TimeProvider? time = null)
    {
        _capacityScale = capacityScale * headroom;
        _refillScale = refillScale * headroom;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The environment variable that scales the buckets: a number (an account with raised limits, or a Lab), or "off".</summary>
    public const string ScaleVariable = "GUARDDUTYIR_EC2_RATE_SCALE";

    /// <summary>EC2's documented buckets, scaled by <see cref="ScaleVariable"/> when it is set.</summary>
    public static Ec2RateLimiter FromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(ScaleVariable);
        if (string.IsNullOrWhiteSpace(text)) return new Ec2RateLimiter();
        if (text.Trim().Equals("off", StringComparison.OrdinalIgnoreCase)) return Unlimited;
        return double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var scale) && scale > 0
            ? new Ec2RateLimiter(scale, scale)
            : throw new GuardDutyIRException("InvalidRateScale", ErrorKind.InvalidArgument, $"{ScaleVariable} must be a positive number or 'off', not '{text}'.", text);
    }

    /// <summary>No pacing at all (tests of other behaviour, or a caller that paces itself).</summary>
    public static Ec2RateLimiter Unlimited { get; } = new(double.PositiveInfinity, double.PositiveInfinity, 1);

    public Task AcquireAsync(string action, CancellationToken cancellationToken)
    {
        if (double.IsPositiveInfinity(_refillScale)) return Task.CompletedTask;
        var bucket = _buckets.GetOrAdd(action, a =>
        {
            var spec = SpecOf(a);
            return new Bucket(Math.Max(1, Math.Floor(spec.Capacity * _capacityScale)), spec.RefillPerSecond * _refillScale, _time);
        });
        var wait = bucket.Reserve();
        return wait <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(wait, _time, cancellationToken);
    }

    private sealed class Bucket
    {
        private readonly object _gate = new();
        private readonly double capacity;
        private readonly double refill;
        private readonly TimeProvider _time;
        private double _tokens;
        private long _last;

        public Bucket(double capacity, double refill, TimeProvider time)
        {
            this.capacity = capacity;
            this.refill = refill;
            _time = time;
            _tokens = capacity;
            _last = time.GetTimestamp();
        }

        public TimeSpan Reserve()
        {
            lock (_gate)
            {
                var now = _time.GetTimestamp();
                _tokens = Math.Min(capacity, _tokens + _time.GetElapsedTime(_last, now).TotalSeconds * refill);
                _last = now;
                _tokens -= 1;
                return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / refill);
            }
        }
    }
}
