using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Iam;

namespace GuardDutyIR.Lab.Ec2;

/// <summary>
/// The instance metadata service of every Lab instance, served by the Lab's own listener under
/// /_lab/imds/&lt;instance-id&gt;/ (what an instance reaches at http://169.254.169.254/): the IMDSv2 token flow, IMDSv1
/// GETs while the instance's HttpTokens is "optional", and the instance role's session credentials, issued by the
/// Lab's STS in the instance's account so they sign calls to every Lab service
/// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html).
/// </summary>
internal sealed class InstanceMetadataEndpoint
{
    public const string Prefix = "/_lab/imds/";
    /// <summary>Instance role sessions last six hours; IMDS hands out new ones well before the old ones expire.</summary>
    private static readonly TimeSpan SessionDuration = TimeSpan.FromHours(6);
    private static readonly TimeSpan RefreshBefore = TimeSpan.FromMinutes(15);
    private const int MaxTokenTtlSeconds = 21600;

    private readonly LabContext _context;
    private readonly ConcurrentDictionary<string, (string InstanceId, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LabPrincipal> _sessions = new(StringComparer.Ordinal);

    public InstanceMetadataEndpoint(LabContext context) => _context = context;

    public void Register(LabAdminRouter router) => router.MapPrefix(Prefix, Handle);

    private static LabResponse Text(int status, string body, string contentType = "text/plain") => LabResponse.Text(status, contentType, body);

    private LabResponse Handle(LabAdminRequest r)
    {
        var rest = r.Path[Prefix.Length..];
        var slash = rest.IndexOf('/');
        var instanceId = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? "/" : rest[slash..];
        var ec2 = _context.GetService<Ec2Service>();
        var settings = ec2?.MetadataSettings(instanceId);
        if (ec2 is null || settings is null || settings.State != "running") return Text(404, "Not Found");
        // With the endpoint turned off the instance gets no metadata at all.
        if (settings.HttpEndpoint != "enabled") return Text(403, "Forbidden");
        var now = _context.Clock.GetUtcNow();

        if (path == "/latest/api/token")
        {
            if (r.Method != "PUT") return Text(405, "Method Not Allowed");
            // A token PUT that went through a proxy is refused, so a misconfigured proxy cannot be used to fetch tokens.
            if (r.Header("X-Forwarded-For") is not null) return Text(403, "Forbidden");
            if (!int.TryParse(r.Header("X-aws-ec2-metadata-token-ttl-seconds"), NumberStyles.None, CultureInfo.InvariantCulture, out var ttl) || ttl is < 1 or > MaxTokenTtlSeconds)
                return Text(400, "Bad Request");
            var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(42));
            _tokens[token] = (instanceId, now.AddSeconds(ttl));
            var resp = Text(200, token);
            resp.Headers["X-aws-ec2-metadata-token-ttl-seconds"] = ttl.ToString(CultureInfo.InvariantCulture);
            return resp;
        }
        if (r.Method != "GET") return Text(405, "Method Not Allowed");
        if (r.Header("X-aws-ec2-metadata-token") is { } presented)
        {
            if (!_tokens.TryGetValue(presented, out var t) || t.InstanceId != instanceId || t.Expires <= now) return Text(401, "Unauthorized");
        }
        else if (settings.HttpTokens == "required") return Text(401, "Unauthorized");

        var profileArn = ec2.AssociatedProfileArn(instanceId);
        var iam = _context.GetService<IamService>();
        var role = profileArn is null ? null : iam?.RoleOfInstanceProfile(settings.AccountId, profileArn[(profileArn.LastIndexOf('/') + 1)..]);
        switch (path)
        {
            case "/latest/meta-data/":
                return Text(200, "instance-id\n" + (profileArn is null ? "" : "iam/\n"));
            case "/latest/meta-data/instance-id":
                return Text(200, instanceId);
            case "/latest/meta-data/iam/":
                return role is null ? Text(404, "Not Found") : Text(200, "info\nsecurity-credentials/");
            case "/latest/meta-data/iam/info":
                return role is null ? Text(404, "Not Found") : Text(200, JsonSerializer.Serialize(new Dictionary<string, string>
                {
                    ["Code"] = "Success", ["LastUpdated"] = QueryXml.Iso(now), ["InstanceProfileArn"] = profileArn!,
                    ["InstanceProfileId"] = ec2.AssociatedProfileId(instanceId) ?? "",
                }), "application/json");
            case "/latest/meta-data/iam/security-credentials/":
                return role is null ? Text(404, "Not Found") : Text(200, role.RoleName);
        }
        if (role is not null && path == "/latest/meta-data/iam/security-credentials/" + role.RoleName)
        {
            var session = Session(instanceId, role, iam!, now);
            return Text(200, JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["Code"] = "Success", ["LastUpdated"] = QueryXml.Iso(session.IssuedAt ?? now), ["Type"] = "AWS-HMAC",
                ["AccessKeyId"] = session.AccessKeyId, ["SecretAccessKey"] = session.SecretAccessKey, ["Token"] = session.SessionToken!,
                ["Expiration"] = QueryXml.Iso(session.Expiration!.Value),
            }, new JsonSerializerOptions { WriteIndented = true }));
        }
        return Text(404, "Not Found");
    }

    /// <summary>
    /// The instance's current role session: the same keys on every read until they near expiry, or until the role
    /// revokes them; then a new session (EC2 delivers new instance credentials on its own schedule; the Lab does it on the
    /// next read, so an instance recovers right after a revocation).
    /// </summary>
    private LabPrincipal Session(string instanceId, IamRole role, IamService iam, DateTimeOffset now)
    {
        var creds = _context.Credentials;
        if (_sessions.TryGetValue(instanceId, out var current) && current.RoleName == role.RoleName && current.AccountId == role.AccountId
            && current.Expiration - now > RefreshBefore && !iam.SessionRevoked(current))
            return current;
        var labRole = creds.FindRole(role.Arn) ?? new LabRole(role.AccountId, role.RoleName, role.RoleId, null);
        var fresh = creds.IssueSession(labRole, instanceId, SessionDuration);
        _sessions[instanceId] = fresh;
        return fresh;
    }
}
