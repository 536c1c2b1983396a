using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>Rows piped into a report with one set of columns: a query's result, or objects of one kind.</summary>
public sealed class ReportTable
{
    private readonly List<string> _columns;
    private readonly List<object?[]> _rows = new();

    public ReportTable(string name, IEnumerable<string> columns)
    {
        Name = name;
        _columns = columns.ToList();
    }

    public string Name { get; }
    public IReadOnlyList<string> Columns => _columns;
    public IReadOnlyList<IReadOnlyList<object?>> Rows => _rows;

    public int ColumnIndex(string name) => _columns.FindIndex(c => c.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>True when every column of the row is one of the table's, or every column of the table one of the row's.</summary>
    internal bool Fits(IReadOnlyList<string> columns) =>
        columns.All(c => ColumnIndex(c) >= 0) || _columns.All(c => columns.Contains(c, StringComparer.OrdinalIgnoreCase));

    /// <summary>
    /// Adds a row by column name. A column the table lacks is inserted after the row's column before it (CloudTrail
    /// Lake leaves a row's null cells out, so one query's rows can differ in their columns); earlier rows get no value.
    /// </summary>
    internal void Add(IReadOnlyList<string> columns, IReadOnlyList<object?> values)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (ColumnIndex(columns[i]) >= 0) continue;
            var at = i == 0 ? 0 : ColumnIndex(columns[i - 1]) + 1;
            _columns.Insert(at, columns[i]);
            for (var r = 0; r < _rows.Count; r++)
            {
                var widened = _rows[r].ToList();
                widened.Insert(at, null);
                _rows[r] = widened.ToArray();
            }
        }
        var row = new object?[_columns.Count];
        for (var i = 0; i < columns.Count; i++) row[ColumnIndex(columns[i])] = values[i];
        _rows.Add(row);
    }

    /// <summary>CloudTrail events, one per row: the rows have an event time and an event name or source (aggregates such as counts by name do not).</summary>
    public bool IsCloudTrailEvents => ColumnIndex("eventtime") >= 0 && (ColumnIndex("eventname") >= 0 || ColumnIndex("eventsource") >= 0);
}

/// <summary>An EBS snapshot taken for the case, from the journal or piped in.</summary>
public sealed record ReportSnapshot(string SnapshotId)
{
    public string? VolumeId { get; init; }
    public string? InstanceId { get; init; }
    public string? State { get; init; }
    public DateTime? StartTime { get; init; }
    public bool? Encrypted { get; init; }
    public string? CopySnapshotId { get; init; }
    public string? Region { get; init; }
    public IReadOnlyList<string> RequestIds { get; init; } = Array.Empty<string>();
}

/// <summary>An artifact the journal records, with the entry that recorded it.</summary>
public sealed record ReportEvidence(long Sequence, DateTime Time, string Action, string? Target, CaseArtifact Artifact);

/// <summary>Everything a case report shows. Built by <see cref="CaseReportBuilder"/>; rendered as HTML and Markdown.</summary>
public sealed class CaseReport
{
    public required string CaseId { get; init; }
    public required string Title { get; init; }
    public string Status { get; init; } = "";
    public DateTime? CreatedAt { get; init; }
    public DateTime GeneratedAt { get; init; }
    public IReadOnlyList<GdFinding> Findings { get; init; } = Array.Empty<GdFinding>();
    public IReadOnlyList<ReportTable> Tables { get; init; } = Array.Empty<ReportTable>();
    public IReadOnlyList<CaseJournalEntry> Journal { get; init; } = Array.Empty<CaseJournalEntry>();
    public CaseJournalCheck? JournalCheck { get; init; }
    public IReadOnlyList<ReportSnapshot> Snapshots { get; init; } = Array.Empty<ReportSnapshot>();
    public IReadOnlyList<ReportEvidence> Evidence { get; init; } = Array.Empty<ReportEvidence>();

    /// <summary>The changes made in AWS (attempted ones too) and the steps skipped as already done.</summary>
    public IEnumerable<CaseJournalEntry> Actions => Journal.Where(e => e.Kind is JournalEntryKinds.Change or JournalEntryKinds.Skip);

    public IEnumerable<ReportTable> CloudTrailTables => Tables.Where(t => t.IsCloudTrailEvents);

    /// <summary>A journal entry's result or parameters as the report shows them: secrets redacted.</summary>
    public static string? Json(JsonNode? node) => ReportRedaction.Json(node)?.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
}
