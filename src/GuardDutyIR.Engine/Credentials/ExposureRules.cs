using System.Text.Json;

namespace GuardDutyIR.Engine.Credentials;

/// <summary>One inbound security-group rule as it matters here: protocol ("-1" = all), port range, source.</summary>
public sealed record IngressRule(string GroupId, string Protocol, int? FromPort, int? ToPort, string Source);

/// <summary>A policy that applies to the instance's role: where it comes from and its (decoded) document.</summary>
public sealed record RolePolicy(string Name, string Kind, string Document);

/// <summary>Everything the exposure checks look at, collected once (<see cref="ExposureCollector"/>) or built by a test.</summary>
public sealed record ExposureFacts
{
    public required string InstanceId { get; init; }
    /// <summary>MetadataOptions: "optional" allows IMDSv1, "required" does not.</summary>
    public string? HttpTokens { get; init; }
    public int? HopLimit { get; init; }
    /// <summary>MetadataOptions.HttpEndpoint: "disabled" turns the metadata service off altogether.</summary>
    public string? HttpEndpoint { get; init; }
    public string? PublicIp { get; init; }
    public IReadOnlyList<string> ElasticIps { get; init; } = Array.Empty<string>();
    public IReadOnlyList<IngressRule> Ingress { get; init; } = Array.Empty<IngressRule>();
    public string? KeyName { get; init; }
    /// <summary>SSM's ping status ("Online", "ConnectionLost"...), null when SSM does not manage the instance.</summary>
    public string? SsmPingStatus { get; init; }
    /// <summary>Why the SSM status could not be read (then <see cref="SsmPingStatus"/> means nothing).</summary>
    public string? SsmError { get; init; }
    public string? RoleArn { get; init; }
    public IReadOnlyList<RolePolicy> RolePolicies { get; init; } = Array.Empty<RolePolicy>();
    /// <summary>Why the role's policies could not be read.</summary>
    public string? RoleError { get; init; }
    public bool UserData { get; init; }
}

/// <summary>
/// The exposure checks, pure over <see cref="ExposureFacts"/>: how the instance could have been reached (IMDSv1, public
/// addresses, open security-group rules, a key pair, user data) and what a thief of its role credentials could do.
/// </summary>
public static class ExposureRules
{
    /// <summary>Remote administration ports: SSH, RDP, WinRM over HTTP and HTTPS.</summary>
    public static readonly IReadOnlyList<int> AdminPorts = new[] { 22, 3389, 5985, 5986 };

    public static IReadOnlyList<ExposureCheck> Evaluate(ExposureFacts f)
    {
        var checks = new List<ExposureCheck>();
        void Add(string check, ExposureLevel level, string target, string evidence) =>
            checks.Add(new ExposureCheck { Check = check, Level = level, Target = target, Evidence = evidence });
        var id = f.InstanceId;

        // IMDSv1 answers any request that reaches it, which is how SSRF steals role credentials
        // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-existing-instances.html).
        if (f.HttpEndpoint == "disabled") Add("IMDSv1", ExposureLevel.Pass, id, "HttpEndpoint=disabled: no metadata service");
        else if (f.HttpTokens == "required") Add("IMDSv1", ExposureLevel.Pass, id, "HttpTokens=required: IMDSv2 only");
        else Add("IMDSv1", ExposureLevel.Fail, id, $"HttpTokens={f.HttpTokens ?? "optional"}: IMDSv1 allowed");
        var hops = f.HopLimit ?? 1;
        Add("IMDS hop limit", hops > 1 ? ExposureLevel.Warn : ExposureLevel.Pass, id,
            $"HttpPutResponseHopLimit={hops}" + (hops > 1 ? ": containers and forwarded requests can reach the metadata service" : ""));

        // An Elastic IP on the primary ENI is also the instance's public IP: name it once, as the Elastic IP.
        var addresses = f.ElasticIps.Select(e => "Elastic IP " + e).ToList();
        if (!string.IsNullOrEmpty(f.PublicIp) && !f.ElasticIps.Contains(f.PublicIp)) addresses.Insert(0, "public IP " + f.PublicIp);
        Add("Public address", addresses.Count > 0 ? ExposureLevel.Warn : ExposureLevel.Pass, id, addresses.Count > 0 ? string.Join(", ", addresses) : "none");

        var open = f.Ingress.Where(r => r.Source is "0.0.0.0/0" or "::/0").ToList();
        var admin = open.Where(CoversAdminPort).ToList();
        foreach (var r in admin) Add("Admin port open to the internet", ExposureLevel.Fail, r.GroupId, Describe(r));
        foreach (var r in open.Except(admin)) Add("Port open to the internet", ExposureLevel.Warn, r.GroupId, Describe(r));
        if (open.Count == 0) Add("Port open to the internet", ExposureLevel.Pass, id, $"no inbound rule from 0.0.0.0/0 or ::/0 ({f.Ingress.Count} rule(s) checked)");

        Add("Key pair", string.IsNullOrEmpty(f.KeyName) ? ExposureLevel.Pass : ExposureLevel.Warn, id,
            string.IsNullOrEmpty(f.KeyName) ? "none" : $"launched with key pair {f.KeyName}");

        if (f.SsmError is not null) Add("SSM managed", ExposureLevel.Warn, id, "Unknown: " + f.SsmError);
        else if (f.SsmPingStatus is null) Add("SSM managed", ExposureLevel.Warn, id, "not a managed node: no Session Manager access or patching through SSM");
        else Add("SSM managed", f.SsmPingStatus == "Online" ? ExposureLevel.Pass : ExposureLevel.Warn, id, "managed node, ping status " + f.SsmPingStatus);

        if (f.RoleError is not null) Add("Role policy", ExposureLevel.Warn, f.RoleArn ?? id, "Unknown: " + f.RoleError);
        else if (f.RoleArn is null) Add("Role policy", ExposureLevel.Pass, id, "no instance role");
        else if (f.RolePolicies.Count == 0) Add("Role policy", ExposureLevel.Pass, f.RoleArn, "the role has no policies");
        foreach (var p in f.RolePolicies)
        {
            var (level, evidence) = AnalysePolicy(p.Document);
            Add("Role policy", level, $"{p.Kind} {p.Name}", evidence);
        }

        Add("User data", f.UserData ? ExposureLevel.Warn : ExposureLevel.Pass, id,
            f.UserData ? "present: it often carries secrets and is readable from the metadata service" : "none");
        return checks;
    }

