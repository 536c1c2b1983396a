using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Amazon.S3;
using Amazon.S3.Model;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.S3;

namespace GuardDutyIR.Lab.Tests;

public sealed class S3Tests
{
    internal static AmazonS3Client Client(LabHost lab) => new(TestLab.Credentials(lab), new AmazonS3Config
    {
        ServiceURL = lab.Endpoint,
        ForcePathStyle = true,
        AuthenticationRegion = lab.Region,
        MaxErrorRetry = 0,
    });

    [Fact]
    public async Task Objects_RoundTrip_WithTheOfficialClient()
    {
        await using var lab = await TestLab.StartAsync("Empty", seed: 51);
        using var s3 = Client(lab);
        await s3.PutBucketAsync("ir-evidence-test");
        var dup = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.PutBucketAsync("ir-evidence-test"));
        Assert.Equal("BucketAlreadyOwnedByYou", dup.ErrorCode);
        Assert.Contains("ir-evidence-test", (await s3.ListBucketsAsync()).Buckets.Select(b => b.BucketName));

        var body = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("evidence line\n", 20000)));
        var put = await s3.PutObjectAsync(new PutObjectRequest { BucketName = "ir-evidence-test", Key = "cases/IR-42/console output.txt", InputStream = new MemoryStream(body), ContentType = "text/plain" });
        Assert.False(string.IsNullOrEmpty(put.ETag));
        using (var get = await s3.GetObjectAsync("ir-evidence-test", "cases/IR-42/console output.txt"))
        using (var ms = new MemoryStream())
        {
            await get.ResponseStream.CopyToAsync(ms);
            Assert.Equal(body, ms.ToArray());
            Assert.Equal("text/plain", get.Headers.ContentType);
        }
        var head = await s3.GetObjectMetadataAsync("ir-evidence-test", "cases/IR-42/console output.txt");
        Assert.Equal(body.Length, head.ContentLength);

        var noKey = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.GetObjectAsync("ir-evidence-test", "nope"));
        Assert.Equal("NoSuchKey", noKey.ErrorCode);
        var noBucket = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.GetObjectAsync("no-such-bucket-x", "k"));
        Assert.Equal("NoSuchBucket", noBucket.ErrorCode);

        await s3.DeleteObjectAsync("ir-evidence-test", "cases/IR-42/console output.txt");
        Assert.Equal("NoSuchKey", (await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.GetObjectAsync("ir-evidence-test", "cases/IR-42/console output.txt"))).ErrorCode);
    }

    [Fact]
    public async Task ListObjectsV2_PrefixDelimiterAndContinuation()
    {
        await using var lab = await TestLab.StartAsync("Empty", seed: 52);
        using var s3 = Client(lab);
        await s3.PutBucketAsync("list-test");
        var keys = new List<string>();
        for (int i = 0; i < 23; i++) keys.Add($"logs/2026/11/{i:D2}.json");
        keys.AddRange(new[] { "logs/2026/12/a.json", "logs/readme", "other/x" });
        foreach (var k in keys) await s3.PutObjectAsync(new PutObjectRequest { BucketName = "list-test", Key = k, ContentBody = k });

        var seen = new List<string>();
        string? token = null;
        int pages = 0;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "list-test", Prefix = "logs/2026/11/", MaxKeys = 5, ContinuationToken = token });
            seen.AddRange(page.S3Objects?.Select(o => o.Key) ?? Enumerable.Empty<string>());
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
            pages++;
        } while (token is not null);
        Assert.Equal(5, pages);
        Assert.Equal(keys.Where(k => k.StartsWith("logs/2026/11/", StringComparison.Ordinal)).Order(StringComparer.Ordinal), seen);

        var top = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "list-test", Prefix = "logs/", Delimiter = "/" });
        Assert.Equal(new[] { "logs/2026/" }, top.CommonPrefixes);
        Assert.Equal(new[] { "logs/readme" }, top.S3Objects.Select(o => o.Key));
    }

    [Fact]
    public async Task Seeded_ThreatList_AndTrailLogsInCloudTrailLayout()
    {
        await using var lab = await TestLab.StartAsync("Workshop", seed: 53);
        using var s3 = Client(lab);
        var w = lab.World;
        using (var tl = await s3.GetObjectAsync(w.ThreatListBucket, w.ThreatListKey))
        using (var reader = new StreamReader(tl.ResponseStream))
            Assert.Contains(w.MaliciousEip!, (await reader.ReadToEndAsync()).Split('\n'));

        var svc = lab.GetService<S3Service>()!;
        var listed = new List<S3Object>();
        string? token = null;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = svc.TrailBucket, Prefix = $"AWSLogs/{w.AccountId}/CloudTrail/", ContinuationToken = token });
            listed.AddRange(page.S3Objects);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token is not null);
        Assert.Equal(svc.TrailLogKeys.Count, listed.Count);
        Assert.All(listed, o => Assert.Matches($@"^AWSLogs/{w.AccountId}/CloudTrail/[a-z0-9-]+/\d{{4}}/\d{{2}}/\d{{2}}/{w.AccountId}_CloudTrail_[a-z0-9-]+_\d{{8}}T\d{{4}}Z_[A-Za-z0-9]{{16}}\.json\.gz$", o.Key));
        Assert.Contains(listed, o => o.Key.Contains("/us-west-2/", StringComparison.Ordinal));

        var ids = new List<string>();
        foreach (var o in listed)
        {
            using var get = await s3.GetObjectAsync(svc.TrailBucket, o.Key);
            using var gz = new GZipStream(get.ResponseStream, CompressionMode.Decompress);
            using var doc = await JsonDocument.ParseAsync(gz);
            foreach (var rec in doc.RootElement.GetProperty("Records").EnumerateArray())
            {
                Assert.Contains($"/{rec.GetProperty("awsRegion").GetString()}/", o.Key, StringComparison.Ordinal);
                ids.Add(rec.GetProperty("eventID").GetString()!);
            }
        }
        Assert.Equal(lab.GetService<CloudTrailService>()!.Database.Records.Select(r => r.EventId).Order(), ids.Order());
    }
}

