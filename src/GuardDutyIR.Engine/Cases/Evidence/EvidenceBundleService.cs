using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Cases.Evidence;

/// <summary>
/// Writes a case's evidence bundle:
/// <code>
/// journal/             case.json, journal.jsonl, journal.head.json as they are (a case folder: Test-GdCaseJournal -Path
///                      checks it), and artifacts/ with the files the journal's entries name
/// findings/findings.json    the findings as GuardDuty sent them
/// queries/&lt;name&gt;.csv, .json   each query's rows
/// instances/&lt;id&gt;.json   per instance: its description before containment, the quarantine, evidence and snapshot records
/// instances/&lt;id&gt;/...     the files Save-InstanceEvidence captured (console output, screenshot, description)
/// snapshots.json       every snapshot: those given and those the journal's New-ForensicSnapshot entries name
/// console/console.txt  the console output given
/// files/&lt;name&gt;         the files given
/// manifest.json, manifest.sha256   every file above with its SHA-256 and length
/// </code>
/// then records manifest.json's hash in the case journal as an Artifact entry, so the bundle can later be tied to the
/// case (and any edit of the bundle, manifest included, shows against the journal).
/// </summary>
public static class EvidenceBundleService
{
    public const string JournalFolder = "journal";

    public static CaseEvidenceBundle Export(CaseHandle handle, EvidenceRequest request, TimeProvider? clock = null, CancellationToken cancellationToken = default)
    {
        var createdAt = (clock ?? TimeProvider.System).GetUtcNow().UtcDateTime;
        var zipPath = request.Zip ? Path.TrimEndingDirectorySeparator(Path.GetFullPath(request.Destination)) + ".zip" : null;
        if (zipPath is not null && (File.Exists(zipPath) || Directory.Exists(zipPath)))
            throw new GuardDutyIRException("EvidenceDestinationExists", ErrorKind.ResourceExists, $"'{zipPath}' already exists; an evidence bundle is never written over anything.", zipPath);
        foreach (var path in request.IncludePaths)
            if (!File.Exists(path))
                throw new GuardDutyIRException("EvidenceFileNotFound", ErrorKind.ObjectNotFound, $"'{path}' is not a file.", path);

        var folder = new EvidenceFolder(request.Destination);
        var journalEntries = CopyCase(handle, folder, cancellationToken);
        WriteFindings(folder, request.Findings);
        WriteQueries(folder, request.Queries);
        WriteInstances(folder, request, cancellationToken);
        WriteSnapshots(folder, request.Snapshots, handle);
        if (request.ConsoleOutput is not null) folder.Write("console/console.txt", new UTF8Encoding(false).GetBytes(request.ConsoleOutput));
        foreach (var path in request.IncludePaths)
            folder.Copy(folder.Claim("files", Path.GetFileName(path), "file"), path, cancellationToken);

        var files = folder.Files.OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
        var manifest = EvidenceManifest.Json(handle.CaseId, handle.CaseUid, createdAt, journalEntries, files);
        folder.Write(EvidenceManifest.JsonFile, manifest);
        var manifestRecord = CaseRecords.Artifact("evidence manifest", manifest);
        folder.Write(EvidenceManifest.Sha256File, EvidenceManifest.Sha256Sums(files.Append(new CaseEvidenceFile(EvidenceManifest.JsonFile, manifestRecord.Sha256, manifestRecord.Length))));

        CaseArtifact? zipRecord = null;
        if (zipPath is not null)
        {
            ZipFile.CreateFromDirectory(folder.Root, zipPath, CompressionLevel.Optimal, includeBaseDirectory: false);
            zipRecord = CaseRecords.FileArtifact("evidence bundle zip", zipPath);
        }

        var bundle = new CaseEvidenceBundle
        {
            CaseId = handle.CaseId,
            Path = folder.Root,
            ZipPath = zipPath,
            ZipSha256 = zipRecord?.Sha256,
            CreatedAt = createdAt,
            Files = files,
            ManifestSha256 = manifestRecord.Sha256,
            JournalEntries = journalEntries,
            Warnings = folder.Warnings,
        };
        handle.Journal.Append(new JournalDraft(JournalEntryKinds.Artifact, request.Action, "Written")
        {
            Target = handle.CaseId,
            Caller = request.Caller,
            Detail = $"Evidence bundle {folder.Root}{(zipPath is null ? "" : " and " + zipPath)}: {files.Count} files, {bundle.TotalBytes} bytes, manifest SHA-256 {manifestRecord.Sha256}.",
            Artifacts = zipRecord is null ? new[] { manifestRecord } : new[] { manifestRecord, zipRecord },
        }, cancellationToken);
        return bundle;
    }

