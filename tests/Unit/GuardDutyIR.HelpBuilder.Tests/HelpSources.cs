using System.Reflection;

namespace GuardDutyIR.HelpBuilder.Tests;

/// <summary>The built cmdlet assembly and a scratch copy of module/help that a test may break.</summary>
public sealed class HelpSources : IDisposable
{
    private static string Metadata(string key) =>
        typeof(HelpSources).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    public static string LayoutDir => Metadata("ModuleLayoutDir");
    public static string RepoHelpDir => Path.Combine(Metadata("RepoRoot"), "module", "help");
    public static string CmdletAssembly => Path.Combine(LayoutDir, "GuardDutyIR.Cmdlets.dll");

    /// <summary>The engine and its dependencies, so any parameter type resolves as it does at build time.</summary>
    public static IReadOnlyList<string> References =>
        Directory.Exists(Path.Combine(LayoutDir, "deps")) ? Directory.GetFiles(Path.Combine(LayoutDir, "deps"), "*.dll") : Array.Empty<string>();

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "gdhelp-" + Guid.NewGuid().ToString("N"));
    public string HelpDir => Path.Combine(Root, "help");
    public string OutDir => Path.Combine(Root, "en-US");

    public HelpSources()
    {
        Directory.CreateDirectory(HelpDir);
        foreach (var file in Directory.GetFiles(RepoHelpDir, "*.md"))
            File.Copy(file, Path.Combine(HelpDir, Path.GetFileName(file)));
    }

    public string PathOf(string file) => Path.Combine(HelpDir, file);

    public void Edit(string file, Func<string, string> change)
    {
        var path = PathOf(file);
        var before = File.ReadAllText(path);
        var after = change(before);
        Assert.NotEqual(before, after);
        File.WriteAllText(path, after);
    }

    public HelpBuildOptions Options => new()
    {
        AssemblyPath = CmdletAssembly,
        HelpDirectory = HelpDir,
        OutputDirectory = OutDir,
        References = References,
    };

    public HelpBuildResult Build() => HelpBuild.Run(Options);

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
