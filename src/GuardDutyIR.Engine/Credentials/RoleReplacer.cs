using System.Globalization;
using Amazon.EC2.Model;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Containment;

namespace GuardDutyIR.Engine.Credentials;

/// <summary>What -ReplaceRole made: the new role and profile, and the instances moved onto it ("id=original profile ARN").</summary>
internal sealed record RoleReplacement(string RoleName, string RoleArn, string InstanceProfileArn, IReadOnlyList<string> MovedInstances);

/// <summary>
/// Gives the other instances of a revoked role a fresh role: a copy of the role (trust policy, description, session
/// length, permissions boundary, managed and inline policies but the revocations) in a new instance profile of the same
/// name, then ReplaceIamInstanceProfileAssociation on each instance. Their metadata service then hands out the new
/// role's credentials, none of which the revocation touches, and the old role is left to the compromised instance,
/// where it can be kept closed or deleted after the investigation. Every step is recorded with its request ID; a
/// failure while building the copy deletes what was built, so no half-made role stays behind.
/// </summary>
internal sealed class RoleReplacer
{
    /// <summary>Tag on the copy naming the role it replaces; Undo deletes only a role that carries it.</summary>
    public const string ReplacesRoleTag = "GuardDutyIR:ReplacesRole";
    public const string CaseTag = "GuardDutyIR:CaseId";

    /// <summary>The revocation policies a copy must not inherit: ours and the one IAM's console writes.</summary>
    private static readonly HashSet<string> RevocationPolicies = new(StringComparer.Ordinal) { RoleSessionRevoker.PolicyName, "AWSRevokeOlderSessions" };

    /// <summary>
    /// How long a new instance profile may stay unknown to EC2: IAM changes are eventually consistent
    /// (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency),
    /// and EC2 answers InvalidParameterValue for a profile it does not see yet.
    /// </summary>
    private static readonly TimeSpan[] PropagationBackoff =
        { TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(8) };

    private readonly IamClient _iam;
    private readonly Ec2Gateway _ec2;
    private readonly List<QuarantineStep> _steps;

    public RoleReplacer(IamClient iam, Ec2Gateway ec2, List<QuarantineStep> steps)
    {
        _iam = iam;
        _ec2 = ec2;
        _steps = steps;
    }

    /// <summary>
    /// The copy's name: the role's name, "-ir-" and the revocation's cut-off, cut so the whole stays within IAM's 64
    /// characters (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
    /// </summary>
    public static string ReplacementName(string roleName, DateTime cutOff)
    {
        var suffix = "-ir-" + cutOff.ToUniversalTime().ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        return roleName[..Math.Min(roleName.Length, 64 - suffix.Length)] + suffix;
    }

