using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;

namespace GuardDutyIR.Lab.Iam;

/// <summary>
/// IAM (awsQuery, one global endpoint signed for us-east-1): the scenario's roles, instance profiles and policies, read
/// and inline policies written. Every role policy is also what the server checks a role session's requests against
/// for explicit denies (<see cref="ILabPolicyAuthority"/>).
/// </summary>
public sealed partial class IamService : ILabService, IModeledService, ILabPolicyAuthority
{
    public const string Ns = "https://iam.amazonaws.com/doc/2010-05-08/";

    /// <summary>
    /// "Role policy size: 10,240 characters", the aggregate of a role's inline policies, whitespace not counted
    /// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
    /// </summary>
    public const int RoleInlinePolicyQuota = 10240;

    // Looked up on first use, so the Lab starts (and the table can be regenerated) before the table knows IAM.
    private static ServiceModel Model => ServiceModel.For("iam");
    private readonly LabContext _context;
    private readonly object _gate = new();
    private readonly Dictionary<(string Account, string Name), IamRole> _roles = new();
    private readonly Dictionary<(string Account, string Name), IamInstanceProfile> _profiles = new();
    private readonly Dictionary<string, IamManagedPolicy> _policies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<LabRequest, LabResponse>> _handlers;

    static IamService() => ProtocolErrors.RegisterProtocol("iam", LabProtocol.Query, Ns);

    public IamService(LabContext context)
    {
        _context = context;
        _handlers = new(StringComparer.Ordinal)
        {
            ["GetInstanceProfile"] = GetInstanceProfile,
            ["GetRole"] = GetRole,
            ["ListRolePolicies"] = ListRolePolicies,
            ["GetRolePolicy"] = GetRolePolicy,
            ["PutRolePolicy"] = PutRolePolicy,
            ["DeleteRolePolicy"] = DeleteRolePolicy,
            ["ListAttachedRolePolicies"] = ListAttachedRolePolicies,
            ["GetPolicy"] = GetPolicy,
            ["GetPolicyVersion"] = GetPolicyVersion,
            ["ListInstanceProfilesForRole"] = ListInstanceProfilesForRole,
            ["CreateRole"] = CreateRole,
            ["DeleteRole"] = DeleteRole,
            ["AttachRolePolicy"] = AttachRolePolicy,
            ["DetachRolePolicy"] = DetachRolePolicy,
            ["CreateInstanceProfile"] = CreateInstanceProfile,
            ["DeleteInstanceProfile"] = DeleteInstanceProfile,
            ["AddRoleToInstanceProfile"] = AddRoleToInstanceProfile,
            ["RemoveRoleFromInstanceProfile"] = RemoveRoleFromInstanceProfile,
        };
    }

    public string SigningName => "iam";

    public IReadOnlyCollection<string> Operations => _handlers.Keys;

    // ------------------------------------------------------------------ state (seeding and tests)

    public void AddRole(IamRole role) { lock (_gate) _roles[(role.AccountId, role.RoleName)] = role; }

    public void AddInstanceProfile(IamInstanceProfile profile) { lock (_gate) _profiles[(profile.AccountId, profile.Name)] = profile; }

    public void AddPolicy(IamManagedPolicy policy) { lock (_gate) _policies[policy.Arn] = policy; }

    public IamRole? FindRole(string accountId, string roleName) { lock (_gate) return _roles.GetValueOrDefault((accountId, roleName)); }

    /// <summary>A copy of a role's inline policies (name → document).</summary>
    public IReadOnlyDictionary<string, string> InlinePolicies(string accountId, string roleName)
    {
        lock (_gate)
            return _roles.TryGetValue((accountId, roleName), out var r) ? new Dictionary<string, string>(r.InlinePolicies, StringComparer.Ordinal) : new Dictionary<string, string>();
    }

    /// <summary>The documents of every policy of a role, inline and attached (for the explicit-deny check).</summary>
    private List<string> PolicyDocuments(string accountId, string roleName)
    {
        lock (_gate)
        {
            if (!_roles.TryGetValue((accountId, roleName), out var r)) return new List<string>();
            var docs = r.InlinePolicies.Values.ToList();
            foreach (var arn in r.AttachedPolicyArns)
                if (_policies.TryGetValue(arn, out var p)) docs.Add(p.Document);
            return docs;
        }
    }

