using System.Globalization;
using System.Text;

namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>
/// The report as one self-contained HTML file: styles inline, no script at all, no font, image or other file from
/// anywhere, and a Content-Security-Policy that forbids loading any (so it reads the same offline and as a mail
/// attachment, and a value that slipped past the encoding still could not fetch or run anything). Every value is
/// HTML-encoded where it is written.
/// </summary>
public static class HtmlReportWriter
{
    public static string Render(CaseReport report)
    {
        var timeline = ReportTimeline.From(report);
        var svg = TimelineSvg.Render(timeline);
        var h = new StringBuilder(64 * 1024);
        h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
         .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n")
         .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
         .Append("<title>").Append(E($"{report.Title} ({report.CaseId})")).Append("</title>\n")
         .Append("<style>").Append(Style(svg.WidthPx)).Append("</style>\n</head>\n<body>\n");
        Header(h, report, timeline);
        Findings(h, report);
        Timeline(h, timeline, svg);
        Actions(h, report);
        Snapshots(h, report);
        Evidence(h, report);
        Queries(h, report);
        Journal(h, report);
        h.Append("<footer>Written by GuardDutyIR Export-GdCaseReport at ").Append(E(ReportText.Time(report.GeneratedAt)))
         .Append(". The case journal (journal.jsonl) is the record; Test-GdCaseJournal verifies it.</footer>\n</body>\n</html>\n");
        return h.ToString();
    }

    private static string E(string? text) => ReportText.Html(text);

    private static void Header(StringBuilder h, CaseReport r, ReportTimeline timeline)
    {
        var actions = r.Actions.Where(a => a.Kind == JournalEntryKinds.Change).ToList();
        var failed = actions.Count(a => ReportTimeline.Failed(a.Status));
        var calls = timeline.Marks.Count(m => m.Kind == TimelineKinds.CloudTrail);
        h.Append("<header><h1>").Append(E(r.Title)).Append("</h1>\n<p class=\"meta\">Case <b>").Append(E(r.CaseId)).Append("</b> · ")
         .Append(E(r.Status)).Append(r.CreatedAt is { } c ? " · opened " + E(ReportText.Time(c)) : "")
         .Append(" · report of ").Append(E(ReportText.Time(r.GeneratedAt))).Append("</p>\n<ul class=\"cards\">");
        Card(h, "findings", r.Findings.Count, "Findings");
        Card(h, "timeline", calls, "CloudTrail calls");
        Card(h, "actions", actions.Count, failed == 0 ? "Actions taken" : $"Actions taken ({failed} failed)", failed > 0);
        Card(h, "snapshots", r.Snapshots.Count, "Snapshots");
        Card(h, "evidence", r.Evidence.Count, "Evidence hashes");
        var check = r.JournalCheck;
        h.Append("<li class=\"").Append(check is { Valid: true } ? "ok" : "bad").Append("\"><a href=\"#journal\"><b>")
         .Append(check is null ? "?" : check.Valid ? "Intact" : "Changed").Append("</b> Journal</a></li></ul>\n");
        h.Append("<nav><a href=\"#findings\">Findings</a> <a href=\"#timeline\">Timeline</a> <a href=\"#actions\">Actions</a> ")
         .Append("<a href=\"#snapshots\">Snapshots</a> <a href=\"#evidence\">Evidence</a> <a href=\"#queries\">Investigation</a> ")
         .Append("<a href=\"#journal\">Journal</a></nav></header>\n");
    }

    private static void Card(StringBuilder h, string anchor, int count, string label, bool bad = false) =>
        h.Append("<li").Append(bad ? " class=\"bad\"" : "").Append("><a href=\"#").Append(anchor).Append("\"><b>")
         .Append(count.ToString(CultureInfo.InvariantCulture)).Append("</b> ").Append(E(label)).Append("</a></li>");

