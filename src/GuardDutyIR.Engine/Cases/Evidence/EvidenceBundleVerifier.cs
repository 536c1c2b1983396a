using System.IO.Compression;
using System.Security.Cryptography;

namespace GuardDutyIR.Engine.Cases.Evidence;

/// <summary>
/// Checks an evidence bundle (its folder, or its zip read in place) against its manifest: every listed file present
/// with its SHA-256 and length, nothing unlisted, manifest.sha256 agreeing with manifest.json, and the bundled journal
/// intact (its chain always; its signed head when the case's key is at hand).
/// </summary>
public static class EvidenceBundleVerifier
{
    /// <param name="keyRoot">Where to look for the journal key. With <paramref name="keyRequired"/> a missing key is a
    /// problem; without, the chain alone is checked and the check says so.</param>
    public static CaseEvidenceCheck Check(string path, string keyRoot, bool keyRequired)
    {
        var full = Path.GetFullPath(path);
        using IBundle bundle = Directory.Exists(full) ? new FolderBundle(full)
            : File.Exists(full) ? new ZipBundle(full)
            : throw new GuardDutyIRException("EvidenceBundleNotFound", ErrorKind.ObjectNotFound, $"'{full}' is neither a bundle folder nor a bundle zip.", full);

        var problems = new List<CaseEvidenceProblem>();
        var entries = bundle.Entries().ToHashSet(StringComparer.Ordinal);
        if (!entries.Contains(EvidenceManifest.JsonFile))
        {
            problems.Add(new("ManifestInvalid", EvidenceManifest.JsonFile, "The bundle has no manifest.json."));
            return new CaseEvidenceCheck { Path = full, Problems = problems };
        }
        var manifestBytes = bundle.Read(EvidenceManifest.JsonFile);
        var manifestHash = Convert.ToHexString(SHA256.HashData(manifestBytes)).ToLowerInvariant();
        if (EvidenceManifest.Read(manifestBytes, out var why) is not { } manifest)
        {
            problems.Add(new("ManifestInvalid", EvidenceManifest.JsonFile, $"manifest.json cannot be used: {why}."));
            return new CaseEvidenceCheck { Path = full, ManifestSha256 = manifestHash, Problems = problems };
        }

        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in manifest.Files)
        {
            listed.Add(file.Path);
            if (!SafeRelative(file.Path))
            {
                problems.Add(new("UnsafePath", file.Path, "The manifest lists a path outside the bundle; it was not read."));
                continue;
            }
            if (!entries.Contains(file.Path))
            {
                problems.Add(new("Missing", file.Path, "The manifest lists this file; the bundle does not have it."));
                continue;
            }
            var (sha, length) = bundle.Hash(file.Path);
            if (sha != file.Sha256 || length != file.Length)
                problems.Add(new("Changed", file.Path, $"SHA-256 {sha} ({length} bytes); the manifest says {file.Sha256} ({file.Length} bytes)."));
        }
        foreach (var extra in entries.Where(e => !listed.Contains(e) && !EvidenceManifest.IsManifest(e)).Order(StringComparer.Ordinal))
            problems.Add(new("Extra", extra, "The bundle has this file; the manifest does not list it."));
        CheckSums(bundle, entries, manifest.Files, manifestHash, problems);

