namespace GuardDutyIR.Lab.Iam;

/// <summary>A role as IAM keeps it: its inline policies by name and the managed policies attached to it.</summary>
public sealed class IamRole
{
    public required string AccountId { get; init; }
    public required string RoleName { get; init; }
    public required string RoleId { get; init; }
    public string Path { get; init; } = "/";
    public required DateTimeOffset CreateDate { get; init; }
    public required string AssumeRolePolicyDocument { get; init; }
    public string? Description { get; init; }
    public int MaxSessionDuration { get; init; } = 3600;
    public string? PermissionsBoundaryArn { get; init; }
    public SortedDictionary<string, string> Tags { get; } = new(StringComparer.Ordinal);
    /// <summary>Inline policies by name (documents as the caller sent them).</summary>
    public SortedDictionary<string, string> InlinePolicies { get; } = new(StringComparer.Ordinal);
    public List<string> AttachedPolicyArns { get; } = new();
    public string Arn => $"arn:aws:iam::{AccountId}:role{Path}{RoleName}";
}

/// <summary>A managed policy (AWS managed, account "aws", or customer managed) with its default version's document.</summary>
public sealed class IamManagedPolicy
{
    public required string Arn { get; init; }
    public required string PolicyName { get; init; }
    public required string PolicyId { get; init; }
    public string Path { get; init; } = "/";
    public required string DefaultVersionId { get; init; }
    public required string Document { get; init; }
    public required DateTimeOffset CreateDate { get; init; }
    public required DateTimeOffset UpdateDate { get; init; }
    public string? Description { get; init; }
    /// <summary>"aws" for AWS managed policies, else the owning account.</summary>
    public string Owner => Arn.Split(':')[4];
}

public sealed class IamInstanceProfile
{
    public required string AccountId { get; init; }
    public required string Name { get; init; }
    public required string InstanceProfileId { get; init; }
    public string Path { get; init; } = "/";
    public required DateTimeOffset CreateDate { get; init; }
    public List<string> RoleNames { get; } = new();
    public SortedDictionary<string, string> Tags { get; } = new(StringComparer.Ordinal);
    public string Arn => $"arn:aws:iam::{AccountId}:instance-profile{Path}{Name}";
}
