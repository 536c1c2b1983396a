using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Cases;

/// <summary>What a cmdlet asks to have journaled; the journal adds the sequence, time and chain.</summary>
public sealed record JournalDraft(string Kind, string Action, string Status)
{
    public string? Target { get; init; }
    public string? Region { get; init; }
    public string? Caller { get; init; }
    public JsonObject? Parameters { get; init; }
    public string? Detail { get; init; }
    public IReadOnlyList<string> RequestIds { get; init; } = Array.Empty<string>();
    public IReadOnlyList<CaseArtifact> Artifacts { get; init; } = Array.Empty<CaseArtifact>();
    public JsonNode? Result { get; init; }
}

/// <summary>
/// A case's append-only journal: JSON lines, each carrying the SHA-256 of the line before it, and a head file that
/// names the last entry and is signed with the case's key (HMAC-SHA256). Anyone can recompute the chain; only the key
/// holder can sign a head, so cutting the tail or rewriting the chain from some entry on shows.
/// Writers take an exclusive lock on a lock file for the read-last-line, append, re-sign sequence: threads of one
/// process and separate processes (PowerShell runspaces, the Lambda handler, a responder host) serialize on it.
/// </summary>
public sealed class CaseJournal
{
    public const string JournalFile = "journal.jsonl";
    public const string HeadFile = "journal.head.json";
    private const string LockFile = "journal.lock";
    public const string GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";
    private static readonly TimeSpan LockPatience = TimeSpan.FromSeconds(60);

    private readonly string _folder;
    private readonly string _caseId;
    private readonly string _caseUid;
    private readonly byte[] _key;
    private readonly TimeProvider _clock;

    public CaseJournal(string folder, string caseId, string caseUid, byte[] key, TimeProvider? clock = null)
    {
        _folder = folder;
        _caseId = caseId;
        _caseUid = caseUid;
        _key = key;
        _clock = clock ?? TimeProvider.System;
    }

    public string JournalPath => Path.Combine(_folder, JournalFile);
    public string HeadPath => Path.Combine(_folder, HeadFile);

    /// <summary>Appends one entry under the lock and re-signs the head; returns the entry as written.</summary>
    public CaseJournalEntry Append(JournalDraft draft, CancellationToken cancellationToken = default)
    {
        using var held = AcquireLock(cancellationToken);
        var (lastSequence, lastHash) = ReadTail();
        var sequence = lastSequence + 1;
        var time = _clock.GetUtcNow().UtcDateTime;
        var line = Serialize(sequence, time, lastHash, draft);
        var hash = Hash(line);
        using (var journal = new FileStream(JournalPath, FileMode.Append, FileAccess.Write, FileShare.Read))
        {
            journal.Write(line);
            journal.WriteByte((byte)'\n');
            journal.Flush(flushToDisk: true);
        }
        WriteHead(sequence, hash, time);
        return Parse(line, hash);
    }

    /// <summary>
    /// The journal's and the head's bytes as one consistent pair, read under the writers' lock: a copy taken while
    /// another command appends never pairs a journal with a head that vouches for more (or fewer) entries.
    /// </summary>
    public (byte[] Journal, byte[]? Head) Snapshot(CancellationToken cancellationToken = default)
    {
        using var held = AcquireLock(cancellationToken);
        var journal = File.Exists(JournalPath) ? File.ReadAllBytes(JournalPath) : Array.Empty<byte>();
        return (journal, File.Exists(HeadPath) ? File.ReadAllBytes(HeadPath) : null);
    }

