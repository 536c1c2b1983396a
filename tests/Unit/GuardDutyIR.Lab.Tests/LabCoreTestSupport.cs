using System.Globalization;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text;
using Amazon.EC2;
using Amazon.Runtime;
using Amazon.SecurityToken;
using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Lab.Tests;

/// <summary>Starting Labs and building official SDK clients (and raw signed requests) against them.</summary>
internal static class TestLab
{
    public static Task<LabHost> StartAsync(string scenario = "Workshop", int seed = 42, Func<LabOptions, LabOptions>? configure = null)
    {
        var options = new LabOptions { Port = 0, Scenario = scenario, Seed = seed, SnapshotCompletionSeconds = 1, InstanceTransitionSeconds = 0.5 };
        if (configure is not null) options = configure(options);
        return LabHost.StartAsync(options);
    }

    public static AWSCredentials Credentials(LabHost lab) => new BasicAWSCredentials(lab.AccessKeyId, lab.SecretAccessKey);

    public static AmazonEC2Client Ec2(LabHost lab, AWSCredentials? credentials = null, int maxErrorRetry = 0) =>
        new(credentials ?? Credentials(lab), new AmazonEC2Config
        {
            ServiceURL = lab.Endpoint,
            AuthenticationRegion = lab.Region,
            MaxErrorRetry = maxErrorRetry,
            Timeout = TimeSpan.FromSeconds(20),
        });

    public static AmazonSecurityTokenServiceClient Sts(LabHost lab, AWSCredentials? credentials = null) =>
        new(credentials ?? Credentials(lab), new AmazonSecurityTokenServiceConfig
        {
            ServiceURL = lab.Endpoint,
            AuthenticationRegion = lab.Region,
            MaxErrorRetry = 0,
        });

    /// <summary>
    /// A form POST signed with SigV4 by an implementation written from the AWS documentation (independent of the Lab's
    /// verifier), so negative cases (stale dates, tampering) can be built that the SDK would never send.
    /// </summary>
    public static async Task<(int Status, string Body, HttpResponseMessage Response)> PostFormAsync(
        LabHost lab, string service, string form, string? accessKey = null, string? secret = null, string? token = null,
        DateTime? signedAt = null, Action<HttpRequestMessage>? tamper = null, string? region = null)
    {
        accessKey ??= lab.AccessKeyId;
        secret ??= lab.SecretAccessKey;
        region ??= lab.Region;
        var when = signedAt ?? DateTime.UtcNow;
        var amzDate = when.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var date = when.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var host = new Uri(lab.Endpoint).Authority;
        var body = Encoding.UTF8.GetBytes(form);
        var payloadHash = Hex(SHA256.HashData(body));
        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["content-type"] = "application/x-www-form-urlencoded; charset=utf-8",
            ["host"] = host,
            ["x-amz-date"] = amzDate,
        };
        if (token is not null) headers["x-amz-security-token"] = token;
        var signedHeaders = string.Join(";", headers.Keys);
        var canonical = $"POST\n/\n\n{string.Concat(headers.Select(h => h.Key + ":" + h.Value + "\n"))}\n{signedHeaders}\n{payloadHash}";
        var scope = $"{date}/{region}/{service}/aws4_request";
        var toSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";
        var key = Hmac(Hmac(Hmac(Hmac(Encoding.UTF8.GetBytes("AWS4" + secret), date), region), service), "aws4_request");
        var signature = Hex(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(toSign)));

        using var http = new HttpClient();
        var req = new HttpRequestMessage(HttpMethod.Post, lab.Endpoint + "/") { Content = new ByteArrayContent(body) };
        req.Content.Headers.TryAddWithoutValidation("Content-Type", headers["content-type"]);
        req.Headers.TryAddWithoutValidation("X-Amz-Date", amzDate);
        if (token is not null) req.Headers.TryAddWithoutValidation("X-Amz-Security-Token", token);
        req.Headers.TryAddWithoutValidation("Authorization", $"AWS4-HMAC-SHA256 Credential={accessKey}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}");
        tamper?.Invoke(req);
        var resp = await http.SendAsync(req);
        return ((int)resp.StatusCode, await resp.Content.ReadAsStringAsync(), resp);
    }

    /// <summary>A signed request with an explicit method and query string (EC2 also accepts GET with all parameters in the query).</summary>
    public static async Task<(int Status, string Body, HttpResponseMessage Response)> SendAsync(LabHost lab, string service, HttpMethod method, string query, string body)
    {
        var when = DateTime.UtcNow;
        var amzDate = when.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var date = when.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var host = new Uri(lab.Endpoint).Authority;
        var pairs = query.Split('&', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).Select(p => (K: Uri.EscapeDataString(Uri.UnescapeDataString(p[0])), V: Uri.EscapeDataString(Uri.UnescapeDataString(p.Length > 1 ? p[1] : ""))))
            .OrderBy(p => p.K, StringComparer.Ordinal).ThenBy(p => p.V, StringComparer.Ordinal).ToList();
        var canonicalQuery = string.Join("&", pairs.Select(p => p.K + "=" + p.V));
        var payloadHash = Hex(SHA256.HashData(Encoding.UTF8.GetBytes(body)));
        var canonical = $"{method.Method}\n/\n{canonicalQuery}\nhost:{host}\nx-amz-date:{amzDate}\n\nhost;x-amz-date\n{payloadHash}";
        var scope = $"{date}/{lab.Region}/{service}/aws4_request";
        var toSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";
        var key = Hmac(Hmac(Hmac(Hmac(Encoding.UTF8.GetBytes("AWS4" + lab.SecretAccessKey), date), lab.Region), service), "aws4_request");
        var signature = Hex(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(toSign)));
        using var http = new HttpClient();
        var req = new HttpRequestMessage(method, lab.Endpoint + "/?" + canonicalQuery);
        req.Headers.TryAddWithoutValidation("X-Amz-Date", amzDate);
        req.Headers.TryAddWithoutValidation("Authorization", $"AWS4-HMAC-SHA256 Credential={lab.AccessKeyId}/{scope}, SignedHeaders=host;x-amz-date, Signature={signature}");
        var resp = await http.SendAsync(req);
        return ((int)resp.StatusCode, await resp.Content.ReadAsStringAsync(), resp);
    }

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));
    private static string Hex(byte[] b) => Convert.ToHexString(b).ToLowerInvariant();

    public static string Form(params (string Key, string Value)[] pairs) =>
        string.Join("&", pairs.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value)));

    public static async Task<T> Throws<T>(Func<Task> call) where T : Exception => await Assert.ThrowsAsync<T>(call);
}

/// <summary>One Workshop Lab shared by tests that only read.</summary>
public sealed class SharedWorkshopLab : IAsyncLifetime
{
    public LabHost Lab { get; private set; } = null!;

    public async Task InitializeAsync() => Lab = await TestLab.StartAsync();

    public async Task DisposeAsync() => await Lab.DisposeAsync();
}