        var (journal, signatureChecked) = CheckJournal(bundle, entries, full, keyRoot, keyRequired, problems);
        return new CaseEvidenceCheck
        {
            CaseId = manifest.CaseId,
            Path = full,
            Files = manifest.Files.Count,
            ManifestSha256 = manifestHash,
            Journal = journal,
            JournalSignatureChecked = signatureChecked,
            Problems = problems,
        };
    }

    private static bool SafeRelative(string relative) =>
        relative.Length > 0 && !relative.StartsWith('/') && !relative.Contains('\\') && !relative.Contains(':')
        && relative.Split('/').All(s => s.Length > 0 && s is not ("." or ".."));

    /// <summary>manifest.sha256 must name exactly manifest.json's files, with the same hashes, and manifest.json's own hash.</summary>
    private static void CheckSums(IBundle bundle, HashSet<string> entries, IReadOnlyList<CaseEvidenceFile> files, string manifestHash, List<CaseEvidenceProblem> problems)
    {
        if (!entries.Contains(EvidenceManifest.Sha256File))
        {
            problems.Add(new("ManifestMismatch", EvidenceManifest.Sha256File, "The bundle has no manifest.sha256."));
            return;
        }
        var sums = EvidenceManifest.ReadSums(bundle.Read(EvidenceManifest.Sha256File));
        if (sums is null)
        {
            problems.Add(new("ManifestMismatch", EvidenceManifest.Sha256File, "manifest.sha256 is not in sha256sum's format."));
            return;
        }
        var expected = files.ToDictionary(f => f.Path, f => f.Sha256, StringComparer.Ordinal);
        expected[EvidenceManifest.JsonFile] = manifestHash;
        foreach (var path in expected.Keys.Union(sums.Keys).Order(StringComparer.Ordinal))
            if (!expected.TryGetValue(path, out var want) || !sums.TryGetValue(path, out var got) || want != got)
                problems.Add(new("ManifestMismatch", path, path == EvidenceManifest.JsonFile
                    ? "manifest.sha256 does not hold manifest.json's hash: manifest.json was changed."
                    : "manifest.sha256 and manifest.json disagree about this file."));
    }

    private static (CaseJournalCheck?, bool) CheckJournal(IBundle bundle, HashSet<string> entries, string bundlePath, string keyRoot, bool keyRequired, List<CaseEvidenceProblem> problems)
    {
        var prefix = EvidenceBundleService.JournalFolder + "/";
        var caseFile = prefix + CaseStore.CaseFile;
        if (!entries.Contains(caseFile))
        {
            problems.Add(new("Journal", caseFile, "The bundle holds no case journal (journal/case.json)."));
            return (null, false);
        }
        var folder = bundle.JournalFolder(new[] { CaseStore.CaseFile, CaseJournal.JournalFile, CaseJournal.HeadFile }.Where(f => entries.Contains(prefix + f)));
        try
        {
            var (caseId, caseUid) = CaseStore.ReadIdentity(folder);
            byte[]? key = null;
            try { key = CaseFolders.JournalKey(keyRoot, caseId, caseUid, create: false); }
            catch (GuardDutyIRException e) when (e.ErrorId == "CaseKeyMissing") { }
            var check = CaseJournalVerifier.Check(caseId, caseUid, folder, key);
            // Without a key at hand and none asked for, the chain is what can be checked; that is said, not failed.
            var kept = check.Problems.Where(p => key is not null || keyRequired || p.Kind != "KeyMissing").ToList();
            foreach (var p in kept) problems.Add(new("Journal", prefix + CaseJournal.JournalFile, p.ToString()));
            return (new CaseJournalCheck
            {
                CaseId = check.CaseId,
                JournalPath = Path.Combine(bundlePath, EvidenceBundleService.JournalFolder, CaseJournal.JournalFile),
                Entries = check.Entries,
                SignedEntries = check.SignedEntries,
                HeadSignatureValid = check.HeadSignatureValid,
                TailCut = check.TailCut,
                Problems = check.Problems,
            }, key is not null);
        }
        catch (GuardDutyIRException e)
        {
            problems.Add(new("Journal", caseFile, e.Message));
            return (null, false);
        }
    }

    private interface IBundle : IDisposable
    {
        IEnumerable<string> Entries();
        byte[] Read(string relative);
        (string Sha256, long Length) Hash(string relative);
        /// <summary>A folder holding the journal's files (the bundle's own, or a private copy taken out of a zip).</summary>
        string JournalFolder(IEnumerable<string> names);
    }

    private sealed class FolderBundle(string root) : IBundle
    {
        public IEnumerable<string> Entries() =>
            Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
                .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'));

        public byte[] Read(string relative) => File.ReadAllBytes(EvidenceNames.Inside(root, relative));

        public (string, long) Hash(string relative)
        {
            var record = CaseRecords.FileArtifact(relative, EvidenceNames.Inside(root, relative));
            return (record.Sha256, record.Length);
        }

        public string JournalFolder(IEnumerable<string> names) => Path.Combine(root, EvidenceBundleService.JournalFolder);

        public void Dispose() { }
    }

    /// <summary>A zip read in place; only the journal's three files are ever written out, under fixed names.</summary>
    private sealed class ZipBundle : IBundle
    {
        private readonly ZipArchive _zip;
        private string? _temporary;

        public ZipBundle(string path)
        {
            try { _zip = ZipFile.OpenRead(path); }
            catch (InvalidDataException e)
            {
                throw new GuardDutyIRException("EvidenceBundleInvalid", ErrorKind.InvalidData, $"'{path}' is not a zip file.", path, e);
            }
        }

        private ZipArchiveEntry Entry(string relative) => _zip.Entries.First(e => Name(e) == relative);

        private static string Name(ZipArchiveEntry e) => e.FullName.Replace('\\', '/');

        public IEnumerable<string> Entries() => _zip.Entries.Where(e => !e.FullName.EndsWith('/') && !e.FullName.EndsWith('\\')).Select(Name);

        public byte[] Read(string relative)
        {
            using var stream = Entry(relative).Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }

        public (string, long) Hash(string relative)
        {
            using var stream = Entry(relative).Open();
            var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[81920];
            long length = 0;
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                length += read;
            }
            return (Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant(), length);
        }

        public string JournalFolder(IEnumerable<string> names)
        {
            // CreateTempSubdirectory makes the folder for this user alone (0700 on Unix).
            _temporary = Directory.CreateTempSubdirectory("GuardDutyIR-evidence-").FullName;
            foreach (var name in names)
                File.WriteAllBytes(Path.Combine(_temporary, name), Read(EvidenceBundleService.JournalFolder + "/" + name));
            return _temporary;
        }

        public void Dispose()
        {
            _zip.Dispose();
            if (_temporary is not null)
                try { Directory.Delete(_temporary, recursive: true); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
        }
    }
}
