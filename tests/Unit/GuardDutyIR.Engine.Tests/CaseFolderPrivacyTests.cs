using GuardDutyIR.Engine.Cases;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// Case and key folders hold evidence and the journal's keys: one that other users can reach is refused, never emptied
/// (emptying is right for a cache, where anything may have been planted, and wrong for a folder of cases the responder
/// chose with GUARDDUTYIR_CASE_ROOT).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CaseFolderPrivacyTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Shared = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
    private readonly string _root = Directory.CreateTempSubdirectory("gdir-privacy-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string SharedFolderWithAFile(string name)
    {
        var folder = Path.Combine(_root, name);
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, Shared);
        File.WriteAllText(Path.Combine(folder, "earlier-case-notes.txt"), "kept");
        return folder;
    }

    [UnixFact]
    public void A_case_root_other_users_can_read_is_refused_and_what_is_in_it_is_kept()
    {
        var cases = SharedFolderWithAFile("cases");
        var error = Assert.Throws<GuardDutyIRException>(() => new CaseStore(cases, Path.Combine(_root, "keys")).Open("IR-1", create: true));
        Assert.Equal("WorkFolderNotPrivate", error.ErrorId);
        Assert.Equal(ErrorKind.SecurityError, error.Kind);
        Assert.Equal(cases, error.Target);
        Assert.Contains("chmod 700", error.Message);
        Assert.Equal("kept", File.ReadAllText(Path.Combine(cases, "earlier-case-notes.txt")));
        Assert.Equal(Shared, File.GetUnixFileMode(cases));
        Assert.False(Directory.Exists(Path.Combine(cases, "IR-1")));
    }

    [UnixFact]
    public void A_key_root_other_users_can_read_is_refused_and_what_is_in_it_is_kept()
    {
        var keys = SharedFolderWithAFile("keys");
        var error = Assert.Throws<GuardDutyIRException>(() => new CaseStore(Path.Combine(_root, "cases"), keys).Open("IR-2", create: true));
        Assert.Equal("WorkFolderNotPrivate", error.ErrorId);
        Assert.Equal(keys, error.Target);
        Assert.Equal("kept", File.ReadAllText(Path.Combine(keys, "earlier-case-notes.txt")));
        Assert.Empty(Directory.EnumerateFiles(keys, "*.key"));
    }

    [UnixFact]
    public void Folders_the_store_makes_itself_are_owner_only()
    {
        var cases = Path.Combine(_root, "new", "cases");
        var keys = Path.Combine(_root, "new", "keys");
        var handle = new CaseStore(cases, keys).Open("IR-3", create: true);
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(cases));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(handle.Folder));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(keys));
    }
}
