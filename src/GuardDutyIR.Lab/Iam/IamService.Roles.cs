using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Lab.Iam;

/// <summary>
/// Creating and deleting roles and instance profiles, and attaching managed policies: what a responder needs to move
/// healthy instances off a role whose sessions were revoked. Errors and conflicts as IAM's API reference gives them
/// (https://docs.aws.amazon.com/IAM/latest/APIReference/API_Operations.html).
/// </summary>
public sealed partial class IamService
{
    /// <summary>"Roles per instance profile: 1" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).</summary>
    public const int RolesPerInstanceProfile = 1;

    /// <summary>"Managed policies attached to an IAM role: 10" by default (same page).</summary>
    public const int ManagedPoliciesPerRole = 10;

    private LabResponse CreateRole(LabRequest r)
    {
        var name = r.Form["RoleName"]!;
        if (_roles.Keys.Any(k => k.Account == r.AccountId && string.Equals(k.Name, name, StringComparison.OrdinalIgnoreCase)))
            return Error(r, 409, "EntityAlreadyExists", $"Role with name {name} already exists.");
        var trust = r.Form["AssumeRolePolicyDocument"]!;
        if (PolicyEvaluator.ValidateTrustPolicy(trust) is { } malformed) return Error(r, 400, "MalformedPolicyDocument", malformed);
        var path = r.Form["Path"] ?? "/";
        if (!ValidPath(path)) return Error(r, 400, "ValidationError", $"The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.");
        var boundary = r.Form["PermissionsBoundary"];
        if (boundary is not null && !_policies.ContainsKey(boundary))
            return Error(r, 400, "InvalidInput", $"ARN {boundary} is not valid.");
        var role = new IamRole
        {
            AccountId = r.AccountId, RoleName = name, RoleId = "AROA" + StableId(r.AccountId, "role", name), Path = path,
            CreateDate = _context.Clock.GetUtcNow(), AssumeRolePolicyDocument = trust, Description = r.Form["Description"],
            MaxSessionDuration = r.Form["MaxSessionDuration"] is { } d ? int.Parse(d, System.Globalization.CultureInfo.InvariantCulture) : 3600,
            PermissionsBoundaryArn = boundary,
        };
        foreach (var (key, value) in Tags(r)) role.Tags[key] = value;
        _roles[(r.AccountId, name)] = role;
        return Ok(r, RoleXml("Role", role, full: true));
    }

    private LabResponse DeleteRole(LabRequest r)
    {
        if (!TryRole(r, out var role, out var e)) return e!;
        // IAM refuses while anything still hangs on the role; the caller removes it first.
        if (role.InlinePolicies.Count > 0 || role.AttachedPolicyArns.Count > 0)
            return Error(r, 409, "DeleteConflict", "Cannot delete entity, must delete policies first.");
        if (_profiles.Values.Any(p => p.AccountId == r.AccountId && p.RoleNames.Contains(role.RoleName)))
            return Error(r, 409, "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.");
        _roles.Remove((r.AccountId, role.RoleName));
        return OkNoResult(r);
    }

    private LabResponse AttachRolePolicy(LabRequest r)
    {
        if (!TryRole(r, out var role, out var e)) return e!;
        if (!TryPolicy(r, out var policy, out var pe)) return pe!;
        if (role.AttachedPolicyArns.Contains(policy.Arn)) return OkNoResult(r);
        if (role.AttachedPolicyArns.Count >= ManagedPoliciesPerRole)
            return Error(r, 409, "LimitExceeded", $"Cannot exceed quota for PoliciesPerRole: {ManagedPoliciesPerRole}");
        role.AttachedPolicyArns.Add(policy.Arn);
        return OkNoResult(r);
    }

    private LabResponse DetachRolePolicy(LabRequest r)
    {
        if (!TryRole(r, out var role, out var e)) return e!;
        var arn = r.Form["PolicyArn"]!;
        if (!role.AttachedPolicyArns.Remove(arn)) return NoSuchEntity(r, $"Policy {arn} was not found.");
        return OkNoResult(r);
    }

