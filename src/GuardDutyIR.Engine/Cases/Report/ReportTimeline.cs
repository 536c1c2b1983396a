namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>The kinds of mark on the timeline (the SVG's data-kind).</summary>
public static class TimelineKinds
{
    public const string Finding = "finding";
    public const string CloudTrail = "cloudtrail";
    public const string Action = "action";
    public const string Skip = "skip";
    public const string Artifact = "artifact";
    public const string Case = "case";
}

/// <summary>One point on the timeline.</summary>
/// <param name="Detail">The tooltip's lines after the label.</param>
public sealed record TimelineMark(DateTime Time, string Kind, string Label, IReadOnlyList<string> Detail, bool Failed = false);

/// <summary>A finding's activity, from its first to its last sighting.</summary>
public sealed record TimelineSpan(DateTime Start, DateTime End, string Label);

/// <summary>One row of the timeline: a finding type, a CloudTrail service, a cmdlet.</summary>
public sealed record TimelineLane(string Group, string Name, IReadOnlyList<TimelineMark> Marks, IReadOnlyList<TimelineSpan> Spans);

/// <summary>
/// The report's events on one time axis, in lanes: the findings (first and last seen), the CloudTrail calls piped in
/// (one lane per service), the changes and skips the journal records (one lane per cmdlet), and what was collected.
/// </summary>
public sealed class ReportTimeline
{
    public const string FindingGroup = "Findings";
    public const string CloudTrailGroup = "CloudTrail calls";
    public const string ActionGroup = "Containment actions";
    public const string CaseGroup = "Case and evidence";

    // Past this many lanes in a group the smallest lanes share one "other" lane, so 100+ events stay readable.
    private const int MaxCloudTrailLanes = 10;
    private const int MaxFindingLanes = 6;

    private ReportTimeline(IReadOnlyList<TimelineLane> lanes) => Lanes = lanes;

    public IReadOnlyList<TimelineLane> Lanes { get; }

    public IEnumerable<TimelineMark> Marks => Lanes.SelectMany(l => l.Marks);

    /// <summary>Every mark in time order, with its lane: the timeline as a table.</summary>
    public IEnumerable<(TimelineLane Lane, TimelineMark Mark)> Chronological =>
        Lanes.SelectMany(l => l.Marks.Select(m => (l, m))).OrderBy(x => x.m.Time);

    public static ReportTimeline From(CaseReport report)
    {
        var lanes = new List<TimelineLane>();
        lanes.AddRange(FindingLanes(report.Findings));
        lanes.AddRange(CloudTrailLanes(report.CloudTrailTables));
        lanes.AddRange(Grouped(ActionGroup, report.Actions.Select(e => (e.Action, ActionMark(e))), int.MaxValue, "other"));
        var caseMarks = report.Journal.Where(e => e.Kind is JournalEntryKinds.Case or JournalEntryKinds.Artifact).Select(CaseMark).ToList();
        if (caseMarks.Count > 0) lanes.Add(new TimelineLane(CaseGroup, "Case journal", caseMarks, Array.Empty<TimelineSpan>()));
        return new ReportTimeline(lanes);
    }

    private static IEnumerable<TimelineLane> FindingLanes(IReadOnlyList<GdFinding> findings)
    {
        // One lane per finding type, in the order they were first seen; past the limit the later types share one.
        var types = findings.OrderBy(f => First(f) ?? DateTime.MaxValue).Select(f => f.Type).Distinct().ToList();
        var own = (types.Count <= MaxFindingLanes ? types : types.Take(MaxFindingLanes - 1)).ToHashSet();
        foreach (var lane in findings.GroupBy(f => own.Contains(f.Type) ? f.Type : "Other findings").OrderBy(g => g.Min(f => First(f) ?? DateTime.MaxValue)))
        {
            var marks = new List<TimelineMark>();
            var spans = new List<TimelineSpan>();
            foreach (var f in lane)
            {
                if (First(f) is not { } first) continue;
                var detail = new List<string> { $"{f.SeverityLabel} ({f.Severity:0.0}) {f.Type}", f.Title ?? "", $"Resource: {f.InstanceId ?? f.ResourceType}", $"Finding {f.Id}" };
                marks.Add(new TimelineMark(first, TimelineKinds.Finding, "First seen", detail));
                if ((f.LastSeen ?? f.UpdatedAt) is { } last && last > first)
                {
                    marks.Add(new TimelineMark(last, TimelineKinds.Finding, $"Last seen (count {f.Count})", detail));
                    spans.Add(new TimelineSpan(first, last, f.Title ?? f.Type));
                }
            }
            if (marks.Count > 0) yield return new TimelineLane(FindingGroup, lane.Key, marks.OrderBy(m => m.Time).ToList(), spans);
        }
    }

    private static DateTime? First(GdFinding f) => f.FirstSeen ?? f.CreatedAt;

    private static IEnumerable<TimelineLane> CloudTrailLanes(IEnumerable<ReportTable> tables)
    {
        var calls = new List<(string Lane, TimelineMark Mark)>();
        foreach (var table in tables)
        {
            int Col(string name) => table.ColumnIndex(name);
            var (time, source, name, ip, error, region) = (Col("eventtime"), Col("eventsource"), Col("eventname"), Col("sourceipaddress"), Col("errorcode"), Col("awsregion"));
            var who = new[] { Col("useridentity.arn"), Col("arn"), Col("principalid"), Col("useridentity.principalid") }.FirstOrDefault(i => i >= 0, -1);
            foreach (var row in table.Rows)
            {
                if (ReportText.ParseTime(row[time]) is not { } at) continue;
                string Cell(int i) => i < 0 ? "" : ReportText.Format(row[i]);
                var service = Cell(source) is { Length: > 0 } s ? s : "(no event source)";
                var failed = Cell(error).Length > 0;
                var detail = new List<string> { service, $"from {(Cell(ip) is { Length: > 0 } a ? a : "?")}{(region >= 0 ? " in " + Cell(region) : "")}" };
                if (who >= 0) detail.Add(Cell(who));
                if (failed) detail.Add("error: " + Cell(error));
                calls.Add((service, new TimelineMark(at, TimelineKinds.CloudTrail, Cell(name) is { Length: > 0 } n ? n : service, detail, failed)));
            }
        }
        return Grouped(CloudTrailGroup, calls, MaxCloudTrailLanes, "other services");
    }

    /// <summary>Lanes by key, the busiest first kept and the rest merged into one lane when there are too many.</summary>
    private static IEnumerable<TimelineLane> Grouped(string group, IEnumerable<(string Lane, TimelineMark Mark)> marks, int maxLanes, string other)
    {
        var byLane = marks.GroupBy(m => m.Lane).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
        var kept = byLane.Count <= maxLanes ? byLane : byLane.Take(maxLanes - 1).ToList();
        var lanes = kept.Select(g => new TimelineLane(group, g.Key, g.Select(m => m.Mark).OrderBy(m => m.Time).ToList(), Array.Empty<TimelineSpan>())).ToList();
        if (kept.Count < byLane.Count)
            lanes.Add(new TimelineLane(group, $"{byLane.Count - kept.Count} {other}",
                byLane.Skip(kept.Count).SelectMany(g => g.Select(m => m.Mark)).OrderBy(m => m.Time).ToList(), Array.Empty<TimelineSpan>()));
        // Lanes read top to bottom in the order things started.
        return lanes.OrderBy(l => l.Marks[0].Time);
    }

    private static TimelineMark ActionMark(CaseJournalEntry e)
    {
        var detail = new List<string> { $"#{e.Sequence} {e.Kind}: {e.Status}" };
        if (e.Region is not null) detail.Add("Region: " + e.Region);
        if (e.RequestIds.Count > 0) detail.Add("Request IDs: " + string.Join(", ", e.RequestIds));
        if (e.Detail is not null) detail.Add(e.Detail);
        if (e.Caller is not null) detail.Add("By " + e.Caller);
        return new TimelineMark(e.Time, e.Kind == JournalEntryKinds.Skip ? TimelineKinds.Skip : TimelineKinds.Action,
            $"{e.Action} {e.Target}".Trim(), detail, Failed(e.Status));
    }

    private static TimelineMark CaseMark(CaseJournalEntry e) =>
        new(e.Time, e.Kind == JournalEntryKinds.Artifact ? TimelineKinds.Artifact : TimelineKinds.Case,
            $"{e.Action}: {e.Status}", new[] { $"#{e.Sequence} {e.Kind}" }.Concat(e.Artifacts.Select(a => $"{a.Name} sha256 {a.Sha256}")).Concat(e.Detail is null ? Array.Empty<string>() : new[] { e.Detail }).ToList());

    public static bool Failed(string status) =>
        status.Contains("fail", StringComparison.OrdinalIgnoreCase) || status.Contains("error", StringComparison.OrdinalIgnoreCase)
        || status.Contains("denied", StringComparison.OrdinalIgnoreCase);
}
