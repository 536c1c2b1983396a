using System.Text;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// Where a downloaded S3 object goes in the cache: &lt;cache&gt;/&lt;bucket&gt;/&lt;key's segments&gt;, and only when that
/// path is strictly inside the bucket's folder on every platform. A key is text the bucket's writer chose, so it is
/// checked rather than trusted: "..", absolute or drive-rooted segments, backslashes, reserved Windows names, control
/// characters and over-long names are refused. Such an object is skipped, not renamed: CloudTrail writes none
/// (its keys are AWSLogs/&lt;account&gt;/CloudTrail/&lt;region&gt;/yyyy/MM/dd/&lt;file&gt;.json.gz,
/// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/get-and-view-cloudtrail-log-files.html), so it is not a
/// trail log as delivered, and any renaming could land on the name of another object and pass one for the other.
/// </summary>
internal static class S3CachePaths
{
    /// <summary>The longest file name most file systems take (255 bytes), less room for our own suffixes.</summary>
    private const int MaxSegmentBytes = 200;

    /// <summary>Well inside Windows' long-path limit and Linux's PATH_MAX (4096).</summary>
    private const int MaxPathChars = 3000;

    private static readonly char[] Forbidden = { '\\', ':', '*', '?', '"', '<', '>', '|' };

    private static readonly HashSet<string> ReservedWindowsNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
        "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³",
        "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
    };

    /// <summary>The local path of the object, or null (with the reason) when its key cannot be a path inside the cache.</summary>
    public static string? LocalPath(string cache, string bucket, string key, out string? reason)
    {
        reason = Refusal(key);
        if (reason is not null) return null;
        var bucketRoot = Path.GetFullPath(Path.Combine(cache, bucket));
        var local = Path.GetFullPath(Path.Combine(new[] { bucketRoot }.Concat(key.Split('/')).ToArray()));
        if (!local.StartsWith(bucketRoot + Path.DirectorySeparatorChar, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
        {
            reason = "its key does not resolve to a file inside the cache folder";
            return null;
        }
        if (local.Length > MaxPathChars)
        {
            reason = $"its key is too long for a local path ({local.Length} characters)";
            return null;
        }
        return local;
    }

    private static string? Refusal(string key)
    {
        if (key.Length == 0) return "its key is empty";
        if (key.StartsWith('/')) return "its key is an absolute path";
        foreach (var segment in key.Split('/'))
        {
            if (segment.Length == 0) return "its key has an empty path segment ('//')";
            if (segment is "." or "..") return "its key has a '.' or '..' path segment";
            if (segment.Any(char.IsControl)) return "its key has control characters";
            if (segment.IndexOfAny(Forbidden) >= 0) return "its key has a character that is not allowed in file names (\\ : * ? \" < > |)";
            if (segment.EndsWith('.') || segment.EndsWith(' ')) return "its key has a name ending in a dot or a space";
            if (ReservedWindowsNames.Contains(segment.Split('.')[0].TrimEnd(' '))) return $"its key has a reserved device name ('{segment}')";
            if (Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes) return "its key has a name longer than a file name can be";
        }
        return null;
    }

    /// <summary>
    /// Refuses a folder chain that passes through a link: a link planted inside the cache folder would send the
    /// download elsewhere.
    /// </summary>
    public static void CheckNoLinks(string cache, string folder)
    {
        var root = Path.GetFullPath(cache);
        for (var dir = new DirectoryInfo(Path.GetFullPath(folder)); dir is not null && dir.FullName.Length > root.Length; dir = dir.Parent)
        {
            if (dir.LinkTarget is not null)
                throw new GuardDutyIRException("CacheFolderLink", ErrorKind.SecurityError,
                    $"The cache folder '{dir.FullName}' is a link; downloads are written only into real folders of the cache.", dir.FullName);
        }
    }

    /// <summary>A key or URI fit for a message: control characters shown as \uXXXX, and at most 300 characters.</summary>
    public static string Printable(string text)
    {
        var sb = new StringBuilder();
        foreach (var c in text.Length > 300 ? text[..300] : text)
        {
            if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return text.Length > 300 ? sb.Append("…").ToString() : sb.ToString();
    }
}