    private static void Findings(StringBuilder h, CaseReport r)
    {
        h.Append("<section id=\"findings\"><h2>Findings</h2>\n");
        if (r.Findings.Count == 0) { h.Append("<p class=\"none\">No finding was piped in.</p></section>\n"); return; }
        h.Append("<div class=\"scroll\"><table><thead><tr><th>Severity</th><th>Type and title</th><th>Resource</th><th>Remote</th>")
         .Append("<th>Count</th><th>First seen</th><th>Last seen</th><th>Account / region</th><th>Finding ID</th></tr></thead><tbody>\n");
        foreach (var f in r.Findings)
        {
            var remote = string.Join(" ", new[] { f.RemoteIpAddress, f.RemotePort is { } p ? "port " + p : null, f.RemoteCountry, f.ThreatListName is { } l ? "list " + l : null }.Where(s => s is not null));
            h.Append("<tr><td><span class=\"sev sev-").Append(f.SeverityLabel.ToString().ToLowerInvariant()).Append("\">")
             .Append(E($"{f.SeverityLabel} {f.Severity.ToString("0.0", CultureInfo.InvariantCulture)}")).Append("</span></td><td><b>")
             .Append(E(f.Type)).Append("</b><br>").Append(E(f.Title)).Append("<div class=\"desc\">").Append(E(f.Description)).Append("</div></td><td>")
             .Append(E(f.InstanceId ?? f.ResourceType)).Append("</td><td>").Append(E(remote)).Append("</td><td>")
             .Append(f.Count.ToString(CultureInfo.InvariantCulture)).Append("</td><td>").Append(E(ReportText.Time(f.FirstSeen ?? f.CreatedAt)))
             .Append("</td><td>").Append(E(ReportText.Time(f.LastSeen ?? f.UpdatedAt))).Append("</td><td>").Append(E($"{f.AccountId} {f.Region}"))
             .Append("</td><td class=\"id\">").Append(E(f.Id)).Append("</td></tr>\n");
        }
        h.Append("</tbody></table></div></section>\n");
    }

    private static void Timeline(StringBuilder h, ReportTimeline timeline, TimelineSvg svg)
    {
        h.Append("<section id=\"timeline\" class=\"tl\"><h2>Timeline</h2>\n");
        if (svg.MarkCount == 0) { h.Append("<p class=\"none\">No event with a time.</p></section>\n"); return; }
        h.Append("<p class=\"legend\"><span class=\"k-finding\">●</span> finding first/last seen <span class=\"k-cloudtrail\">●</span> CloudTrail call ")
         .Append("<span class=\"k-action\">■</span> containment action <span class=\"k-skip\">■</span> skipped (done before) ")
         .Append("<span class=\"k-artifact\">●</span> evidence / case <span class=\"k-failed\">●</span> failed or denied. ")
         .Append("Hover a mark for its details; shaded bands are idle gaps cut out of the axis.</p>\n");
        // The zoom is CSS alone: the checked radio button sets the chart's width (see Style).
        foreach (var zoom in Zooms)
            h.Append("<input type=\"radio\" name=\"tl-zoom\" id=\"tl-z").Append(zoom).Append('"').Append(zoom == 1 ? " checked" : "").Append('>')
             .Append("<label for=\"tl-z").Append(zoom).Append("\">").Append(zoom).Append("×</label>");
        h.Append("\n<div class=\"tl-body\">").Append(svg.Labels).Append("<div class=\"tl-scroll\">").Append(svg.Chart).Append("</div></div>\n");
        h.Append("<details><summary>The timeline as a table (").Append(svg.MarkCount).Append(" events)</summary><div class=\"scroll\"><table><thead><tr>")
         .Append("<th>Time (UTC)</th><th>Lane</th><th>Kind</th><th>Event</th><th>Details</th></tr></thead><tbody>\n");
        foreach (var (lane, mark) in timeline.Chronological)
            h.Append("<tr").Append(mark.Failed ? " class=\"failed\"" : "").Append("><td>").Append(E(ReportText.Time(mark.Time))).Append("</td><td>")
             .Append(E(lane.Name)).Append("</td><td>").Append(E(mark.Kind)).Append("</td><td>").Append(E(mark.Label)).Append("</td><td>")
             .Append(E(string.Join(" · ", mark.Detail.Where(d => d.Length > 0)))).Append("</td></tr>\n");
        h.Append("</tbody></table></div></details></section>\n");
    }