    /// <summary>case.json, the journal and its head (as one consistent pair) and the artifacts, byte for byte; returns the entries copied.</summary>
    private static long CopyCase(CaseHandle handle, EvidenceFolder folder, CancellationToken cancellationToken)
    {
        folder.Copy($"{JournalFolder}/{CaseStore.CaseFile}", Path.Combine(handle.Folder, CaseStore.CaseFile), cancellationToken);
        var (journal, head) = handle.Journal.Snapshot(cancellationToken);
        folder.Write($"{JournalFolder}/{CaseJournal.JournalFile}", journal);
        if (head is not null) folder.Write($"{JournalFolder}/{CaseJournal.HeadFile}", head);
        if (Directory.Exists(handle.ArtifactFolder))
            foreach (var file in Directory.EnumerateFiles(handle.ArtifactFolder).Order(StringComparer.Ordinal))
                if (!file.EndsWith(".tmp", StringComparison.Ordinal))
                    folder.Copy(folder.Claim($"{JournalFolder}/artifacts", Path.GetFileName(file), "artifact"), file, cancellationToken);
        return journal.Count(b => b == (byte)'\n');
    }

    private static void WriteFindings(EvidenceFolder folder, IReadOnlyList<GdFinding> findings)
    {
        if (findings.Count == 0) return;
        // As GuardDuty sent them; one finding piped twice is kept once.
        var distinct = findings.GroupBy(f => (f.Id, f.RawJson)).Select(g => g.First());
        folder.WriteJson("findings/findings.json", new JsonArray(distinct.Select(f => Parse(f.RawJson) ?? CaseRecords.ToJson(f)).ToArray()));
    }

    private static void WriteQueries(EvidenceFolder folder, IReadOnlyList<EvidenceQuery> queries)
    {
        foreach (var query in queries)
        {
            var csv = folder.Claim("queries", query.Name, "query", ".csv");
            folder.Write(csv, EvidenceTables.Csv(query));
            folder.WriteJson(csv[..^4] + ".json", EvidenceTables.Json(query));
        }
    }

    private static void WriteInstances(EvidenceFolder folder, EvidenceRequest request, CancellationToken cancellationToken)
    {
        var ids = request.Quarantines.Select(q => q.InstanceId).Concat(request.InstanceEvidence.Select(e => e.InstanceId))
            .Concat(request.Snapshots.Select(s => s.InstanceId)).Where(id => !string.IsNullOrEmpty(id)).Distinct(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            var json = folder.Claim("instances", id, "instance", ".json");
            var filesFolder = json[..^5];
            var quarantines = request.Quarantines.Where(q => q.InstanceId == id).ToList();
            var evidence = request.InstanceEvidence.Where(e => e.InstanceId == id).ToList();
            var copied = new JsonArray();
            foreach (var file in evidence.SelectMany(e => e.Files))
                copied.Add(CopyCaptured(folder, filesFolder, file, cancellationToken));
            folder.WriteJson(json, new JsonObject
            {
                ["instanceId"] = id,
                ["region"] = quarantines.Select(q => q.Region).Concat(evidence.Select(e => e.Region)).FirstOrDefault(r => r.Length > 0),
                // The instance as DescribeInstances returned it before containment changed anything.
                ["descriptionBeforeContainment"] = quarantines.Select(q => Parse(q.OriginalDescription)).LastOrDefault(d => d is not null),
                ["quarantine"] = new JsonArray(quarantines.Select(q => CaseRecords.ToJson(Without(q))).ToArray()),
                ["evidence"] = new JsonArray(evidence.Select(e => CaseRecords.ToJson(e)).ToArray()),
                ["evidenceFiles"] = copied,
                ["snapshots"] = new JsonArray(request.Snapshots.Where(s => s.InstanceId == id).Select(s => CaseRecords.ToJson(s)).ToArray()),
            });
        }
    }

