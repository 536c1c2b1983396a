using System.Globalization;
using System.Xml.Linq;

namespace GuardDutyIR.Engine.Aws;

/// <summary>An IAM role as GetRole, GetInstanceProfile and ListInstanceProfilesForRole describe it.</summary>
public sealed record IamRole(string RoleName, string RoleId, string Arn, string Path)
{
    /// <summary>The trust policy, decoded (GetRole and CreateRole give it; lists may too).</summary>
    public string? AssumeRolePolicyDocument { get; init; }
    public string? Description { get; init; }
    /// <summary>Seconds; GetRole gives it, lists do not.</summary>
    public int? MaxSessionDuration { get; init; }
    public string? PermissionsBoundaryArn { get; init; }
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
}

/// <summary>An instance profile and the role(s) in it (IAM allows one role per profile today; the list is AWS's shape).</summary>
public sealed record IamInstanceProfile(string InstanceProfileName, string InstanceProfileId, string Arn, string Path, IReadOnlyList<IamRole> Roles);

/// <summary>A managed policy attached to a role.</summary>
public sealed record IamAttachedPolicy(string PolicyName, string PolicyArn);

/// <summary>A managed policy's metadata (GetPolicy): which version is in force.</summary>
public sealed record IamManagedPolicy(string PolicyName, string Arn, string DefaultVersionId, int AttachmentCount);

/// <summary>
/// IAM over awsQuery (.member.N lists, Result wrapper, Marker/IsTruncated paging): what the response to stolen
/// instance-role credentials needs. IAM is a global service: one endpoint per partition, signed for that partition's
/// home region (https://docs.aws.amazon.com/general/latest/gr/iam-service.html). Policy documents travel URL-encoded
/// (RFC 3986) in answers and are returned decoded.
/// </summary>
public sealed class IamClient : ServiceClientBase
{
    internal IamClient(AwsProtocolClient client, string region) : base(client, region) { }

    /// <summary>The region IAM requests are signed for in the partition of <paramref name="region"/>.</summary>
    public static string SigningRegionFor(string? region) => region switch
    {
        null or "" => "us-east-1",
        _ when region.StartsWith("cn-", StringComparison.Ordinal) => "cn-north-1",
        _ when region.StartsWith("us-gov-", StringComparison.Ordinal) => "us-gov-west-1",
        _ => "us-east-1",
    };

    /// <summary>IAM's global endpoint for the partition of a signing region.</summary>
    public static string EndpointFor(string signingRegion) => signingRegion switch
    {
        _ when signingRegion.StartsWith("cn-", StringComparison.Ordinal) => "https://iam.cn-north-1.amazonaws.com.cn",
        _ when signingRegion.StartsWith("us-gov-", StringComparison.Ordinal) => "https://iam.us-gov.amazonaws.com",
        _ => "https://iam.amazonaws.com",
    };

    public async Task<IamInstanceProfile> GetInstanceProfileAsync(string instanceProfileName, CancellationToken cancellationToken)
    {
        var (result, _) = await CallQueryAsync("GetInstanceProfile", new KeyValuePair<string, string>[] { new("InstanceProfileName", instanceProfileName) }, cancellationToken).ConfigureAwait(false);
        return ReadProfile(Child(result, "InstanceProfile") ?? throw Malformed("GetInstanceProfile", instanceProfileName));
    }

    public async Task<IamRole> GetRoleAsync(string roleName, CancellationToken cancellationToken)
    {
        var (result, _) = await CallQueryAsync("GetRole", new KeyValuePair<string, string>[] { new("RoleName", roleName) }, cancellationToken).ConfigureAwait(false);
        return ReadRole(Child(result, "Role") ?? throw Malformed("GetRole", roleName));
    }

    /// <summary>The names of the role's inline policies, every page.</summary>
    public Task<IReadOnlyList<string>> ListRolePoliciesAsync(string roleName, CancellationToken cancellationToken) =>
        PagesAsync("ListRolePolicies", roleName, "PolicyNames", m => m.Value, cancellationToken);

    /// <summary>An inline policy's document, decoded (NoSuchEntity when the role has no policy of that name).</summary>
    public async Task<string> GetRolePolicyAsync(string roleName, string policyName, CancellationToken cancellationToken)
    {
        var (result, _) = await CallQueryAsync("GetRolePolicy", new KeyValuePair<string, string>[] { new("RoleName", roleName), new("PolicyName", policyName) }, cancellationToken).ConfigureAwait(false);
        return Decode(Text(result, "PolicyDocument") ?? throw Malformed("GetRolePolicy", policyName));
    }

    /// <summary>Creates or replaces an inline policy; returns the request ID.</summary>
    public Task<string?> PutRolePolicyAsync(string roleName, string policyName, string policyDocument, CancellationToken cancellationToken) =>
        CallForRequestIdAsync("PutRolePolicy", cancellationToken, ("RoleName", roleName), ("PolicyName", policyName), ("PolicyDocument", policyDocument));