    private static int[] Zooms => TimelineSvg.Zooms;

    private static void Actions(StringBuilder h, CaseReport r)
    {
        var actions = r.Actions.ToList();
        h.Append("<section id=\"actions\"><h2>Actions taken</h2>\n");
        if (actions.Count == 0) { h.Append("<p class=\"none\">The journal records no change.</p></section>\n"); return; }
        h.Append("<div class=\"scroll\"><table><thead><tr><th>#</th><th>Time (UTC)</th><th>Action</th><th>Target</th><th>Region</th><th>Status</th>")
         .Append("<th>Request IDs</th><th>By</th><th>Detail</th><th>Record</th></tr></thead><tbody>\n");
        foreach (var e in actions)
        {
            h.Append("<tr").Append(ReportTimeline.Failed(e.Status) ? " class=\"failed\"" : e.Kind == JournalEntryKinds.Skip ? " class=\"skip\"" : "").Append("><td>")
             .Append(e.Sequence).Append("</td><td>").Append(E(ReportText.Time(e.Time))).Append("</td><td>").Append(E(e.Action)).Append("</td><td>")
             .Append(E(e.Target)).Append("</td><td>").Append(E(e.Region)).Append("</td><td>").Append(E(e.Kind == JournalEntryKinds.Skip ? "Skipped: " + e.Status : e.Status))
             .Append("</td><td class=\"id\">").Append(RequestIds(e.RequestIds)).Append("</td><td>").Append(E(e.Caller))
             .Append("</td><td>").Append(E(e.Detail)).Append("</td><td>");
            if (e.Parameters is not null || e.Result is not null)
                h.Append("<details><summary>JSON</summary><pre>").Append(E(CaseReport.Json(new System.Text.Json.Nodes.JsonObject
                {
                    ["parameters"] = e.Parameters?.DeepClone(),
                    ["result"] = e.Result?.DeepClone(),
                }))).Append("</pre></details>");
            h.Append("</td></tr>\n");
        }
        h.Append("</tbody></table></div></section>\n");
    }

    // A quarantine makes a score of calls: past three, their IDs fold away behind a count.
    private static string RequestIds(IReadOnlyList<string> ids)
    {
        var list = string.Join("<br>", ids.Select(E));
        return ids.Count <= 3 ? list : $"<details><summary>{ids.Count} request IDs</summary>{list}</details>";
    }

    private static void Snapshots(StringBuilder h, CaseReport r)
    {
        h.Append("<section id=\"snapshots\"><h2>Snapshots</h2>\n");
        if (r.Snapshots.Count == 0) { h.Append("<p class=\"none\">No snapshot was taken or piped in.</p></section>\n"); return; }
        Table(h, new[] { "Snapshot", "Volume", "Instance", "State", "Started", "Encrypted", "Copy", "Region", "Request IDs" },
            r.Snapshots.Select(s => new[] { s.SnapshotId, s.VolumeId, s.InstanceId, s.State, ReportText.Time(s.StartTime),
                s.Encrypted is { } e ? (e ? "yes" : "no") : "", s.CopySnapshotId, s.Region, string.Join(" ", s.RequestIds) }));
        h.Append("</section>\n");
    }

    private static void Evidence(StringBuilder h, CaseReport r)
    {
        h.Append("<section id=\"evidence\"><h2>Evidence hashes</h2>\n");
        if (r.Evidence.Count == 0) h.Append("<p class=\"none\">The journal records no artifact.</p>\n");
        else
            Table(h, new[] { "#", "Recorded (UTC)", "By", "Artifact", "SHA-256", "Bytes", "Stored at" },
                r.Evidence.Select(e => new[] { e.Sequence.ToString(CultureInfo.InvariantCulture), ReportText.Time(e.Time), e.Action, e.Artifact.Name,
                    e.Artifact.Sha256, e.Artifact.Length.ToString(CultureInfo.InvariantCulture), e.Artifact.Path }), idColumns: new[] { 4 });
        if (r.Journal.Count > 0)
            h.Append("<p>The journal's last entry, #").Append(r.Journal[^1].Sequence).Append(", has SHA-256 <code>").Append(E(r.Journal[^1].Hash))
             .Append("</code>: every entry before it is chained to it.</p>\n");
        h.Append("</section>\n");
    }