    // The finding is in findings.json already; the description is written parsed beside the record.
    private static object Without(QuarantineResult q) => new
    {
        q.InstanceId, q.Region, q.CaseId, q.FindingId, q.Status, q.Steps, q.NetworkInterfaces, q.IsolationGroups, q.Original, q.Actions, q.RequestIds, q.Caveat,
    };

    /// <summary>A Save-InstanceEvidence file, checked against the SHA-256 recorded when it was captured.</summary>
    private static JsonNode CopyCaptured(EvidenceFolder folder, string instanceFolder, EvidenceFile file, CancellationToken cancellationToken)
    {
        if (!File.Exists(file.Path))
        {
            folder.Warnings.Add($"{file.Kind} file '{file.Path}' captured by Save-InstanceEvidence is gone.");
            return new JsonObject { ["kind"] = file.Kind, ["source"] = file.Path, ["missing"] = true };
        }
        var record = folder.Copy(folder.Claim(instanceFolder, Path.GetFileName(file.Path), file.Kind.ToLowerInvariant()), file.Path, cancellationToken);
        var unchanged = string.Equals(record.Sha256, file.Sha256, StringComparison.OrdinalIgnoreCase);
        if (!unchanged)
            folder.Warnings.Add($"{file.Kind} file '{file.Path}' changed since it was captured (SHA-256 {file.Sha256} then, {record.Sha256} now).");
        return new JsonObject { ["kind"] = file.Kind, ["path"] = record.Path, ["source"] = file.Path, ["capturedSha256"] = file.Sha256, ["unchangedSinceCapture"] = unchanged };
    }

    private static void WriteSnapshots(EvidenceFolder folder, IReadOnlyList<ForensicSnapshot> given, CaseHandle handle)
    {
        var snapshots = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        // The journal's first, then the given ones: a snapshot piped in now carries its latest state.
        foreach (var (id, node) in JournalSnapshots(handle, folder.Warnings)) snapshots[id] = node;
        foreach (var s in given.Where(s => s.SnapshotId.Length > 0)) snapshots[s.SnapshotId] = CaseRecords.ToJson(s);
        if (snapshots.Count == 0) return;
        folder.WriteJson("snapshots.json", new JsonArray(snapshots.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Value).ToArray()));
    }

    /// <summary>Snapshots in the results New-ForensicSnapshot journaled (one result object, or several in an array).</summary>
    private static List<(string Id, JsonNode Node)> JournalSnapshots(CaseHandle handle, List<string> warnings)
    {
        var found = new List<(string, JsonNode)>();
        IReadOnlyList<CaseJournalEntry> entries;
        try { entries = handle.Journal.ReadEntries(); }
        catch (GuardDutyIRException e)
        {
            // The bundle still carries the journal as it is, for Test-GdCaseJournal to say what happened to it.
            warnings.Add("The journal's snapshots could not be read: " + e.Message);
            return found;
        }
        foreach (var entry in entries)
        {
            if (entry.Action != "New-ForensicSnapshot" || entry.Result is null) continue;
            var results = entry.Result is JsonArray many ? many.ToList() : new List<JsonNode?> { entry.Result };
            foreach (var result in results.OfType<JsonObject>())
                if (result["SnapshotId"] is JsonValue v && v.TryGetValue<string>(out var id) && id.Length > 0)
                {
                    var node = result.DeepClone().AsObject();
                    node["JournalSequence"] = entry.Sequence;
                    found.Add((id, node));
                }
        }
        return found;
    }

    private static JsonNode? Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return null;
        try { return JsonNode.Parse(json); }
        catch (JsonException) { return JsonValue.Create(json); }
    }
}
