namespace GuardDutyIR.Engine.Cases.Evidence;

/// <summary>One row of a query result: column names and values in SELECT order, and the query it belongs to if named.</summary>
public sealed record EvidenceRow(IReadOnlyList<string> Columns, IReadOnlyList<object?> Values, string? QueryName = null);

/// <summary>The rows of one query, under the name its files get.</summary>
public sealed record EvidenceQuery(string Name, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<object?>> Rows);

/// <summary>What goes into an evidence bundle besides the case folder itself.</summary>
public sealed class EvidenceRequest
{
    /// <summary>The bundle folder to create; it must not exist, or be empty.</summary>
    public required string Destination { get; init; }
    /// <summary>Also write &lt;Destination&gt;.zip.</summary>
    public bool Zip { get; init; }
    public IReadOnlyList<GdFinding> Findings { get; init; } = Array.Empty<GdFinding>();
    public IReadOnlyList<EvidenceQuery> Queries { get; init; } = Array.Empty<EvidenceQuery>();
    public IReadOnlyList<QuarantineResult> Quarantines { get; init; } = Array.Empty<QuarantineResult>();
    public IReadOnlyList<ForensicSnapshot> Snapshots { get; init; } = Array.Empty<ForensicSnapshot>();
    public IReadOnlyList<InstanceEvidence> InstanceEvidence { get; init; } = Array.Empty<InstanceEvidence>();
    /// <summary>Console output (a transcript) as text.</summary>
    public string? ConsoleOutput { get; init; }
    /// <summary>Files to include as they are (a screenshot, a memory image), by full path.</summary>
    public IReadOnlyList<string> IncludePaths { get; init; } = Array.Empty<string>();
    /// <summary>The command (or handler) the journal entry names.</summary>
    public string Action { get; init; } = "Export-GdCaseEvidence";
    public string? Caller { get; init; }
}

/// <summary>Query rows into named queries.</summary>
public static class EvidenceQueries
{
    /// <summary>
    /// Rows with a query name go under that name; unnamed rows are grouped by their column set, in the order each set
    /// first appears, as query-1, query-2, ... A named query's rows may differ in columns: its columns are the union,
    /// in order of appearance.
    /// </summary>
    public static IReadOnlyList<EvidenceQuery> Group(IEnumerable<EvidenceRow> rows)
    {
        var groups = new List<(string Name, List<string> Columns, List<EvidenceRow> Rows)>();
        var byKey = new Dictionary<string, int>(StringComparer.Ordinal);
        var unnamed = 0;
        foreach (var row in rows)
        {
            var key = row.QueryName is { } name ? "name:" + name : "columns:" + string.Join("\u001f", row.Columns);
            if (!byKey.TryGetValue(key, out var index))
            {
                index = groups.Count;
                byKey[key] = index;
                groups.Add((row.QueryName ?? $"query-{++unnamed}", new List<string>(), new List<EvidenceRow>()));
            }
            var group = groups[index];
            foreach (var column in row.Columns)
                if (!group.Columns.Contains(column, StringComparer.Ordinal)) group.Columns.Add(column);
            group.Rows.Add(row);
        }
        return groups.Select(g => new EvidenceQuery(g.Name, g.Columns, g.Rows.Select(r => (IReadOnlyList<object?>)g.Columns.Select(c =>
        {
            var i = IndexOf(r.Columns, c);
            return i < 0 ? null : r.Values[i];
        }).ToList()).ToList())).ToList();
    }

    private static int IndexOf(IReadOnlyList<string> columns, string column)
    {
        for (var i = 0; i < columns.Count; i++) if (string.Equals(columns[i], column, StringComparison.Ordinal)) return i;
        return -1;
    }
}
