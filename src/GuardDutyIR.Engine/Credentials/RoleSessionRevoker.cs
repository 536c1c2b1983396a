using System.Globalization;
using Amazon.EC2.Model;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Containment;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Credentials;

/// <summary>
/// Revokes an instance role's sessions the way IAM's "Revoke active sessions" does
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html): an inline policy on the role
/// that denies everything to sessions whose aws:TokenIssueTime is before now. Credentials already taken from the
/// instance stay valid for hours whatever happens to the instance; this is what ends them. Read-only planning first
/// (for ShouldProcess and -WhatIf), then one PutRolePolicy; Undo deletes the policy or puts back the earlier one.
/// </summary>
public sealed class RoleSessionRevoker
{
    /// <summary>Our name for the policy (IAM's console names its own AWSRevokeOlderSessions; that one is left alone).</summary>
    public const string PolicyName = "GuardDutyIR-RevokeOlderSessions";

    /// <summary>
    /// IAM's limit on the aggregate size of a role's inline policies, in characters without white space
    /// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
    /// </summary>
    public const int RoleInlinePolicySizeLimit = 10_240;

    private readonly AwsSession _session;
    private readonly Func<DateTime> _clock;

    public RoleSessionRevoker(AwsSession session, Func<DateTime>? clock = null)
    {
        _session = session;
        _clock = clock ?? (() => DateTime.UtcNow);
    }

    /// <summary>The policy document for a cut-off time, as IAM's console writes it (UTC, whole seconds).</summary>
    public static string Document(DateTime tokenIssuedBefore) =>
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\","
        + "\"Condition\":{\"DateLessThan\":{\"aws:TokenIssueTime\":\"" + Stamp(tokenIssuedBefore) + "\"}}}}";

    /// <summary>The name -ReplaceRole gives the copy of <paramref name="roleName"/> for a revocation at <paramref name="cutOff"/>.</summary>
    public static string ReplacementName(string roleName, DateTime cutOff) => RoleReplacer.ReplacementName(roleName, cutOff);

    /// <summary>A document's size as IAM counts it toward the limit: every character but white space.</summary>
    public static int PolicySize(string document) => document.Count(c => !char.IsWhiteSpace(c));

    /// <summary>
    /// Reads what revoking the sessions of <paramref name="instanceId"/>'s role would do: the role, its inline policies
    /// and their size, an earlier revocation, and the other instances using the role. Changes nothing.
    /// InstanceHasNoRole when the instance has no instance profile (or an empty one); RolePolicySizeLimit when the
    /// policy would not fit.
    /// </summary>
    public async Task<RoleSessionRevocation> PlanForInstanceAsync(string instanceId, string? region, string? caseId, string? findingId, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        var resolved = _session.RegionFor(region);
        var ec2 = Gateway(resolved);
        var facts = await Ec2Facts.DescribeAsync(ec2, null, new[] { instanceId }, withAttributes: false, ct).ConfigureAwait(false);
        if (!facts.TryGetValue(instanceId, out var f)) throw Ec2Facts.NotFound(instanceId, resolved);
        var profileArn = f.ProfileAssociation?.IamInstanceProfile?.Arn ?? f.Instance.IamInstanceProfile?.Arn;
        if (string.IsNullOrEmpty(profileArn))
            throw new GuardDutyIRException("InstanceHasNoRole", ErrorKind.InvalidOperation,
                $"Instance {instanceId} has no instance profile, so no role credentials can have been taken from it. Nothing was changed.", instanceId);

        var iam = _session.Iam(resolved);
        var profile = await iam.GetInstanceProfileAsync(NameFromArn(profileArn), ct).ConfigureAwait(false);
        // An instance profile holds at most one role (IAM quotas); an empty one hands out no credentials.
        var role = profile.Roles.FirstOrDefault()
            ?? throw new GuardDutyIRException("InstanceHasNoRole", ErrorKind.InvalidOperation,
                $"Instance {instanceId}'s instance profile {profileArn} holds no role. Nothing was changed.", instanceId);
        return await PlanAsync(iam, ec2, role, profileArn, instanceId, resolved, caseId, findingId, ct).ConfigureAwait(false);
    }

