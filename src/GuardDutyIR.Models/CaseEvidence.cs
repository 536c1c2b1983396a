namespace GuardDutyIR;

/// <summary>One file of an evidence bundle, as its manifest lists it.</summary>
public sealed class CaseEvidenceFile
{
    public CaseEvidenceFile(string path, string sha256, long length)
    {
        Path = path;
        Sha256 = sha256;
        Length = length;
    }

    /// <summary>The file's path inside the bundle, with '/' separators.</summary>
    public string Path { get; }
    /// <summary>Lower-case hex SHA-256 of the file's bytes.</summary>
    public string Sha256 { get; }
    public long Length { get; }
    public override string ToString() => $"{Sha256}  {Path}";
}

/// <summary>What Export-GdCaseEvidence wrote: a folder (and a zip of it) with a manifest of SHA-256 hashes.</summary>
public sealed class CaseEvidenceBundle
{
    public string CaseId { get; internal init; } = "";
    /// <summary>The bundle folder.</summary>
    public string Path { get; internal init; } = "";
    /// <summary>The zip of the folder, with -Zip.</summary>
    public string? ZipPath { get; internal init; }
    public string? ZipSha256 { get; internal init; }
    public DateTime CreatedAt { get; internal init; }
    /// <summary>Every file the manifest lists (the manifest files themselves are not in it).</summary>
    public IReadOnlyList<CaseEvidenceFile> Files { get; internal init; } = Array.Empty<CaseEvidenceFile>();
    public int FileCount => Files.Count;
    /// <summary>The bytes of the listed files.</summary>
    public long TotalBytes => Files.Sum(f => f.Length);
    /// <summary>SHA-256 of manifest.json, also written to the case journal as an Artifact entry.</summary>
    public string ManifestSha256 { get; internal init; } = "";
    /// <summary>The journal entries the bundle's copy of the journal holds (the entry recording the bundle comes after them).</summary>
    public long JournalEntries { get; internal init; }
    /// <summary>What was not taken as given (a Save-InstanceEvidence file changed since it was captured, a duplicate name).</summary>
    public IReadOnlyList<string> Warnings { get; internal init; } = Array.Empty<string>();
    public override string ToString() => ZipPath ?? Path;
}

/// <summary>One thing Test-GdCaseEvidence found wrong.</summary>
public sealed class CaseEvidenceProblem
{
    public CaseEvidenceProblem(string kind, string? path, string detail)
    {
        Kind = kind;
        Path = path;
        Detail = detail;
    }

    /// <summary>Missing, Extra, Changed, ManifestInvalid, ManifestMismatch, UnsafePath or Journal (a problem of the bundled journal).</summary>
    public string Kind { get; }
    /// <summary>The file inside the bundle, when the problem is about one.</summary>
    public string? Path { get; }
    public string Detail { get; }
    public override string ToString() => $"{Kind}{(Path is null ? "" : " " + Path)}: {Detail}";
}

/// <summary>The verdict of Test-GdCaseEvidence on one bundle.</summary>
public sealed class CaseEvidenceCheck
{
    public string? CaseId { get; internal init; }
    /// <summary>The bundle folder or zip checked.</summary>
    public string Path { get; internal init; } = "";
    public bool Valid => Problems.Count == 0;
    /// <summary>Files the manifest lists.</summary>
    public int Files { get; internal init; }
    public string? ManifestSha256 { get; internal init; }
    /// <summary>The check of the bundled journal (chain, and the signed head when the key was at hand).</summary>
    public CaseJournalCheck? Journal { get; internal init; }
    /// <summary>True when the journal head's signature was checked with the case's key.</summary>
    public bool JournalSignatureChecked { get; internal init; }
    public IReadOnlyList<CaseEvidenceProblem> Problems { get; internal init; } = Array.Empty<CaseEvidenceProblem>();
    public override string ToString() => Valid ? $"{Path}: {Files} files intact" : $"{Path}: {string.Join("; ", Problems)}";
}

/// <summary>One object Copy-GdCaseJournal wrote to S3.</summary>
public sealed class CaseJournalObject
{
    public string CaseId { get; internal init; } = "";
    public string Bucket { get; internal init; } = "";
    public string Key { get; internal init; } = "";
    public string S3Uri => $"s3://{Bucket}/{Key}";
    public long Length { get; internal init; }
    /// <summary>Lower-case hex SHA-256 of the object (also in its x-amz-meta-sha256 metadata).</summary>
    public string Sha256 { get; internal init; } = "";
    /// <summary>The base64 SHA-256 S3 checked the upload against and stored with the object.</summary>
    public string? ChecksumSHA256 { get; internal init; }
    public string? ETag { get; internal init; }
    /// <summary>The object's version, in a bucket with versioning.</summary>
    public string? VersionId { get; internal init; }
    public string? RequestId { get; internal init; }
    /// <summary>S3's extended request ID (x-amz-id-2), which AWS Support asks for with the request ID.</summary>
    public string? ExtendedRequestId { get; internal init; }
    public string Region { get; internal init; } = "";
    public override string ToString() => S3Uri;
}