    private static void Queries(StringBuilder h, CaseReport r)
    {
        h.Append("<section id=\"queries\"><h2>Investigation results</h2>\n");
        if (r.Tables.Count == 0) h.Append("<p class=\"none\">No query result was piped in.</p>\n");
        foreach (var table in r.Tables)
        {
            h.Append("<h3>").Append(E(table.Name)).Append(" <small>(").Append(table.Rows.Count).Append(table.Rows.Count == 1 ? " row" : " rows").Append(")</small></h3>\n");
            Table(h, table.Columns, table.Rows.Select(row => row.Select(ReportText.Format)));
        }
        h.Append("</section>\n");
    }

    private static void Journal(StringBuilder h, CaseReport r)
    {
        var check = r.JournalCheck;
        h.Append("<section id=\"journal\"><h2>Journal integrity</h2>\n");
        if (check is not null)
        {
            h.Append("<p class=\"").Append(check.Valid ? "ok" : "bad").Append("\">").Append(E(check.Valid
                ? $"Intact: {check.Entries} entries, each chained to the one before; the head that vouches for {check.SignedEntries} entries has a valid signature."
                : $"Changed or incomplete: {check.Problems.Count} problem(s) found by the check.")).Append("</p>\n");
            if (check.Problems.Count > 0)
                h.Append("<ul>").Append(string.Concat(check.Problems.Select(p => "<li>" + E(p.ToString()) + "</li>"))).Append("</ul>\n");
        }
        h.Append("<details><summary>Every entry (").Append(r.Journal.Count).Append(")</summary>");
        Table(h, new[] { "#", "Time (UTC)", "Kind", "Action", "Target", "Status", "SHA-256" },
            r.Journal.Select(e => new[] { e.Sequence.ToString(CultureInfo.InvariantCulture), ReportText.Time(e.Time), e.Kind, e.Action, e.Target, e.Status, e.Hash }),
            idColumns: new[] { 6 });
        h.Append("</details></section>\n");
    }

    private static void Table(StringBuilder h, IEnumerable<string> columns, IEnumerable<IEnumerable<string?>> rows, int[]? idColumns = null)
    {
        h.Append("<div class=\"scroll\"><table><thead><tr>").Append(string.Concat(columns.Select(c => "<th>" + E(c) + "</th>"))).Append("</tr></thead><tbody>\n");
        foreach (var row in rows)
        {
            h.Append("<tr>");
            var i = 0;
            foreach (var cell in row)
                h.Append(idColumns?.Contains(i++) == true ? "<td class=\"id\">" : "<td>").Append(E(cell)).Append("</td>");
            h.Append("</tr>\n");
        }
        h.Append("</tbody></table></div>\n");
    }

