using System.Runtime.InteropServices;
using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Engine.Tests;

/// <summary>POSIX owners and modes: these facts hold on Linux and macOS, not on Windows.</summary>
public sealed class UnixFactAttribute : FactAttribute
{
    public UnixFactAttribute()
    {
        if (OperatingSystem.IsWindows()) Skip = "POSIX owners and modes; Windows folders get an ACL instead.";
    }
}

/// <summary>The local engine's folders (parsed cache, staging, spill, S3 downloads) are the current user's alone.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class WorkFoldersTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _parent = Directory.CreateTempSubdirectory("gdir-work-").FullName;

    public void Dispose()
    {
        if (!OperatingSystem.IsWindows()) Chown(_parent, GetEUid(), recursive: true);
        Directory.Delete(_parent, recursive: true);
    }

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEUid();

    [DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int NativeChown([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint owner, uint group);

    private static void Chown(string path, uint owner, bool recursive = false)
    {
        NativeChown(path, owner, uint.MaxValue);
        if (recursive)
            foreach (var entry in Directory.EnumerateFileSystemEntries(path, "*", SearchOption.AllDirectories)) NativeChown(entry, owner, uint.MaxValue);
    }

    [UnixFact]
    public void The_default_folders_are_in_the_users_cache_folder_and_owner_only()
    {
        var cache = WorkFolders.Get("trail-cache");
        Assert.StartsWith(WorkFolders.PreferredRoot(), cache);
        Assert.DoesNotContain(Path.GetTempPath().TrimEnd('/') + "/GuardDutyIR/", cache + "/");
        foreach (var folder in new[] { cache, WorkFolders.PreferredRoot(), WorkFolders.Get("staging"), WorkFolders.Get("duckdb-spill"), WorkFolders.Get("s3-cache") })
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(folder));
    }

    [UnixFact]
    public void A_new_folder_is_created_owner_only()
    {
        var path = Path.Combine(_parent, "root", "trail-cache");
        WorkFolders.EnsurePrivate(Path.Combine(_parent, "root"));
        WorkFolders.EnsurePrivate(path);
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(_parent, "root")));
    }

    [UnixFact]
    public void A_preplanted_world_writable_folder_is_closed_and_its_planted_entries_are_dropped()
    {
        var path = Directory.CreateDirectory(Path.Combine(_parent, "planted")).FullName;
        File.WriteAllText(Path.Combine(path, "0123456789abcdef.duckdb"), "planted");
        Directory.CreateDirectory(Path.Combine(path, "sub"));
        File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);

        WorkFolders.EnsurePrivate(path);

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        Assert.Empty(Directory.EnumerateFileSystemEntries(path));
    }

    [UnixFact]
    public void A_folder_another_user_owns_is_not_used()
    {
        string path;
        if (GetEUid() == 0)
        {
            // As root, plant the way another user would: a folder owned by nobody (65534), open to all.
            path = Directory.CreateDirectory(Path.Combine(_parent, "foreign")).FullName;
            File.WriteAllText(Path.Combine(path, "entry.duckdb"), "planted");
            File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
            Chown(path, 65534, recursive: true);
        }
        else
        {
            path = "/";   // root's, never ours; refused before anything is changed
        }
        var e = Assert.Throws<GuardDutyIRException>(() => WorkFolders.EnsurePrivate(path));
        Assert.Equal("WorkFolderNotPrivate", e.ErrorId);
        Assert.Equal(ErrorKind.SecurityError, e.Kind);
        if (path != "/") Assert.True(File.Exists(Path.Combine(path, "entry.duckdb")), "a foreign folder must be left alone");
    }

    [UnixFact]
    public void A_link_in_place_of_the_folder_is_not_followed()
    {
        var target = Directory.CreateDirectory(Path.Combine(_parent, "target")).FullName;
        var link = Path.Combine(_parent, "link");
        Directory.CreateSymbolicLink(link, target);
        var e = Assert.Throws<GuardDutyIRException>(() => WorkFolders.EnsurePrivate(link));
        Assert.Equal("WorkFolderNotPrivate", e.ErrorId);
    }
}
