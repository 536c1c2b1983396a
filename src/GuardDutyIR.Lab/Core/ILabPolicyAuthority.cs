namespace GuardDutyIR.Lab.Core;

/// <summary>
/// Where the server asks, after a signature checks out, whether the signer's own policies explicitly deny the call
/// (an explicit deny wins over every allow: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
/// </summary>
public interface ILabPolicyAuthority
{
    /// <summary>The denial message when a policy of the principal explicitly denies <paramref name="service"/>:<paramref name="action"/>; null otherwise.</summary>
    string? ExplicitDeny(LabPrincipal principal, string service, string action);
}
