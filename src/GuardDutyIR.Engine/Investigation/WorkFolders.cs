using System.Runtime.InteropServices;
using System.Security.AccessControl;
using System.Security.Principal;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// The per-user folders of local queries: parsed trail files, staging, DuckDB spill files and S3 downloads. They
/// hold what an account did (principals, IPs, request parameters), so no other local user may read them, nor plant an
/// entry a later query would trust. On Unix they live in the user's cache folder ($XDG_CACHE_HOME or ~/.cache), mode
/// 0700, and one that already exists is used only when the current user owns it and no one else can reach it; on
/// Windows they live in the user's local application data, with an ACL for the user alone.
/// </summary>
internal static class WorkFolders
{
    private const string Product = "GuardDutyIR";
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode GroupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private static readonly object Gate = new();
    private static string? _fallback;

    /// <summary>A private folder under the user's GuardDutyIR folder, created if needed.</summary>
    public static string Get(string name, Action<QueryNotice>? notice = null)
    {
        lock (Gate)
        {
            var preferred = Path.Combine(PreferredRoot(), name);
            try
            {
                EnsurePrivate(Path.GetDirectoryName(preferred)!);
                EnsurePrivate(preferred);
                return preferred;
            }
            catch (GuardDutyIRException e) when (e.ErrorId == "WorkFolderNotPrivate")
            {
                // Someone else's folder (or one that cannot be checked) is never used; a fresh one made for this
                // process alone keeps the query working, without the cache of earlier processes.
                notice?.Invoke(new QueryNotice("WorkFolderNotPrivate", e.Message + " A new private folder is used for this session instead.", e.Target?.ToString()));
                _fallback ??= Directory.CreateTempSubdirectory(Product + "-").FullName;
                var path = Path.Combine(_fallback, name);
                EnsurePrivate(path);
                return path;
            }
        }
    }

