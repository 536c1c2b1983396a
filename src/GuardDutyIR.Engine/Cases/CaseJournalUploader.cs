using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Engine.ThreatLists;

namespace GuardDutyIR.Engine.Cases;

/// <summary>One object to upload: its key, bytes and SHA-256.</summary>
public sealed record CaseJournalUpload(string Key, byte[] Content, string ContentType)
{
    public byte[] Sha256 { get; } = SHA256.HashData(Content);
    public string Sha256Hex => Convert.ToHexString(Sha256).ToLowerInvariant();
}

/// <summary>
/// Copies a case's journal off the machine, to S3: case.json, journal.jsonl and journal.head.json (and, when asked,
/// the artifacts) under &lt;prefix&gt;&lt;case folder&gt;/. Each object carries its SHA-256 twice: as S3's own
/// ChecksumSHA256, which S3 checks on receipt and refuses the upload (BadDigest) when the bytes differ
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html), and as x-amz-meta-sha256 in
/// the hex form the journal and manifests use. The head goes last, so a copy cut short never has a head that vouches
/// for entries its journal lacks.
/// </summary>
public sealed class CaseJournalUploader(AwsSession session)
{
    /// <summary>Bucket and key prefix ("" or ending in '/') of s3://bucket[/prefix[/]].</summary>
    public static (string Bucket, string Prefix) ParseS3Uri(string uri)
    {
        if (!uri.StartsWith("s3://", StringComparison.Ordinal))
            throw new GuardDutyIRException("InvalidS3Uri", ErrorKind.InvalidArgument, $"'{uri}' is not an s3://bucket/prefix/ URI.", uri);
        var rest = uri[5..];
        var slash = rest.IndexOf('/');
        var bucket = ThreatListLocation.ValidateBucket(slash < 0 ? rest : rest[..slash]);
        var prefix = slash < 0 ? "" : rest[(slash + 1)..];
        if (prefix.Length > 0 && !prefix.EndsWith('/')) prefix += "/";
        if (prefix.Length > 0) ThreatListLocation.ValidateKey(prefix.TrimEnd('/'));
        return (bucket, prefix);
    }

    /// <summary>What to upload for the case, read as one consistent journal and head.</summary>
    public static IReadOnlyList<CaseJournalUpload> Plan(CaseHandle handle, string prefix, bool includeArtifacts, CancellationToken cancellationToken = default)
    {
        var folder = prefix + CaseFolders.FolderName(handle.CaseId) + "/";
        var (journal, head) = handle.Journal.Snapshot(cancellationToken);
        var objects = new List<CaseJournalUpload>
        {
            new(folder + CaseStore.CaseFile, File.ReadAllBytes(Path.Combine(handle.Folder, CaseStore.CaseFile)), "application/json"),
            new(folder + CaseJournal.JournalFile, journal, "application/x-ndjson"),
        };
        if (includeArtifacts && Directory.Exists(handle.ArtifactFolder))
            foreach (var file in Directory.EnumerateFiles(handle.ArtifactFolder).Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
                objects.Add(new(folder + "artifacts/" + Path.GetFileName(file), File.ReadAllBytes(file), "application/octet-stream"));
        if (head is not null) objects.Add(new(folder + CaseJournal.HeadFile, head, "application/json"));
        foreach (var o in objects) ThreatListLocation.ValidateKey(o.Key);
        return objects;
    }

    public async Task<IReadOnlyList<CaseJournalObject>> UploadAsync(string region, CaseHandle handle, string bucket, IReadOnlyList<CaseJournalUpload> objects,
        CancellationToken cancellationToken = default)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var s3 = session.S3(region);
        var written = new List<CaseJournalObject>();
        foreach (var o in objects) written.Add(await PutAsync(s3, region, handle, bucket, o, cancellationToken).ConfigureAwait(false));
        return written;
    }

    private static async Task<CaseJournalObject> PutAsync(IAmazonS3 s3, string region, CaseHandle handle, string bucket, CaseJournalUpload o, CancellationToken cancellationToken)
    {
        var checksum = Convert.ToBase64String(o.Sha256);
        var request = new PutObjectRequest
        {
            BucketName = bucket,
            Key = o.Key,
            InputStream = new MemoryStream(o.Content, writable: false),
            ContentType = o.ContentType,
            ChecksumAlgorithm = ChecksumAlgorithm.SHA256,
            ChecksumSHA256 = checksum,
        };
        request.Metadata.Add("sha256", o.Sha256Hex);
        request.Metadata.Add("case-id", handle.CaseId);
        request.Metadata.Add("case-uid", handle.CaseUid);
        PutObjectResponse response;
        try
        {
            response = await s3.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonServiceException e)
        {
            throw AwsErrors.Translate(e, "S3", "PutObject", $"s3://{bucket}/{o.Key}");
        }
        if (!string.IsNullOrEmpty(response.ChecksumSHA256) && response.ChecksumSHA256 != checksum)
            throw new GuardDutyIRException("S3ChecksumMismatch", ErrorKind.InvalidData,
                $"S3 stored s3://{bucket}/{o.Key} with SHA-256 {response.ChecksumSHA256}; the upload's is {checksum}.", $"s3://{bucket}/{o.Key}");
        return new CaseJournalObject
        {
            CaseId = handle.CaseId,
            Bucket = bucket,
            Key = o.Key,
            Length = o.Content.LongLength,
            Sha256 = o.Sha256Hex,
            ChecksumSHA256 = string.IsNullOrEmpty(response.ChecksumSHA256) ? null : response.ChecksumSHA256,
            ETag = response.ETag,
            VersionId = string.IsNullOrEmpty(response.VersionId) ? null : response.VersionId,
            RequestId = response.ResponseMetadata?.RequestId,
            ExtendedRequestId = response.ResponseMetadata?.Metadata is { } meta && meta.TryGetValue("x-amz-id-2", out var id2) ? id2 : null,
            Region = region,
        };
    }
}
