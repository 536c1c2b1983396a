using System.Text;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Engine.ThreatLists;

/// <summary>
/// The list's name and the S3 bucket and key of its file, checked before any call. A list name is free text to
/// GuardDuty (1-300 characters), but the default key is built from it, and a key with "." or ".." segments is not
/// where it seems: HTTP clients remove dot segments from the request path, so "lists/../x.txt" would write "x.txt".
/// </summary>
public static partial class ThreatListLocation
{
    [GeneratedRegex(@"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\z")]
    private static partial Regex BucketName();

    [GeneratedRegex(@"[^A-Za-z0-9_-]+")]
    private static partial Regex NotKeySafe();

    /// <summary>The list name as GuardDuty's CreateThreatIntelSet/CreateIPSet take it: 1 to 300 characters, no control characters.</summary>
    public static string ValidateName(string name)
    {
        if (name.Length is < 1 or > 300 || name.Any(char.IsControl) || string.IsNullOrWhiteSpace(name))
            throw new GuardDutyIRException("InvalidThreatListName", ErrorKind.InvalidArgument,
                "A list name is 1 to 300 characters with no control characters and not only spaces.", name);
        return name;
    }

    /// <summary>S3 bucket naming rules (general purpose buckets): 3-63 lowercase letters, digits, dots and hyphens.</summary>
    public static string ValidateBucket(string bucket)
    {
        if (!BucketName().IsMatch(bucket) || bucket.Contains("..", StringComparison.Ordinal))
            throw new GuardDutyIRException("InvalidBucketName", ErrorKind.InvalidArgument,
                $"'{bucket}' is not an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens).", bucket);
        return bucket;
    }

    /// <summary>
    /// A key the list file can be written to and read back from exactly: 1-1024 bytes of UTF-8, no control
    /// characters, no leading '/', no empty, "." or ".." segments.
    /// </summary>
    public static string ValidateKey(string key)
    {
        var segments = key.Split('/');
        if (key.Length == 0 || Encoding.UTF8.GetByteCount(key) > 1024 || key.Any(char.IsControl) || key.Contains('\\')
            || segments.Any(s => s is "" or "." or ".."))
            throw new GuardDutyIRException("InvalidS3Key", ErrorKind.InvalidArgument,
                "An S3 key for a list file is 1-1024 bytes with no control characters or backslashes, and no empty, '.' or '..' segments "
                + "(HTTP removes dot segments, so such a key would write somewhere else).", key);
        return key;
    }

    /// <summary>
    /// The default key, guardduty/threat-lists/&lt;name&gt;.txt (trusted-ip-lists for trusted lists), with every run of
    /// characters other than letters, digits, '-' and '_' in the name replaced by '-', so no name can reach outside
    /// that prefix or make an unreadable key.
    /// </summary>
    public static string DefaultKey(ThreatListType type, string name)
    {
        var slug = NotKeySafe().Replace(name, "-").Trim('-');
        if (slug.Length == 0) slug = "list-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..12].ToLowerInvariant();
        if (slug.Length > 200) slug = slug[..200];
        return $"guardduty/{(type == ThreatListType.Threat ? "threat-lists" : "trusted-ip-lists")}/{slug}.txt";
    }
}