    public async Task<RoleReplacement> ReplaceAsync(string roleName, DateTime cutOff, string? caseId, IReadOnlyList<string> instances, CancellationToken ct)
    {
        var original = await _iam.GetRoleAsync(roleName, ct).ConfigureAwait(false);
        var attached = await _iam.ListAttachedRolePoliciesAsync(roleName, ct).ConfigureAwait(false);
        var inline = new List<(string Name, string Document)>();
        foreach (var name in await _iam.ListRolePoliciesAsync(roleName, ct).ConfigureAwait(false))
            if (!RevocationPolicies.Contains(name)) inline.Add((name, await _iam.GetRolePolicyAsync(roleName, name, ct).ConfigureAwait(false)));

        var name2 = ReplacementName(roleName, cutOff);
        var tags = new Dictionary<string, string>(StringComparer.Ordinal) { [ReplacesRoleTag] = original.Arn };
        if (caseId is not null) tags[CaseTag] = caseId;
        var made = new List<Func<Task>>();   // how to take back each thing made, newest last
        string profileArn;
        string roleArn;
        try
        {
            var (copy, createId) = await _iam.CreateRoleAsync(original.Path, name2, original.AssumeRolePolicyDocument
                    ?? throw new GuardDutyIRException("MalformedServiceResponse", ErrorKind.InvalidData, $"IAM GetRole gave no trust policy for {original.Arn}.", original.Arn),
                $"Replaces {original.Arn} for its other instances after its sessions were revoked", original.MaxSessionDuration, original.PermissionsBoundaryArn, tags, ct)
                .ConfigureAwait(false);
            roleArn = copy.Arn;
            Done("CreateRole", copy.Arn, $"Created {name2}, a copy of {roleName}", createId);
            made.Add(async () => Undone("DeleteRole", copy.Arn, await _iam.DeleteRoleAsync(name2, CancellationToken.None).ConfigureAwait(false)));
            foreach (var (policyName, document) in inline)
            {
                var id = await _iam.PutRolePolicyAsync(name2, policyName, document, ct).ConfigureAwait(false);
                Done("PutRolePolicy", copy.Arn, $"Copied inline policy {policyName}", id);
                made.Add(async () => Undone("DeleteRolePolicy", copy.Arn, await _iam.DeleteRolePolicyAsync(name2, policyName, CancellationToken.None).ConfigureAwait(false)));
            }
            foreach (var policy in attached)
            {
                var id = await _iam.AttachRolePolicyAsync(name2, policy.PolicyArn, ct).ConfigureAwait(false);
                Done("AttachRolePolicy", copy.Arn, $"Attached {policy.PolicyArn}", id);
                made.Add(async () => Undone("DetachRolePolicy", copy.Arn, await _iam.DetachRolePolicyAsync(name2, policy.PolicyArn, CancellationToken.None).ConfigureAwait(false)));
            }
            var (profile, profileId) = await _iam.CreateInstanceProfileAsync(original.Path, name2, tags, ct).ConfigureAwait(false);
            profileArn = profile.Arn;
            Done("CreateInstanceProfile", profile.Arn, $"Created instance profile {name2}", profileId);
            made.Add(async () => Undone("DeleteInstanceProfile", profile.Arn, await _iam.DeleteInstanceProfileAsync(name2, CancellationToken.None).ConfigureAwait(false)));
            var addId = await _iam.AddRoleToInstanceProfileAsync(name2, name2, ct).ConfigureAwait(false);
            Done("AddRoleToInstanceProfile", profile.Arn, $"Put role {name2} in the profile", addId);
            made.Add(async () => Undone("RemoveRoleFromInstanceProfile", profile.Arn, await _iam.RemoveRoleFromInstanceProfileAsync(name2, name2, CancellationToken.None).ConfigureAwait(false)));
        }
        catch (Exception e) when (e is GuardDutyIRException or OperationCanceledException)
        {
            // Nothing was moved yet: take back what was made, newest first, and say the copy failed.
            for (var i = made.Count - 1; i >= 0; i--)
            {
                try { await made[i]().ConfigureAwait(false); }
                catch (GuardDutyIRException cleanup) { _steps.Add(Step("Cleanup", name2, StepStatus.Failed, "Could not take back part of the copy", null, cleanup.Message)); }
            }
            throw;
        }

        var moved = new List<string>();
        foreach (var instanceId in instances)
        {
            var current = await CurrentAssociationAsync(instanceId, ct).ConfigureAwait(false);
            if (current is null)
            {
                _steps.Add(Step("ReplaceIamInstanceProfileAssociation", instanceId, StepStatus.Skipped, "The instance has no instance profile now", null, null));
                continue;
            }
            try
            {
                var requestId = await ReplaceAssociationAsync(current.AssociationId, instanceId, profileArn, ct).ConfigureAwait(false);
                Done("ReplaceIamInstanceProfileAssociation", instanceId, $"Moved from {current.IamInstanceProfile.Arn} to {profileArn}", requestId);
                moved.Add(instanceId + "=" + current.IamInstanceProfile.Arn);
            }
            catch (GuardDutyIRException e)
            {
                // One instance's refusal does not undo the others' moves; it stays on the revoked role and says why.
                _steps.Add(Step("ReplaceIamInstanceProfileAssociation", instanceId, StepStatus.Failed, "Left on the revoked role", null, e.Message));
            }
        }
        return new RoleReplacement(name2, roleArn, profileArn, moved);
    }