    /// <summary>
    /// The user's GuardDutyIR folder: %LOCALAPPDATA%\GuardDutyIR on Windows; $XDG_CACHE_HOME/GuardDutyIR or
    /// ~/.cache/GuardDutyIR elsewhere (the XDG base directory rule for non-essential cached data); a folder named for
    /// the user id under the temp folder when there is no home.
    /// </summary>
    public static string PreferredRoot()
    {
        if (OperatingSystem.IsWindows())
        {
            var local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
            return Path.Combine(string.IsNullOrEmpty(local) ? Path.GetTempPath() : local, Product);
        }
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg))
            return Path.Combine(xdg, Product);
        if (Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home && Path.IsPathRooted(home))
            return Path.Combine(home, ".cache", Product);
        return Path.Combine(Path.GetTempPath(), $"{Product}-{(Unix.TryGetEffectiveUserId(out var uid) ? uid.ToString(System.Globalization.CultureInfo.InvariantCulture) : Environment.UserName)}");
    }

    /// <summary>
    /// Creates the folder for the current user alone, or checks one that exists: a folder another user owns (or a
    /// link) is refused; our own that others could reach is closed and emptied, since anything in it may have been
    /// planted or read. For caches and scratch space only: see <see cref="RequirePrivate"/>.
    /// </summary>
    public static void EnsurePrivate(string path) => Private(path, emptyIfOpen: true);

    /// <summary>
    /// As <see cref="EnsurePrivate"/>, for folders whose contents must never be thrown away (cases, journal keys): one
    /// that others could reach is refused as it is, with the command that closes it.
    /// </summary>
    public static void RequirePrivate(string path) => Private(path, emptyIfOpen: false);

    private static void Private(string path, bool emptyIfOpen)
    {
        if (OperatingSystem.IsWindows())
        {
            EnsurePrivateWindows(path);
            return;
        }
        var parent = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(parent)) Directory.CreateDirectory(parent);
        if (!Directory.Exists(path) && !File.Exists(path))
        {
            try { Directory.CreateDirectory(path, OwnerOnly); }
            catch (IOException) when (Directory.Exists(path)) { }
        }
        if (!Unix.TryLStat(path, out var mode, out var owner) || !Unix.TryGetEffectiveUserId(out var me))
            throw NotPrivate(path, "its owner cannot be checked");
        if ((mode & Unix.TypeMask) != Unix.Directory)
            throw NotPrivate(path, "it is not a folder (a link or a file)");
        if (owner != me)
            throw NotPrivate(path, $"it belongs to user id {owner}, not to the current user ({me})");
        if ((File.GetUnixFileMode(path) & GroupOrOther) != 0)
        {
            if (!emptyIfOpen)
                throw NotPrivate(path, $"other users can open it, and what it holds is left as it is: close it with chmod 700 '{path}', or choose another folder");
            File.SetUnixFileMode(path, OwnerOnly);
            foreach (var entry in new DirectoryInfo(path).EnumerateFileSystemInfos())
            {
                if (entry is DirectoryInfo { LinkTarget: null } dir) dir.Delete(recursive: true);
                else entry.Delete();
            }
        }
    }

    private static GuardDutyIRException NotPrivate(string path, string why) =>
        new("WorkFolderNotPrivate", ErrorKind.SecurityError, $"The folder '{path}' is not private to the current user: {why}.", path);

    // A protected ACL (nothing inherited) that lets the current user alone in; SYSTEM and administrators can read any
    // profile anyway.
    [System.Runtime.Versioning.SupportedOSPlatform("windows")]
    private static void EnsurePrivateWindows(string path)
    {
        var user = WindowsIdentity.GetCurrent().User ?? throw NotPrivate(path, "the current user has no security identifier");
        var security = new DirectorySecurity();
        security.SetOwner(user);
        security.SetAccessRuleProtection(isProtected: true, preserveInheritance: false);
        security.AddAccessRule(new FileSystemAccessRule(user, FileSystemRights.FullControl,
            InheritanceFlags.ContainerInherit | InheritanceFlags.ObjectInherit, PropagationFlags.None, AccessControlType.Allow));
        var info = new DirectoryInfo(path);
        if (!info.Exists)
        {
            info.Create(security);
            return;
        }
        if (info.LinkTarget is not null) throw NotPrivate(path, "it is a link");
        try
        {
            var owner = info.GetAccessControl().GetOwner(typeof(SecurityIdentifier));
            if (owner is not null && owner != user) throw NotPrivate(path, $"it belongs to {owner}");
            info.SetAccessControl(security);
        }
        catch (UnauthorizedAccessException)
        {
            throw NotPrivate(path, "its permissions cannot be set by the current user");
        }
    }

    /// <summary>
    /// The owner and type of a path without following links, and the effective user id. .NET has no public API for a
    /// file's owner; the runtime's own native shim (System.Native, shipped with every .NET on Unix) has lstat, with a
    /// fixed layout whose first fields (flags, mode, uid) have not changed since .NET Core 1.0.
    /// </summary>
    private static class Unix
    {
        public const int TypeMask = 0xF000;
        public const int Directory = 0x4000;

        [DllImport("libSystem.Native", EntryPoint = "SystemNative_LStat", SetLastError = true)]
        private static extern int LStat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [Out] byte[] status);

        [DllImport("libSystem.Native", EntryPoint = "SystemNative_GetEUid")]
        private static extern uint GetEUid();

        public static bool TryLStat(string path, out int mode, out uint owner)
        {
            mode = 0;
            owner = uint.MaxValue;
            try
            {
                var status = new byte[512];   // larger than any FileStatus the runtime has had
                if (LStat(path, status) != 0) return false;
                mode = BitConverter.ToInt32(status, 4);
                owner = BitConverter.ToUInt32(status, 8);
                return true;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return false;
            }
        }

        public static bool TryGetEffectiveUserId(out uint uid)
        {
            try
            {
                uid = GetEUid();
                return true;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                uid = uint.MaxValue;
                return false;
            }
        }
    }
}
