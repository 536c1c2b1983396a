using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace GuardDutyIR.Lab.Core;

public enum SigV4Failure
{
    None,
    MissingAuthentication,
    Malformed,
    UnknownAccessKey,
    InvalidSessionToken,
    ExpiredSessionToken,
    SignatureMismatch,
    RequestExpired,
}

/// <summary>Outcome of verifying one request.</summary>
public sealed record SigV4Result(SigV4Failure Failure, string Message, string? Service, string? Region, LabPrincipal? Principal, string? AccessKeyId)
{
    public bool Ok => Failure == SigV4Failure.None;
}

/// <summary>The parsed credential scope; the server routes on it even before the signature is checked.</summary>
public sealed record SigV4Scope(string AccessKeyId, string Date, string Region, string Service, bool Presigned);

/// <summary>
/// Full AWS Signature Version 4 verification, header and presigned-query forms, recomputing the signature
/// from the canonical request exactly as the SDK signers build it.
/// </summary>
public sealed class SigV4Verifier
{
    private readonly LabCredentialStore _credentials;
    private readonly TimeProvider _clock;

    /// <summary>AWS accepts requests whose X-Amz-Date is within 15 minutes of its own clock.</summary>
    public static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(15);

    public SigV4Verifier(LabCredentialStore credentials, TimeProvider clock)
    {
        _credentials = credentials;
        _clock = clock;
    }

    /// <summary>Reads the credential scope from the Authorization header or the X-Amz-Credential query parameter.</summary>
    public static SigV4Scope? ReadScope(IReadOnlyDictionary<string, string> headers, IReadOnlyList<KeyValuePair<string, string>> query)
    {
        string? credential = null;
        bool presigned = false;
        if (headers.TryGetValue("Authorization", out var auth) && auth.StartsWith("AWS4-HMAC-SHA256", StringComparison.Ordinal))
            credential = AuthField(auth, "Credential");
        else
        {
            foreach (var kv in query)
                if (kv.Key == "X-Amz-Credential") { credential = kv.Value; presigned = true; }
        }
        if (credential is null) return null;
        var parts = credential.Split('/');
        if (parts.Length != 5 || parts[4] != "aws4_request") return null;
        return new SigV4Scope(parts[0], parts[1], parts[2], parts[3], presigned);
    }

