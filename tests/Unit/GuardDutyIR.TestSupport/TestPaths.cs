namespace GuardDutyIR.TestSupport;

/// <summary>Where the repository and the shared reference material (../shared beside the clone) are.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
    public static string Samples => Path.Combine(Shared, "aws-samples");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GuardDutyIR.sln"))) return dir.FullName;
        throw new InvalidOperationException("GuardDutyIR.sln not found above " + AppContext.BaseDirectory);
    }
}
