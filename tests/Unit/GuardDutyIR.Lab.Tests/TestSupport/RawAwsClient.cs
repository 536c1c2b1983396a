using System.Globalization;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Lab.Tests.TestSupport;

/// <summary>A wire response with its parsed JSON body (when it has one).</summary>
public sealed record RawResponse(int Status, string Body, IReadOnlyDictionary<string, string> Headers)
{
    public JsonObject Json => JsonNode.Parse(Body) as JsonObject ?? throw new InvalidOperationException("Body is not a JSON object: " + Body);
    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// Signs requests with SigV4 (written from the AWS documentation) for services with no AWSSDK package in our feed:
/// GuardDuty (rest-json), CloudTrail, Athena and EventBridge (json-1.1), SNS (query). Sends to the Lab on 127.0.0.1 only.
/// </summary>
public sealed class RawAwsClient : IDisposable
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly Uri _endpoint;

    public RawAwsClient(LabHost lab, string? accessKey = null, string? secret = null, string? sessionToken = null, string? region = null)
        : this(lab.Endpoint, accessKey ?? lab.AccessKeyId, secret ?? lab.SecretAccessKey, sessionToken, region ?? lab.Region) { }

    public RawAwsClient(string endpoint, string accessKey, string secret, string? sessionToken, string region)
    {
        _endpoint = new Uri(endpoint);
        if (_endpoint.Host != "127.0.0.1") throw new ArgumentException("The Lab client only talks to 127.0.0.1.", nameof(endpoint));
        AccessKey = accessKey;
        Secret = secret;
        SessionToken = sessionToken;
        Region = region;
    }

    public string AccessKey { get; }
    public string Secret { get; }
    public string? SessionToken { get; }
    public string Region { get; }

    /// <summary>A json-1.1 call (CloudTrail: target prefix com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101., Athena: AmazonAthena.).</summary>
    public Task<RawResponse> Json11Async(string service, string target, JsonObject? body = null) =>
        SendAsync(service, HttpMethod.Post, "/", "", Encoding.UTF8.GetBytes((body ?? new JsonObject()).ToJsonString()),
            new Dictionary<string, string> { ["Content-Type"] = "application/x-amz-json-1.1", ["X-Amz-Target"] = target });

    public Task<RawResponse> CloudTrailAsync(string op, JsonObject? body = null) =>
        Json11Async("cloudtrail", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101." + op, body);

    public Task<RawResponse> AthenaAsync(string op, JsonObject? body = null) => Json11Async("athena", "AmazonAthena." + op, body);

    public Task<RawResponse> EventsAsync(string op, JsonObject? body = null) => Json11Async("events", "AWSEvents." + op, body);

    /// <summary>A GuardDuty rest-json call; <paramref name="query"/> is "k=v&amp;k2=v2" (unencoded values).</summary>
    public Task<RawResponse> GuardDutyAsync(HttpMethod method, string path, JsonObject? body = null, string query = "") =>
        SendAsync("guardduty", method, path, query, body is null ? Array.Empty<byte>() : Encoding.UTF8.GetBytes(body.ToJsonString()),
            body is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["Content-Type"] = "application/json" });

