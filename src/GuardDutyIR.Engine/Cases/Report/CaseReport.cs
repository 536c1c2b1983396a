using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>Rows piped into a report with one set of columns: a query's result, or objects of one kind.</summary>
public sealed class ReportTable
{
    public ReportTable(string name, IReadOnlyList<string> columns)
    {
        Name = name;
        Columns = columns;
    }

    public string Name { get; }
    public IReadOnlyList<string> Columns { get; }
    public List<IReadOnlyList<object?>> Rows { get; } = new();

    public int ColumnIndex(string name)
    {
        for (var i = 0; i < Columns.Count; i++)
            if (Columns[i].Equals(name, StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
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
