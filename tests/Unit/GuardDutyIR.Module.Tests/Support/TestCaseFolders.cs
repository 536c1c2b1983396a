using System.Runtime.CompilerServices;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>
/// Cases journaled by any test (every -CaseId journals) go to a folder of this test run, never to the user's data
/// folder; the processes tests start (runtime loops, fresh hosts) inherit it.
/// </summary>
public static class TestCaseFolders
{
    public static string Root { get; private set; } = "";

    [ModuleInitializer]
    internal static void Initialize()
    {
        Root = Directory.CreateTempSubdirectory("gdir-test-cases-").FullName;
        Environment.SetEnvironmentVariable("GUARDDUTYIR_CASE_ROOT", Path.Combine(Root, "cases"));
        Environment.SetEnvironmentVariable("GUARDDUTYIR_CASE_KEY_ROOT", Path.Combine(Root, "keys"));
    }
}