    /// <summary>Undo, first half: the moved instances still on the copy's profile go back to their original profiles.</summary>
    public async Task MoveBackAsync(string replacementRoleName, IReadOnlyList<string> movedInstances, CancellationToken ct)
    {
        var profile = await FindProfileAsync(replacementRoleName, ct).ConfigureAwait(false);
        foreach (var token in movedInstances)
        {
            var (instanceId, originalProfileArn) = ParseMoved(token);
            var current = await CurrentAssociationAsync(instanceId, ct).ConfigureAwait(false);
            if (current is null || profile is null || current.IamInstanceProfile.Arn != profile.Arn)
            {
                _steps.Add(Step("ReplaceIamInstanceProfileAssociation", instanceId, StepStatus.Skipped,
                    $"Not on {replacementRoleName}'s profile now ({current?.IamInstanceProfile.Arn ?? "no profile"}); left as it is", null, null));
                continue;
            }
            var id = await ReplaceAssociationAsync(current.AssociationId, instanceId, originalProfileArn, ct).ConfigureAwait(false);
            Done("ReplaceIamInstanceProfileAssociation", instanceId, $"Moved back to {originalProfileArn}", id);
        }
    }

    /// <summary>
    /// Undo, second half: the copy and its profile are deleted when no instance uses them any more and the copy
    /// carries our tag for <paramref name="originalRoleArn"/> (a role we did not make is never deleted).
    /// </summary>
    public async Task DeleteCopyAsync(string originalRoleArn, string replacementRoleName, CancellationToken ct)
    {
        IamRole role;
        try { role = await _iam.GetRoleAsync(replacementRoleName, ct).ConfigureAwait(false); }
        catch (AwsServiceException e) when (e.ErrorCode == "NoSuchEntity")
        {
            _steps.Add(Step("DeleteRole", replacementRoleName, StepStatus.Skipped, "The replacement role is gone already", null, null));
            return;
        }
        if (!role.Tags.TryGetValue(ReplacesRoleTag, out var replaces) || replaces != originalRoleArn)
        {
            _steps.Add(Step("DeleteRole", role.Arn, StepStatus.Skipped, $"Not tagged {ReplacesRoleTag}={originalRoleArn}: not ours to delete", null, null));
            return;
        }
        if (await FindProfileAsync(replacementRoleName, ct).ConfigureAwait(false) is { } profile)
        {
            var users = await RoleSessionRevoker.InstancesUsingAsync(_ec2, new[] { profile.Arn }, ct).ConfigureAwait(false);
            if (users.Count > 0)
            {
                _steps.Add(Step("DeleteRole", role.Arn, StepStatus.Skipped,
                    $"Kept: {users.Count} instance(s) still use its profile ({string.Join(", ", users.Take(10))})", null, null));
                return;
            }
            if (profile.Roles.Any(r => r.RoleName == role.RoleName))
                Done("RemoveRoleFromInstanceProfile", profile.Arn, $"Took {role.RoleName} out of the profile",
                    await _iam.RemoveRoleFromInstanceProfileAsync(profile.InstanceProfileName, role.RoleName, ct).ConfigureAwait(false));
            Done("DeleteInstanceProfile", profile.Arn, $"Deleted instance profile {profile.InstanceProfileName}",
                await _iam.DeleteInstanceProfileAsync(profile.InstanceProfileName, ct).ConfigureAwait(false));
        }
        foreach (var policy in await _iam.ListAttachedRolePoliciesAsync(role.RoleName, ct).ConfigureAwait(false))
            Done("DetachRolePolicy", role.Arn, $"Detached {policy.PolicyArn}", await _iam.DetachRolePolicyAsync(role.RoleName, policy.PolicyArn, ct).ConfigureAwait(false));
        foreach (var name in await _iam.ListRolePoliciesAsync(role.RoleName, ct).ConfigureAwait(false))
            Done("DeleteRolePolicy", role.Arn, $"Deleted inline policy {name}", await _iam.DeleteRolePolicyAsync(role.RoleName, name, ct).ConfigureAwait(false));
        Done("DeleteRole", role.Arn, $"Deleted the replacement role {role.RoleName}", await _iam.DeleteRoleAsync(role.RoleName, ct).ConfigureAwait(false));
    }

