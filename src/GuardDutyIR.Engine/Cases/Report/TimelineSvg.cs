using System.Globalization;
using System.Text;

namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>
/// The timeline as two inline SVGs: the lane names, and the chart beside them. The chart's horizontal positions are
/// percentages of its own width, so the page widens it (the zoom buttons are CSS alone) and the marks spread out while
/// keeping their size. Each event is one mark with class "mark", its kind in data-kind and a title for a tooltip;
/// marks close together in a lane are stacked in up to <see cref="MaxRows"/> rows so they stay apart.
/// </summary>
public sealed class TimelineSvg
{
    public const int LabelWidth = 230;
    private const int AxisHeight = 40;
    private const int GroupHeight = 20;
    private const int RowHeight = 12;
    private const int LanePadding = 10;
    private const int MaxRows = 4;
    private const double MinSeparationPx = 10;
    // Marks are stacked for a chart that fits a laptop's window (zoom 1); wider zooms only spread them.
    private const int FitWidth = 1100;

    /// <summary>The zoom steps the page offers: 1 fits the frame, each next one doubles the width.</summary>
    public static readonly int[] Zooms = { 1, 2, 4, 8 };

    private TimelineSvg(string labels, string chart, int widthPx, int height, int marks)
    {
        Labels = labels;
        Chart = chart;
        WidthPx = widthPx;
        Height = height;
        MarkCount = marks;
    }

    public string Labels { get; }
    public string Chart { get; }
    /// <summary>The chart's width at zoom 2, in CSS pixels: about 6 px per event, from 900 to 4000.</summary>
    public int WidthPx { get; }
    public int Height { get; }
    public int MarkCount { get; }

    private sealed record PlacedLane(TimelineLane Lane, int Top, int Height, IReadOnlyList<(TimelineMark Mark, int Row)> Marks);

    public static TimelineSvg Render(ReportTimeline timeline)
    {
        var marks = timeline.Marks.ToList();
        var axis = TimeAxis.For(marks.Select(m => m.Time).Concat(timeline.Lanes.SelectMany(l => l.Spans).SelectMany(s => new[] { s.Start, s.End })));
        var width = Math.Clamp(marks.Count * 6, 900, 4_000);

        // Layout: a header row per group, then its lanes, each as tall as its stacked rows.
        var placed = new List<PlacedLane>();
        var groups = new List<(string Group, int Top)>();
        var y = AxisHeight;
        foreach (var group in timeline.Lanes.GroupBy(l => l.Group))
        {
            groups.Add((group.Key, y));
            y += GroupHeight;
            foreach (var lane in group)
            {
                var rows = Stack(lane.Marks, axis, FitWidth);
                var height = LanePadding + RowHeight * (rows.Count == 0 ? 1 : rows.Max(r => r.Row) + 1);
                placed.Add(new PlacedLane(lane, y, height, rows));
                y += height;
            }
        }
        var total = y + 6;
        return new TimelineSvg(LabelSvg(groups, placed, total), ChartSvg(axis, groups, placed, width, total, marks.Count), width, total, marks.Count);
    }

    /// <summary>Each mark in the first row where it keeps its distance from the one before; when none, the row free longest.</summary>
    private static List<(TimelineMark Mark, int Row)> Stack(IReadOnlyList<TimelineMark> marks, TimeAxis axis, int width)
    {
        var lastX = Enumerable.Repeat(double.NegativeInfinity, MaxRows).ToArray();
        var placed = new List<(TimelineMark, int)>();
        foreach (var mark in marks.OrderBy(m => m.Time))
        {
            var x = axis.X(mark.Time) / 100 * width;
            var row = Array.FindIndex(lastX, last => x - last >= MinSeparationPx);
            if (row < 0) row = Array.IndexOf(lastX, lastX.Min());
            lastX[row] = x;
            placed.Add((mark, row));
        }
        return placed;
    }

    private static string LabelSvg(List<(string Group, int Top)> groups, List<PlacedLane> lanes, int height)
    {
        var svg = new StringBuilder();
        svg.Append($"<svg class=\"tl-labels\" width=\"{LabelWidth}\" height=\"{height}\" aria-hidden=\"true\">");
        svg.Append($"<text class=\"axis-title\" x=\"6\" y=\"28\">Time (UTC)</text>");
        foreach (var (group, top) in groups)
            svg.Append($"<text class=\"group\" x=\"6\" y=\"{top + 14}\">{ReportText.Html(group)}</text>");
        foreach (var lane in lanes)
        {
            var name = lane.Lane.Name.Length > 30 ? lane.Lane.Name[..29] + "…" : lane.Lane.Name;
            svg.Append($"<text class=\"lane\" x=\"14\" y=\"{lane.Top + lane.Height / 2 + 4}\"><title>{ReportText.Html(lane.Lane.Name)}</title>")
               .Append($"{ReportText.Html(name)} ({lane.Lane.Marks.Count})</text>");
        }
        return svg.Append("</svg>").ToString();
    }

