namespace GuardDutyIR.Engine.Investigation;

/// <summary>One result row: values in the query's column order, typed (numbers, DateTime, dictionaries) unless raw.</summary>
public sealed record QueryRow(IReadOnlyList<string> Columns, object?[] Values);

/// <summary>Progress of a running query, for Write-Progress.</summary>
public sealed record QueryProgress(string State, TimeSpan Elapsed, long? BytesScanned, long? RowsSoFar, string? Detail = null);

/// <summary>Something the user should know that did not stop the query (a skipped file, a fallback).</summary>
public sealed record QueryNotice(string Id, string Message, string? Target);
