using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Lab.S3;

/// <summary>
/// S3 (rest-xml, path-style only: http://127.0.0.1:port/bucket/key). Buckets belong to the account that created them;
/// another account gets AccessDenied, as a bucket without a cross-account policy answers.
/// </summary>
public sealed partial class S3Service : ILabService
{
    public const string Xmlns = "http://s3.amazonaws.com/doc/2006-03-01/";
    private static readonly XNamespace Ns = Xmlns;
    private readonly LabContext _context;

    public S3Service(LabContext context)
    {
        _context = context;
    }

    public string SigningName => "s3";

    public S3Store Store { get; } = new();

    /// <summary>Bucket CloudTrail delivers the scenario's trail logs to (null before seeding or when there are no events).</summary>
    public string? TrailBucket { get; internal set; }
    /// <summary>Bucket the responder keeps evidence in.</summary>
    public string? EvidenceBucket { get; internal set; }
    /// <summary>Keys of the trail log files written at seeding.</summary>
    public IReadOnlyList<string> TrailLogKeys { get; internal set; } = Array.Empty<string>();

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketNamePattern();

    public Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken)
    {
        var path = request.RawPath.TrimStart('/');
        int slash = path.IndexOf('/');
        var bucket = Uri.UnescapeDataString(slash < 0 ? path : path[..slash]);
        var key = slash < 0 ? "" : Uri.UnescapeDataString(path[(slash + 1)..]);
        var (action, handler) = (request.Method, bucket.Length == 0, key.Length == 0) switch
        {
            ("GET", true, _) => ("ListBuckets", (Func<LabRequest, string, string, LabResponse>)ListBuckets),
            ("PUT", false, true) => ("CreateBucket", CreateBucket),
            ("HEAD", false, true) => ("HeadBucket", HeadBucket),
            ("DELETE", false, true) => ("DeleteBucket", DeleteBucket),
            ("GET", false, true) => (request.Query["list-type"] == "2" ? "ListObjectsV2" : request.Query["location"] is not null ? "GetBucketLocation" : "ListObjects", ListOrLocation),
            ("PUT", false, false) => ("PutObject", PutObject),
            ("GET", false, false) => ("GetObject", GetObject),
            ("HEAD", false, false) => ("HeadObject", HeadObject),
            ("DELETE", false, false) => ("DeleteObject", DeleteObject),
            _ => ("Unsupported", (Func<LabRequest, string, string, LabResponse>)((r, _, _) =>
                ProtocolErrors.S3(405, "MethodNotAllowed", "The specified method is not allowed against this resource.", r.RequestId))),
        };
        request.Action = action;
        request.Mutating = request.Method is "PUT" or "DELETE" or "POST";
        if (_context.IsDenied("s3", action))
            return Task.FromResult(ProtocolErrors.S3(403, "AccessDenied", "Access Denied", request.RequestId));
        return Task.FromResult(handler(request, bucket, key));
    }

    private LabResponse? CheckBucket(LabRequest r, string bucket, out S3Bucket b)
    {
        b = Store.Bucket(bucket)!;
        if (b is null)
            return r.Method == "HEAD"
                ? new LabResponse { StatusCode = 404, ContentType = "application/xml", ErrorCode = "NoSuchBucket" }
                : ProtocolErrors.S3(404, "NoSuchBucket", "The specified bucket does not exist", r.RequestId, "/" + bucket);
        if (b.OwnerAccountId != r.AccountId)
            return r.Method == "HEAD"
                ? new LabResponse { StatusCode = 403, ContentType = "application/xml", ErrorCode = "AccessDenied" }
                : ProtocolErrors.S3(403, "AccessDenied", "Access Denied", r.RequestId, "/" + bucket);
        return null;
    }

    private static LabResponse Xml(XElement root, string requestId, int status = 200)
    {
        var body = Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + root.ToString(SaveOptions.DisableFormatting));
        var resp = new LabResponse { StatusCode = status, ContentType = "application/xml", Body = body };
        resp.Headers["x-amz-request-id"] = requestId;
        return resp;
    }

    private static LabResponse Empty(LabRequest r, int status = 200)
    {
        var resp = new LabResponse { StatusCode = status, ContentType = "application/xml" };
        resp.Headers["x-amz-request-id"] = r.RequestId;
        return resp;
    }

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private LabResponse ListBuckets(LabRequest r, string _, string __)
    {
        var owned = Store.Buckets.Where(b => b.OwnerAccountId == r.AccountId).ToList();
        if (r.Query["prefix"] is { Length: > 0 } prefix) owned = owned.Where(b => b.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        var root = new XElement(Ns + "ListAllMyBucketsResult",
            new XElement(Ns + "Owner", new XElement(Ns + "ID", OwnerId(r.AccountId)), new XElement(Ns + "DisplayName", "lab-" + r.AccountId)),
            new XElement(Ns + "Buckets", owned.Select(b => new XElement(Ns + "Bucket",
                new XElement(Ns + "Name", b.Name), new XElement(Ns + "CreationDate", Iso(b.CreationDate)), new XElement(Ns + "BucketRegion", b.Region)))));
        return Xml(root, r.RequestId);
    }

    private static string OwnerId(string account) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes("s3-owner-" + account))).ToLowerInvariant();

    private LabResponse CreateBucket(LabRequest r, string bucket, string _)
    {
        if (!BucketNamePattern().IsMatch(bucket) || bucket.Contains("..", StringComparison.Ordinal))
            return ProtocolErrors.S3(400, "InvalidBucketName", "The specified bucket is not valid.", r.RequestId, "/" + bucket);
        var region = r.Region;
        if (r.Body.Length > 0)
        {
            try
            {
                var lc = XDocument.Parse(r.BodyText).Descendants().FirstOrDefault(e => e.Name.LocalName == "LocationConstraint")?.Value;
                if (!string.IsNullOrEmpty(lc)) region = lc;
            }
            catch (System.Xml.XmlException)
            {
                return ProtocolErrors.S3(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.", r.RequestId);
            }
        }
        if (!Store.TryCreateBucket(bucket, r.AccountId, region, _context.Clock.GetUtcNow(), out var existing))
        {
            // us-east-1 legacy behaviour answers 200 to a re-create by the owner; every other region (and the
            // documented contract) answers 409 BucketAlreadyOwnedByYou, which the Lab uses everywhere.
            return existing.OwnerAccountId == r.AccountId
                ? ProtocolErrors.S3(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", r.RequestId, "/" + bucket)
                : ProtocolErrors.S3(409, "BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.", r.RequestId, "/" + bucket);
        }
        var resp = Empty(r);
        resp.Headers["Location"] = "/" + bucket;
        return resp;
    }

    private LabResponse HeadBucket(LabRequest r, string bucket, string _)
    {
        if (CheckBucket(r, bucket, out var b) is { } err) return err;
        var resp = Empty(r);
        resp.Headers["x-amz-bucket-region"] = b.Region;
        return resp;
    }

    private LabResponse DeleteBucket(LabRequest r, string bucket, string _)
    {
        if (CheckBucket(r, bucket, out var b) is { } err) return err;
        lock (b.Objects)
            if (b.Objects.Count > 0)
                return ProtocolErrors.S3(409, "BucketNotEmpty", "The bucket you tried to delete is not empty", r.RequestId, "/" + bucket);
        Store.DeleteBucket(bucket);
        return Empty(r, 204);
    }

    private LabResponse ListOrLocation(LabRequest r, string bucket, string _)
    {
        if (CheckBucket(r, bucket, out var b) is { } err) return err;
        if (r.Query["location"] is not null)
            // us-east-1 is reported as an empty LocationConstraint (documented S3 quirk).
            return Xml(new XElement(Ns + "LocationConstraint", b.Region == "us-east-1" ? "" : b.Region), r.RequestId);
        bool v2 = r.Query["list-type"] == "2";
        var prefix = r.Query["prefix"] ?? "";
        var delimiter = r.Query["delimiter"];
        bool urlEncode = r.Query["encoding-type"] == "url";
        int maxKeys = 1000;
        if (r.Query["max-keys"] is { } mk && (!int.TryParse(mk, NumberStyles.Integer, CultureInfo.InvariantCulture, out maxKeys) || maxKeys < 0))
            return ProtocolErrors.S3(400, "InvalidArgument", "Provided max-keys not an integer or within integer range", r.RequestId);
        maxKeys = Math.Min(maxKeys, 1000);

        string? after = null;
        var token = r.Query["continuation-token"];
        if (v2 && token is not null)
        {
            try { after = Encoding.UTF8.GetString(Convert.FromBase64String(token)); }
            catch (FormatException) { return ProtocolErrors.S3(400, "InvalidArgument", "The continuation token provided is incorrect", r.RequestId); }
        }
        else if (v2 && r.Query["start-after"] is { } sa) after = sa;
        else if (!v2 && r.Query["marker"] is { } marker) after = marker;

        S3StoredObject[] all;
        lock (b.Objects) all = b.Objects.Values.ToArray();
        var contents = new List<S3StoredObject>();
        var prefixes = new List<string>();
        string? last = null;
        bool truncated = false;
        foreach (var o in all)
        {
            if (!o.Key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            if (after is not null && string.CompareOrdinal(o.Key, after) <= 0) continue;
            string? common = null;
            if (!string.IsNullOrEmpty(delimiter))
            {
                int idx = o.Key.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
                if (idx >= 0) common = o.Key[..(idx + delimiter.Length)];
            }
            // A common prefix already emitted (on this page or, via the token, on an earlier one) is not repeated.
            if (common is not null && (prefixes.Count > 0 && prefixes[^1] == common || after is not null && after.StartsWith(common, StringComparison.Ordinal))) continue;
            if (contents.Count + prefixes.Count >= maxKeys) { truncated = true; break; }
            if (common is not null) { prefixes.Add(common); last = common + "\uffff"; }
            else { contents.Add(o); last = o.Key; }
        }

        string Enc(string s) => urlEncode ? Uri.EscapeDataString(s).Replace("%2F", "/", StringComparison.Ordinal) : s;
        var root = new XElement(Ns + "ListBucketResult",
            new XElement(Ns + "Name", bucket),
            new XElement(Ns + "Prefix", Enc(prefix)),
            delimiter is null ? null : new XElement(Ns + "Delimiter", Enc(delimiter)),
            new XElement(Ns + "MaxKeys", maxKeys),
            urlEncode ? new XElement(Ns + "EncodingType", "url") : null,
            new XElement(Ns + "IsTruncated", truncated ? "true" : "false"));
        if (v2)
        {
            root.Add(new XElement(Ns + "KeyCount", contents.Count + prefixes.Count));
            if (token is not null) root.Add(new XElement(Ns + "ContinuationToken", token));
            if (truncated && last is not null) root.Add(new XElement(Ns + "NextContinuationToken", Convert.ToBase64String(Encoding.UTF8.GetBytes(last))));
            if (r.Query["start-after"] is { } startAfter) root.Add(new XElement(Ns + "StartAfter", Enc(startAfter)));
        }
        else
        {
            root.Add(new XElement(Ns + "Marker", r.Query["marker"] ?? ""));
            if (truncated && last is not null && delimiter is not null) root.Add(new XElement(Ns + "NextMarker", last.TrimEnd('\uffff')));
        }
        bool fetchOwner = !v2 || r.Query["fetch-owner"] == "true";
        foreach (var o in contents)
            root.Add(new XElement(Ns + "Contents",
                new XElement(Ns + "Key", Enc(o.Key)),
                new XElement(Ns + "LastModified", Iso(o.LastModified)),
                new XElement(Ns + "ETag", o.ETag),
                new XElement(Ns + "Size", o.Size),
                fetchOwner ? new XElement(Ns + "Owner", new XElement(Ns + "ID", OwnerId(b.OwnerAccountId)), new XElement(Ns + "DisplayName", "lab-" + b.OwnerAccountId)) : null,
                new XElement(Ns + "StorageClass", "STANDARD")));
        foreach (var p in prefixes)
            root.Add(new XElement(Ns + "CommonPrefixes", new XElement(Ns + "Prefix", Enc(p))));
        return Xml(root, r.RequestId);
    }

    private LabResponse PutObject(LabRequest r, string bucket, string key)
    {
        if (CheckBucket(r, bucket, out _) is { } err) return err;
        if (Encoding.UTF8.GetByteCount(key) > 1024)
            return ProtocolErrors.S3(400, "KeyTooLongError", "Your key is too long", r.RequestId);
        var body = r.Body;
        if (r.Headers.TryGetValue("Content-MD5", out var md5) && md5 != Convert.ToBase64String(MD5.HashData(body)))
            return ProtocolErrors.S3(400, "BadDigest", "The Content-MD5 you specified did not match what we received.", r.RequestId);
        var crc = Convert.ToBase64String(Crc32.Hash(body));
        if (r.Headers.TryGetValue("x-amz-checksum-crc32", out var declaredCrc) && declaredCrc != crc)
            return ProtocolErrors.S3(400, "BadDigest", "The CRC32 you specified did not match the calculated checksum.", r.RequestId);
        string? sha256 = null;
        if (r.Headers.TryGetValue("x-amz-checksum-sha256", out var declaredSha))
        {
            sha256 = Convert.ToBase64String(SHA256.HashData(body));
            if (declaredSha != sha256)
                return ProtocolErrors.S3(400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.", r.RequestId);
        }
        var meta = r.Headers.Where(h => h.Key.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(h => h.Key[11..].ToLowerInvariant(), h => h.Value, StringComparer.Ordinal);
        var contentType = r.Headers.TryGetValue("Content-Type", out var ct) && ct.Length > 0 ? ct : "binary/octet-stream";
        var obj = new S3StoredObject(key, body, contentType, _context.Clock.GetUtcNow(), meta, sha256);
        Store.Put(bucket, obj);
        var resp = Empty(r);
        resp.Headers["ETag"] = obj.ETag;
        // S3 answers with the checksum it checked: the SHA-256 when one was sent, else the CRC32.
        if (sha256 is not null) resp.Headers["x-amz-checksum-sha256"] = sha256;
        else if (WantsChecksum(r)) resp.Headers["x-amz-checksum-crc32"] = crc;
        return resp;
    }

    private static bool WantsChecksum(LabRequest r) =>
        r.Headers.ContainsKey("x-amz-checksum-crc32") || r.Headers.ContainsKey("x-amz-sdk-checksum-algorithm") ||
        r.Headers.TryGetValue("x-amz-trailer", out var t) && t.Contains("crc32", StringComparison.OrdinalIgnoreCase);

    private LabResponse GetObject(LabRequest r, string bucket, string key) => ReadObject(r, bucket, key, includeBody: true);

    private LabResponse HeadObject(LabRequest r, string bucket, string key) => ReadObject(r, bucket, key, includeBody: false);

    private LabResponse ReadObject(LabRequest r, string bucket, string key, bool includeBody)
    {
        if (CheckBucket(r, bucket, out _) is { } err) return err;
        var obj = Store.Get(bucket, key);
        if (obj is null)
            return includeBody
                ? ProtocolErrors.S3(404, "NoSuchKey", "The specified key does not exist.", r.RequestId, "/" + bucket + "/" + key)
                : new LabResponse { StatusCode = 404, ContentType = "application/xml", ErrorCode = "NotFound" };
        if (r.Headers.TryGetValue("If-None-Match", out var inm) && inm == obj.ETag)
            return new LabResponse { StatusCode = 304, ContentType = obj.ContentType };
        var content = obj.Content;
        int status = 200;
        long from = 0, to = content.LongLength - 1;
        if (r.Headers.TryGetValue("Range", out var range) && range.StartsWith("bytes=", StringComparison.Ordinal) && content.Length > 0)
        {
            var spec = range[6..].Split('-');
            if (spec.Length == 2 && (spec[0].Length > 0 || spec[1].Length > 0))
            {
                if (spec[0].Length == 0) from = Math.Max(0, content.LongLength - long.Parse(spec[1], CultureInfo.InvariantCulture));
                else
                {
                    from = long.Parse(spec[0], CultureInfo.InvariantCulture);
                    if (spec[1].Length > 0) to = Math.Min(to, long.Parse(spec[1], CultureInfo.InvariantCulture));
                }
                if (from >= content.LongLength)
                    return ProtocolErrors.S3(416, "InvalidRange", "The requested range is not satisfiable", r.RequestId);
                status = 206;
            }
        }
        var slice = status == 206 ? content[(int)from..(int)(to + 1)] : content;
        var resp = new LabResponse { StatusCode = status, ContentType = obj.ContentType, Body = includeBody ? slice : Array.Empty<byte>() };
        resp.Headers["x-amz-request-id"] = r.RequestId;
        resp.Headers["ETag"] = obj.ETag;
        resp.Headers["Last-Modified"] = obj.LastModified.UtcDateTime.ToString("R", CultureInfo.InvariantCulture);
        resp.Headers["Accept-Ranges"] = "bytes";
        if (!includeBody) resp.Headers["Content-Length"] = slice.LongLength.ToString(CultureInfo.InvariantCulture);
        if (status == 206) resp.Headers["Content-Range"] = $"bytes {from}-{to}/{content.LongLength}";
        if (r.Headers.TryGetValue("x-amz-checksum-mode", out var mode) && mode.Equals("ENABLED", StringComparison.OrdinalIgnoreCase) && status == 200)
        {
            if (obj.ChecksumSha256 is { } stored) resp.Headers["x-amz-checksum-sha256"] = stored;
            else resp.Headers["x-amz-checksum-crc32"] = Convert.ToBase64String(Crc32.Hash(content));
        }
        foreach (var (k, v) in obj.Metadata) resp.Headers["x-amz-meta-" + k] = v;
        return resp;
    }

    private LabResponse DeleteObject(LabRequest r, string bucket, string key)
    {
        if (CheckBucket(r, bucket, out _) is { } err) return err;
        // Deleting a missing key succeeds (S3 is idempotent here).
        Store.Delete(bucket, key);
        return Empty(r, 204);
    }
}

/// <summary>CRC-32 (IEEE 802.3), big-endian bytes as S3's x-amz-checksum-crc32 carries them (base64).</summary>
internal static class Crc32
{
    private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    public static byte[] Hash(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        crc ^= 0xFFFFFFFFu;
        return new[] { (byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc };
    }
}