/// <summary>What the SDK actually sends for uploads over plain HTTP (chunked payloads, flexible checksums).</summary>
public sealed class S3UploadWireTests
{
    [Fact]
    public async Task SdkUploads_WithChecksums_AreStoredByteExact()
    {
        await using var lab = await TestLab.StartAsync("Empty", seed: 54);
        using var s3 = S3Tests.Client(lab);
        await s3.PutBucketAsync("wire-test");
        var data = new byte[300_000];
        new Random(5).NextBytes(data);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = "wire-test", Key = "crc", InputStream = new MemoryStream(data), ChecksumAlgorithm = ChecksumAlgorithm.CRC32 });
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = "wire-test", Key = "plain", InputStream = new MemoryStream(data), UseChunkEncoding = false });
        Assert.Equal(data, lab.GetService<S3Service>()!.Store.Get("wire-test", "crc")!.Content);
        Assert.Equal(data, lab.GetService<S3Service>()!.Store.Get("wire-test", "plain")!.Content);
        using var get = await s3.GetObjectAsync(new GetObjectRequest { BucketName = "wire-test", Key = "crc", ChecksumMode = ChecksumMode.ENABLED });
        using var ms = new MemoryStream();
        await get.ResponseStream.CopyToAsync(ms); // the SDK validates the returned CRC32 while reading
        Assert.Equal(data, ms.ToArray());
    }

    /// <summary>
    /// An upload with its SHA-256 (x-amz-checksum-sha256, as a header or as the aws-chunked trailer the SDK sends over
    /// HTTP) is checked against the bytes received, refused with BadDigest when they differ, and the checksum is kept:
    /// PutObject answers it, HeadObject and GetObject return it with x-amz-checksum-mode ENABLED, beside the user
    /// metadata (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Sha256_checksums_are_checked_on_upload_and_kept_with_the_metadata(bool chunked)
    {
        await using var lab = await TestLab.StartAsync("Empty", seed: 55);
        using var s3 = S3Tests.Client(lab);
        await s3.PutBucketAsync("wire-sha");
        var data = Encoding.UTF8.GetBytes("{\"seq\":1}\n");
        var sha = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(data));
        var put = new PutObjectRequest
        {
            BucketName = "wire-sha", Key = "cases/IR-1/journal.jsonl", InputStream = new MemoryStream(data), UseChunkEncoding = chunked,
            ChecksumAlgorithm = ChecksumAlgorithm.SHA256, ChecksumSHA256 = sha,
        };
        put.Metadata.Add("sha256", "abc123");
        var response = await s3.PutObjectAsync(put);
        Assert.Equal(sha, response.ChecksumSHA256);

        var head = await s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = "wire-sha", Key = "cases/IR-1/journal.jsonl", ChecksumMode = ChecksumMode.ENABLED });
        Assert.Equal(sha, head.ChecksumSHA256);
        Assert.Equal("abc123", head.Metadata["sha256"]);
        using (var get = await s3.GetObjectAsync(new GetObjectRequest { BucketName = "wire-sha", Key = "cases/IR-1/journal.jsonl", ChecksumMode = ChecksumMode.ENABLED }))
            Assert.Equal(sha, get.ChecksumSHA256);

        // The SDK computing the checksum itself while it streams (the trailer form over HTTP): checked and kept the same way.
        var computed = new PutObjectRequest
        {
            BucketName = "wire-sha", Key = "cases/IR-1/case.json", InputStream = new MemoryStream(data), UseChunkEncoding = chunked, ChecksumAlgorithm = ChecksumAlgorithm.SHA256,
        };
        Assert.Equal(sha, (await s3.PutObjectAsync(computed)).ChecksumSHA256);
        Assert.Equal(sha, lab.GetService<S3Service>()!.Store.Get("wire-sha", "cases/IR-1/case.json")!.ChecksumSha256);

        // Bytes that are not the ones the checksum was made of are refused, and nothing is stored.
        var wrong = new PutObjectRequest
        {
            BucketName = "wire-sha", Key = "cases/IR-1/other.jsonl", InputStream = new MemoryStream(Encoding.UTF8.GetBytes("tampered\n")), UseChunkEncoding = chunked,
            ChecksumAlgorithm = ChecksumAlgorithm.SHA256, ChecksumSHA256 = sha,
        };
        var refused = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.PutObjectAsync(wrong));
        Assert.Equal("BadDigest", refused.ErrorCode);
        Assert.Null(lab.GetService<S3Service>()!.Store.Get("wire-sha", "cases/IR-1/other.jsonl"));
    }
}
