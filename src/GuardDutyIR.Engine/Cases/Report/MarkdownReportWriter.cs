using System.Globalization;
using System.Text;

namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>
/// The report as Markdown (for a ticket, a wiki or a pull request): the same sections as the HTML, the timeline as
/// a chronological table. Every value is escaped so it stays in its cell and stays text.
/// </summary>
public static class MarkdownReportWriter
{
    public static string Render(CaseReport report)
    {
        var timeline = ReportTimeline.From(report);
        var m = new StringBuilder(32 * 1024);
        m.Append("# ").Append(M(report.Title)).Append("\n\n");
        Table(m, new[] { "Case", "Status", "Opened", "Report of" },
            new[] { new[] { report.CaseId, report.Status, ReportText.Time(report.CreatedAt), ReportText.Time(report.GeneratedAt) } });
        Findings(m, report);
        Timeline(m, timeline);
        Actions(m, report);
        Snapshots(m, report);
        Evidence(m, report);
        Queries(m, report);
        Journal(m, report);
        return m.ToString();
    }

    private static string M(string? text) => ReportText.Markdown(text);

    private static void Findings(StringBuilder m, CaseReport r)
    {
        m.Append("\n## Findings\n\n");
        if (r.Findings.Count == 0) { m.Append("No finding was piped in.\n"); return; }
        Table(m, new[] { "Severity", "Type", "Title", "Resource", "Remote", "Count", "First seen", "Last seen", "Finding ID" },
            r.Findings.Select(f => new[] { $"{f.SeverityLabel} {f.Severity.ToString("0.0", CultureInfo.InvariantCulture)}", f.Type, f.Title, f.InstanceId ?? f.ResourceType,
                f.RemoteIpAddress, f.Count.ToString(CultureInfo.InvariantCulture), ReportText.Time(f.FirstSeen ?? f.CreatedAt), ReportText.Time(f.LastSeen ?? f.UpdatedAt), f.Id }));
    }

    private static void Timeline(StringBuilder m, ReportTimeline timeline)
    {
        m.Append("\n## Timeline\n\n");
        var events = timeline.Chronological.ToList();
        if (events.Count == 0) { m.Append("No event with a time.\n"); return; }
        m.Append(string.Join(", ", timeline.Lanes.GroupBy(l => l.Group).Select(g => $"{g.Sum(l => l.Marks.Count)} in {M(g.Key)}"))).Append(".\n\n");
        Table(m, new[] { "Time (UTC)", "Lane", "Kind", "Event", "Details" },
            events.Select(e => new[] { ReportText.Time(e.Mark.Time), e.Lane.Name, e.Mark.Failed ? e.Mark.Kind + " (failed)" : e.Mark.Kind, e.Mark.Label,
                string.Join(" · ", e.Mark.Detail.Where(d => d.Length > 0)) }));
    }

    private static void Actions(StringBuilder m, CaseReport r)
    {
        m.Append("\n## Actions taken\n\n");
        var actions = r.Actions.ToList();
        if (actions.Count == 0) { m.Append("The journal records no change.\n"); return; }
        Table(m, new[] { "#", "Time (UTC)", "Action", "Target", "Region", "Status", "Request IDs", "By", "Detail" },
            actions.Select(e => new[] { e.Sequence.ToString(CultureInfo.InvariantCulture), ReportText.Time(e.Time), e.Action, e.Target, e.Region,
                e.Kind == JournalEntryKinds.Skip ? "Skipped: " + e.Status : e.Status, string.Join(" ", e.RequestIds), e.Caller, e.Detail }));
    }

    private static void Snapshots(StringBuilder m, CaseReport r)
    {
        m.Append("\n## Snapshots\n\n");
        if (r.Snapshots.Count == 0) { m.Append("No snapshot was taken or piped in.\n"); return; }
        Table(m, new[] { "Snapshot", "Volume", "Instance", "State", "Started", "Encrypted", "Copy", "Region", "Request IDs" },
            r.Snapshots.Select(s => new[] { s.SnapshotId, s.VolumeId, s.InstanceId, s.State, ReportText.Time(s.StartTime),
                s.Encrypted is { } e ? (e ? "yes" : "no") : "", s.CopySnapshotId, s.Region, string.Join(" ", s.RequestIds) }));
    }

    private static void Evidence(StringBuilder m, CaseReport r)
    {
        m.Append("\n## Evidence hashes\n\n");
        if (r.Evidence.Count == 0) m.Append("The journal records no artifact.\n");
        else
            Table(m, new[] { "#", "Recorded (UTC)", "By", "Artifact", "SHA-256", "Bytes", "Stored at" },
                r.Evidence.Select(e => new[] { e.Sequence.ToString(CultureInfo.InvariantCulture), ReportText.Time(e.Time), e.Action, e.Artifact.Name,
                    e.Artifact.Sha256, e.Artifact.Length.ToString(CultureInfo.InvariantCulture), e.Artifact.Path }));
        if (r.Journal.Count > 0)
            m.Append("\nThe journal's last entry, #").Append(r.Journal[^1].Sequence).Append(", has SHA-256 ").Append(r.Journal[^1].Hash)
             .Append(": every entry before it is chained to it.\n");
    }

    private static void Queries(StringBuilder m, CaseReport r)
    {
        m.Append("\n## Investigation results\n");
        if (r.Tables.Count == 0) { m.Append("\nNo query result was piped in.\n"); return; }
        foreach (var table in r.Tables)
        {
            m.Append("\n### ").Append(M(table.Name)).Append(" (").Append(table.Rows.Count).Append(table.Rows.Count == 1 ? " row" : " rows").Append(")\n\n");
            Table(m, table.Columns, table.Rows.Select(row => row.Select(ReportText.Format)));
        }
    }

    private static void Journal(StringBuilder m, CaseReport r)
    {
        m.Append("\n## Journal integrity\n\n");
        if (r.JournalCheck is not { } check) return;
        m.Append(check.Valid
            ? $"Intact: {check.Entries} entries, each chained to the one before; the head that vouches for {check.SignedEntries} entries has a valid signature.\n"
            : $"**Changed or incomplete**: {check.Problems.Count} problem(s) found by the check.\n");
        foreach (var problem in check.Problems) m.Append("\n- ").Append(M(problem.ToString()));
        if (check.Problems.Count > 0) m.Append('\n');
    }

    private static void Table(StringBuilder m, IEnumerable<string> columns, IEnumerable<IEnumerable<string?>> rows)
    {
        var names = columns.ToList();
        m.Append("| ").Append(string.Join(" | ", names.Select(M))).Append(" |\n|").Append(string.Concat(names.Select(_ => " --- |"))).Append('\n');
        foreach (var row in rows)
        {
            // An empty cell is written as a space so every row keeps its column count.
            m.Append("| ").Append(string.Join(" | ", row.Select(c => M(c) is { Length: > 0 } text ? text : " "))).Append(" |\n");
        }
    }
}