    public string? ExplicitDeny(LabPrincipal principal, string service, string action)
    {
        if (principal.Kind != LabPrincipalKind.AssumedRole || principal.RoleName is null) return null;
        var context = new PolicyRequestContext(_context.Clock.GetUtcNow(), principal.IssuedAt);
        foreach (var doc in PolicyDocuments(principal.AccountId, principal.RoleName))
            if (PolicyEvaluator.ExplicitlyDenies(doc, service + ":" + action, context))
                return $"User: {principal.Arn} is not authorized to perform: {service}:{action} with an explicit deny in an identity-based policy";
        return null;
    }

    /// <summary>True when one of the role's policies (inline or attached) allows <paramref name="action"/>.</summary>
    public bool RoleAllows(string accountId, string roleName, string action) =>
        PolicyDocuments(accountId, roleName).Any(d => PolicyEvaluator.Allows(d, action));

    /// <summary>The role in an instance profile (an instance profile holds at most one role); null when none.</summary>
    public IamRole? RoleOfInstanceProfile(string accountId, string profileName)
    {
        lock (_gate)
            return _profiles.TryGetValue((accountId, profileName), out var p) && p.RoleNames.FirstOrDefault() is { } name
                ? _roles.GetValueOrDefault((accountId, name)) : null;
    }

    /// <summary>
    /// True when the session's role denies it every action (a deny on "*"), the way IAM's "revoke active sessions" does;
    /// the "*:*" action only matches statements on every action.
    /// </summary>
    public bool SessionRevoked(LabPrincipal principal) => ExplicitDeny(principal, "*", "*") is not null;

    // ------------------------------------------------------------------ dispatch

