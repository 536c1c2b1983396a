using System.Management.Automation;
using System.Text;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;
using Xunit.Abstractions;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The Pester suites start Labs (listed process-wide by Get-GdLab, which other tests count) and set PSModulePath and
/// GUARDDUTYIR_MODULE, so they run on their own, after the parallel collections.
/// </summary>
[CollectionDefinition(nameof(PesterCollection), DisableParallelization = true)]
public sealed class PesterCollection;

/// <summary>
/// Every Pester suite of the repository (tests/Pester/*.Tests.ps1 and the users' example, examples/*.Tests.ps1) runs
/// through Invoke-Pester in a fresh runspace of the hosted PowerShell 7.6 engine, one xunit case per file. Pester's
/// own output (Detailed) goes to the test output and to TestResults/Pester/&lt;suite&gt;.txt under the repository root,
/// with an NUnit XML report beside it; .ci/run prints the text files. A case fails when a Pester test, block or
/// container fails, when nothing passed, or when a test is skipped without saying why.
/// </summary>
[Collection(nameof(PesterCollection))]
public sealed class PesterSuiteTests(ITestOutputHelper output)
{
    public static string ResultsFolder => Path.Combine(TestPaths.RepoRoot, "TestResults", "Pester");

    public static TheoryData<string> Suites()
    {
        var data = new TheoryData<string>();
        foreach (var folder in new[] { "tests/Pester", "examples" })
            foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, folder), "*.Tests.ps1").OrderBy(f => f, StringComparer.Ordinal))
                data.Add(folder + "/" + Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Pester_suite_passes(string suite)
    {
        var pester = PesterModule.Current;
        var name = suite.Replace('/', '.')[..^".ps1".Length];
        Directory.CreateDirectory(ResultsFolder);
        var textPath = Path.Combine(ResultsFolder, name + ".txt");
        var xmlPath = Path.Combine(ResultsFolder, name + ".xml");
        File.Delete(textPath);
        File.Delete(xmlPath);

        // The suites import the module themselves: the tests/Pester ones through GUARDDUTYIR_MODULE, the example by
        // name, as a user with the module installed does (the build's out/ folder is a module root).
        using var host = new HostedPowerShell(importModule: false);
        var result = host.Run("""
            param($Pester, $Suite, $Xml, $Manifest, $ModuleRoot)
            $env:GUARDDUTYIR_MODULE = $Manifest
            if (($env:PSModulePath -split [IO.Path]::PathSeparator) -notcontains $ModuleRoot) {
                $env:PSModulePath = $ModuleRoot + [IO.Path]::PathSeparator + $env:PSModulePath
            }
            Import-Module -Name $Pester -ErrorAction Stop
            $configuration = New-PesterConfiguration
            $configuration.Run.Path = $Suite
            $configuration.Run.PassThru = $true
            $configuration.Output.Verbosity = 'Detailed'
            $configuration.Output.RenderMode = 'Plaintext'
            $configuration.TestResult.Enabled = $true
            $configuration.TestResult.OutputFormat = 'NUnitXml'
            $configuration.TestResult.OutputPath = $Xml
            Invoke-Pester -Configuration $configuration
            """, pester.Manifest, Path.Combine(TestPaths.RepoRoot, suite), xmlPath, ModuleLayout.ManifestPath, ModuleLayout.ModuleRoot);

        var problems = new List<string>();
        if (result.Terminating is { } t) problems.Add($"Invoke-Pester stopped: {t.ErrorRecord}\n{t.ErrorRecord.InvocationInfo?.PositionMessage}");
        var run = result.Output.LastOrDefault(o => o.Properties["PassedCount"] is not null);
        if (run is null) problems.Add("Invoke-Pester returned no run result");
        else problems.AddRange(Problems(run));

        var text = new StringBuilder()
            .AppendLine($"Pester suite: {suite}")
            .AppendLine($"Pester: {pester}")
            .AppendLine($"Engine: PowerShell {System.Management.Automation.PSVersionInfo.PSVersion} hosted in the test process (Microsoft.PowerShell.SDK)")
            .AppendLine()
            .Append(PesterOutput.HostText(result.Information))
            .AppendLine()
            .AppendLine(problems.Count == 0 ? "Verdict: passed" : "Verdict: FAILED\n  " + string.Join("\n  ", problems))
            .ToString();
        File.WriteAllText(textPath, text);
        output.WriteLine(text);

        Assert.True(problems.Count == 0, $"{suite} (with {pester}):\n{string.Join("\n", problems)}");
        Assert.True(File.Exists(xmlPath), $"Pester wrote no NUnit report to {xmlPath}");
    }

    // ---- which Pester ------------------------------------------------------------------------------------------------

    [Fact]
    public void The_shared_Pester_build_is_used_when_it_has_its_assembly()
    {
        var shared = Directory.CreateTempSubdirectory("gdir-pester-").FullName;
        try
        {
            var package = FakePester(Path.Combine(shared, "package"), withAssembly: true);
            FakePester(Path.Combine(shared, "5.9.0"), withAssembly: true);
            var newest = FakePester(Path.Combine(shared, "6.0.0"), withAssembly: true);

            var chosen = PesterModule.Choose(shared, package, "6.2.0");

            Assert.Equal(newest, chosen.Manifest);
            Assert.Equal("6.0.0", chosen.Version);
            Assert.Contains("shared build", chosen.Reason);
        }
        finally { Directory.Delete(shared, recursive: true); }
    }

    [Fact]
    public void The_NuGet_package_is_used_when_the_shared_build_lacks_its_assembly_and_the_reason_says_so()
    {
        var shared = Directory.CreateTempSubdirectory("gdir-pester-").FullName;
        try
        {
            var package = FakePester(Path.Combine(shared, "package"), withAssembly: true);
            FakePester(Path.Combine(shared, "6.0.0"), withAssembly: false);

            var chosen = PesterModule.Choose(shared, package, "6.2.0");

            Assert.Equal(package, chosen.Manifest);
            Assert.Equal("6.2.0", chosen.Version);
            Assert.StartsWith("Pester 6.0.0 from ../shared/tools is missing bin/net8.0/Pester.dll; using Pester 6.2.0 from NuGet", chosen.Reason);

            var none = PesterModule.Choose(Path.Combine(shared, "absent"), package, "6.2.0");
            Assert.Equal(package, none.Manifest);
            Assert.StartsWith("../shared/tools/Pester has no Pester build; using Pester 6.2.0 from NuGet", none.Reason);

            var missing = Assert.Throws<InvalidOperationException>(() => PesterModule.Choose(shared, Path.Combine(shared, "nowhere", "Pester.psd1"), "6.2.0"));
            Assert.Contains("dotnet restore", missing.Message);
        }
        finally { Directory.Delete(shared, recursive: true); }
    }

    private static string FakePester(string folder, bool withAssembly)
    {
        Directory.CreateDirectory(Path.Combine(folder, "bin", "net8.0"));
        File.WriteAllText(Path.Combine(folder, "Pester.psd1"), "@{}");
        if (withAssembly) File.WriteAllText(Path.Combine(folder, PesterModule.AssemblyPath), "");
        return Path.Combine(folder, "Pester.psd1");
    }

    // ---- reading a run ---------------------------------------------------------------------------------------------

    /// <summary>What makes a Pester run a failure, in words that name the tests.</summary>
    private static IEnumerable<string> Problems(PSObject run)
    {
        T Get<T>(string property) => (T)LanguagePrimitives.ConvertTo(run.Properties[property]?.Value, typeof(T), null);
        IEnumerable<PSObject> Items(string property) =>
            (run.Properties[property]?.Value as System.Collections.IEnumerable)?.Cast<object>().Select(PSObject.AsPSObject) ?? Enumerable.Empty<PSObject>();
        string Describe(PSObject item, string pathProperty)
        {
            var path = item.Properties[pathProperty]?.Value?.ToString() ?? item.ToString();
            var errors = (item.Properties["ErrorRecord"]?.Value as System.Collections.IEnumerable)?.Cast<object>().Select(e => PSObject.AsPSObject(e).BaseObject)
                .Select(e => e is ErrorRecord r ? r.Exception.Message : e.ToString()) ?? Enumerable.Empty<string>();
            return $"{path}: {string.Join(" | ", errors)}";
        }

        foreach (var test in Items("Failed")) yield return "failed test " + Describe(test, "ExpandedPath");
        foreach (var block in Items("FailedBlocks")) yield return "failed block " + Describe(block, "Path");
        foreach (var container in Items("FailedContainers")) yield return "failed container " + Describe(container, "Item");
        if (Get<int>("FailedCount") > 0 && !Items("Failed").Any()) yield return $"{Get<int>("FailedCount")} test(s) failed";
        if (Get<int>("PassedCount") == 0) yield return "no test passed (was anything discovered?)";
        // A skip is for a missing precondition and must say which (Set-ItResult -Skipped -Because ...).
        foreach (var skipped in Items("Skipped"))
        {
            var reason = skipped.Properties["ErrorRecord"]?.Value as System.Collections.IEnumerable;
            if (reason is null || !reason.Cast<object>().Any())
                yield return $"skipped test {skipped.Properties["ExpandedPath"]?.Value} gives no reason (use Set-ItResult -Skipped -Because)";
        }
        if (Get<string>("Result") != "Passed") yield return $"Pester's result is {Get<string>("Result")}";
    }
}
