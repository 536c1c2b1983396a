using System.Security.Cryptography;
using System.Text;
using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Engine.Cases;

/// <summary>
/// Where cases and their journal keys live. A case folder holds what was done and collected; the key that signs its
/// journal head lives in a different private folder, so a copy of the case (to S3, in an evidence bundle, to a
/// reviewer) never carries what would let someone re-sign an edited journal.
/// </summary>
public static class CaseFolders
{
    public const string CaseRootVariable = "GUARDDUTYIR_CASE_ROOT";
    public const string KeyRootVariable = "GUARDDUTYIR_CASE_KEY_ROOT";
    private const string Product = "GuardDutyIR";

    // Case IDs are tag values (letters, digits, spaces and _ . : / = + - @); the ones a file name cannot hold are
    // written as %XX, so "INC/2026:7" and "INC_2026_7" stay two different cases.
    private const string FileNameSafe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.=+@-";

    /// <summary>The folder holding every case: GUARDDUTYIR_CASE_ROOT, else the user's data folder.</summary>
    public static string DefaultRoot() =>
        Environment.GetEnvironmentVariable(CaseRootVariable) is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(UserFolder("XDG_DATA_HOME", Path.Combine(".local", "share"), Environment.SpecialFolder.LocalApplicationData), "cases");

    /// <summary>The folder holding the journal keys: GUARDDUTYIR_CASE_KEY_ROOT, else the user's configuration folder.</summary>
    public static string DefaultKeyRoot() =>
        Environment.GetEnvironmentVariable(KeyRootVariable) is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(UserFolder("XDG_CONFIG_HOME", ".config", Environment.SpecialFolder.ApplicationData), "case-keys");

    // The XDG base directory rule on Unix; the user's application data on Windows.
    private static string UserFolder(string xdgVariable, string homeRelative, Environment.SpecialFolder windowsFolder)
    {
        if (OperatingSystem.IsWindows())
        {
            var folder = Environment.GetFolderPath(windowsFolder);
            return Path.Combine(string.IsNullOrEmpty(folder) ? Path.GetTempPath() : folder, Product);
        }
        if (Environment.GetEnvironmentVariable(xdgVariable) is { Length: > 0 } xdg && Path.IsPathRooted(xdg)) return Path.Combine(xdg, Product);
        if (Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home && Path.IsPathRooted(home)) return Path.Combine(home, homeRelative, Product);
        return Path.Combine(Path.GetTempPath(), $"{Product}-{Environment.UserName}");
    }

    /// <summary>Checks a case ID: 1-128 characters an EC2 tag value may hold, not only dots.</summary>
    public static string RequireCaseId(string? caseId)
    {
        if (string.IsNullOrWhiteSpace(caseId) || caseId.Length > 128 || caseId.Trim('.').Length == 0
            || caseId.Any(c => !(char.IsAsciiLetterOrDigit(c) || " _.:/=+-@".Contains(c))))
            throw new GuardDutyIRException("InvalidCaseId", ErrorKind.InvalidArgument,
                $"'{caseId}' is not a valid case ID: use 1 to 128 letters, digits, spaces and _ . : / = + - @ (it is also the instances' ir:case tag).", caseId);
        return caseId;
    }

    /// <summary>The case's folder name: the ID with every character a file name cannot safely hold as %XX.</summary>
    public static string FolderName(string caseId)
    {
        var name = new StringBuilder();
        foreach (var c in RequireCaseId(caseId))
            name.Append(FileNameSafe.Contains(c) ? c.ToString() : $"%{(int)c:X2}");
        // "." and ".." alone are refused above; a leading dot would hide the folder.
        return name[0] == '.' ? "%2E" + name.ToString(1, name.Length - 1) : name.ToString();
    }

    public static string CaseFolder(string root, string caseId) => Path.Combine(root, FolderName(caseId));

    /// <summary>
    /// The case's journal key, created (32 random bytes, owner-only) when the case has none. It is found by the case's
    /// ID and the unique ID written in its case.json at creation, so a copy of the case folder is still checked with
    /// its own key, and two cases with the same ID (two roots, or one deleted and made again) never share one.
    /// </summary>
    public static byte[] JournalKey(string keyRoot, string caseId, string caseUid, bool create)
    {
        var path = KeyPath(keyRoot, caseId, caseUid);
        if (File.Exists(path))
        {
            var existing = File.ReadAllBytes(path);
            if (existing.Length == 32) return existing;
            throw new GuardDutyIRException("CaseKeyInvalid", ErrorKind.InvalidData, $"The journal key '{path}' is not a 32-byte key.", path);
        }
        if (!create)
            throw new GuardDutyIRException("CaseKeyMissing", ErrorKind.ObjectNotFound,
                $"No journal key for case '{caseId}' in '{keyRoot}': the head's signature cannot be checked here (set {KeyRootVariable} to the folder that holds it).", caseId);
        WorkFolders.RequirePrivate(keyRoot);
        var key = RandomNumberGenerator.GetBytes(32);
        // Written aside and moved in without overwriting: a writer on another thread or process reading the key at the
        // same moment sees either no key or the whole key, never a file still open for writing; if another writer made
        // it first, theirs is the key.
        return AsideFiles.Write(path, key, overwrite: false, UnixFileMode.UserRead | UnixFileMode.UserWrite)
            ? key
            : JournalKey(keyRoot, caseId, caseUid, create: false);
    }

    private static string KeyPath(string keyRoot, string caseId, string caseUid) =>
        Path.Combine(keyRoot, $"{FolderName(caseId)}.{caseUid}.key");
}
