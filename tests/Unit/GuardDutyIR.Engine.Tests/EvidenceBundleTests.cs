using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Cases;
using GuardDutyIR.Engine.Cases.Evidence;

namespace GuardDutyIR.Engine.Tests;

/// <summary>Evidence bundles written from a real case folder, and checked back.</summary>
public sealed class EvidenceBundleTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("gdir-evidence-").FullName;
    private readonly CaseStore _store;
    private readonly CaseHandle _case;

    public EvidenceBundleTests()
    {
        _store = new CaseStore(Path.Combine(_work, "cases"), Path.Combine(_work, "keys"));
        _case = _store.Open("IR-7", create: true, "evidence test");
        _case.Journal.Append(new JournalDraft(JournalEntryKinds.Case, "Start-GdCase", "Opened") { Target = "IR-7" });
        CaseRecords.Store(_case, "finding", Encoding.UTF8.GetBytes("{\"id\":\"f1\"}"), ".json");
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private string Bundle(string name = "bundle") => Path.Combine(_work, "out", name);

    private static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    private static EvidenceRow Row(string? query, params (string Name, object? Value)[] cells) =>
        new(cells.Select(c => c.Name).ToList(), cells.Select(c => c.Value).ToList(), query);

    private CaseEvidenceBundle Export(EvidenceRequest request) => EvidenceBundleService.Export(_case, request);

    [Fact]
    public void Names_from_the_data_never_reach_outside_the_bundle()
    {
        var outside = Path.Combine(_work, "out");
        var hostile = new[] { "../../escaped", "..\\..\\escaped", "/etc/passwd", "C:\\Windows\\escaped", "a/../../escaped", "..", ".", "", "CON", "nul.txt", ".hidden", new string('x', 300) };
        var screenshot = Path.Combine(_work, "..screenshot.png");
        File.WriteAllBytes(screenshot, new byte[] { 0x89, 0x50, 0x4E, 0x47 });
        var bundle = Export(new EvidenceRequest
        {
            Destination = Bundle(),
            Queries = EvidenceQueries.Group(hostile.Select(n => Row(n, ("eventname", "PutObject")))),
            Quarantines = new[] { new QuarantineResult { InstanceId = "../../../i-escaped", Region = "us-east-1" }, new QuarantineResult { InstanceId = "..\\i-escaped", Region = "us-east-1" } },
            IncludePaths = new[] { screenshot },
        });

        // Nothing beside the bundle but the bundle itself; every file inside, named with safe characters only.
        Assert.Equal(new[] { bundle.Path }, Directory.GetFileSystemEntries(outside));
        var written = Directory.GetFiles(bundle.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(bundle.Path, f).Replace('\\', '/')).ToList();
        Assert.All(written, f => Assert.Matches("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", f));
        Assert.All(written, f => Assert.DoesNotContain(f.Split('/'), s => s.StartsWith('.') || s.Split('.')[0].ToUpperInvariant() is "CON" or "NUL"));
        Assert.DoesNotContain(Directory.GetFiles(_work, "*", SearchOption.AllDirectories), f => Path.GetFileName(f).Contains("escaped") && !f.StartsWith(bundle.Path, StringComparison.Ordinal));
        // Each hostile query got its own pair of files; the two instances their own record.
        Assert.Equal(hostile.Length, written.Count(f => f.StartsWith("queries/", StringComparison.Ordinal) && f.EndsWith(".csv", StringComparison.Ordinal)));
        Assert.Equal(2, written.Count(f => f.StartsWith("instances/", StringComparison.Ordinal)));
        Assert.Contains("files/screenshot.png", written);
        Assert.NotEmpty(bundle.Warnings);
        Assert.True(EvidenceBundleVerifier.Check(bundle.Path, _store.KeyRoot, keyRequired: true).Valid);
    }

    [Fact]
    public void The_manifest_lists_every_file_with_its_hash_and_is_recorded_in_the_journal()
    {
        var before = _case.Journal.ReadEntries().Count;
        var bundle = Export(new EvidenceRequest
        {
            Destination = Bundle(),
            Findings = new[] { new GdFinding { Id = "f1", RawJson = "{\"id\":\"f1\",\"type\":\"Recon:EC2/PortProbeUnprotectedPort\"}" } },
            Queries = EvidenceQueries.Group(new[] { Row(null, ("eventname", "=HYPERLINK(\"x\")"), ("total", 3)), Row(null, ("eventname", "a,b"), ("total", 4)) }),
            ConsoleOutput = "login: \n",
        });

        var listed = bundle.Files.Select(f => f.Path).ToHashSet(StringComparer.Ordinal);
        var onDisk = Directory.GetFiles(bundle.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(bundle.Path, f).Replace('\\', '/'))
            .Where(f => !EvidenceManifest.IsManifest(f)).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(onDisk.Order(), listed.Order());
        Assert.Contains("journal/journal.jsonl", listed);
        Assert.Contains("journal/journal.head.json", listed);
        Assert.Contains("journal/case.json", listed);
        Assert.Single(listed, f => f.StartsWith("journal/artifacts/", StringComparison.Ordinal));
        foreach (var f in bundle.Files)
        {
            var bytes = File.ReadAllBytes(Path.Combine(bundle.Path, f.Path));
            Assert.Equal((Hash(bytes), (long)bytes.Length), (f.Sha256, f.Length));
        }
        // The case folder's files byte for byte.
        Assert.Equal(File.ReadAllBytes(Path.Combine(_case.Folder, "case.json")), File.ReadAllBytes(Path.Combine(bundle.Path, "journal", "case.json")));

        var manifest = File.ReadAllBytes(Path.Combine(bundle.Path, EvidenceManifest.JsonFile));
        Assert.Equal(Hash(manifest), bundle.ManifestSha256);
        var sums = File.ReadAllText(Path.Combine(bundle.Path, EvidenceManifest.Sha256File));
        Assert.Contains($"{bundle.ManifestSha256}  manifest.json\n", sums);
        Assert.All(bundle.Files, f => Assert.Contains($"{f.Sha256}  {f.Path}\n", sums));

        // The journal's new entry names the manifest; the bundle holds the journal up to just before it.
        var entries = _case.Journal.ReadEntries();
        Assert.Equal(before + 1, entries.Count);
        var entry = entries[^1];
        Assert.Equal((JournalEntryKinds.Artifact, "Written"), (entry.Kind, entry.Status));
        Assert.Equal(bundle.ManifestSha256, Assert.Single(entry.Artifacts).Sha256);
        Assert.Equal(before, bundle.JournalEntries);
        var bundled = CaseJournalVerifier.Check(Path.Combine(bundle.Path, "journal"), _store.KeyRoot);
        Assert.True(bundled.Valid, bundled.ToString());
        Assert.Equal(before, bundled.Entries);

        // CSV: quoted where needed, a formula neutralized; JSON keeps the exact value and the number.
        var csv = File.ReadAllText(Path.Combine(bundle.Path, "queries", "query-1.csv"));
        Assert.Equal("eventname,total\r\n\"'=HYPERLINK(\"\"x\"\")\",3\r\n\"a,b\",4\r\n", csv);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle.Path, "queries", "query-1.json")))!.AsArray();
        Assert.Equal("=HYPERLINK(\"x\")", (string?)json[0]!["eventname"]);
        Assert.Equal(3, (int)json[0]!["total"]!);
        Assert.Equal("Recon:EC2/PortProbeUnprotectedPort", (string?)JsonNode.Parse(File.ReadAllText(Path.Combine(bundle.Path, "findings", "findings.json")))![0]!["type"]);
        Assert.Equal("login: \n", File.ReadAllText(Path.Combine(bundle.Path, "console", "console.txt")));
    }

    [Fact]
    public void Snapshots_come_from_the_pipeline_and_from_the_journal()
    {
        var journaled = new ForensicSnapshot { SnapshotId = "snap-0aaa", VolumeId = "vol-1", InstanceId = "i-0123456789abcdef0", Region = "us-east-1", State = "pending" };
        _case.Journal.Append(new JournalDraft(JournalEntryKinds.Change, "New-ForensicSnapshot", "Done") { Target = "vol-1", Result = CaseRecords.ToJson(journaled) });
        var piped = new ForensicSnapshot { SnapshotId = "snap-0bbb", VolumeId = "vol-2", InstanceId = "i-0123456789abcdef0", Region = "us-east-1", State = "completed" };
        var bundle = Export(new EvidenceRequest { Destination = Bundle(), Snapshots = new[] { piped } });

        var snapshots = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle.Path, "snapshots.json")))!.AsArray();
        Assert.Equal(new[] { "snap-0aaa", "snap-0bbb" }, snapshots.Select(s => (string)s!["SnapshotId"]!));
        Assert.Equal(2, (long)snapshots[0]!["JournalSequence"]!);
        var instance = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle.Path, "instances", "i-0123456789abcdef0.json")))!;
        Assert.Equal("snap-0bbb", (string?)Assert.Single(instance["snapshots"]!.AsArray())!["SnapshotId"]);
    }

    [Fact]
    public void Tampering_removal_and_additions_are_each_reported_in_a_folder_and_in_a_zip()
    {
        File.WriteAllText(Path.Combine(_work, "notes.txt"), "first look\n");
        var bundle = Export(new EvidenceRequest { Destination = Bundle(), Zip = true, ConsoleOutput = "console\n", IncludePaths = new[] { Path.Combine(_work, "notes.txt") } });
        Assert.NotNull(bundle.ZipPath);
        Assert.Equal(Hash(File.ReadAllBytes(bundle.ZipPath!)), bundle.ZipSha256);
        Assert.Equal(bundle.ZipSha256, _case.Journal.ReadEntries()[^1].Artifacts[1].Sha256);
        Assert.True(EvidenceBundleVerifier.Check(bundle.Path, _store.KeyRoot, keyRequired: true).Valid);
        var zipCheck = EvidenceBundleVerifier.Check(bundle.ZipPath!, _store.KeyRoot, keyRequired: true);
        Assert.True(zipCheck.Valid, zipCheck.ToString());
        Assert.True(zipCheck.JournalSignatureChecked);

        // Without the key the chain is still checked and the bundle passes; with -KeyRoot required it is a problem.
        var noKeys = Path.Combine(_work, "no-keys");
        var chainOnly = EvidenceBundleVerifier.Check(bundle.Path, noKeys, keyRequired: false);
        Assert.True(chainOnly.Valid, chainOnly.ToString());
        Assert.False(chainOnly.JournalSignatureChecked);
        Assert.Contains(EvidenceBundleVerifier.Check(bundle.Path, noKeys, keyRequired: true).Problems, p => p.Kind == "Journal" && p.Detail.StartsWith("KeyMissing", StringComparison.Ordinal));

        File.AppendAllText(Path.Combine(bundle.Path, "console", "console.txt"), "edited\n");
        File.Delete(Path.Combine(bundle.Path, "files", "notes.txt"));
        File.WriteAllText(Path.Combine(bundle.Path, "planted.txt"), "x");
        var check = EvidenceBundleVerifier.Check(bundle.Path, _store.KeyRoot, keyRequired: true);
        Assert.Equal(new[] { ("Changed", "console/console.txt"), ("Extra", "planted.txt"), ("Missing", "files/notes.txt") },
            check.Problems.Select(p => (p.Kind, p.Path!)).Order());

        // The same in the zip: an entry rewritten, one deleted, one added.
        using (var zip = ZipFile.Open(bundle.ZipPath!, ZipArchiveMode.Update))
        {
            zip.GetEntry("console/console.txt")!.Delete();
            using (var w = new StreamWriter(zip.CreateEntry("console/console.txt").Open())) w.Write("rewritten\n");
            zip.GetEntry("files/notes.txt")!.Delete();
            using (var w = new StreamWriter(zip.CreateEntry("../planted.txt").Open())) w.Write("x");
        }
        var zipped = EvidenceBundleVerifier.Check(bundle.ZipPath!, _store.KeyRoot, keyRequired: true);
        Assert.Equal(new[] { ("Changed", "console/console.txt"), ("Extra", "../planted.txt"), ("Missing", "files/notes.txt") },
            zipped.Problems.Select(p => (p.Kind, p.Path!)).Order());
        Assert.False(File.Exists(Path.Combine(_work, "out", "planted.txt")));
    }

    [Fact]
    public void A_manifest_rewritten_to_match_an_edit_or_naming_a_path_outside_is_reported()
    {
        var bundle = Export(new EvidenceRequest { Destination = Bundle(), ConsoleOutput = "console\n" });
        var manifestPath = Path.Combine(bundle.Path, EvidenceManifest.JsonFile);
        var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        File.WriteAllText(Path.Combine(bundle.Path, "console", "console.txt"), "edited\n");
        var console = manifest["files"]!.AsArray().Single(f => (string?)f!["path"] == "console/console.txt")!;
        console["sha256"] = Hash(Encoding.UTF8.GetBytes("edited\n"));
        console["length"] = 7;
        manifest["files"]!.AsArray().Add(new JsonObject { ["path"] = "../../secret", ["sha256"] = new string('0', 64), ["length"] = 0 });
        File.WriteAllText(manifestPath, manifest.ToJsonString());

        var check = EvidenceBundleVerifier.Check(bundle.Path, _store.KeyRoot, keyRequired: true);
        Assert.Contains(check.Problems, p => p.Kind == "ManifestMismatch" && p.Path == "manifest.json");
        Assert.Contains(check.Problems, p => p.Kind == "ManifestMismatch" && p.Path == "console/console.txt");
        Assert.Contains(check.Problems, p => p.Kind == "UnsafePath" && p.Path == "../../secret");
        Assert.NotEqual(bundle.ManifestSha256, check.ManifestSha256);
    }

    [Fact]
    public void An_edited_bundled_journal_is_reported_and_nothing_is_written_over_an_existing_folder()
    {
        var bundle = Export(new EvidenceRequest { Destination = Bundle() });
        var journal = Path.Combine(bundle.Path, "journal", "journal.jsonl");
        File.WriteAllText(journal, File.ReadAllText(journal).Replace("Opened", "Closed", StringComparison.Ordinal));
        var check = EvidenceBundleVerifier.Check(bundle.Path, _store.KeyRoot, keyRequired: true);
        Assert.Contains(check.Problems, p => p.Kind == "Changed" && p.Path == "journal/journal.jsonl");
        Assert.Contains(check.Problems, p => p.Kind == "Journal" && p.Detail.StartsWith("Edited", StringComparison.Ordinal));

        var entries = _case.Journal.ReadEntries().Count;
        var refused = Assert.Throws<GuardDutyIRException>(() => Export(new EvidenceRequest { Destination = bundle.Path }));
        Assert.Equal("EvidenceDestinationExists", refused.ErrorId);
        Assert.Equal(entries, _case.Journal.ReadEntries().Count);
    }
}
