using System.Management.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// PowerShell paths (relative to PowerShell's location, not the process's; on PowerShell drives; with wildcards) as the
/// file-system paths the engine takes. Only PowerShell can resolve them; what they hold is the engine's to find.
/// </summary>
internal static class ProviderPaths
{
    /// <summary>Every path with its wildcards expanded; one that does not exist is passed on as written, for the engine to report.</summary>
    public static string[] FileSystemPaths(this PSCmdlet cmdlet, IEnumerable<string> paths, string parameter = "Path") => paths.SelectMany<string, string>(path =>
    {
        RequireFileSystemCharacters(path, parameter, "InvalidPath");
        try
        {
            return cmdlet.GetResolvedProviderPathFromPSPath(path, out _);
        }
        catch (ItemNotFoundException)
        {
            return new[] { cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path) };
        }
    }).ToArray();

    /// <summary>A folder that may not exist yet; a path that is not a file-system path is refused with <paramref name="errorId"/>.</summary>
    public static string FolderPath(this PSCmdlet cmdlet, string path, string parameter, string errorId)
    {
        RequireFileSystemCharacters(path, parameter, errorId);
        try
        {
            return cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or PSInvalidOperationException)
        {
            throw new GuardDutyIRException(errorId, ErrorKind.InvalidArgument, $"-{parameter} '{path}' is not a file system path: {e.Message}", path);
        }
    }

    /// <summary>
    /// PowerShell resolves a path with a NUL in it, and the first file-system call on it then throws a bare
    /// ArgumentException; no file system can hold such a name, so it is refused with the caller's ErrorId.
    /// </summary>
    public static void RequireFileSystemCharacters(string path, string parameter, string errorId)
    {
        if (path.IndexOfAny(System.IO.Path.GetInvalidPathChars()) >= 0)
            throw new GuardDutyIRException(errorId, ErrorKind.InvalidArgument, $"-{parameter} holds a character no file-system path can hold (such as NUL).", path);
    }
}