    private static string Style(int widthPx)
    {
        // 1x fits the frame, for the whole picture at a glance; each step doubles it, and past 1x the chart is at
        // least as wide as its events need (about 6 px each at 2x), so the frame scrolls.
        var zoom = string.Concat(Zooms.Select(z => z == 1
            ? "#tl-z1:checked~.tl-body .tl-chart{width:100%}"
            : $"#tl-z{z}:checked~.tl-body .tl-chart{{width:max({100 * z}%,{widthPx * z / 2}px)}}")) + string.Concat(Zooms.Select(z => $"#tl-z{z}:checked~.tl-body .ticks.z{z}{{display:inline}}"));
        return """
            body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1c2833;margin:0 auto;padding:16px 24px;max-width:1600px}
            h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;border-bottom:2px solid #d5d8dc;padding-bottom:3px;margin-top:28px}h3{font-size:15px;margin:18px 0 6px}
            .meta{color:#566573;margin:0 0 10px}small{color:#566573;font-weight:normal}
            .cards{list-style:none;display:flex;flex-wrap:wrap;gap:8px;padding:0;margin:8px 0}
            .cards li{border:1px solid #d5d8dc;border-radius:6px;padding:6px 12px;background:#f8f9f9}.cards a{color:inherit;text-decoration:none}
            .cards b{font-size:20px;margin-right:4px}.cards .bad{border-color:#c0392b;background:#fdedec}.cards .ok{border-color:#1e8449;background:#e9f7ef}
            nav a{margin-right:12px;color:#1f618d}
            .scroll{overflow-x:auto;max-width:100%}
            table{border-collapse:collapse;font-size:13px;margin:4px 0}th,td{border:1px solid #d5d8dc;padding:3px 6px;vertical-align:top;text-align:left}
            th{background:#eaeded;position:sticky;top:0}td{overflow-wrap:anywhere;max-width:520px}tbody tr:nth-child(even){background:#fbfcfc}
            tr.failed td{background:#fdedec}tr.skip td{color:#566573}.id,code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
            .desc{color:#566573;font-size:12px}.none{color:#566573;font-style:italic}p.ok{color:#1e8449}p.bad{color:#c0392b;font-weight:bold}
            .sev{padding:1px 6px;border-radius:3px;color:#fff;white-space:nowrap}.sev-low{background:#5d6d7e}.sev-medium{background:#d68910}.sev-high{background:#c0392b}.sev-critical{background:#641e16}
            pre{white-space:pre-wrap;overflow-wrap:anywhere;max-height:400px;overflow:auto;font-size:11px;background:#f8f9f9;padding:6px;margin:4px 0}
            details{margin:6px 0}summary{cursor:pointer;color:#1f618d}
            .legend span{font-size:15px}.k-finding{color:#d35400}.k-cloudtrail{color:#2471a3}.k-action{color:#1e8449}.k-skip{color:#95a5a6}.k-artifact{color:#7d3c98}.k-failed{color:#c0392b}
            .tl input{position:absolute;opacity:0}.tl input+label{display:inline-block;border:1px solid #aab7b8;padding:1px 9px;margin:0 4px 6px 0;border-radius:4px;cursor:pointer}
            .tl input:checked+label{background:#1f618d;color:#fff;border-color:#1f618d}.tl input:focus-visible+label{outline:2px solid #2471a3}
            .tl-body{display:flex;border:1px solid #d5d8dc;border-radius:4px}.tl-labels{flex:none;background:#f8f9f9;border-right:1px solid #d5d8dc}
            .tl-scroll{overflow-x:auto;flex:1;min-width:0}.tl-chart{display:block}
            svg text{font-size:11px;fill:#1c2833}svg text.group{font-weight:bold;font-size:12px}svg text.axis-title{fill:#566573}
            svg text.tick{fill:#566573}svg text.date{font-weight:bold;fill:#566573}svg text.tick:not([text-anchor]),svg text.date:not([text-anchor]){text-anchor:middle}
            .tl-chart .ticks{display:none}svg line.tick{stroke:#eaeded}svg line.lane{stroke:#eaeded}svg rect.group{fill:#f4f6f6}
            svg rect.break{fill:#f2f3f4;stroke:#aab7b8;stroke-dasharray:3 3}svg text.break{text-anchor:middle;fill:#7b7d7d;font-style:italic}
            svg rect.span{fill:#d35400;opacity:.15}
            .mark{stroke:#fff;stroke-width:1}.mark:hover{stroke:#1c2833;stroke-width:2}
            .mark[data-kind=finding]{fill:#d35400}.mark[data-kind=cloudtrail]{fill:#2471a3}.mark[data-kind=action]{fill:#1e8449}
            .mark[data-kind=skip]{fill:#95a5a6}.mark[data-kind=artifact],.mark[data-kind=case]{fill:#7d3c98}.mark.failed{fill:#c0392b;stroke:#641e16}
            footer{margin-top:32px;color:#566573;font-size:12px;border-top:1px solid #d5d8dc;padding-top:6px}
            @media print{.scroll,.tl-scroll{overflow:visible}details{display:block}th{position:static}}
            """ + ".tl-chart{width:100%}" + zoom;
    }
}