    public Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken)
    {
        var form = request.Form;
        var action = form["Action"] ?? "";
        request.Action = action.Length > 0 ? action : "Unknown";
        if (action.Length > 0 && _context.IsDenied("iam", action))
            return Task.FromResult(Error(request, 403, "AccessDenied", LabContext.DenialMessage(request.Principal?.Arn, "iam", action)));
        if (action.Length == 0) return Task.FromResult(Error(request, 400, "MissingAction", "Missing Action"));
        if (!_handlers.TryGetValue(action, out var handler))
            return Task.FromResult(Error(request, 400, "InvalidAction", $"Could not find operation {action} for version 2010-05-08"));
        // IAM reports broken model constraints (required, length, range) together as ValidationError, as STS does.
        if (Model.ValidateForm(action, form) is { Count: > 0 } violations)
            return Task.FromResult(Error(request, 400, "ValidationError", ModelViolation.Summary(violations)));
        lock (_gate) return Task.FromResult(handler(request));
    }

    private static LabResponse Error(LabRequest r, int status, string code, string message) =>
        ProtocolErrors.Query(status, status >= 500 ? "Receiver" : "Sender", code, message, r.RequestId, Ns);

    private static LabResponse NoSuchEntity(LabRequest r, string message) => Error(r, 404, "NoSuchEntity", message);

    private static LabResponse Ok(LabRequest r, params XElement?[] content) =>
        QueryXml.Success(r.Action!, Ns, r.RequestId, content.Where(c => c is not null)!);

    private static LabResponse OkNoResult(LabRequest r) => QueryXml.Success(r.Action!, Ns, r.RequestId, null, withResultWrapper: false);

    private bool TryRole(LabRequest r, out IamRole role, out LabResponse? error)
    {
        var name = r.Form["RoleName"]!;
        error = _roles.TryGetValue((r.AccountId, name), out role!) ? null : NoSuchEntity(r, $"The role with name {name} cannot be found.");
        return error is null;
    }

    // ------------------------------------------------------------------ operations

    private LabResponse GetInstanceProfile(LabRequest r)
    {
        var name = r.Form["InstanceProfileName"]!;
        if (!_profiles.TryGetValue((r.AccountId, name), out var profile))
            return NoSuchEntity(r, $"Instance Profile {name} cannot be found.");
        return Ok(r, ProfileXml("InstanceProfile", profile));
    }

    private LabResponse GetRole(LabRequest r) => TryRole(r, out var role, out var e) ? Ok(r, RoleXml("Role", role, full: true)) : e!;

    private LabResponse ListRolePolicies(LabRequest r)
    {
        if (!TryRole(r, out var role, out var e)) return e!;
        return Page(r, role.InlinePolicies.Keys.ToList(), "PolicyNames", n => new XElement("member", n));
    }

    private LabResponse ListAttachedRolePolicies(LabRequest r)
    {
        if (!TryRole(r, out var role, out var e)) return e!;
        var prefix = r.Form["PathPrefix"] ?? "/";
        var attached = role.AttachedPolicyArns.Select(a => _policies.GetValueOrDefault(a)).Where(p => p is not null && p.Path.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        return Page(r, attached, "AttachedPolicies", p => new XElement("member", new XElement("PolicyName", p!.PolicyName), new XElement("PolicyArn", p.Arn)));
    }

    private LabResponse ListInstanceProfilesForRole(LabRequest r)
    {
        if (!TryRole(r, out var role, out var e)) return e!;
        var profiles = _profiles.Values.Where(p => p.AccountId == r.AccountId && p.RoleNames.Contains(role.RoleName))
            .OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        return Page(r, profiles, "InstanceProfiles", p => ProfileXml("member", p));
    }

    private LabResponse GetRolePolicy(LabRequest r)
    {
        if (!TryRole(r, out var role, out var e)) return e!;
        var name = r.Form["PolicyName"]!;
        if (!role.InlinePolicies.TryGetValue(name, out var doc))
            return NoSuchEntity(r, $"The role policy with name {name} cannot be found.");
        // IAM returns policy documents URL-encoded (RFC 3986); clients decode them.
        return Ok(r, new XElement("RoleName", role.RoleName), new XElement("PolicyName", name), new XElement("PolicyDocument", Uri.EscapeDataString(doc)));
    }

    private LabResponse PutRolePolicy(LabRequest r)
    {
        if (!TryRole(r, out var role, out var e)) return e!;
        var name = r.Form["PolicyName"]!;
        var doc = r.Form["PolicyDocument"]!;
        if (PolicyEvaluator.Validate(doc) is { } malformed) return Error(r, 400, "MalformedPolicyDocument", malformed);
        var total = role.InlinePolicies.Where(p => p.Key != name).Sum(p => NonWhitespaceLength(p.Value)) + NonWhitespaceLength(doc);
        if (total > RoleInlinePolicyQuota)
            return Error(r, 409, "LimitExceeded", $"Maximum policy size of {RoleInlinePolicyQuota} bytes exceeded for role {role.RoleName}");
        role.InlinePolicies[name] = doc;
        return OkNoResult(r);
    }

    private LabResponse DeleteRolePolicy(LabRequest r)
    {
        if (!TryRole(r, out var role, out var e)) return e!;
        var name = r.Form["PolicyName"]!;
        if (!role.InlinePolicies.Remove(name)) return NoSuchEntity(r, $"The role policy with name {name} cannot be found.");
        return OkNoResult(r);
    }

    private LabResponse GetPolicy(LabRequest r)
    {
        if (!TryPolicy(r, out var p, out var e)) return e!;
        var count = _roles.Values.Count(role => role.AttachedPolicyArns.Contains(p.Arn) && (p.Owner == "aws" || role.AccountId == p.Owner));
        return Ok(r, new XElement("Policy",
            new XElement("PolicyName", p.PolicyName), new XElement("PolicyId", p.PolicyId), new XElement("Arn", p.Arn), new XElement("Path", p.Path),
            new XElement("DefaultVersionId", p.DefaultVersionId), new XElement("AttachmentCount", count), new XElement("PermissionsBoundaryUsageCount", 0),
            new XElement("IsAttachable", "true"), p.Description is null ? null : new XElement("Description", p.Description),
            new XElement("CreateDate", QueryXml.Iso(p.CreateDate)), new XElement("UpdateDate", QueryXml.Iso(p.UpdateDate))));
    }

    private LabResponse GetPolicyVersion(LabRequest r)
    {
        if (!TryPolicy(r, out var p, out var e)) return e!;
        var version = r.Form["VersionId"]!;
        if (version != p.DefaultVersionId) return NoSuchEntity(r, $"Policy {p.Arn} version {version} does not exist or is not attachable.");
        return Ok(r, new XElement("PolicyVersion",
            new XElement("Document", Uri.EscapeDataString(p.Document)), new XElement("VersionId", version),
            new XElement("IsDefaultVersion", "true"), new XElement("CreateDate", QueryXml.Iso(p.UpdateDate))));
    }

    private bool TryPolicy(LabRequest r, out IamManagedPolicy policy, out LabResponse? error)
    {
        var arn = r.Form["PolicyArn"]!;
        policy = null!;
        var parts = arn.Split(':', 6);
        if (parts.Length != 6 || parts[0] != "arn" || parts[2] != "iam" || !parts[5].StartsWith("policy/", StringComparison.Ordinal))
        {
            error = Error(r, 400, "InvalidInput", $"ARN {arn} is not valid.");
            return false;
        }
        if (!_policies.TryGetValue(arn, out policy!) || (policy.Owner != "aws" && policy.Owner != r.AccountId))
        {
            error = NoSuchEntity(r, $"Policy {arn} does not exist or is not attachable.");
            return false;
        }
        error = null;
        return true;
    }

    /// <summary>Marker/MaxItems paging (MaxItems defaults to 100); the marker is the next item's index, opaque to clients.</summary>
    private static LabResponse Page<T>(LabRequest r, IReadOnlyList<T> items, string listName, Func<T, XElement> render)
    {
        var max = r.Form["MaxItems"] is { } m ? int.Parse(m, CultureInfo.InvariantCulture) : 100;
        int start = 0;
        if (r.Form["Marker"] is { } marker)
        {
            string decoded;
            try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(marker)); }
            catch (FormatException) { return Error(r, 400, "InvalidInput", "Invalid Marker."); }
            if (!decoded.StartsWith("lab:", StringComparison.Ordinal) || !int.TryParse(decoded[4..], CultureInfo.InvariantCulture, out start) || start < 0 || start > items.Count)
                return Error(r, 400, "InvalidInput", "Invalid Marker.");
        }
        var page = items.Skip(start).Take(max).ToList();
        bool truncated = start + page.Count < items.Count;
        return Ok(r, new XElement(listName, page.Select(render)), new XElement("IsTruncated", truncated ? "true" : "false"),
            truncated ? new XElement("Marker", Convert.ToBase64String(Encoding.UTF8.GetBytes("lab:" + (start + page.Count).ToString(CultureInfo.InvariantCulture)))) : null);
    }

    private static int NonWhitespaceLength(string s) => s.Count(c => !char.IsWhiteSpace(c));

    private XElement RoleXml(string element, IamRole role, bool full) => new(element,
        new XElement("Path", role.Path), new XElement("RoleName", role.RoleName), new XElement("RoleId", role.RoleId), new XElement("Arn", role.Arn),
        new XElement("CreateDate", QueryXml.Iso(role.CreateDate)),
        new XElement("AssumeRolePolicyDocument", Uri.EscapeDataString(role.AssumeRolePolicyDocument)),
        role.Description is null ? null : new XElement("Description", role.Description),
        full ? new XElement("MaxSessionDuration", role.MaxSessionDuration) : null,
        full && role.PermissionsBoundaryArn is not null
            ? new XElement("PermissionsBoundary", new XElement("PermissionsBoundaryType", "Policy"), new XElement("PermissionsBoundaryArn", role.PermissionsBoundaryArn)) : null,
        full && role.Tags.Count > 0 ? new XElement("Tags", role.Tags.Select(t => new XElement("member", new XElement("Key", t.Key), new XElement("Value", t.Value)))) : null,
        full ? new XElement("RoleLastUsed") : null);

    private XElement ProfileXml(string element, IamInstanceProfile p) => new(element,
        new XElement("Path", p.Path), new XElement("InstanceProfileName", p.Name), new XElement("InstanceProfileId", p.InstanceProfileId),
        new XElement("Arn", p.Arn), new XElement("CreateDate", QueryXml.Iso(p.CreateDate)),
        new XElement("Roles", p.RoleNames.Select(n => _roles.GetValueOrDefault((p.AccountId, n))).Where(x => x is not null).Select(x => RoleXml("member", x!, full: false))));
}