    /// <summary>Every entry in file order; a line that is not a journal entry is an error naming its line.</summary>
    public IReadOnlyList<CaseJournalEntry> ReadEntries()
    {
        var entries = new List<CaseJournalEntry>();
        var lineNumber = 0;
        foreach (var line in ReadLines(JournalPath))
        {
            lineNumber++;
            try { entries.Add(Parse(line, Hash(line))); }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException or NullReferenceException)
            {
                throw new GuardDutyIRException("CaseJournalDamaged", ErrorKind.InvalidData,
                    $"Line {lineNumber} of '{JournalPath}' is not a journal entry; run Test-GdCaseJournal to see what changed.", JournalPath, e);
            }
        }
        return entries;
    }

    /// <summary>The journal's lines as bytes, without their newlines.</summary>
    internal static IEnumerable<byte[]> ReadLines(string path)
    {
        if (!File.Exists(path)) yield break;
        var bytes = File.ReadAllBytes(path);
        var start = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != (byte)'\n') continue;
            yield return bytes[start..i];
            start = i + 1;
        }
        if (start < bytes.Length) yield return bytes[start..];
    }

    public static string Hash(ReadOnlySpan<byte> line) => Convert.ToHexString(SHA256.HashData(line)).ToLowerInvariant();

    /// <summary>What the head's HMAC covers: the case (ID and unique ID), the entry count and the last entry's hash.</summary>
    internal static byte[] HeadMessage(string caseId, string caseUid, long sequence, string hash) =>
        Encoding.UTF8.GetBytes($"GuardDutyIR case journal head\n{caseId}\n{caseUid}\n{sequence}\n{hash}");

    internal static string Sign(byte[] key, string caseId, string caseUid, long sequence, string hash) =>
        Convert.ToHexString(HMACSHA256.HashData(key, HeadMessage(caseId, caseUid, sequence, hash))).ToLowerInvariant();

    private void WriteHead(long sequence, string hash, DateTime time)
    {
        var head = new JsonObject
        {
            ["case"] = _caseId,
            ["caseUid"] = _caseUid,
            ["seq"] = sequence,
            ["hash"] = hash,
            ["time"] = time.ToString("O"),
            ["signature"] = "hmac-sha256:" + Sign(_key, _caseId, _caseUid, sequence, hash),
        };
        AsideFiles.Write(HeadPath, Encoding.UTF8.GetBytes(head.ToJsonString()), overwrite: true);
    }

    /// <summary>
    /// The last entry's sequence and hash, read from the end of the file: the chain continues from what is in the
    /// journal, so an entry written just before a crash (before its head) is still chained to, and signed by the next.
    /// </summary>
    private (long Sequence, string Hash) ReadTail()
    {
        if (!File.Exists(JournalPath)) return (0, GenesisHash);
        using var file = new FileStream(JournalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (file.Length == 0) return (0, GenesisHash);
        var end = file.Length;
        file.Position = end - 1;
        if (file.ReadByte() != '\n')
            throw Damaged("its last line is incomplete (a write was cut off)");
        // Back from the final newline to the one before it, in chunks.
        var chunk = new byte[64 * 1024];
        var lineStart = 0L;
        var position = end - 1;
        var found = false;
        while (position > 0 && !found)
        {
            var size = (int)Math.Min(chunk.Length, position);
            file.Position = position - size;
            file.ReadExactly(chunk, 0, size);
            for (var i = size - 1; i >= 0; i--)
            {
                if (chunk[i] != (byte)'\n') continue;
                lineStart = position - size + i + 1;
                found = true;
                break;
            }
            position -= size;
        }
        var line = new byte[end - 1 - lineStart];
        file.Position = lineStart;
        file.ReadExactly(line);
        try
        {
            using var document = JsonDocument.Parse(line);
            return (document.RootElement.GetProperty("seq").GetInt64(), Hash(line));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw Damaged("its last line is not a journal entry");
        }
    }

    private GuardDutyIRException Damaged(string why) =>
        new("CaseJournalDamaged", ErrorKind.InvalidData, $"The journal of case '{_caseId}' cannot be appended to: {why}. Run Test-GdCaseJournal to see what changed.", _caseId);

    private IDisposable AcquireLock(CancellationToken cancellationToken)
    {
        var path = Path.Combine(_folder, LockFile);
        var waited = Stopwatch.StartNew();
        var pause = 1;
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive lock between processes too (flock on Unix, a share mode on Windows).
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException) when (waited.Elapsed < LockPatience)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Thread.Sleep(Random.Shared.Next(pause, pause * 2 + 1));
                pause = Math.Min(pause * 2, 50);
            }
            catch (IOException e)
            {
                throw new GuardDutyIRException("CaseJournalBusy", ErrorKind.ResourceUnavailable,
                    $"The journal of case '{_caseId}' stayed locked by another writer for {LockPatience.TotalSeconds:0} s.", _caseId, e);
            }
        }
    }

    private byte[] Serialize(long sequence, DateTime time, string previousHash, JournalDraft draft)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", sequence);
            w.WriteString("time", time.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("case", _caseId);
            w.WriteString("prev", previousHash);
            w.WriteString("kind", draft.Kind);
            w.WriteString("action", draft.Action);
            if (draft.Target is not null) w.WriteString("target", draft.Target);
            if (draft.Region is not null) w.WriteString("region", draft.Region);
            if (draft.Caller is not null) w.WriteString("caller", draft.Caller);
            if (draft.Parameters is not null) { w.WritePropertyName("parameters"); draft.Parameters.WriteTo(w); }
            w.WriteString("status", draft.Status);
            if (draft.Detail is not null) w.WriteString("detail", draft.Detail);
            w.WriteStartArray("requestIds");
            foreach (var id in draft.RequestIds) w.WriteStringValue(id);
            w.WriteEndArray();
            w.WriteStartArray("artifacts");
            foreach (var a in draft.Artifacts)
            {
                w.WriteStartObject();
                w.WriteString("name", a.Name);
                w.WriteString("sha256", a.Sha256);
                w.WriteNumber("length", a.Length);
                if (a.Path is not null) w.WriteString("path", a.Path);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (draft.Result is not null) { w.WritePropertyName("result"); draft.Result.WriteTo(w); }
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    internal static CaseJournalEntry Parse(byte[] line, string hash)
    {
        var o = JsonNode.Parse(line)!.AsObject();
        return new CaseJournalEntry
        {
            Sequence = (long)o["seq"]!,
            Time = DateTime.Parse((string)o["time"]!, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal),
            CaseId = (string)o["case"]!,
            PreviousHash = (string)o["prev"]!,
            Hash = hash,
            Kind = (string)o["kind"]!,
            Action = (string)o["action"]!,
            Target = (string?)o["target"],
            Region = (string?)o["region"],
            Caller = (string?)o["caller"],
            Parameters = o["parameters"] as JsonObject,
            Status = (string?)o["status"] ?? "",
            Detail = (string?)o["detail"],
            RequestIds = (o["requestIds"] as JsonArray)?.Select(n => (string)n!).ToList() ?? new List<string>(),
            Artifacts = (o["artifacts"] as JsonArray)?.Select(n => new CaseArtifact((string)n!["name"]!, (string)n["sha256"]!, (long)n["length"]!, (string?)n["path"])).ToList() ?? new List<CaseArtifact>(),
            Result = o["result"]?.DeepClone(),
        };
    }
}
