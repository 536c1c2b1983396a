namespace GuardDutyIR;

/// <summary>Where a revocation of a role's older sessions stands.</summary>
public enum RevocationStatus
{
    /// <summary>Read only: what Revoke would do (-WhatIf, ShouldProcess).</summary>
    Planned,
    /// <summary>The deny policy is on the role: sessions issued before <see cref="RoleSessionRevocation.TokenIssuedBefore"/> are refused.</summary>
    Revoked,
    /// <summary>Undo: the revocation policy was removed (no earlier one existed).</summary>
    Lifted,
    /// <summary>Undo: the earlier revocation policy was put back.</summary>
    Restored,
    /// <summary>A call failed; see the steps.</summary>
    Failed,
}

/// <summary>
/// Revoke-InstanceRoleSession for one role: the inline deny policy conditioned on aws:TokenIssueTime that IAM's
/// "Revoke active sessions" writes, what it replaced, and every instance the role serves (all of them lose their
/// older sessions: an instance gets fresh credentials from its metadata service within minutes).
/// </summary>
public sealed class RoleSessionRevocation
{
    /// <summary>The instance the revocation was asked for (null when asked for a role directly).</summary>
    public string? InstanceId { get; internal init; }
    public string Region { get; internal init; } = "";
    public string? CaseId { get; internal init; }
    public string? FindingId { get; internal init; }
    public string? InstanceProfileArn { get; internal init; }
    public string RoleName { get; internal init; } = "";
    public string RoleArn { get; internal init; } = "";
    public string PolicyName { get; internal init; } = "";
    /// <summary>Sessions issued before this time (UTC, whole seconds) are denied everything.</summary>
    public DateTime TokenIssuedBefore { get; internal init; }
    /// <summary>The policy document put on the role.</summary>
    public string PolicyDocument { get; internal init; } = "";
    /// <summary>The revocation policy the role had before (an earlier revocation), kept so Undo can put it back.</summary>
    public string? PreviousPolicyDocument { get; internal init; }
    /// <summary>The role's inline policies before the change (names), for the record.</summary>
    public IReadOnlyList<string> InlinePolicyNames { get; internal init; } = Array.Empty<string>();
    /// <summary>The role's inline policies' aggregate size after the change, in characters without white space.</summary>
    public int InlinePolicySize { get; internal init; }
    /// <summary>IAM's limit on that aggregate for a role.</summary>
    public int InlinePolicySizeLimit { get; internal init; }
    /// <summary>The instance profiles that carry the role.</summary>
    public IReadOnlyList<string> InstanceProfileArns { get; internal init; } = Array.Empty<string>();
    /// <summary>The other instances in <see cref="Region"/> whose profile carries the role (not terminated): they lose their older sessions too.</summary>
    public IReadOnlyList<string> OtherInstances { get; internal init; } = Array.Empty<string>();
    public RevocationStatus Status { get; internal set; }
    /// <summary>
    /// -ReplaceRole: the role made for the other instances, a copy of this one (trust policy, managed and inline
    /// policies, boundary) whose sessions are all new; null when no replacement was made.
    /// </summary>
    public string? ReplacementRoleName { get; internal init; }
    public string? ReplacementRoleArn { get; internal init; }
    public string? ReplacementInstanceProfileArn { get; internal init; }
    /// <summary>
    /// The instances moved to the replacement's profile, each as "instance-id=original-instance-profile-arn", so
    /// Undo-InstanceRoleSessionRevocation can move them back.
    /// </summary>
    public IReadOnlyList<string> MovedInstances { get; internal init; } = Array.Empty<string>();
    public IReadOnlyList<QuarantineStep> Steps { get; internal init; } = new List<QuarantineStep>();
    /// <summary>Request IDs of every mutating call, in order.</summary>
    public IReadOnlyList<string> RequestIds => Steps.SelectMany(s => s.RequestIds).ToList();
    public IReadOnlyList<string> Actions { get; internal set; } = new List<string>();
    public string Caveat { get; internal init; } =
        "The deny applies to every session of the role issued before the time, on every instance and in every region that uses it; "
        + "instances fetch new credentials from their metadata service within minutes. Instances in other regions are not listed. "
        + "Policy changes can take a few minutes to take effect everywhere.";

    public override string ToString() => $"{RoleName}: {Status} (sessions before {TokenIssuedBefore:yyyy-MM-ddTHH:mm:ssZ})";
}

/// <summary>What Set-InstanceMetadataOption did to one instance's metadata service options.</summary>
public sealed class InstanceMetadataChange
{
    public string InstanceId { get; internal init; } = "";
    public string Region { get; internal init; } = "";
    public string? CaseId { get; internal init; }
    /// <summary>HttpTokens before: "optional" allowed IMDSv1, "required" only IMDSv2.</summary>
    public string? HttpTokensBefore { get; internal init; }
    public int? HopLimitBefore { get; internal init; }
    public string? HttpTokens { get; internal init; }
    public int? HopLimit { get; internal init; }
    /// <summary>Changed, Unchanged (already as asked), DryRun or Failed.</summary>
    public string Status { get; internal init; } = "";
    public IReadOnlyList<QuarantineStep> Steps { get; internal init; } = new List<QuarantineStep>();
    public IReadOnlyList<string> RequestIds => Steps.SelectMany(s => s.RequestIds).ToList();
    public override string ToString() => $"{InstanceId}: {Status} (HttpTokens {HttpTokensBefore} -> {HttpTokens}, hop limit {HopLimitBefore} -> {HopLimit})";
}