    private LabResponse CreateInstanceProfile(LabRequest r)
    {
        var name = r.Form["InstanceProfileName"]!;
        if (_profiles.Keys.Any(k => k.Account == r.AccountId && string.Equals(k.Name, name, StringComparison.OrdinalIgnoreCase)))
            return Error(r, 409, "EntityAlreadyExists", $"Instance Profile {name} already exists.");
        var path = r.Form["Path"] ?? "/";
        if (!ValidPath(path)) return Error(r, 400, "ValidationError", "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.");
        var profile = new IamInstanceProfile
        {
            AccountId = r.AccountId, Name = name, Path = path, InstanceProfileId = "AIPA" + StableId(r.AccountId, "instance-profile", name),
            CreateDate = _context.Clock.GetUtcNow(),
        };
        foreach (var (key, value) in Tags(r)) profile.Tags[key] = value;
        _profiles[(r.AccountId, name)] = profile;
        return Ok(r, ProfileXml("InstanceProfile", profile));
    }

    private LabResponse DeleteInstanceProfile(LabRequest r)
    {
        if (!TryProfile(r, out var profile, out var e)) return e!;
        if (profile.RoleNames.Count > 0)
            return Error(r, 409, "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.");
        _profiles.Remove((r.AccountId, profile.Name));
        return OkNoResult(r);
    }

    private LabResponse AddRoleToInstanceProfile(LabRequest r)
    {
        if (!TryProfile(r, out var profile, out var e)) return e!;
        if (!TryRole(r, out var role, out var re)) return re!;
        if (profile.RoleNames.Contains(role.RoleName))
            return Error(r, 409, "EntityAlreadyExists", $"The role with name {role.RoleName} is already in instance profile {profile.Name}.");
        if (profile.RoleNames.Count >= RolesPerInstanceProfile)
            return Error(r, 409, "LimitExceeded", $"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {RolesPerInstanceProfile}");
        profile.RoleNames.Add(role.RoleName);
        return OkNoResult(r);
    }

    private LabResponse RemoveRoleFromInstanceProfile(LabRequest r)
    {
        if (!TryProfile(r, out var profile, out var e)) return e!;
        var roleName = r.Form["RoleName"]!;
        if (!profile.RoleNames.Remove(roleName))
            return NoSuchEntity(r, $"The role with name {roleName} cannot be found in instance profile {profile.Name}.");
        return OkNoResult(r);
    }

    /// <summary>The instance profile's ID by ARN, for EC2's association calls; null when IAM has no such profile.</summary>
    public string? InstanceProfileIdOf(string accountId, string profileArn)
    {
        lock (_gate)
            return _profiles.Values.FirstOrDefault(p => p.AccountId == accountId && p.Arn == profileArn)?.InstanceProfileId;
    }

    private bool TryProfile(LabRequest r, out IamInstanceProfile profile, out LabResponse? error)
    {
        var name = r.Form["InstanceProfileName"]!;
        error = _profiles.TryGetValue((r.AccountId, name), out profile!) ? null : NoSuchEntity(r, $"Instance Profile {name} cannot be found.");
        return error is null;
    }

    // Tags.member.N.Key / Tags.member.N.Value, in order.
    private static IEnumerable<(string Key, string Value)> Tags(LabRequest r)
    {
        for (var n = 1; r.Form[$"Tags.member.{n}.Key"] is { } key; n++)
            yield return (key, r.Form[$"Tags.member.{n}.Value"] ?? "");
    }

    // IAM paths: "/" or /segments/ (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html).
    private static bool ValidPath(string path) =>
        path.Length is >= 1 and <= 512 && path[0] == '/' && path[^1] == '/' && path.All(c => c is >= '!' and <= '~');

    // IDs derived from the name, so a seeded run gives the same IDs every time.
    private static string StableId(string account, string kind, string name)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{account}/{kind}/{name}"));
        return new string(hash.Take(17).Select(b => alphabet[b % alphabet.Length]).ToArray());
    }
}