    /// <summary>The same plan for a role named directly (a role not reached through an instance).</summary>
    public async Task<RoleSessionRevocation> PlanForRoleAsync(string roleName, string? region, string? caseId, CancellationToken ct)
    {
        RequireRoleName(roleName);
        var resolved = _session.RegionFor(region);
        var iam = _session.Iam(resolved);
        var role = await iam.GetRoleAsync(roleName, ct).ConfigureAwait(false);
        return await PlanAsync(iam, Gateway(resolved), role, null, null, resolved, caseId, null, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Puts the revocation policy on the plan's role with the cut-off taken now (not at planning time: a confirmation
    /// prompt may have taken minutes). Re-checks the size against the role as it is now before the call.
    /// </summary>
    public Task<RoleSessionRevocation> RevokeAsync(RoleSessionRevocation plan, CancellationToken ct) => RevokeAsync(plan, replaceRole: false, ct);

    /// <remarks>
    /// With <paramref name="replaceRole"/>, the plan's other instances then move to a fresh copy of the role
    /// (<see cref="RoleReplacer"/>): revoking comes first, as it is what stops the thief. A failed replacement leaves
    /// the revocation in force and is a Failed step on the result, with what was made taken back.
    /// </remarks>
    public async Task<RoleSessionRevocation> RevokeAsync(RoleSessionRevocation plan, bool replaceRole, CancellationToken ct)
    {
        var iam = _session.Iam(plan.Region);
        var state = await ReadInlineAsync(iam, plan.RoleName, ct).ConfigureAwait(false);
        var cutOff = Truncate(_clock());
        var document = Document(cutOff);
        var size = CheckSize(plan.RoleArn, state.OtherSize, document);
        var requestId = await iam.PutRolePolicyAsync(plan.RoleName, PolicyName, document, ct).ConfigureAwait(false);
        var step = new QuarantineStep
        {
            Name = "PutRolePolicy",
            Target = plan.RoleArn,
            Status = StepStatus.Done,
            Detail = (state.Previous is null ? "Added " : "Replaced ") + $"{PolicyName}: deny all to sessions issued before {Stamp(cutOff)}",
            RequestIds = requestId is null ? Array.Empty<string>() : new[] { requestId },
        };
        var steps = new List<QuarantineStep> { step };
        var actions = new List<string> { $"Revoked the sessions of role {plan.RoleName} issued before {Stamp(cutOff)} ({1 + plan.OtherInstances.Count} instance(s) use it)" };
        RoleReplacement? replacement = null;
        if (replaceRole && plan.OtherInstances.Count == 0)
            steps.Add(Step("ReplaceRole", plan.RoleArn, StepStatus.Skipped, "No other instance uses the role: nothing to move", null));
        else if (replaceRole)
        {
            try
            {
                replacement = await new RoleReplacer(iam, Gateway(plan.Region), steps).ReplaceAsync(plan.RoleName, cutOff, plan.CaseId, plan.OtherInstances, ct).ConfigureAwait(false);
                actions.Add($"Moved {replacement.MovedInstances.Count} other instance(s) to the new role {replacement.RoleName}");
            }
            catch (GuardDutyIRException e)
            {
                steps.Add(new QuarantineStep
                {
                    Name = "ReplaceRole", Target = plan.RoleArn, Status = StepStatus.Failed, Error = e.Message,
                    Detail = "The revocation stands; no instance was moved and what was made for the copy was taken back",
                });
            }
        }
        return new RoleSessionRevocation
        {
            InstanceId = plan.InstanceId, Region = plan.Region, CaseId = plan.CaseId, FindingId = plan.FindingId,
            InstanceProfileArn = plan.InstanceProfileArn, RoleName = plan.RoleName, RoleArn = plan.RoleArn, PolicyName = PolicyName,
            ReplacementRoleName = replacement?.RoleName, ReplacementRoleArn = replacement?.RoleArn,
            ReplacementInstanceProfileArn = replacement?.InstanceProfileArn, MovedInstances = replacement?.MovedInstances ?? Array.Empty<string>(),
            TokenIssuedBefore = cutOff, PolicyDocument = document,
            // What the role had before this call (an earlier revocation), so Undo returns to exactly that.
            PreviousPolicyDocument = state.Previous,
            InlinePolicyNames = state.Names, InlinePolicySize = size, InlinePolicySizeLimit = RoleInlinePolicySizeLimit,
            InstanceProfileArns = plan.InstanceProfileArns, OtherInstances = plan.OtherInstances,
            Status = RevocationStatus.Revoked,
            Steps = steps,
            Actions = actions,
        };
    }

    /// <summary>
    /// Lifts a revocation: deletes the policy, or puts back <paramref name="previousDocument"/> (an earlier revocation the
    /// revoke replaced). A role without the policy is left as it is (step Skipped).
    /// </summary>
    public Task<RoleSessionRevocation> UndoAsync(string roleName, string? previousDocument, string? region, string? caseId, CancellationToken ct) =>
        UndoAsync(roleName, previousDocument, null, Array.Empty<string>(), region, caseId, ct);

    /// <summary>
    /// The same, after -ReplaceRole: <paramref name="movedInstances"/> go back to their original profiles first, then
    /// the revocation is lifted, then the replacement role is deleted if nothing uses it any more.
    /// </summary>
    public async Task<RoleSessionRevocation> UndoAsync(string roleName, string? previousDocument, string? replacementRoleName, IReadOnlyList<string> movedInstances,
        string? region, string? caseId, CancellationToken ct)
    {
        RequireRoleName(roleName);
        if (replacementRoleName is not null) RequireRoleName(replacementRoleName);
        foreach (var token in movedInstances) RoleReplacer.ParseMoved(token);
        if (movedInstances.Count > 0 && replacementRoleName is null)
            throw new GuardDutyIRException("ReplacementRoleNameMissing", ErrorKind.InvalidArgument,
                "Moved instances were given without the replacement role they were moved to (-ReplacementRoleName).", roleName);
        var resolved = _session.RegionFor(region);
        var iam = _session.Iam(resolved);
        var role = await iam.GetRoleAsync(roleName, ct).ConfigureAwait(false);
        var steps = new List<QuarantineStep>();
        var replacer = new RoleReplacer(iam, Gateway(resolved), steps);
        if (replacementRoleName is not null) await replacer.MoveBackAsync(replacementRoleName, movedInstances, ct).ConfigureAwait(false);
        QuarantineStep step;
        RevocationStatus status;
        if (previousDocument is not null)
        {
            var id = await iam.PutRolePolicyAsync(roleName, PolicyName, previousDocument, ct).ConfigureAwait(false);
            step = Step("PutRolePolicy", role.Arn, StepStatus.Done, $"Put back the earlier {PolicyName}", id);
            status = RevocationStatus.Restored;
        }
        else
        {
            var names = await iam.ListRolePoliciesAsync(roleName, ct).ConfigureAwait(false);
            if (names.Contains(PolicyName, StringComparer.Ordinal))
            {
                var id = await iam.DeleteRolePolicyAsync(roleName, PolicyName, ct).ConfigureAwait(false);
                step = Step("DeleteRolePolicy", role.Arn, StepStatus.Done, $"Deleted {PolicyName}", id);
            }
            else
            {
                step = Step("DeleteRolePolicy", role.Arn, StepStatus.Skipped, $"The role has no {PolicyName}", null);
            }
            status = RevocationStatus.Lifted;
        }
        steps.Add(step);
        var actions = new List<string>();
        if (steps.Any(s => s.Name == "ReplaceIamInstanceProfileAssociation" && s.Status == StepStatus.Done))
            actions.Add($"Moved {steps.Count(s => s.Name == "ReplaceIamInstanceProfileAssociation" && s.Status == StepStatus.Done)} instance(s) back from {replacementRoleName}");
        if (step.Status == StepStatus.Done) actions.Add($"Lifted the session revocation of role {role.RoleName}");
        if (replacementRoleName is not null)
        {
            await replacer.DeleteCopyAsync(role.Arn, replacementRoleName, ct).ConfigureAwait(false);
            if (steps.Any(s => s.Name == "DeleteRole" && s.Status == StepStatus.Done)) actions.Add($"Deleted the replacement role {replacementRoleName}");
        }
        return new RoleSessionRevocation
        {
            Region = resolved, CaseId = caseId, RoleName = role.RoleName, RoleArn = role.Arn, PolicyName = PolicyName,
            PolicyDocument = previousDocument ?? "", Status = status, Steps = steps,
            InlinePolicySizeLimit = RoleInlinePolicySizeLimit, ReplacementRoleName = replacementRoleName,
            Actions = actions,
        };
    }

    private async Task<RoleSessionRevocation> PlanAsync(IamClient iam, Ec2Gateway ec2, IamRole role, string? profileArn, string? instanceId,
        string region, string? caseId, string? findingId, CancellationToken ct)
    {
        // IAM refuses to change a service-linked role's policies; say so before trying.
        if (role.Path.StartsWith("/aws-service-role/", StringComparison.Ordinal))
            throw new GuardDutyIRException("ServiceLinkedRole", ErrorKind.InvalidOperation,
                $"{role.Arn} is a service-linked role; IAM does not allow revoking its sessions. Nothing was changed.", role.Arn);
        var state = await ReadInlineAsync(iam, role.RoleName, ct).ConfigureAwait(false);
        var cutOff = Truncate(_clock());
        var document = Document(cutOff);
        var size = CheckSize(role.Arn, state.OtherSize, document);

        var profiles = (await iam.ListInstanceProfilesForRoleAsync(role.RoleName, ct).ConfigureAwait(false)).Select(p => p.Arn).ToList();
        if (profileArn is not null && !profiles.Contains(profileArn, StringComparer.Ordinal)) profiles.Add(profileArn);
        var users = await InstancesUsingAsync(ec2, profiles, ct).ConfigureAwait(false);
        return new RoleSessionRevocation
        {
            InstanceId = instanceId, Region = region, CaseId = caseId, FindingId = findingId, InstanceProfileArn = profileArn,
            RoleName = role.RoleName, RoleArn = role.Arn, PolicyName = PolicyName, TokenIssuedBefore = cutOff, PolicyDocument = document,
            PreviousPolicyDocument = state.Previous, InlinePolicyNames = state.Names, InlinePolicySize = size,
            InlinePolicySizeLimit = RoleInlinePolicySizeLimit, InstanceProfileArns = profiles,
            OtherInstances = users.Where(id => id != instanceId).ToList(),
            Status = RevocationStatus.Planned,
        };
    }

    private sealed record InlineState(IReadOnlyList<string> Names, string? Previous, int OtherSize);

    // Every inline document is read: the limit is on their sum, and ours replaces only itself.
    private static async Task<InlineState> ReadInlineAsync(IamClient iam, string roleName, CancellationToken ct)
    {
        var names = await iam.ListRolePoliciesAsync(roleName, ct).ConfigureAwait(false);
        string? previous = null;
        var other = 0;
        foreach (var name in names)
        {
            var document = await iam.GetRolePolicyAsync(roleName, name, ct).ConfigureAwait(false);
            if (name == PolicyName) previous = document;
            else other += PolicySize(document);
        }
        return new InlineState(names, previous, other);
    }

    private static int CheckSize(string roleArn, int otherSize, string document)
    {
        var total = otherSize + PolicySize(document);
        if (total > RoleInlinePolicySizeLimit)
            throw new GuardDutyIRException("RolePolicySizeLimit", ErrorKind.LimitsExceeded,
                $"Revoking the sessions of {roleArn} needs a {PolicySize(document)}-character inline policy, but the role's other inline policies "
                + $"already use {otherSize} of IAM's {RoleInlinePolicySizeLimit} characters. Nothing was changed. Move an inline policy into a managed "
                + "policy (or shrink one) and run again, or attach a managed policy with the same deny.", roleArn);
        return total;
    }

    // The instances (not terminated) in this region whose profile is one of the role's.
    internal static async Task<IReadOnlyList<string>> InstancesUsingAsync(Ec2Gateway ec2, IReadOnlyList<string> profileArns, CancellationToken ct)
    {
        var ids = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var chunk in profileArns.Chunk(Ec2Facts.BatchSize))
        {
            string? next = null;
            do
            {
                var request = new DescribeInstancesRequest
                {
                    Filters = new List<Filter>
                    {
                        new("iam-instance-profile.arn", chunk.ToList()),
                        new("instance-state-name", new List<string> { "pending", "running", "stopping", "stopped" }),
                    },
                    MaxResults = 1000,
                    NextToken = next,
                };
                var response = await ec2.ReadAsync("DescribeInstances", null, (c, t) => c.DescribeInstancesAsync(request, t), ct).ConfigureAwait(false);
                foreach (var i in (response.Reservations ?? new()).SelectMany(r => r.Instances ?? new())) ids.Add(i.InstanceId);
                next = response.NextToken;
            }
            while (!string.IsNullOrEmpty(next));
        }
        return ids.ToList();
    }

    private Ec2Gateway Gateway(string region) => new(_session.Ec2(region), region, Ec2RateLimiter.FromEnvironment(), dryRun: false);

    private static QuarantineStep Step(string name, string target, StepStatus status, string detail, string? requestId) => new()
    {
        Name = name, Target = target, Status = status, Detail = detail,
        RequestIds = requestId is null ? Array.Empty<string>() : new[] { requestId },
    };

    internal static string NameFromArn(string arn) => arn[(arn.LastIndexOf('/') + 1)..];

    private static DateTime Truncate(DateTime t)
    {
        var utc = t.ToUniversalTime();
        return new DateTime(utc.Ticks - utc.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
    }

    private static string Stamp(DateTime t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // IAM role names: 1-64 of letters, digits and +=,.@_- (https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html).
    private static void RequireRoleName(string roleName)
    {
        if (string.IsNullOrEmpty(roleName) || roleName.Length > 64 || !roleName.All(c => char.IsAsciiLetterOrDigit(c) || "+=,.@_-".Contains(c)))
            throw new GuardDutyIRException("InvalidRoleName", ErrorKind.InvalidArgument,
                $"'{roleName}' is not an IAM role name (1-64 letters, digits and +=,.@_-).", roleName);
    }
}
