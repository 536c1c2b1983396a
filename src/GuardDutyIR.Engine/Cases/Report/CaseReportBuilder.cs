using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>
/// Collects what is piped into a report (findings, query rows, snapshots, other objects as rows) and joins it with
/// the case's journal. Rows with the same columns under the same name form one table, as a query's result does.
/// </summary>
public sealed class CaseReportBuilder
{
    private readonly Dictionary<string, GdFinding> _findings = new(StringComparer.Ordinal);
    private readonly List<ReportTable> _tables = new();
    private readonly Dictionary<string, ReportTable> _tablesByShape = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ReportSnapshot> _snapshots = new();
    private ReportTable? _last;
    private string? _lastName;

    public int RowCount => _tables.Sum(t => t.Rows.Count);

    /// <summary>A finding (the latest copy of one ID wins).</summary>
    public void AddFinding(GdFinding finding)
    {
        if (finding.Id.Length == 0) return;
        _findings.Remove(finding.Id);
        _findings[finding.Id] = finding;
    }

    public void AddSnapshot(ForensicSnapshot snapshot) => _snapshots.Add(new ReportSnapshot(snapshot.SnapshotId)
    {
        VolumeId = snapshot.VolumeId,
        InstanceId = snapshot.InstanceId,
        State = snapshot.State,
        StartTime = snapshot.StartTime,
        Encrypted = snapshot.Encrypted,
        CopySnapshotId = snapshot.CopySnapshotId,
        Region = snapshot.Region,
        RequestIds = snapshot.RequestIds,
    });

    /// <summary>
    /// One row. <paramref name="table"/> names its table (a query's name); without one, the table is named by its
    /// columns. A row joins the table of the row before it when their columns fit (one query's rows), else a table
    /// of the same name and columns, else a new one. Values under secret-sounding columns, and secrets inside text,
    /// are redacted here, before anything else sees them.
    /// </summary>
    public void AddRow(string? table, IReadOnlyList<string> columns, IReadOnlyList<object?> values)
    {
        if (columns.Count != values.Count) throw new ArgumentException("A row needs one value per column.", nameof(values));
        if (columns.Count == 0) return;
        var redacted = columns.Select((c, i) => ReportRedaction.Cell(c, values[i])).ToList();
        var shape = (table ?? "") + "\n" + string.Join("\n", columns).ToLowerInvariant();
        var target = _last is not null && _lastName == table && _last.Fits(columns) ? _last
            : _tablesByShape.TryGetValue(shape, out var same) ? same
            : NewTable(table ?? DefaultName(columns), columns, shape);
        target.Add(columns, redacted);
        (_last, _lastName) = (target, table);
    }

    private ReportTable NewTable(string name, IReadOnlyList<string> columns, string shape)
    {
        var sameName = _tables.Count(t => t.Name == name || t.Name.StartsWith(name + " (", StringComparison.Ordinal));
        var table = new ReportTable(sameName == 0 ? name : $"{name} ({sameName + 1})", columns);
        _tables.Add(table);
        _tablesByShape[shape] = table;
        return table;
    }

    private static string DefaultName(IReadOnlyList<string> columns)
    {
        var probe = new ReportTable("", columns);
        if (probe.IsCloudTrailEvents) return "CloudTrail events";
        return "Results: " + string.Join(", ", columns.Take(4)) + (columns.Count > 4 ? ", …" : "");
    }

    /// <summary>The report: the piped input with the case's journal, its verdict, and what the journal says was taken and collected.</summary>
    public CaseReport Build(CaseHandle handle, GdCase info, string? title, DateTime generatedAt)
    {
        var journal = handle.Journal.ReadEntries();
        return new CaseReport
        {
            CaseId = handle.CaseId,
            Title = string.IsNullOrWhiteSpace(title) ? info.Title ?? $"Case {handle.CaseId}" : title,
            Status = info.Status,
            CreatedAt = info.CreatedAt == default ? null : info.CreatedAt,
            GeneratedAt = generatedAt,
            Findings = _findings.Values.OrderBy(f => f.FirstSeen ?? f.CreatedAt ?? DateTime.MaxValue).ThenBy(f => f.Id, StringComparer.Ordinal).ToList(),
            Tables = _tables,
            Journal = journal,
            JournalCheck = CaseJournalVerifier.Check(handle.Folder, handle.KeyRoot),
            Snapshots = Snapshots(journal, _snapshots),
            Evidence = journal.SelectMany(e => e.Artifacts.Select(a => new ReportEvidence(e.Sequence, e.Time, e.Action, e.Target, a))).ToList(),
        };
    }

    /// <summary>
    /// The snapshots the journal's results name (a ForensicSnapshot result, and the evidence snapshots a shutdown
    /// took) and the ones piped in; one row per snapshot ID, the latest word on it winning.
    /// </summary>
    internal static IReadOnlyList<ReportSnapshot> Snapshots(IEnumerable<CaseJournalEntry> journal, IEnumerable<ReportSnapshot> piped)
    {
        var byId = new Dictionary<string, ReportSnapshot>(StringComparer.Ordinal);
        var order = new List<string>();
        void Add(ReportSnapshot s)
        {
            if (string.IsNullOrEmpty(s.SnapshotId)) return;
            if (!byId.ContainsKey(s.SnapshotId)) order.Add(s.SnapshotId);
            byId[s.SnapshotId] = s;
        }
        foreach (var entry in journal)
        {
            if (entry.Result is not JsonObject result) continue;
            if (Text(result, "SnapshotId") is { } id)
                Add(new ReportSnapshot(id)
                {
                    VolumeId = Text(result, "VolumeId"),
                    InstanceId = Text(result, "InstanceId"),
                    State = Text(result, "State"),
                    StartTime = ReportText.ParseTime(Text(result, "StartTime")),
                    Encrypted = result["Encrypted"] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null,
                    CopySnapshotId = Text(result, "CopySnapshotId"),
                    Region = Text(result, "Region") ?? entry.Region,
                    RequestIds = entry.RequestIds,
                });
            if (result["EvidenceSnapshots"] is JsonObject evidence)
                foreach (var (volume, snapshot) in evidence)
                    if (snapshot is JsonValue sv && sv.TryGetValue<string>(out var sid) && !byId.ContainsKey(sid))
                        Add(new ReportSnapshot(sid) { VolumeId = volume, InstanceId = Text(result, "InstanceId"), Region = entry.Region, RequestIds = entry.RequestIds });
        }
        foreach (var s in piped) Add(s);
        return order.Select(id => byId[id]).ToList();
    }

    private static string? Text(JsonObject o, string name) =>
        o[name] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
}
