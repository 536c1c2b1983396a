using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;

namespace GuardDutyIR.Commands.Loading;

/// <summary>
/// Finds DuckDB's native library when the module was installed without it. The gallery package carries no native
/// library (five platforms would be about 318 MB); each platform's library is a module of its own,
/// <c>GuardDutyIR.DuckDB.&lt;rid&gt;</c>, installed once beside GuardDutyIR or anywhere on PSModulePath, or a file
/// named by <c>GUARDDUTYIR_DUCKDB_LIBRARY</c> for machines that cannot reach a gallery. Whatever is found is loaded
/// only if its SHA-256 is the one the build pinned in <c>deps/GuardDutyIR.DuckDB.json</c>: DuckDB.NET binds to one
/// build of the C API, and loading a library is running its code.
/// </summary>
internal static class DuckDbLibraryLocator
{
    public const string PinFileName = "GuardDutyIR.DuckDB.json";
    public const string CompanionPrefix = "GuardDutyIR.DuckDB.";
    public const string ExplicitLibraryVariable = "GUARDDUTYIR_DUCKDB_LIBRARY";

    /// <summary>
    /// Where the reason the library could not be loaded is left for the engine, which turns the DllNotFoundException
    /// into LocalQueryEngineUnavailable; AppContext data crosses load contexts without a shared type.
    /// </summary>
    public const string ProblemKey = "GuardDutyIR.DuckDB.Problem";

    private static readonly object Gate = new();
    private static string? _verifiedPath;

    /// <summary>The names DuckDB.NET's DllImport("duckdb") is probed under on each platform.</summary>
    public static bool IsDuckDb(string unmanagedDllName) =>
        Path.GetFileNameWithoutExtension(unmanagedDllName) is "duckdb" or "libduckdb";

    /// <summary>The library's path, verified; or null, with the reason in AppContext data under <see cref="ProblemKey"/>.</summary>
    public static string? Locate(string depsDirectory)
    {
        lock (Gate)
        {
            // A success is kept for the process; a failure is not, so a library installed meanwhile is found next time.
            if (_verifiedPath is not null) return _verifiedPath;
            var (path, problem) = Search(depsDirectory, Environment.GetEnvironmentVariable(ExplicitLibraryVariable),
                Environment.GetEnvironmentVariable("PSModulePath"), CurrentPlatform());
            AppContext.SetData(ProblemKey, problem);
            return _verifiedPath = path;
        }
    }

