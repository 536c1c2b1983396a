using System.Text.Json;
using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Engine.Cases;

/// <summary>An open case: its folder, identity and journal.</summary>
public sealed class CaseHandle
{
    internal CaseHandle(string caseId, string caseUid, string folder, string keyRoot, string? title, DateTime createdAt, CaseJournal journal)
    {
        CaseId = caseId;
        CaseUid = caseUid;
        Folder = folder;
        KeyRoot = keyRoot;
        Title = title;
        CreatedAt = createdAt;
        Journal = journal;
    }

    public string CaseId { get; }
    /// <summary>Unique per case folder (a case re-created with the same ID gets a new one); part of what the head signs.</summary>
    public string CaseUid { get; }
    public string Folder { get; }
    public string KeyRoot { get; }
    public string? Title { get; }
    public DateTime CreatedAt { get; }
    public CaseJournal Journal { get; }
    public string ArtifactFolder => Path.Combine(Folder, "artifacts");
}

/// <summary>
/// Cases on disk: <c>&lt;root&gt;/&lt;case&gt;/case.json</c> (ID, unique ID, title, creation time, closing time) beside
/// the journal. Folders are private to the user, as the journal names instances, principals and addresses.
/// </summary>
public sealed class CaseStore
{
    public const string CaseFile = "case.json";

    public CaseStore(string? root = null, string? keyRoot = null, TimeProvider? clock = null)
    {
        Root = root is null ? CaseFolders.DefaultRoot() : Path.GetFullPath(root);
        KeyRoot = keyRoot is null ? CaseFolders.DefaultKeyRoot() : Path.GetFullPath(keyRoot);
        Clock = clock ?? TimeProvider.System;
    }

    public string Root { get; }
    public string KeyRoot { get; }
    public TimeProvider Clock { get; }

    /// <summary>Opens the case, creating it (folder, case.json, key) when it does not exist and <paramref name="create"/> is set.</summary>
    public CaseHandle Open(string caseId, bool create, string? title = null)
    {
        CaseFolders.RequireCaseId(caseId);
        var folder = CaseFolders.CaseFolder(Root, caseId);
        var caseFile = Path.Combine(folder, CaseFile);
        if (!File.Exists(caseFile))
        {
            if (!create)
                throw new GuardDutyIRException("CaseNotFound", ErrorKind.ObjectNotFound, $"There is no case '{caseId}' in '{Root}'. Start-GdCase creates one.", caseId);
            Create(caseId, folder, caseFile, title);
        }
        return Load(folder);
    }

    /// <summary>Opens the case in a folder by its case.json, creating its journal key if this machine has none.</summary>
    public CaseHandle Load(string folder)
    {
        var meta = ReadMeta(folder);
        var (caseId, caseUid) = Identity(folder, meta);
        var key = CaseFolders.JournalKey(KeyRoot, caseId, caseUid, create: true);
        return new CaseHandle(caseId, caseUid, folder, KeyRoot, (string?)meta["title"], ParseTime(meta["createdAt"]),
            new CaseJournal(folder, caseId, caseUid, key, Clock));
    }

    /// <summary>The case ID and unique ID of the case in a folder.</summary>
    public static (string CaseId, string CaseUid) ReadIdentity(string folder) => Identity(folder, ReadMeta(folder));

    private static (string, string) Identity(string folder, JsonObject meta)
    {
        var caseId = CaseFolders.RequireCaseId((string?)meta["caseId"]);
        var caseUid = (string?)meta["caseUid"];
        if (caseUid is null || caseUid.Length != 32 || !caseUid.All(char.IsAsciiHexDigitLower))
            throw new GuardDutyIRException("CaseInvalid", ErrorKind.InvalidData, $"'{Path.Combine(folder, CaseFile)}' has no valid caseUid.", folder);
        return (caseId, caseUid);
    }

    private static JsonObject ReadMeta(string folder)
    {
        var caseFile = Path.Combine(folder, CaseFile);
        try
        {
            return JsonNode.Parse(File.ReadAllText(caseFile))!.AsObject();
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidOperationException or UnauthorizedAccessException)
        {
            throw new GuardDutyIRException("CaseInvalid", ErrorKind.InvalidData, $"'{caseFile}' is not a readable case file.", folder, e);
        }
    }

    /// <summary>The case as a pipeline object: status from case.json, the entry count from the journal's head.</summary>
    public GdCase Describe(CaseHandle handle, bool active = false)
    {
        var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(handle.Folder, CaseFile)))!.AsObject();
        long entries = 0;
        DateTime? last = null;
        var headPath = handle.Journal.HeadPath;
        if (File.Exists(headPath))
        {
            try
            {
                var head = JsonNode.Parse(File.ReadAllText(headPath))!;
                entries = (long?)head["seq"] ?? 0;
                last = ParseTime(head["time"]);
            }
            catch (JsonException) { }
        }
        return new GdCase
        {
            CaseId = handle.CaseId,
            Title = handle.Title,
            Path = handle.Folder,
            JournalPath = handle.Journal.JournalPath,
            CreatedAt = handle.CreatedAt,
            Status = meta["closedAt"] is null ? "Open" : "Closed",
            Entries = (int)entries,
            LastEntryAt = last,
            Active = active,
        };
    }

    /// <summary>Every case under the root, oldest first.</summary>
    public IEnumerable<CaseHandle> List()
    {
        if (!Directory.Exists(Root)) yield break;
        foreach (var folder in Directory.EnumerateDirectories(Root).Order(StringComparer.Ordinal))
        {
            if (!File.Exists(Path.Combine(folder, CaseFile))) continue;
            CaseHandle handle;
            try { handle = Load(folder); }
            catch (GuardDutyIRException) { continue; }
            yield return handle;
        }
    }

    /// <summary>Marks the case closed in case.json (its journal gets the closing entry from the caller).</summary>
    public void MarkClosed(CaseHandle handle, bool closed)
    {
        var path = Path.Combine(handle.Folder, CaseFile);
        var meta = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        if (closed) meta["closedAt"] = Clock.GetUtcNow().UtcDateTime.ToString("O");
        else meta.Remove("closedAt");
        AsideFiles.Write(path, System.Text.Encoding.UTF8.GetBytes(meta.ToJsonString(new JsonSerializerOptions { WriteIndented = true })), overwrite: true);
    }

    private void Create(string caseId, string folder, string caseFile, string? title)
    {
        WorkFolders.RequirePrivate(Root);
        WorkFolders.RequirePrivate(folder);
        var meta = new JsonObject
        {
            ["caseId"] = caseId,
            ["caseUid"] = Guid.NewGuid().ToString("N"),
            ["title"] = title,
            ["createdAt"] = Clock.GetUtcNow().UtcDateTime.ToString("O"),
        };
        var text = meta.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        // Written aside and moved in without overwriting: two writers opening the same new case (parallel runbooks)
        // agree on the first one's unique ID, and no reader ever sees a half-written file.
        AsideFiles.Write(caseFile, System.Text.Encoding.UTF8.GetBytes(text), overwrite: false);
    }


    private static DateTime ParseTime(JsonNode? node) =>
        node is not null && DateTime.TryParse((string?)node, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var time) ? time : default;
}