    private static string ChartSvg(TimeAxis axis, List<(string Group, int Top)> groups, List<PlacedLane> lanes, int widthPx, int height, int count)
    {
        var svg = new StringBuilder();
        svg.Append($"<svg class=\"tl-chart\" height=\"{height}\" role=\"img\" aria-label=\"Timeline of {count} events\">");
        foreach (var (_, top) in groups)
            svg.Append($"<rect class=\"group\" x=\"0\" y=\"{top}\" width=\"100%\" height=\"{GroupHeight}\"/>");
        foreach (var lane in lanes)
            svg.Append($"<line class=\"lane\" x1=\"0\" x2=\"100%\" y1=\"{lane.Top + lane.Height}\" y2=\"{lane.Top + lane.Height}\"/>");
        // One set of ticks per zoom, as dense as that zoom's width allows; the page's CSS shows the checked zoom's.
        foreach (var zoom in Zooms)
        {
            svg.Append($"<g class=\"ticks z{zoom}\">");
            foreach (var tick in axis.Ticks(Math.Max(FitWidth * zoom, zoom == 1 ? 0 : widthPx * zoom / 2)))
            {
                svg.Append($"<line class=\"tick\" x1=\"{P(tick.X)}\" x2=\"{P(tick.X)}\" y1=\"{AxisHeight - 8}\" y2=\"{height}\"/>");
                // Labels at the chart's edges are aligned inward, so none is cut off.
                var anchor = tick.X < 4 ? " text-anchor=\"start\"" : tick.X > 96 ? " text-anchor=\"end\"" : "";
                svg.Append($"<text class=\"tick\" x=\"{P(tick.X)}\" y=\"{AxisHeight - 12}\"{anchor}>{tick.Time}</text>");
                if (tick.Date is not null) svg.Append($"<text class=\"date\" x=\"{P(tick.X)}\" y=\"{AxisHeight - 26}\"{anchor}>{tick.Date}</text>");
            }
            svg.Append("</g>");
        }
        foreach (var gap in axis.Breaks)
        {
            svg.Append($"<rect class=\"break\" x=\"{P(gap.X0)}\" y=\"{AxisHeight - 8}\" width=\"{P(gap.X1 - gap.X0)}\" height=\"{height - AxisHeight + 8}\">")
               .Append($"<title>No events for {TimeAxis.Length(gap.Gap)} (cut out)</title></rect>");
            // Under the axis, in the first group's header row, where no tick label or mark is.
            svg.Append($"<text class=\"break\" x=\"{P((gap.X0 + gap.X1) / 2)}\" y=\"{AxisHeight + 14}\">+{TimeAxis.Length(gap.Gap)}</text>");
        }
        foreach (var lane in lanes)
        {
            foreach (var span in lane.Lane.Spans)
                svg.Append($"<rect class=\"span\" x=\"{P(axis.X(span.Start))}\" y=\"{lane.Top + 3}\" width=\"{P(axis.X(span.End) - axis.X(span.Start))}\" height=\"{lane.Height - 6}\">")
                   .Append($"<title>{ReportText.Html($"{ReportText.Time(span.Start)} – {ReportText.Time(span.End)}\n{span.Label}")}</title></rect>");
            foreach (var (mark, row) in lane.Marks)
                Mark(svg, axis.X(mark.Time), lane.Top + LanePadding / 2 + RowHeight * row + RowHeight / 2, mark);
        }
        return svg.Append("</svg>").ToString();
    }

    private static void Mark(StringBuilder svg, double x, int y, TimelineMark mark)
    {
        var css = mark.Failed ? "mark failed" : "mark";
        var title = ReportText.Html(string.Join("\n", new[] { $"{ReportText.Time(mark.Time)}  {mark.Label}" }.Concat(mark.Detail.Where(d => d.Length > 0))));
        // Changes are squares, everything else round; the square is moved by half its size, as its x names a corner.
        if (mark.Kind is TimelineKinds.Action or TimelineKinds.Skip)
            svg.Append($"<rect class=\"{css}\" data-kind=\"{mark.Kind}\" x=\"{P(x)}\" y=\"{y}\" width=\"9\" height=\"9\" transform=\"translate(-4.5 -4.5)\"><title>{title}</title></rect>");
        else
            svg.Append($"<circle class=\"{css}\" data-kind=\"{mark.Kind}\" cx=\"{P(x)}\" cy=\"{y}\" r=\"4\"><title>{title}</title></circle>");
    }

    private static string P(double percent) => percent.ToString("0.###", CultureInfo.InvariantCulture) + "%";
}