    private static bool CoversAdminPort(IngressRule r) =>
        r.Protocol is "-1" or "all" || (r.Protocol is "tcp" or "6" && AdminPorts.Any(p => (r.FromPort ?? 0) <= p && p <= (r.ToPort ?? 65535)));

    private static string Describe(IngressRule r)
    {
        var ports = r.Protocol is "-1" or "all" ? "all traffic"
            : r.FromPort == r.ToPort ? $"{r.Protocol} {r.FromPort}" : $"{r.Protocol} {r.FromPort}-{r.ToPort}";
        return $"{ports} from {r.Source}";
    }

    /// <summary>
    /// Allow statements with wildcards: Fail when an action is "*" or "service:*" on Resource "*" (everything a service
    /// can do, anywhere), Warn for any other wildcard action or resource, or NotAction/NotResource; Pass otherwise.
    /// </summary>
    public static (ExposureLevel Level, string Evidence) AnalysePolicy(string document)
    {
        JsonDocument json;
        try { json = JsonDocument.Parse(document); }
        catch (JsonException e) { return (ExposureLevel.Warn, "the document cannot be read: " + e.Message); }
        using var owned = json;
        if (!json.RootElement.TryGetProperty("Statement", out var statements)) return (ExposureLevel.Pass, "no statements");
        var list = statements.ValueKind == JsonValueKind.Array ? statements.EnumerateArray().ToList() : new List<JsonElement> { statements };
        var level = ExposureLevel.Pass;
        var notes = new List<string>();
        foreach (var s in list.Where(s => s.ValueKind == JsonValueKind.Object))
        {
            if (!string.Equals(Str(s, "Effect"), "Allow", StringComparison.Ordinal)) continue;
            var actions = Values(s, "Action");
            var resources = Values(s, "Resource");
            var anyResource = resources.Contains("*");
            var broad = actions.Where(a => a == "*" || a.EndsWith(":*", StringComparison.Ordinal)).ToList();
            if (broad.Count > 0 && anyResource)
            {
                level = ExposureLevel.Fail;
                notes.Add($"Allow {string.Join(",", broad)} on *");
                continue;
            }
            var wildActions = actions.Where(a => a.Contains('*')).ToList();
            var wildResources = resources.Where(r => r.Contains('*')).ToList();
            var negated = s.TryGetProperty("NotAction", out _) ? "NotAction" : s.TryGetProperty("NotResource", out _) ? "NotResource" : null;
            if (wildActions.Count > 0 || wildResources.Count > 0 || negated is not null)
            {
                if (level == ExposureLevel.Pass) level = ExposureLevel.Warn;
                notes.Add(negated is not null ? $"Allow with {negated}"
                    : $"Allow {string.Join(",", actions)} on {string.Join(",", resources)}");
            }
        }
        return (level, notes.Count == 0 ? "no wildcard actions or resources" : string.Join("; ", notes.Distinct()));
    }

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static List<string> Values(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v)) return new List<string>();
        return v.ValueKind switch
        {
            JsonValueKind.String => new List<string> { v.GetString()! },
            JsonValueKind.Array => v.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList(),
            _ => new List<string>(),
        };
    }
}
