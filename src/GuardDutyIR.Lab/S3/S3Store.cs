using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Lab.S3;

/// <summary>One stored object. Content may be produced on first read so large scenario objects cost nothing until used.</summary>
public sealed class S3StoredObject
{
    private readonly Lazy<byte[]> _content;
    private readonly Lazy<string> _etag;

    public S3StoredObject(string key, Func<byte[]> content, long size, string contentType, DateTimeOffset lastModified, IReadOnlyDictionary<string, string>? metadata = null,
        string? checksumSha256 = null)
    {
        ChecksumSha256 = checksumSha256;
        Key = key;
        _content = new Lazy<byte[]>(content, LazyThreadSafetyMode.ExecutionAndPublication);
        _etag = new Lazy<string>(() => "\"" + Convert.ToHexString(MD5.HashData(_content.Value)).ToLowerInvariant() + "\"");
        Size = size;
        ContentType = contentType;
        LastModified = lastModified;
        Metadata = metadata ?? new Dictionary<string, string>();
    }

    public S3StoredObject(string key, byte[] content, string contentType, DateTimeOffset lastModified, IReadOnlyDictionary<string, string>? metadata = null,
        string? checksumSha256 = null)
        : this(key, () => content, content.LongLength, contentType, lastModified, metadata, checksumSha256) { }

    public string Key { get; }
    public byte[] Content => _content.Value;
    public long Size { get; }
    public string ContentType { get; }
    public DateTimeOffset LastModified { get; }
    /// <summary>The quoted MD5 hex digest, as S3 reports single-part uploads.</summary>
    public string ETag => _etag.Value;
    /// <summary>The base64 SHA-256 the upload declared (x-amz-checksum-sha256) and S3 checked; null when none was sent.</summary>
    public string? ChecksumSha256 { get; }
    /// <summary>x-amz-meta-* user metadata (names without the prefix).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
}

public sealed class S3Bucket
{
    public S3Bucket(string name, string ownerAccountId, string region, DateTimeOffset created)
    {
        Name = name;
        OwnerAccountId = ownerAccountId;
        Region = region;
        CreationDate = created;
    }

    public string Name { get; }
    public string OwnerAccountId { get; }
    public string Region { get; }
    public DateTimeOffset CreationDate { get; }
    /// <summary>Keys in ordinal (UTF-8 binary for ASCII) order, as ListObjectsV2 returns them.</summary>
    public SortedDictionary<string, S3StoredObject> Objects { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// The Lab's object storage, shared by the S3 wire service and by services that read S3 themselves
/// (GuardDuty fetching threat lists, CloudTrail delivering trail logs).
/// </summary>
public sealed partial class S3Store
{
    private readonly ConcurrentDictionary<string, S3Bucket> _buckets = new(StringComparer.Ordinal);

    public IReadOnlyCollection<S3Bucket> Buckets => _buckets.Values.OrderBy(b => b.Name, StringComparer.Ordinal).ToArray();

    public S3Bucket? Bucket(string name) => _buckets.TryGetValue(name, out var b) ? b : null;

    public bool TryCreateBucket(string name, string ownerAccountId, string region, DateTimeOffset created, out S3Bucket bucket)
    {
        var fresh = new S3Bucket(name, ownerAccountId, region, created);
        bucket = _buckets.GetOrAdd(name, fresh);
        return ReferenceEquals(bucket, fresh);
    }

    public S3Bucket EnsureBucket(string name, string ownerAccountId, string region, DateTimeOffset created)
    {
        TryCreateBucket(name, ownerAccountId, region, created, out var b);
        return b;
    }

    public bool DeleteBucket(string name) => _buckets.TryRemove(name, out _);

    public void Put(string bucket, S3StoredObject obj)
    {
        var b = Bucket(bucket) ?? throw new KeyNotFoundException("NoSuchBucket " + bucket);
        lock (b.Objects) b.Objects[obj.Key] = obj;
    }

    public S3StoredObject? Get(string bucket, string key)
    {
        var b = Bucket(bucket);
        if (b is null) return null;
        lock (b.Objects) return b.Objects.TryGetValue(key, out var o) ? o : null;
    }

    public bool Delete(string bucket, string key)
    {
        var b = Bucket(bucket);
        if (b is null) return false;
        lock (b.Objects) return b.Objects.Remove(key);
    }

    public IReadOnlyList<S3StoredObject> List(string bucket, string prefix = "")
    {
        var b = Bucket(bucket);
        if (b is null) return Array.Empty<S3StoredObject>();
        lock (b.Objects) return b.Objects.Values.Where(o => o.Key.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
    }

    /// <summary>
    /// Parses the location forms GuardDuty accepts for lists: https://s3.amazonaws.com/bucket/key,
    /// https://bucket.s3.amazonaws.com/key, regional variants of both, and s3://bucket/key.
    /// </summary>
    public static bool TryParseLocation(string location, out string bucket, out string key)
    {
        bucket = key = "";
        if (location.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            var rest = location[5..];
            int slash = rest.IndexOf('/');
            if (slash <= 0 || slash == rest.Length - 1) return false;
            bucket = rest[..slash];
            key = rest[(slash + 1)..];
            return true;
        }
        if (!Uri.TryCreate(location, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http")) return false;
        var host = uri.Host.ToLowerInvariant();
        var path = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        bool pathStyle = host == "s3.amazonaws.com" || (host.StartsWith("s3.", StringComparison.Ordinal) || host.StartsWith("s3-", StringComparison.Ordinal)) && host.EndsWith(".amazonaws.com", StringComparison.Ordinal);
        if (pathStyle)
        {
            int slash = path.IndexOf('/');
            if (slash <= 0 || slash == path.Length - 1) return false;
            bucket = path[..slash];
            key = path[(slash + 1)..];
            return true;
        }
        int s3 = host.IndexOf(".s3", StringComparison.Ordinal);
        if (s3 > 0 && host.EndsWith(".amazonaws.com", StringComparison.Ordinal) && path.Length > 0)
        {
            bucket = host[..s3];
            key = path;
            return true;
        }
        return false;
    }

    [GeneratedRegex(@"^s3://(?<bucket>[a-z0-9][.\-a-z0-9]{1,61}[a-z0-9])(?:/(?<prefix>.*))?$")]
    private static partial Regex S3UriPattern();

    /// <summary>s3://bucket[/prefix], the form CloudTrail Lake's DeliveryS3Uri and Athena's OutputLocation take; false when the bucket name is not valid.</summary>
    public static bool TryParseUri(string uri, out string bucket, out string prefix)
    {
        var m = S3UriPattern().Match(uri);
        bucket = m.Success ? m.Groups["bucket"].Value : "";
        prefix = m.Success ? m.Groups["prefix"].Value : "";
        return m.Success;
    }
}
