using System.IO.Compression;
using System.Management.Automation;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Module.Tests.Support;
using Xunit.Abstractions;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// A case worked against the Workshop Lab through the built module (quarantine, snapshots, the finding, query rows over
/// the Lab's trail files), then bundled with Export-GdCaseEvidence, checked with Test-GdCaseEvidence, and copied to the
/// Lab's S3 with Copy-GdCaseJournal.
/// </summary>
public sealed class CaseEvidenceTests : IDisposable
{
    private const string CaseId = "IR-EV";
    private readonly LabSession _s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, SnapshotCompletionSeconds = 1, InstanceTransitionSeconds = 0.5 });
    private readonly string _work = Directory.CreateTempSubdirectory("gdir-case-evidence-").FullName;
    private readonly ITestOutputHelper _output;

    // The Lab does not throttle here; the client-side EC2 buckets would only slow the test.
    static CaseEvidenceTests() => Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");

    public CaseEvidenceTests(ITestOutputHelper output)
    {
        _output = output;
        Run("$null = Start-GdCase -CaseId $args[0] -CaseRoot $args[1] -KeyRoot $args[2]", CaseId, Cases, Keys);
    }

    public void Dispose()
    {
        _s.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private string Cases => Path.Combine(_work, "cases");
    private string Keys => Path.Combine(_work, "keys");
    private string CaseFolder => Path.Combine(Cases, CaseId);
    private string InstanceId => _s.Lab.World.CompromisedInstanceId!;
    private S3Store S3 => _s.Lab.GetService<S3Service>()!.Store;

    private ScriptResult Run(string script, params object?[] args)
    {
        var result = _s.Run(script, args);
        Assert.True(result.Terminating is null && result.Errors.Count == 0,
            $"{script}\n{result.Terminating?.ErrorRecord.ToString() ?? string.Join("\n", result.Errors)}");
        return result;
    }

    private static T Prop<T>(PSObject o, string name) => (T)(o.Properties[name].Value is PSObject p ? p.BaseObject : o.Properties[name].Value)!;

    private static string Hex(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    private static JsonObject LastEntry(string caseFolder) =>
        JsonNode.Parse(File.ReadAllLines(Path.Combine(caseFolder, "journal.jsonl"))[^1])!.AsObject();

    /// <summary>Contains the instance, snapshots it and keeps the finding and the rows of a query over the Lab's trail files in session variables.</summary>
    private void WorkTheCase()
    {
        foreach (var key in _s.Lab.GetService<S3Service>()!.TrailLogKeys)
        {
            var path = Path.Combine(_work, key);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, S3.Get(_s.Lab.GetService<S3Service>()!.TrailBucket!, key)!.Content);
        }
        Run("""
            $global:q = Set-InstanceQuarantine -InstanceId $args[0] -CaseId $args[1] -ConversionWaitSeconds 0
            $global:snapshots = @($global:q | New-ForensicSnapshot -Wait)
            $global:finding = Get-GdFinding | Where-Object InstanceId -eq $args[0] | Select-Object -First 1
            $global:rows = @(Invoke-LakeQuery -Template InstancesListingBuckets -Path $args[2])
            """, InstanceId, CaseId, Path.Combine(_work, "AWSLogs"));
        Assert.NotEmpty(Run("$global:rows").Output);
        Assert.NotEmpty(Run("$global:snapshots").Output);
        Assert.Single(Run("$global:finding").Output);
    }

    private PSObject Export(string bundle)
    {
        var png = Path.Combine(_work, "console screenshot.png");
        File.WriteAllBytes(png, new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D });
        var result = _s.Run("""
            @($global:q; $global:snapshots; $global:finding; $global:rows) |
                Export-GdCaseEvidence -QueryName 'instances listing buckets' -Query @{ '../../escaped' = $global:rows } `
                    -ConsoleOutput 'PS> Set-InstanceQuarantine', 'Quarantined' -IncludePath $args[0] -Path $args[1] -Zip
            """, png, bundle);
        Assert.True(result.Terminating is null && result.Errors.Count == 0, result.Terminating?.ToString() ?? string.Join("\n", result.Errors));
        // The hostile query name was changed, and said so.
        Assert.Contains(result.Warnings, w => w.Message.Contains("../../escaped", StringComparison.Ordinal));
        return Assert.Single(result.Output);
    }

    private static List<(string Kind, string Path)> Problems(PSObject check) =>
        Prop<System.Collections.IEnumerable>(check, "Problems").Cast<object>().Select(PSObject.AsPSObject)
            .Select(p => ((string)p.Properties["Kind"].Value, (string)p.Properties["Path"].Value)).Order().ToList();

    [Fact]
    public void A_worked_case_is_bundled_with_every_kind_of_evidence_checked_valid_and_tampering_is_reported()
    {
        WorkTheCase();
        var outFolder = Path.Combine(_work, "out");
        var bundle = Export(Path.Combine(outFolder, "IR-EV-evidence"));
        var folder = Prop<string>(bundle, "Path");
        var zip = Prop<string>(bundle, "ZipPath");
        var files = Prop<System.Collections.IEnumerable>(bundle, "Files").Cast<object>().Select(f => (string)PSObject.AsPSObject(f).Properties["Path"].Value).ToList();
        _output.WriteLine($"bundle: {Prop<int>(bundle, "FileCount")} files, {Prop<long>(bundle, "TotalBytes")} bytes; zip {new FileInfo(zip).Length} bytes");

        // Nothing lands beside the bundle but its zip, whatever the names.
        Assert.Equal(new[] { folder, zip }.Order(), Directory.GetFileSystemEntries(outFolder).Order());
        foreach (var expected in new[] { "journal/case.json", "journal/journal.jsonl", "journal/journal.head.json", "findings/findings.json",
            "queries/instances_listing_buckets.csv", "queries/instances_listing_buckets.json", $"instances/{InstanceId}.json", "snapshots.json",
            "console/console.txt", "files/console_screenshot.png" })
            Assert.Contains(expected, files);
        Assert.Contains(files, f => f.StartsWith("queries/", StringComparison.Ordinal) && f.Contains("escaped", StringComparison.Ordinal) && f.EndsWith(".csv", StringComparison.Ordinal));
        Assert.All(files, f => Assert.Matches("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", f));
        Assert.Equal("PS> Set-InstanceQuarantine\nQuarantined\n", File.ReadAllText(Path.Combine(folder, "console", "console.txt")));
        var instance = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "instances", InstanceId + ".json")))!;
        Assert.NotNull(instance["descriptionBeforeContainment"]);
        Assert.Equal("Quarantined", (string?)instance["quarantine"]![0]!["Status"]);
        var snapshotIds = Run("$global:snapshots.SnapshotId").Output.Select(o => o.ToString()).Order().ToList();
        Assert.Equal(snapshotIds, JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "snapshots.json")))!.AsArray().Select(n => (string)n!["SnapshotId"]!).Order().ToList());
        Assert.Equal(Run("$global:rows.Count").Output.Single().BaseObject, JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "queries", "instances_listing_buckets.json")))!.AsArray().Count);

        // The journal records the manifest's hash; the bundled journal is the case's, intact with its key.
        var entry = LastEntry(CaseFolder);
        Assert.Equal(("Artifact", "Export-GdCaseEvidence"), ((string?)entry["kind"], (string?)entry["action"]));
        Assert.Equal(Prop<string>(bundle, "ManifestSha256"), (string?)entry["artifacts"]![0]!["sha256"]);
        Assert.Equal(Hex(File.ReadAllBytes(zip)), (string?)entry["artifacts"]![1]!["sha256"]);
        Assert.True(Prop<bool>(Run("Test-GdCaseJournal -Path $args[0]", Path.Combine(folder, "journal")).Output.Single(), "Valid"));

        var check = Run("$args[0] | Test-GdCaseEvidence", bundle).Output.Single();
        Assert.True(Prop<bool>(check, "Valid"), check.ToString());
        Assert.True(Prop<bool>(check, "JournalSignatureChecked"));
        Assert.True((bool)Run("Test-GdCaseEvidence -Path $args[0] -Quiet", zip).Output.Single().BaseObject);

        // One file changed, one removed, one added: each reported, in the folder and in the zip.
        File.AppendAllText(Path.Combine(folder, "instances", InstanceId + ".json"), " ");
        File.Delete(Path.Combine(folder, "files", "console_screenshot.png"));
        File.WriteAllText(Path.Combine(folder, "queries", "planted.csv"), "eventname\nNothingHappened\n");
        var tampered = Run("Test-GdCaseEvidence -Path $args[0]", folder).Output.Single();
        Assert.False(Prop<bool>(tampered, "Valid"));
        Assert.Equal(new[] { ("Changed", $"instances/{InstanceId}.json"), ("Extra", "queries/planted.csv"), ("Missing", "files/console_screenshot.png") }, Problems(tampered));

        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Update))
        {
            archive.GetEntry("console/console.txt")!.Delete();
            using (var w = new StreamWriter(archive.CreateEntry("console/console.txt").Open())) w.Write("PS> # nothing happened\n");
            archive.GetEntry("snapshots.json")!.Delete();
            using (var w = new StreamWriter(archive.CreateEntry("../../planted.txt").Open())) w.Write("x");
        }
        var zipped = Run("Test-GdCaseEvidence -Path $args[0]", zip).Output.Single();
        Assert.Equal(new[] { ("Changed", "console/console.txt"), ("Extra", "../../planted.txt"), ("Missing", "snapshots.json") }, Problems(zipped));
        Assert.False(File.Exists(Path.Combine(_work, "planted.txt")));
    }

    [Fact]
    public void Bad_input_is_refused_and_nothing_is_written_over_a_bundle()
    {
        var bundle = Path.Combine(_work, "out", "b1");
        Run("$null = Export-GdCaseEvidence -Path $args[0]", bundle);
        var entries = File.ReadAllLines(Path.Combine(CaseFolder, "journal.jsonl")).Length;
        var again = _s.Run("Export-GdCaseEvidence -Path $args[0]", bundle);
        Assert.Equal("EvidenceDestinationExists", again.SingleError().FullyQualifiedErrorId.Split(',')[0]);
        var missingFile = _s.Run("Export-GdCaseEvidence -Path $args[0] -IncludePath $args[1]", Path.Combine(_work, "out", "b2"), Path.Combine(_work, "no-such.png"));
        Assert.Equal("EvidenceFileNotFound", missingFile.SingleError().FullyQualifiedErrorId.Split(',')[0]);
        Assert.False(Directory.Exists(Path.Combine(_work, "out", "b2")));
        var notEvidence = _s.Run("Get-GdCase | Export-GdCaseEvidence -Path $args[0]", Path.Combine(_work, "out", "b3"));
        Assert.Equal("EvidenceInputNotSupported", notEvidence.SingleError().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(entries + 1, File.ReadAllLines(Path.Combine(CaseFolder, "journal.jsonl")).Length);
    }

    [Fact]
    public void Copy_GdCaseJournal_puts_the_journal_in_S3_with_its_SHA_256_checked_by_S3_and_WhatIf_uploads_nothing()
    {
        WorkTheCase();
        S3.EnsureBucket("ir-case-copies", _s.Lab.AccountId, _s.Lab.Region, DateTimeOffset.UtcNow);
        var entries = File.ReadAllLines(Path.Combine(CaseFolder, "journal.jsonl")).Length;

        _s.Lab.Counters.Reset();
        var whatIf = Run("Copy-GdCaseJournal -S3Uri s3://ir-case-copies/cases/ -WhatIf");
        Assert.Empty(whatIf.Output);
        Assert.Empty(S3.List("ir-case-copies"));
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalMutating);
        Assert.Equal(entries, File.ReadAllLines(Path.Combine(CaseFolder, "journal.jsonl")).Length);

        var refused = _s.Run("Copy-GdCaseJournal -S3Uri 's3://Not_A_Bucket/cases/'");
        Assert.Equal("InvalidBucketName", refused.SingleError().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalCalls);

        var copied = Run("Get-GdCase -Active | Copy-GdCaseJournal -S3Uri s3://ir-case-copies/cases/ -IncludeArtifacts").Output;
        var keys = copied.Select(o => Prop<string>(o, "Key")).ToList();
        Assert.Equal($"cases/{CaseId}/journal.head.json", keys[^1]);
        Assert.Contains($"cases/{CaseId}/journal.jsonl", keys);
        Assert.Contains($"cases/{CaseId}/case.json", keys);
        foreach (var o in copied)
        {
            var stored = S3.Get("ir-case-copies", Prop<string>(o, "Key"))!;
            var sha = SHA256.HashData(stored.Content);
            Assert.Equal(Convert.ToHexString(sha).ToLowerInvariant(), stored.Metadata["sha256"]);
            Assert.Equal(Convert.ToBase64String(sha), stored.ChecksumSha256);
            Assert.Equal(stored.ChecksumSha256, Prop<string>(o, "ChecksumSHA256"));
            Assert.Equal(stored.ETag, Prop<string>(o, "ETag"));
            Assert.Equal(CaseId, stored.Metadata["case-id"]);
            Assert.False(string.IsNullOrEmpty(Prop<string>(o, "RequestId")));
        }

        // The upload is journaled after it, with S3's request IDs.
        var entry = LastEntry(CaseFolder);
        Assert.Equal(("Change", "Copy-GdCaseJournal", "Uploaded"), ((string?)entry["kind"], (string?)entry["action"], (string?)entry["status"]));
        Assert.Equal(copied.Select(o => Prop<string>(o, "RequestId")).Order(), entry["requestIds"]!.AsArray().Select(n => (string)n!).Order());

        // The copy, downloaded, is an intact journal with the case's key.
        var download = Path.Combine(_work, "download");
        Directory.CreateDirectory(download);
        foreach (var name in new[] { "case.json", "journal.jsonl", "journal.head.json" })
            File.WriteAllBytes(Path.Combine(download, name), S3.Get("ir-case-copies", $"cases/{CaseId}/{name}")!.Content);
        var check = Run("Test-GdCaseJournal -Path $args[0] -KeyRoot $args[1]", download, Keys).Output.Single();
        Assert.True(Prop<bool>(check, "Valid"), check.ToString());
        Assert.Equal(entries, Prop<int>(check, "Entries"));
    }
}
