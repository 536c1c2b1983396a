using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Cases.Evidence;

/// <summary>
/// The bundle folder being written: every file is created new (nothing is ever overwritten), at a path checked to be
/// inside the folder, under a name no other file of the bundle has (compared without case, as Windows and macOS
/// compare), and is hashed as it is written.
/// </summary>
internal sealed class EvidenceFolder
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private readonly HashSet<string> _claimed = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<CaseEvidenceFile> _files = new();

    public EvidenceFolder(string root)
    {
        Root = Path.GetFullPath(root);
        if (File.Exists(Root) || Directory.Exists(Root) && Directory.EnumerateFileSystemEntries(Root).Any())
            throw new GuardDutyIRException("EvidenceDestinationExists", ErrorKind.ResourceExists,
                $"'{Root}' already exists and is not an empty folder; an evidence bundle is never written over anything.", Root);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }
    public IReadOnlyList<CaseEvidenceFile> Files => _files;
    public List<string> Warnings { get; } = new();

    /// <summary>A unique relative path in <paramref name="folder"/> for a name made safe from <paramref name="raw"/>.</summary>
    public string Claim(string folder, string? raw, string fallback, string extension = "")
    {
        var stem = EvidenceNames.Segment(raw, fallback);
        if (extension.Length > 0 && stem.EndsWith(extension, StringComparison.OrdinalIgnoreCase)) stem = stem[..^extension.Length];
        var prefix = folder.Length == 0 ? "" : folder + "/";
        var relative = prefix + stem + extension;
        for (var n = 2; !_claimed.Add(relative); n++) relative = $"{prefix}{stem}-{n}{extension}";
        var written = relative[(relative.LastIndexOf('/') + 1)..];
        if (raw is not null && written != raw && written != raw + extension) Warnings.Add($"'{raw}' is written as '{relative}'.");
        return relative;
    }

    public void Write(string relative, byte[] content) => Add(relative, target => target.Write(content));

    public void WriteJson(string relative, JsonNode? node) =>
        Write(relative, System.Text.Encoding.UTF8.GetBytes((node?.ToJsonString(Indented) ?? "null") + "\n"));

    /// <summary>Copies a file, streaming; returns its record.</summary>
    public CaseEvidenceFile Copy(string relative, string source, CancellationToken cancellationToken)
    {
        using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return Add(relative, target => input.CopyTo(target), cancellationToken);
    }

    private CaseEvidenceFile Add(string relative, Action<Stream> write, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _claimed.Add(relative);
        var full = EvidenceNames.Inside(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        using (var file = new FileStream(full, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            write(file);
            file.Flush(flushToDisk: true);
        }
        // Hashed as it lies on disk, which is what a later check reads.
        var stored = CaseRecords.FileArtifact(relative, full);
        var record = new CaseEvidenceFile(relative, stored.Sha256, stored.Length);
        _files.Add(record);
        return record;
    }
}
