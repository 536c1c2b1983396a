using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace GuardDutyIR.Engine.Cases;

/// <summary>How results and artifacts become journal content.</summary>
public static class CaseRecords
{
    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        ReferenceHandler = ReferenceHandler.IgnoreCycles,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        MaxDepth = 64,
    };

    /// <summary>A result object as JSON (its public properties, enums by name).</summary>
    public static JsonNode? ToJson(object? result)
    {
        if (result is null) return null;
        try
        {
            return JsonSerializer.SerializeToNode(result, result.GetType(), Json);
        }
        catch (Exception e) when (e is NotSupportedException or JsonException or InvalidOperationException)
        {
            return JsonValue.Create(result.ToString());
        }
    }

    /// <summary>The artifact record of some bytes: lower-case hex SHA-256 and length.</summary>
    public static CaseArtifact Artifact(string name, ReadOnlySpan<byte> content, string? path = null) =>
        new(name, Convert.ToHexString(SHA256.HashData(content)).ToLowerInvariant(), content.Length, path);

    /// <summary>The artifact record of a file, hashed as it is streamed.</summary>
    public static CaseArtifact FileArtifact(string name, string file, string? path = null)
    {
        using var stream = File.OpenRead(file);
        return new CaseArtifact(name, Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant(), stream.Length, path);
    }

    /// <summary>
    /// Stores an artifact's bytes in the case's artifacts folder under a name that is its hash (so an attacker-chosen
    /// name never becomes a path) and returns its record.
    /// </summary>
    public static CaseArtifact Store(CaseHandle handle, string name, byte[] content, string extension)
    {
        var record = Artifact(name, content);
        Directory.CreateDirectory(handle.ArtifactFolder);
        var relative = Path.Combine("artifacts", record.Sha256 + extension);
        var full = Path.Combine(handle.Folder, relative);
        // Named by its hash: one already there holds the same bytes.
        if (!File.Exists(full)) AsideFiles.Write(full, content, overwrite: false);
        return new CaseArtifact(name, record.Sha256, record.Length, relative.Replace('\\', '/'));
    }
}

/// <summary>What a case's journal says was already done, so a re-run continues instead of redoing.</summary>
public static class CaseProgress
{
    /// <summary>
    /// Per target, the last successful entry among <paramref name="actions"/> (changes only): for containment, the
    /// last quarantine or release of each instance. A journal that cannot be read gives nothing to skip.
    /// </summary>
    public static IReadOnlyDictionary<string, CaseJournalEntry> LastChanges(CaseHandle handle, params string[] actions)
    {
        var last = new Dictionary<string, CaseJournalEntry>(StringComparer.Ordinal);
        IReadOnlyList<CaseJournalEntry> entries;
        try { entries = handle.Journal.ReadEntries(); }
        catch (GuardDutyIRException) { return last; }
        foreach (var entry in entries)
            if (entry.Kind == JournalEntryKinds.Change && entry.Target is not null && entry.Status != "Failed" && actions.Contains(entry.Action))
                last[entry.Target] = entry;
        return last;
    }
}