    // The copy's profile has the copy's name.
    private async Task<Aws.IamInstanceProfile?> FindProfileAsync(string name, CancellationToken ct)
    {
        try { return await _iam.GetInstanceProfileAsync(name, ct).ConfigureAwait(false); }
        catch (AwsServiceException e) when (e.ErrorCode == "NoSuchEntity") { return null; }
    }

    /// <summary>
    /// One "instance-id=instance-profile-arn" of a -ReplaceRole result. Both halves are checked as what they must be, so
    /// an edited or hostile value never moves an instance to a profile it did not come from.
    /// </summary>
    public static (string InstanceId, string ProfileArn) ParseMoved(string token)
    {
        var at = token.IndexOf('=', StringComparison.Ordinal);
        var instanceId = at > 0 ? token[..at] : "";
        var profileArn = at > 0 ? token[(at + 1)..] : "";
        if (!Ec2Ids.IsInstanceId(instanceId) || !IsInstanceProfileArn(profileArn))
            throw new GuardDutyIRException("InvalidMovedInstance", ErrorKind.InvalidArgument,
                $"'{token}' is not a moved instance (instance-id=instance-profile-arn, as Revoke-InstanceRoleSession -ReplaceRole gives them).", token);
        return (instanceId, profileArn);
    }

    private static bool IsInstanceProfileArn(string value)
    {
        try
        {
            Ec2Ids.RequireInstanceProfileArn(value);
            return true;
        }
        catch (GuardDutyIRException)
        {
            return false;
        }
    }

    private async Task<IamInstanceProfileAssociation?> CurrentAssociationAsync(string instanceId, CancellationToken ct)
    {
        var request = new DescribeIamInstanceProfileAssociationsRequest
        {
            Filters = new List<Filter> { new("instance-id", new List<string> { instanceId }), new("state", new List<string> { "associated" }) },
        };
        var response = await _ec2.ReadAsync("DescribeIamInstanceProfileAssociations", instanceId, (c, t) => c.DescribeIamInstanceProfileAssociationsAsync(request, t), ct).ConfigureAwait(false);
        return response.IamInstanceProfileAssociations?.FirstOrDefault();
    }

    // A profile made a moment ago may not be visible to EC2 yet: retry that one refusal, a bounded number of times.
    private async Task<string?> ReplaceAssociationAsync(string associationId, string instanceId, string profileArn, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var m = await _ec2.MutateAsync("ReplaceIamInstanceProfileAssociation", instanceId, (c, _, t) => c.ReplaceIamInstanceProfileAssociationAsync(
                    new ReplaceIamInstanceProfileAssociationRequest { AssociationId = associationId, IamInstanceProfile = new IamInstanceProfileSpecification { Arn = profileArn } }, t), ct)
                    .ConfigureAwait(false);
                return m.RequestId;
            }
            catch (AwsServiceException e) when (e.ErrorCode == "InvalidParameterValue" && attempt < PropagationBackoff.Length)
            {
                await Task.Delay(PropagationBackoff[attempt], ct).ConfigureAwait(false);
            }
        }
    }

    private void Done(string name, string target, string detail, string? requestId) => _steps.Add(Step(name, target, StepStatus.Done, detail, requestId, null));

    private void Undone(string name, string target, string? requestId) => _steps.Add(Step(name, target, StepStatus.Done, "Took back part of the copy", requestId, null));

    private static QuarantineStep Step(string name, string target, StepStatus status, string detail, string? requestId, string? error) => new()
    {
        Name = name, Target = target, Status = status, Detail = detail, Error = error,
        RequestIds = requestId is null ? Array.Empty<string>() : new[] { requestId },
    };
}
