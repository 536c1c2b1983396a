using System.Globalization;

namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>
/// A time axis in percent of the chart's width, with long idle gaps cut out. An incident's events come in bursts
/// far apart (the finding, the attacker's calls hours or days before it, the containment today): on a linear axis
/// each burst would shrink to a pixel. A gap longer than all the other gaps together (and over half an hour) is
/// shown as a marked break with its length, and each burst gets its own stretch of axis with its own ticks.
/// </summary>
public sealed class TimeAxis
{
    public const double Left = 1.0;
    public const double Right = 99.0;
    private const double BreakWidth = 3.0;
    private const double MinSegmentWidth = 12.0;
    private const int MaxBreaks = 6;
    private static readonly TimeSpan MinBreak = TimeSpan.FromMinutes(30);
    private static readonly DateTime Earliest = new(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime Latest = new(2200, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public sealed record Segment(DateTime Start, DateTime End, double X0, double X1);

    public sealed record Break(double X0, double X1, TimeSpan Gap);

    public sealed record Tick(double X, string Time, string? Date);

    private TimeAxis(IReadOnlyList<Segment> segments, IReadOnlyList<Break> breaks)
    {
        Segments = segments;
        Breaks = breaks;
    }

    public IReadOnlyList<Segment> Segments { get; }
    public IReadOnlyList<Break> Breaks { get; }

    public static TimeAxis For(IEnumerable<DateTime> times)
    {
        // A piped row can claim any time; the axis (and its padding) stays within what a DateTime can hold.
        var sorted = times.Select(t => t < Earliest ? Earliest : t > Latest ? Latest : t).OrderBy(t => t).ToList();
        if (sorted.Count == 0) sorted.Add(DateTime.UnixEpoch);
        var clusters = Clusters(sorted);
        var padded = clusters.Select(c =>
        {
            var pad = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(30).Ticks, (c.End - c.Start).Ticks / 25));
            return (Start: c.Start - pad, End: c.End + pad);
        }).ToList();

        var available = Right - Left - BreakWidth * (padded.Count - 1);
        var total = padded.Sum(c => (double)(c.End - c.Start).Ticks);
        var widths = padded.Select(c => Math.Max(MinSegmentWidth, available * (c.End - c.Start).Ticks / total)).ToList();
        var scale = available / widths.Sum();

        var segments = new List<Segment>();
        var breaks = new List<Break>();
        var x = Left;
        for (var i = 0; i < padded.Count; i++)
        {
            if (i > 0)
            {
                breaks.Add(new Break(x, x + BreakWidth, clusters[i].Start - clusters[i - 1].End));
                x += BreakWidth;
            }
            var width = widths[i] * scale;
            segments.Add(new Segment(padded[i].Start, padded[i].End, x, x + width));
            x += width;
        }
        return new TimeAxis(segments, breaks);
    }

    /// <summary>The times split at the gaps that are cut: the largest first, while each is longer than the rest together.</summary>
    private static List<(DateTime Start, DateTime End)> Clusters(List<DateTime> sorted)
    {
        var gaps = Enumerable.Range(0, sorted.Count - 1).Select(i => (Index: i, Gap: sorted[i + 1] - sorted[i])).ToList();
        var remaining = gaps.Aggregate(TimeSpan.Zero, (sum, g) => sum + g.Gap);
        var cuts = new SortedSet<int>();
        foreach (var (index, gap) in gaps.OrderByDescending(g => g.Gap))
        {
            if (cuts.Count == MaxBreaks || gap <= MinBreak || gap <= remaining - gap) break;
            cuts.Add(index);
            remaining -= gap;
        }
        var clusters = new List<(DateTime, DateTime)>();
        var start = 0;
        foreach (var cut in cuts.Append(sorted.Count - 1))
        {
            clusters.Add((sorted[start], sorted[cut]));
            start = cut + 1;
        }
        return clusters;
    }

    /// <summary>A time's position, in percent of the chart's width.</summary>
    public double X(DateTime time)
    {
        var t = ReportText.Utc(time);
        t = t < Earliest ? Earliest : t > Latest ? Latest : t;
        var segment = Segments.FirstOrDefault(s => t <= s.End) ?? Segments[^1];
        if (t < segment.Start) t = segment.Start;
        if (t > segment.End) t = segment.End;
        var span = (segment.End - segment.Start).Ticks;
        return span == 0 ? segment.X0 : segment.X0 + (segment.X1 - segment.X0) * (t - segment.Start).Ticks / span;
    }

    private static readonly TimeSpan[] Steps =
        new[] { 1, 2, 5, 10, 15, 30 }.Select(s => TimeSpan.FromSeconds(s))
        .Concat(new[] { 1, 2, 5, 10, 15, 30 }.Select(m => TimeSpan.FromMinutes(m)))
        .Concat(new[] { 1, 2, 3, 6, 12 }.Select(h => TimeSpan.FromHours(h)))
        .Concat(new[] { 1, 2, 7, 14, 30 }.Select(d => TimeSpan.FromDays(d))).ToArray();

    /// <summary>
    /// Ticks at round UTC times, about every <paramref name="spacing"/> pixels when the chart is
    /// <paramref name="widthPx"/> wide; the date is written at each segment's first tick and where the day changes.
    /// </summary>
    public IReadOnlyList<Tick> Ticks(double widthPx, double spacing = 110)
    {
        var ticks = new List<Tick>();
        foreach (var s in Segments)
        {
            var count = Math.Max(1, (s.X1 - s.X0) / 100 * widthPx / spacing);
            var step = Steps.FirstOrDefault(st => st.Ticks * count >= (s.End - s.Start).Ticks, Steps[^1]);
            var t = new DateTime((s.Start.Ticks + step.Ticks - 1) / step.Ticks * step.Ticks, DateTimeKind.Utc);
            string? lastDate = null;
            for (; t <= s.End; t += step)
            {
                var date = t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                var format = step < TimeSpan.FromMinutes(1) ? "HH:mm:ss" : "HH:mm";
                ticks.Add(new Tick(X(t), t.ToString(format, CultureInfo.InvariantCulture), date == lastDate ? null : date));
                lastDate = date;
            }
        }
        return ticks;
    }

    /// <summary>A gap's length as people say it: 20 d 3 h, 5 h 12 min, 40 min.</summary>
    public static string Length(TimeSpan span) => span switch
    {
        { TotalDays: >= 1 } => $"{(int)span.TotalDays} d {span.Hours} h",
        { TotalHours: >= 1 } => $"{(int)span.TotalHours} h {span.Minutes} min",
        { TotalMinutes: >= 1 } => $"{(int)span.TotalMinutes} min",
        _ => $"{(int)span.TotalSeconds} s",
    };
}
