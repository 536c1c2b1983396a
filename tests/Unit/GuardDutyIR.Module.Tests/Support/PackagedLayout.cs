namespace GuardDutyIR.Module.Tests.Support;

/// <summary>
/// What every package of the module carries (the Lambda layer, the SSM attachment, the gallery package): the build's
/// module folder less DuckDB's native libraries (a gallery module per platform), debug symbols, and the Lab's
/// executable host files (the module runs the Lab in process).
/// </summary>
public static class PackagedLayout
{
    public static readonly string[] DuckDbNatives = { "libduckdb.so", "libduckdb.dylib", "duckdb.dll" };

    private static readonly string[] LabHostFiles = { "deps/GuardDutyIR.Lab", "deps/GuardDutyIR.Lab.runtimeconfig.json", "deps/GuardDutyIR.Lab.deps.json" };

    /// <summary>Every file of the build's module folder, relative, with '/'.</summary>
    public static IReadOnlyList<string> Built() =>
        Directory.EnumerateFiles(ModuleLayout.Directory, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(ModuleLayout.Directory, f).Replace('\\', '/'))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();

    public static bool IsLeftOut(string relative) =>
        DuckDbNatives.Contains(Path.GetFileName(relative)) || relative.EndsWith(".pdb", StringComparison.OrdinalIgnoreCase) || LabHostFiles.Contains(relative);

    public static IReadOnlyList<string> Expected() => Built().Where(f => !IsLeftOut(f)).ToList();
}
