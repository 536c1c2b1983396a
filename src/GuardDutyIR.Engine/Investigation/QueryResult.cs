namespace GuardDutyIR.Engine.Investigation;

/// <summary>One result row: values in the query's column order, typed (numbers, DateTime, dictionaries) unless raw.</summary>
public sealed record QueryRow(IReadOnlyList<string> Columns, object?[] Values)
{
    /// <summary>The columns as distinct names (any case), for objects with one property a column: a repeated name gets 2, 3, ...</summary>
    public IReadOnlyList<string> PropertyNames
    {
        get
        {
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var names = new string[Columns.Count];
            for (var i = 0; i < names.Length; i++)
            {
                names[i] = Columns[i];
                for (var n = 2; !seen.Add(names[i]); n++) names[i] = Columns[i] + n;
            }
            return names;
        }
    }
}

/// <summary>Progress of a running query, for Write-Progress.</summary>
public sealed record QueryProgress(string State, TimeSpan Elapsed, long? BytesScanned, long? RowsSoFar, string? Detail = null)
{
    /// <summary>One line for a progress bar: state, time, bytes scanned, rows (files while downloading), detail.</summary>
    public string Status => $"{State}, {Elapsed.TotalSeconds:0.0} s"
        + (BytesScanned is { } b ? $", {b / 1048576.0:0.0} MB scanned" : "")
        + (RowsSoFar is { } r ? $", {r} {(State == "DOWNLOADING" ? "files" : "rows")}" : "")
        + (Detail is { } d ? $" ({d})" : "");
}

/// <summary>Something the user should know that did not stop the query (a skipped file, a fallback).</summary>
public sealed record QueryNotice(string Id, string Message, string? Target);