    /// <summary>An awsQuery call (SNS, STS): form pairs in order.</summary>
    public Task<RawResponse> QueryAsync(string service, params (string Key, string Value)[] form)
    {
        var text = string.Join("&", form.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value)));
        return SendAsync(service, HttpMethod.Post, "/", "", Encoding.UTF8.GetBytes(text),
            new Dictionary<string, string> { ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8" });
    }

    public async Task<RawResponse> SendAsync(string service, HttpMethod method, string path, string query, byte[] body, IReadOnlyDictionary<string, string> extraHeaders)
    {
        var now = DateTime.UtcNow;
        var amzDate = now.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var date = now.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var host = _endpoint.Authority;
        var canonicalPath = string.Join("/", path.Split('/').Select(s => Uri.EscapeDataString(Uri.UnescapeDataString(s))));
        var pairs = query.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Select(p => (K: Uri.EscapeDataString(p[0]), V: Uri.EscapeDataString(p.Length > 1 ? p[1] : "")))
            .OrderBy(p => p.K, StringComparer.Ordinal).ThenBy(p => p.V, StringComparer.Ordinal).ToList();
        var canonicalQuery = string.Join("&", pairs.Select(p => p.K + "=" + p.V));
        var payloadHash = Hex(SHA256.HashData(body));
        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = host,
            ["x-amz-content-sha256"] = payloadHash,
            ["x-amz-date"] = amzDate,
        };
        foreach (var (k, v) in extraHeaders) headers[k.ToLowerInvariant()] = v.Trim();
        if (SessionToken is not null) headers["x-amz-security-token"] = SessionToken;
        var signedHeaders = string.Join(";", headers.Keys);
        var canonical = $"{method.Method}\n{canonicalPath}\n{canonicalQuery}\n{string.Concat(headers.Select(h => h.Key + ":" + h.Value + "\n"))}\n{signedHeaders}\n{payloadHash}";
        var scope = $"{date}/{Region}/{service}/aws4_request";
        var toSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";
        var key = Hmac(Hmac(Hmac(Hmac(Encoding.UTF8.GetBytes("AWS4" + Secret), date), Region), service), "aws4_request");
        var signature = Hex(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(toSign)));

        var url = new Uri(_endpoint, canonicalPath + (canonicalQuery.Length > 0 ? "?" + canonicalQuery : ""));
        using var req = new HttpRequestMessage(method, url);
        if (body.Length > 0 || method != HttpMethod.Get)
        {
            req.Content = new ByteArrayContent(body);
            if (headers.TryGetValue("content-type", out var ct)) req.Content.Headers.TryAddWithoutValidation("Content-Type", ct);
        }
        foreach (var (k, v) in headers)
            if (k is not ("host" or "content-type")) req.Headers.TryAddWithoutValidation(k, v);
        req.Headers.TryAddWithoutValidation("Authorization", $"AWS4-HMAC-SHA256 Credential={AccessKey}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}");
        using var resp = await s_http.SendAsync(req).ConfigureAwait(false);
        var text = await resp.Content.ReadAsStringAsync().ConfigureAwait(false);
        var hdrs = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var h in resp.Headers) hdrs[h.Key] = string.Join(",", h.Value);
        foreach (var h in resp.Content.Headers) hdrs[h.Key] = string.Join(",", h.Value);
        return new RawResponse((int)resp.StatusCode, text, hdrs);
    }

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));
    private static string Hex(byte[] b) => Convert.ToHexString(b).ToLowerInvariant();

    public void Dispose() { }
}

/// <summary>Recursive member-name sets, for comparing the Lab's responses with the AWS templates.</summary>
public static class Shape
{
    /// <summary>Dotted paths of every member (list elements merged under "[]"), values and list lengths ignored.</summary>
    public static SortedSet<string> Json(JsonNode? node, string prefix = "")
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        Walk(node, prefix, set);
        return set;
    }

    private static void Walk(JsonNode? node, string prefix, SortedSet<string> set)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o) { var p = prefix.Length == 0 ? k : prefix + "." + k; set.Add(p); Walk(v, p, set); }
                break;
            case JsonArray a:
                foreach (var v in a) Walk(v, prefix + "[]", set);
                break;
        }
    }

    /// <summary>Asserts equal name sets, reporting the names missing on each side.</summary>
    public static void AssertSame(SortedSet<string> expected, SortedSet<string> actual)
    {
        var missing = expected.Except(actual).ToList();
        var extra = actual.Except(expected).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0, $"missing: [{string.Join(", ", missing)}] extra: [{string.Join(", ", extra)}]");
    }

    public static SortedSet<string> Xml(System.Xml.Linq.XElement e, string prefix = "")
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var c in e.Elements())
        {
            var p = (prefix.Length == 0 ? "" : prefix + ".") + c.Name.LocalName;
            set.Add(p);
            set.UnionWith(Xml(c, p));
        }
        return set;
    }
}