    /// <summary>
    /// DuckDB.NET's runtime identifiers (runtimes/&lt;rid&gt;/native in its package): one universal macOS build, glibc
    /// builds for Linux. Null where it has none (musl, 32-bit, other architectures). The process's architecture, not
    /// the machine's: an x64 pwsh emulated on Windows on Arm loads x64 libraries.
    /// </summary>
    public static string? CurrentPlatform()
    {
        var arch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.Arm64 => "arm64",
            _ => null,
        };
        if (arch is null) return null;
        if (RuntimeInformation.IsOSPlatform(OSPlatform.OSX)) return "osx";
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return "win-" + arch;
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            return RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.OrdinalIgnoreCase) ? null : "linux-" + arch;
        return null;
    }

    internal sealed record Pin(string File, string Sha256, long Bytes);

    internal sealed record Pins(string Version, IReadOnlyDictionary<string, Pin> Libraries);

    internal static Pins? ReadPins(string depsDirectory)
    {
        var path = Path.Combine(depsDirectory, PinFileName);
        if (!File.Exists(path)) return null;
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        var libraries = new Dictionary<string, Pin>(StringComparer.Ordinal);
        foreach (var library in root.GetProperty("libraries").EnumerateObject())
            libraries[library.Name] = new Pin(library.Value.GetProperty("file").GetString()!, library.Value.GetProperty("sha256").GetString()!,
                library.Value.GetProperty("bytes").GetInt64());
        return new Pins(root.GetProperty("version").GetString()!, libraries);
    }

    /// <summary>The search itself, with everything it depends on passed in.</summary>
    internal static (string? Path, string? Problem) Search(string depsDirectory, string? explicitLibrary, string? psModulePath, string? platform)
    {
        var pins = ReadPins(depsDirectory);
        if (pins is null)
            return (null, "DuckDB's native library is not in this copy of GuardDutyIR, and the copy names no build to look for (deps/" + PinFileName + " is missing).");
        if (platform is null || !pins.Libraries.TryGetValue(platform, out var pin))
            return (null, $"DuckDB.NET {pins.Version} has no native library for this platform ({RuntimeInformation.RuntimeIdentifier}); " +
                $"it has {string.Join(", ", pins.Libraries.Keys.Order(StringComparer.Ordinal))}.");

        var companion = CompanionPrefix + platform;
        var install = $"Install it once: Install-PSResource {companion} -Version {pins.Version} " +
            $"(or Install-Module {companion} -RequiredVersion {pins.Version}). Offline: Save-PSResource {companion} -Version {pins.Version} " +
            $"on a connected machine and copy the folder into a folder on PSModulePath, or set {ExplicitLibraryVariable} to a copy of " +
            $"{pin.File} whose SHA-256 is {pin.Sha256}.";

        if (!string.IsNullOrEmpty(explicitLibrary))
        {
            // Named on purpose: used alone, never silently replaced by something else found on PSModulePath.
            if (!File.Exists(explicitLibrary))
                return (null, $"{ExplicitLibraryVariable} names {explicitLibrary}, which is not a file. {install}");
            return Matches(explicitLibrary, pin)
                ? (explicitLibrary, null)
                : (null, $"{ExplicitLibraryVariable} names {explicitLibrary}, which is not DuckDB.NET {pins.Version}'s {pin.File} for {platform} " +
                    $"(its SHA-256 is not {pin.Sha256}); it was not loaded.");
        }

        var rejected = new List<string>();
        foreach (var folder in ModuleFolders(depsDirectory, psModulePath))
        {
            var candidate = Path.Combine(folder, companion, pins.Version, "native", pin.File);
            if (!File.Exists(candidate)) continue;
            if (Matches(candidate, pin)) return (candidate, null);
            rejected.Add(candidate);
        }
        if (rejected.Count > 0)
            return (null, $"{string.Join(", ", rejected)} {(rejected.Count == 1 ? "is" : "are")} not DuckDB.NET {pins.Version}'s {pin.File} for {platform} " +
                $"(the SHA-256 is not {pin.Sha256}) and {(rejected.Count == 1 ? "was" : "were")} not loaded. Remove the folder and install it again. {install}");
        return (null, $"DuckDB's native library for {platform} ({pin.File} of DuckDB.NET {pins.Version}) is not installed: this copy of GuardDutyIR " +
            $"came without it, and no {companion} {pins.Version} is beside it or on PSModulePath. {install}");
    }

    /// <summary>The folder GuardDutyIR itself was installed in (…/GuardDutyIR/&lt;version&gt;/deps), then PSModulePath's.</summary>
    private static IEnumerable<string> ModuleFolders(string depsDirectory, string? psModulePath)
    {
        var seen = new HashSet<string>(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
        var installedIn = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(depsDirectory).TrimEnd(Path.DirectorySeparatorChar))));
        if (installedIn is not null && seen.Add(installedIn)) yield return installedIn;
        foreach (var entry in (psModulePath ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string full;
            try { full = Path.GetFullPath(entry); }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { continue; }
            if (seen.Add(full)) yield return full;
        }
    }

    private static bool Matches(string path, Pin pin)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            if (stream.Length != pin.Bytes) return false;
            return string.Equals(Convert.ToHexString(SHA256.HashData(stream)), pin.Sha256, StringComparison.OrdinalIgnoreCase);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
