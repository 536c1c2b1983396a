using System.Text.Json.Nodes;

namespace GuardDutyIR;

/// <summary>An incident case: a folder with an append-only, hash-chained journal of every change and artifact.</summary>
public sealed class GdCase
{
    public string CaseId { get; internal init; } = "";
    public string? Title { get; internal init; }
    /// <summary>The case folder (journal.jsonl, journal.head.json, case.json, artifacts/).</summary>
    public string Path { get; internal init; } = "";
    public string JournalPath { get; internal init; } = "";
    public DateTime CreatedAt { get; internal init; }
    /// <summary>Open, or Closed once Stop-GdCase has written its closing entry.</summary>
    public string Status { get; internal init; } = "Open";
    public int Entries { get; internal init; }
    public DateTime? LastEntryAt { get; internal init; }
    /// <summary>True when this is the session's active case (Start-GdCase).</summary>
    public bool Active { get; internal set; }
    public override string ToString() => CaseId;
}

/// <summary>What a journal entry records.</summary>
public static class JournalEntryKinds
{
    /// <summary>The case was opened, closed or resumed.</summary>
    public const string Case = "Case";
    /// <summary>A change made in AWS (or attempted, with its failure), with its request IDs.</summary>
    public const string Change = "Change";
    /// <summary>Something collected (a finding, query result, description, snapshot), with its SHA-256.</summary>
    public const string Artifact = "Artifact";
    /// <summary>A step skipped because the journal and the resource's tags show it done already.</summary>
    public const string Skip = "Skip";
}

/// <summary>A file or object collected for the case, identified by its SHA-256.</summary>
public sealed class CaseArtifact
{
    public CaseArtifact(string name, string sha256, long length, string? path = null)
    {
        Name = name;
        Sha256 = sha256;
        Length = length;
        Path = path;
    }

    public string Name { get; }
    /// <summary>Lower-case hex SHA-256 of the artifact's bytes.</summary>
    public string Sha256 { get; }
    public long Length { get; }
    /// <summary>Where the artifact was stored, relative to the case folder, when it was stored there.</summary>
    public string? Path { get; }
}

/// <summary>One line of a case journal.</summary>
public sealed class CaseJournalEntry
{
    /// <summary>1 for the first entry, each next entry one more.</summary>
    public long Sequence { get; internal init; }
    public DateTime Time { get; internal init; }
    public string CaseId { get; internal init; } = "";
    /// <summary>SHA-256 (hex) of the previous line's bytes; 64 zeros for the first.</summary>
    public string PreviousHash { get; internal init; } = "";
    /// <summary>SHA-256 (hex) of this line's bytes, which the next entry and the signed head refer to.</summary>
    public string Hash { get; internal init; } = "";
    public string Kind { get; internal init; } = "";
    /// <summary>The cmdlet (or handler) that made the entry.</summary>
    public string Action { get; internal init; } = "";
    public string? Target { get; internal init; }
    public string? Region { get; internal init; }
    /// <summary>The AWS identity that acted: STS GetCallerIdentity's ARN (the assumed role's session with -RoleArn).</summary>
    public string? Caller { get; internal init; }
    /// <summary>The command's parameters as given, secrets left out.</summary>
    public JsonObject? Parameters { get; internal init; }
    public string Status { get; internal init; } = "";
    public string? Detail { get; internal init; }
    public IReadOnlyList<string> RequestIds { get; internal init; } = Array.Empty<string>();
    public IReadOnlyList<CaseArtifact> Artifacts { get; internal init; } = Array.Empty<CaseArtifact>();
    /// <summary>The full result object of the step, as JSON.</summary>
    public JsonNode? Result { get; internal init; }
    public override string ToString() => $"#{Sequence} {Time:u} {Action} {Target}: {Status}";
}

/// <summary>One thing Test-GdCaseJournal found wrong.</summary>
public sealed class CaseJournalProblem
{
    public CaseJournalProblem(string kind, long? sequence, int? line, string detail)
    {
        Kind = kind;
        Sequence = sequence;
        Line = line;
        Detail = detail;
    }

    /// <summary>Edited, Inserted, Reordered, Removed, TailCut, Unsigned, HeadInvalid, HeadMissing, KeyMissing or Malformed.</summary>
    public string Kind { get; }
    /// <summary>The entry's sequence number, when it has one.</summary>
    public long? Sequence { get; }
    /// <summary>The 1-based line of the journal file, when the problem is on a line.</summary>
    public int? Line { get; }
    public string Detail { get; }
    public override string ToString() => $"{Kind}{(Sequence is null ? "" : " entry " + Sequence)}{(Line is null ? "" : " (line " + Line + ")")}: {Detail}";
}

/// <summary>The verdict of Test-GdCaseJournal.</summary>
public sealed class CaseJournalCheck
{
    public string CaseId { get; internal init; } = "";
    public string JournalPath { get; internal init; } = "";
    public bool Valid => Problems.Count == 0;
    public int Entries { get; internal init; }
    /// <summary>The entry count the signed head vouches for.</summary>
    public long? SignedEntries { get; internal init; }
    public bool HeadSignatureValid { get; internal init; }
    /// <summary>True when entries the signed head vouches for are missing from the end.</summary>
    public bool TailCut { get; internal init; }
    public IReadOnlyList<CaseJournalProblem> Problems { get; internal init; } = Array.Empty<CaseJournalProblem>();
    public override string ToString() => Valid ? $"{CaseId}: {Entries} entries, intact" : $"{CaseId}: {string.Join("; ", Problems)}";
}
