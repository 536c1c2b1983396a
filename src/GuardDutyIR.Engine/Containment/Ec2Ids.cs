using System.Text.RegularExpressions;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// The formats of the identifiers containment takes, checked before any call: a wrong value, or an object that is
/// not an ID at all, is refused here with a stable ErrorId instead of being sent to EC2.
/// </summary>
public static partial class Ec2Ids
{
    // "i-" and 8 hexadecimal digits (IDs made before 2016) or 17 (since), as EC2 writes them: lower case.
    // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html
    [GeneratedRegex(@"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})\z", RegexOptions.CultureInvariant)]
    private static partial Regex InstanceIdPattern();

    // arn:<partition>:iam::<account>:instance-profile/<path/><name>; IAM names take letters, digits and +=,.@_-.
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
    [GeneratedRegex(@"^arn:aws(?:-[a-z]+)*:iam::[0-9]{12}:instance-profile/(?:[A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,128}\z", RegexOptions.CultureInvariant)]
    private static partial Regex InstanceProfileArnPattern();

    // A key ID, a multi-Region key ID, an alias, or the ARN of a key or an alias (what CopySnapshot's KmsKeyId takes).
    // https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id
    [GeneratedRegex(@"^(?:arn:aws(?:-[a-z]+)*:kms:[a-z0-9-]+:[0-9]{12}:)?(?:(?:key/)?(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})|alias/[a-zA-Z0-9/_-]{1,250})\z", RegexOptions.CultureInvariant)]
    private static partial Regex KmsKeyPattern();

    // A VPC security group name: up to 255 of a-z A-Z 0-9 space and ._-:/()#,@[]+=&;{}!$*, never "sg-…".
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
    [GeneratedRegex(@"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}\z", RegexOptions.CultureInvariant)]
    private static partial Regex GroupNamePattern();

    /// <summary>The values of a quarantine that are the same for every instance: checked once, before any call.</summary>
    public static void RequireQuarantineOptions(string? replacementInstanceProfileArn, string isolationGroupName)
    {
        if (replacementInstanceProfileArn is not null) RequireInstanceProfileArn(replacementInstanceProfileArn);
        RequireSecurityGroupName(isolationGroupName);
    }

    public static bool IsInstanceId(string? value) => value is not null && InstanceIdPattern().IsMatch(value);

    /// <summary>The refusal of a value that is not an instance ID; <paramref name="source"/> is what the caller was given.</summary>
    public static GuardDutyIRException InvalidInstanceId(string? value, object? source = null)
    {
        // Name a non-string input by its type only: its text could hold anything, a secret included.
        var what = source is null or string ? $"'{Shorten(value)}'" : $"A {source.GetType().FullName}";
        return new GuardDutyIRException("InvalidInstanceId", ErrorKind.InvalidArgument,
            $"{what} is not an EC2 instance ID: expected i- followed by 8 or 17 lowercase hexadecimal digits (pipe instance IDs, or objects with an InstanceId property).",
            source ?? value);
    }

    public static void RequireInstanceId(string? value)
    {
        if (!IsInstanceId(value)) throw InvalidInstanceId(value);
    }

    public static void RequireInstanceProfileArn(string value)
    {
        if (!InstanceProfileArnPattern().IsMatch(value))
            throw new GuardDutyIRException("InvalidInstanceProfileArn", ErrorKind.InvalidArgument,
                $"'{Shorten(value)}' is not an instance profile ARN (arn:aws:iam::<account>:instance-profile/<name>).", value);
    }

    public static void RequireKmsKeyId(string value)
    {
        if (!KmsKeyPattern().IsMatch(value))
            throw new GuardDutyIRException("InvalidKmsKeyId", ErrorKind.InvalidArgument,
                $"'{Shorten(value)}' is not a KMS key: give a key ID, an alias (alias/<name>) or the ARN of either.", value);
    }

    public static void RequireSecurityGroupName(string value)
    {
        if (!GroupNamePattern().IsMatch(value) || value.StartsWith("sg-", StringComparison.OrdinalIgnoreCase))
            throw new GuardDutyIRException("InvalidSecurityGroupName", ErrorKind.InvalidArgument,
                $"'{Shorten(value)}' is not a usable security group name: up to 255 letters, digits, spaces and ._-:/()#,@[]+=&;{{}}!$*, not starting with sg-.", value);
    }

    private static string Shorten(string? value) => value is null ? "" : value.Length <= 64 ? value : value[..64] + "…";
}
