using System.Security.Cryptography;
using System.Text;

namespace GuardDutyIR.Engine.Cases.Evidence;

/// <summary>
/// File names for a bundle made from text an attacker may have chosen (a query name, an instance ID taken from a
/// finding, a file name): every character but letters, digits, '.', '_' and '-' becomes '_', so no separator, drive,
/// "..", control character or reserved Windows name survives, and a path is only ever one name inside the folder the
/// bundle gives it.
/// </summary>
public static class EvidenceNames
{
    private const int MaxLength = 100;

    private static readonly HashSet<string> ReservedWindowsNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
        "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
        "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    };

    /// <summary>One safe file name from <paramref name="raw"/>; <paramref name="fallback"/> when nothing of it is usable.</summary>
    public static string Segment(string? raw, string fallback)
    {
        var name = new StringBuilder();
        foreach (var c in raw ?? "")
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '_');
        // Leading dots hide a file or make "." and ".."; trailing dots and spaces Windows drops.
        var text = name.ToString().Trim('.');
        if (text.Length > MaxLength)
        {
            // Cut, with a hash of the whole so two long names that share a start stay apart.
            var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(raw!)))[..8].ToLowerInvariant();
            text = text[..(MaxLength - 9)].TrimEnd('.') + "-" + hash;
        }
        if (text.Trim('_', '-').Length == 0) text = fallback;
        var stem = text.Split('.')[0];
        if (ReservedWindowsNames.Contains(stem)) text = "_" + text;
        return text;
    }

    /// <summary>The full path of <paramref name="relative"/> ('/'-separated) under <paramref name="root"/>, refused unless strictly inside it.</summary>
    public static string Inside(string root, string relative)
    {
        var fullRoot = Path.GetFullPath(root);
        var full = Path.GetFullPath(Path.Combine(new[] { fullRoot }.Concat(relative.Split('/')).ToArray()));
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        if (!full.StartsWith(Path.TrimEndingDirectorySeparator(fullRoot) + Path.DirectorySeparatorChar, comparison))
            throw new GuardDutyIRException("EvidencePathOutsideBundle", ErrorKind.SecurityError,
                $"'{relative}' does not resolve to a file inside the bundle '{fullRoot}'.", relative);
        return full;
    }
}