    public SigV4Result Verify(string method, string rawPathAndQuery, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        SplitUrl(rawPathAndQuery, out var rawPath, out var rawQuery);
        var query = ParseQuery(rawQuery);
        var scope = ReadScope(headers, query);
        if (scope is null)
        {
            bool hasAuth = headers.ContainsKey("Authorization") || query.Any(q => q.Key == "X-Amz-Credential");
            return Fail(hasAuth ? SigV4Failure.Malformed : SigV4Failure.MissingAuthentication,
                hasAuth ? "Authorization header requires 'Credential' parameter in the form AKID/date/region/service/aws4_request."
                        : "Request is missing Authentication Token", null);
        }

        string? signedHeadersText, signature, amzDate, token;
        if (scope.Presigned)
        {
            signedHeadersText = QueryValue(query, "X-Amz-SignedHeaders");
            signature = QueryValue(query, "X-Amz-Signature");
            amzDate = QueryValue(query, "X-Amz-Date");
            token = QueryValue(query, "X-Amz-Security-Token");
        }
        else
        {
            var auth = headers["Authorization"];
            signedHeadersText = AuthField(auth, "SignedHeaders");
            signature = AuthField(auth, "Signature");
            amzDate = headers.TryGetValue("X-Amz-Date", out var d) ? d : null;
            token = headers.TryGetValue("X-Amz-Security-Token", out var t) ? t : null;
        }
        if (signedHeadersText is null || signature is null || amzDate is null)
            return Fail(SigV4Failure.Malformed, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters and an X-Amz-Date.", scope);

        if (!DateTimeOffset.TryParseExact(amzDate, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var signedAt))
            return Fail(SigV4Failure.Malformed, $"Invalid X-Amz-Date '{amzDate}'.", scope);

        var principal = _credentials.Find(scope.AccessKeyId);
        if (principal is null)
            return Fail(SigV4Failure.UnknownAccessKey, "The security token included in the request is invalid.", scope);
        if (principal.SessionToken is not null && token != principal.SessionToken)
            return Fail(SigV4Failure.InvalidSessionToken, "The security token included in the request is invalid.", scope);
        if (principal.SessionToken is null && token is not null)
            return Fail(SigV4Failure.InvalidSessionToken, "The security token included in the request is invalid.", scope);

        var signedHeaders = signedHeadersText.Split(';');
        string payloadHash;
        if (headers.TryGetValue("x-amz-content-sha256", out var declared) && declared.Length > 0)
            payloadHash = declared; // literal, including UNSIGNED-PAYLOAD and STREAMING-* (the chunks carry their own signatures)
        else if (scope.Presigned && scope.Service == "s3")
            payloadHash = "UNSIGNED-PAYLOAD";
        else
            payloadHash = Hex(SHA256.HashData(body));

        var canonicalHeaders = new StringBuilder();
        foreach (var name in signedHeaders)
        {
            headers.TryGetValue(name, out var value);
            canonicalHeaders.Append(name.ToLowerInvariant()).Append(':').Append(NormalizeHeaderValue(value ?? "")).Append('\n');
        }

        var canonicalRequest = string.Join("\n",
            method,
            CanonicalUri(rawPath, scope.Service == "s3"),
            CanonicalQuery(query, scope.Presigned),
            canonicalHeaders.ToString(),
            signedHeadersText,
            payloadHash);

        var stringToSign = string.Join("\n",
            "AWS4-HMAC-SHA256",
            amzDate,
            $"{scope.Date}/{scope.Region}/{scope.Service}/aws4_request",
            Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest))));

        var key = SigningKey(principal.SecretAccessKey, scope.Date, scope.Region, scope.Service);
        var expected = Hex(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(signature.ToLowerInvariant())))
            return Fail(SigV4Failure.SignatureMismatch,
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
                scope, canonicalRequest);

        // Time checks come after the signature, as on AWS: a forged request must not learn about clock skew.
        var now = _clock.GetUtcNow();
        if (scope.Presigned)
        {
            var expires = int.TryParse(QueryValue(query, "X-Amz-Expires"), out var e) ? e : 900;
            if (now > signedAt.AddSeconds(expires))
                return Fail(SigV4Failure.RequestExpired, "Request has expired", scope);
            if (signedAt - now > MaxSkew)
                return Fail(SigV4Failure.RequestExpired, "Request is not valid yet", scope);
        }
        else if ((now - signedAt).Duration() > MaxSkew)
        {
            return Fail(SigV4Failure.RequestExpired,
                $"Signature expired: {amzDate} is now earlier than {now.Subtract(MaxSkew):yyyyMMdd'T'HHmmss'Z'} ({now:yyyyMMdd'T'HHmmss'Z'} - 15 min.)", scope);
        }
        if (scope.Date != signedAt.ToString("yyyyMMdd", CultureInfo.InvariantCulture))
            return Fail(SigV4Failure.SignatureMismatch, "Credential should be scoped to a valid date.", scope);
        if (_credentials.IsExpired(principal))
            return Fail(SigV4Failure.ExpiredSessionToken, "The security token included in the request is expired", scope);

        return new SigV4Result(SigV4Failure.None, "", scope.Service, scope.Region, principal, scope.AccessKeyId);
    }

    private static SigV4Result Fail(SigV4Failure failure, string message, SigV4Scope? scope, string? canonicalRequest = null)
    {
        _ = canonicalRequest;
        return new SigV4Result(failure, message, scope?.Service, scope?.Region, null, scope?.AccessKeyId);
    }

    public static byte[] SigningKey(string secret, string date, string region, string service)
    {
        var kDate = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secret), Encoding.UTF8.GetBytes(date));
        var kRegion = HMACSHA256.HashData(kDate, Encoding.UTF8.GetBytes(region));
        var kService = HMACSHA256.HashData(kRegion, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(kService, Encoding.UTF8.GetBytes("aws4_request"));
    }

    /// <summary>
    /// S3 signs the path as sent (single encoding). Every other service encodes each already-encoded segment once
    /// more, which is what the SDKs do ("double encoding"), so '%' becomes '%25' in the canonical URI.
    /// </summary>
    public static string CanonicalUri(string rawPath, bool singleEncode)
    {
        if (string.IsNullOrEmpty(rawPath)) return "/";
        if (singleEncode) return rawPath;
        var segments = rawPath.Split('/');
        return string.Join("/", segments.Select(s => UriEncode(s, encodeSlash: true)));
    }

    public static string CanonicalQuery(IReadOnlyList<KeyValuePair<string, string>> query, bool presigned)
    {
        return string.Join("&", query
            .Where(kv => !(presigned && kv.Key == "X-Amz-Signature"))
            .Select(kv => (Key: UriEncode(kv.Key, true), Value: UriEncode(kv.Value, true)))
            .OrderBy(kv => kv.Key, StringComparer.Ordinal).ThenBy(kv => kv.Value, StringComparer.Ordinal)
            .Select(kv => kv.Key + "=" + kv.Value));
    }

    /// <summary>RFC 3986 encoding as SigV4 defines it: unreserved characters stay, everything else is %XX upper-case.</summary>
    public static string UriEncode(string value, bool encodeSlash)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            char c = (char)b;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash))
                sb.Append(c);
            else
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>Query pairs decoded once (a '+' is a space in form encoding, but SDK signers always send %20).</summary>
    public static List<KeyValuePair<string, string>> ParseQuery(string rawQuery)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var pair in rawQuery.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var k = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var v = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            list.Add(new(k, v));
        }
        return list;
    }

    public static void SplitUrl(string rawPathAndQuery, out string rawPath, out string rawQuery)
    {
        var q = rawPathAndQuery.IndexOf('?');
        rawPath = q < 0 ? rawPathAndQuery : rawPathAndQuery[..q];
        rawQuery = q < 0 ? "" : rawPathAndQuery[(q + 1)..];
    }

    private static string NormalizeHeaderValue(string value)
    {
        var sb = new StringBuilder();
        bool space = false;
        foreach (var c in value.Trim())
        {
            if (c == ' ' || c == '\t') { if (!space) sb.Append(' '); space = true; }
            else { sb.Append(c); space = false; }
        }
        return sb.ToString();
    }

    private static string? QueryValue(IReadOnlyList<KeyValuePair<string, string>> query, string name)
    {
        foreach (var kv in query) if (kv.Key == name) return kv.Value;
        return null;
    }

    private static string? AuthField(string auth, string field)
    {
        var start = auth.IndexOf(field + "=", StringComparison.Ordinal);
        if (start < 0) return null;
        start += field.Length + 1;
        var end = auth.IndexOf(',', start);
        return (end < 0 ? auth[start..] : auth[start..end]).Trim();
    }

    public static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