    /// <summary>Deletes an inline policy; returns the request ID.</summary>
    public Task<string?> DeleteRolePolicyAsync(string roleName, string policyName, CancellationToken cancellationToken) =>
        CallForRequestIdAsync("DeleteRolePolicy", cancellationToken, ("RoleName", roleName), ("PolicyName", policyName));

    public Task<IReadOnlyList<IamAttachedPolicy>> ListAttachedRolePoliciesAsync(string roleName, CancellationToken cancellationToken) =>
        PagesAsync("ListAttachedRolePolicies", roleName, "AttachedPolicies", m => new IamAttachedPolicy(Text(m, "PolicyName") ?? "", Text(m, "PolicyArn") ?? ""), cancellationToken);

    public async Task<IamManagedPolicy> GetPolicyAsync(string policyArn, CancellationToken cancellationToken)
    {
        var (result, _) = await CallQueryAsync("GetPolicy", new KeyValuePair<string, string>[] { new("PolicyArn", policyArn) }, cancellationToken).ConfigureAwait(false);
        var p = Child(result, "Policy") ?? throw Malformed("GetPolicy", policyArn);
        return new IamManagedPolicy(Text(p, "PolicyName") ?? "", Text(p, "Arn") ?? policyArn, Text(p, "DefaultVersionId") ?? "",
            int.TryParse(Text(p, "AttachmentCount"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0);
    }

    /// <summary>A managed policy version's document, decoded.</summary>
    public async Task<string> GetPolicyVersionAsync(string policyArn, string versionId, CancellationToken cancellationToken)
    {
        var (result, _) = await CallQueryAsync("GetPolicyVersion", new KeyValuePair<string, string>[] { new("PolicyArn", policyArn), new("VersionId", versionId) }, cancellationToken).ConfigureAwait(false);
        var version = Child(result, "PolicyVersion") ?? throw Malformed("GetPolicyVersion", policyArn);
        return Decode(Text(version, "Document") ?? throw Malformed("GetPolicyVersion", policyArn));
    }

    /// <summary>The document in force of a managed policy: GetPolicy for the default version, then that version.</summary>
    public async Task<string> GetDefaultPolicyDocumentAsync(string policyArn, CancellationToken cancellationToken)
    {
        var policy = await GetPolicyAsync(policyArn, cancellationToken).ConfigureAwait(false);
        return await GetPolicyVersionAsync(policyArn, policy.DefaultVersionId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates a role (CreateRole); a role of that name already there is EntityAlreadyExists. Tags ride along so the role
    /// says where it came from.
    /// </summary>
    public async Task<(IamRole Role, string? RequestId)> CreateRoleAsync(string path, string roleName, string assumeRolePolicyDocument, string? description,
        int? maxSessionDuration, string? permissionsBoundaryArn, IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken)
    {
        var parameters = new List<KeyValuePair<string, string>>
        {
            new("Path", path), new("RoleName", roleName), new("AssumeRolePolicyDocument", assumeRolePolicyDocument),
        };
        if (description is not null) parameters.Add(new("Description", description));
        if (maxSessionDuration is { } seconds) parameters.Add(new("MaxSessionDuration", seconds.ToString(CultureInfo.InvariantCulture)));
        if (permissionsBoundaryArn is not null) parameters.Add(new("PermissionsBoundary", permissionsBoundaryArn));
        AddTags(parameters, tags);
        var (result, requestId) = await CallQueryAsync("CreateRole", parameters, cancellationToken).ConfigureAwait(false);
        return (ReadRole(Child(result, "Role") ?? throw Malformed("CreateRole", roleName)), requestId);
    }

    public Task<string?> DeleteRoleAsync(string roleName, CancellationToken cancellationToken) =>
        CallForRequestIdAsync("DeleteRole", cancellationToken, ("RoleName", roleName));

    public Task<string?> AttachRolePolicyAsync(string roleName, string policyArn, CancellationToken cancellationToken) =>
        CallForRequestIdAsync("AttachRolePolicy", cancellationToken, ("RoleName", roleName), ("PolicyArn", policyArn));

    public Task<string?> DetachRolePolicyAsync(string roleName, string policyArn, CancellationToken cancellationToken) =>
        CallForRequestIdAsync("DetachRolePolicy", cancellationToken, ("RoleName", roleName), ("PolicyArn", policyArn));

    public async Task<(IamInstanceProfile Profile, string? RequestId)> CreateInstanceProfileAsync(string path, string instanceProfileName,
        IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken)
    {
        var parameters = new List<KeyValuePair<string, string>> { new("InstanceProfileName", instanceProfileName), new("Path", path) };
        AddTags(parameters, tags);
        var (result, requestId) = await CallQueryAsync("CreateInstanceProfile", parameters, cancellationToken).ConfigureAwait(false);
        return (ReadProfile(Child(result, "InstanceProfile") ?? throw Malformed("CreateInstanceProfile", instanceProfileName)), requestId);
    }

    public Task<string?> DeleteInstanceProfileAsync(string instanceProfileName, CancellationToken cancellationToken) =>
        CallForRequestIdAsync("DeleteInstanceProfile", cancellationToken, ("InstanceProfileName", instanceProfileName));

    public Task<string?> AddRoleToInstanceProfileAsync(string instanceProfileName, string roleName, CancellationToken cancellationToken) =>
        CallForRequestIdAsync("AddRoleToInstanceProfile", cancellationToken, ("InstanceProfileName", instanceProfileName), ("RoleName", roleName));

    public Task<string?> RemoveRoleFromInstanceProfileAsync(string instanceProfileName, string roleName, CancellationToken cancellationToken) =>
        CallForRequestIdAsync("RemoveRoleFromInstanceProfile", cancellationToken, ("InstanceProfileName", instanceProfileName), ("RoleName", roleName));

    private async Task<string?> CallForRequestIdAsync(string operation, CancellationToken cancellationToken, params (string Name, string Value)[] parameters)
    {
        var (_, requestId) = await CallQueryAsync(operation, parameters.Select(p => new KeyValuePair<string, string>(p.Name, p.Value)), cancellationToken).ConfigureAwait(false);
        return requestId;
    }

    private static void AddTags(List<KeyValuePair<string, string>> parameters, IReadOnlyDictionary<string, string> tags)
    {
        var n = 0;
        foreach (var (key, value) in tags)
        {
            n++;
            parameters.Add(new($"Tags.member.{n}.Key", key));
            parameters.Add(new($"Tags.member.{n}.Value", value));
        }
    }

    public Task<IReadOnlyList<IamInstanceProfile>> ListInstanceProfilesForRoleAsync(string roleName, CancellationToken cancellationToken) =>
        PagesAsync("ListInstanceProfilesForRole", roleName, "InstanceProfiles", ReadProfile, cancellationToken);

    private async Task<IReadOnlyList<T>> PagesAsync<T>(string operation, string roleName, string listName, Func<XElement, T> read, CancellationToken cancellationToken)
    {
        var items = new List<T>();
        string? marker = null;
        while (true)
        {
            var parameters = new List<KeyValuePair<string, string>> { new("RoleName", roleName) };
            if (marker is not null) parameters.Add(new("Marker", marker));
            var (result, _) = await CallQueryAsync(operation, parameters, cancellationToken).ConfigureAwait(false);
            items.AddRange(Members(Child(result, listName)).Select(read));
            if (!string.Equals(Text(result, "IsTruncated"), "true", StringComparison.OrdinalIgnoreCase)) return items;
            marker = Text(result, "Marker");
            // A truncated page without a marker would loop forever on the first page.
            if (string.IsNullOrEmpty(marker)) throw Malformed(operation, roleName);
        }
    }

    private static IamInstanceProfile ReadProfile(XElement p) => new(
        Text(p, "InstanceProfileName") ?? "", Text(p, "InstanceProfileId") ?? "", Text(p, "Arn") ?? "", Text(p, "Path") ?? "/",
        Members(Child(p, "Roles")).Select(ReadRole).ToList());

    private static IamRole ReadRole(XElement r) =>
        new(Text(r, "RoleName") ?? "", Text(r, "RoleId") ?? "", Text(r, "Arn") ?? "", Text(r, "Path") ?? "/")
        {
            AssumeRolePolicyDocument = Text(r, "AssumeRolePolicyDocument") is { } trust ? Decode(trust) : null,
            Description = Text(r, "Description"),
            MaxSessionDuration = int.TryParse(Text(r, "MaxSessionDuration"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) ? seconds : null,
            PermissionsBoundaryArn = Child(r, "PermissionsBoundary") is { } boundary ? Text(boundary, "PermissionsBoundaryArn") : null,
            Tags = Members(Child(r, "Tags")).Where(t => Text(t, "Key") is not null)
                .GroupBy(t => Text(t, "Key")!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => Text(g.Last(), "Value") ?? "", StringComparer.Ordinal),
        };

    /// <summary>IAM answers documents URL-encoded (RFC 3986); '+' is a literal plus there, not a space.</summary>
    public static string Decode(string encoded) => Uri.UnescapeDataString(encoded);

    private static GuardDutyIRException Malformed(string operation, string target) =>
        new("MalformedServiceResponse", ErrorKind.InvalidData, $"IAM {operation} answered without the expected elements.", target);

    private static IEnumerable<XElement> Members(XElement? list) => list?.Elements().Where(e => e.Name.LocalName == "member") ?? Enumerable.Empty<XElement>();
    private static XElement? Child(XElement parent, string name) => parent.Elements().FirstOrDefault(e => e.Name.LocalName == name);
    private static string? Text(XElement parent, string name) => Child(parent, name)?.Value;
}
