using System.Management.Automation;
using System.Management.Automation.Language;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.Loader;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;
using Xunit.Abstractions;

namespace GuardDutyIR.Module.Tests;

/// <summary>The built layout imports into PowerShell 7.6 and keeps its dependencies to itself.</summary>
public sealed class ModuleImportTests(ITestOutputHelper output)
{
    private static readonly string[] ExpectedCmdlets =
    {
        "Add-GdThreatListEntry",
        "Clear-GdDefault",
        "ConvertFrom-GdFindingEvent",
        "Copy-GdCaseJournal",
        "Export-GdCaseEvidence",
        "Export-GdCaseReport",
        "Get-GdCallerIdentity",
        "Get-GdCase",
        "Get-GdDefault",
        "Get-GdDetector",
        "Get-GdFinding",
        "Get-GdLab",
        "Get-GdResponseRule",
        "Get-GdThreatList",
        "Get-InstanceExposure",
        "Get-LakeEventDataStore",
        "Get-LakeQueryTemplate",
        "Invoke-LakeQuery",
        "New-ForensicSnapshot",
        "New-GdResponseRule",
        "New-GdSampleFinding",
        "New-GdThreatList",
        "Remove-CompromisedInstance",
        "Remove-GdResponseRule",
        "Remove-GdThreatList",
        "Revoke-InstanceRoleSession",
        "Save-InstanceEvidence",
        "Send-GdNotification",
        "Set-GdDefault",
        "Set-GdFinding",
        "Set-GdThreatList",
        "Set-InstanceMetadataOption",
        "Set-InstanceQuarantine",
        "Start-GdCase",
        "Start-GdLab",
        "Stop-CompromisedInstance",
        "Stop-GdCase",
        "Stop-GdLab",
        "Test-GdCaseEvidence",
        "Test-GdCaseJournal",
        "Test-GdResponseRule",
        "Test-InstanceQuarantine",
        "Undo-InstanceQuarantine",
        "Undo-InstanceRoleSessionRevocation",
    };

    [Fact]
    public void Import_exports_exactly_the_manifest_cmdlets()
    {
        using var host = new HostedPowerShell();
        var names = host.Run("(Get-Command -Module GuardDutyIR).Name").Output.Select(o => o.ToString()).OrderBy(n => n).ToArray();
        Assert.Equal(ExpectedCmdlets, names);
    }

    [Fact]
    public void Test_ModuleManifest_passes_and_the_version_is_the_build_version()
    {
        using var host = new HostedPowerShell(importModule: false);
        var result = host.Run("Test-ModuleManifest -Path $args[0]", ModuleLayout.ManifestPath);
        Assert.Null(result.Terminating);
        Assert.Empty(result.Errors);
        var info = Assert.Single(result.Output);
        Assert.Equal(ModuleLayout.Version, info.Properties["Version"].Value.ToString());
        Assert.Equal("GuardDutyIR.Cmdlets.dll", info.Properties["RootModule"].Value);
    }

    [Fact]
    public void Cmdlet_assembly_references_no_AWSSDK_assembly()
    {
        using var stream = File.OpenRead(Path.Combine(ModuleLayout.Directory, "GuardDutyIR.Cmdlets.dll"));
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var references = reader.AssemblyReferences.Select(h => reader.GetString(reader.GetAssemblyReference(h).Name)).ToList();
        Assert.Contains("GuardDutyIR.Engine", references);
        Assert.DoesNotContain(references, r => r.StartsWith("AWSSDK", StringComparison.OrdinalIgnoreCase));
        Assert.False(File.Exists(Path.Combine(ModuleLayout.Directory, "GuardDutyIR.Engine.dll")), "the engine belongs in deps/ only");
        Assert.True(File.Exists(Path.Combine(ModuleLayout.Directory, "deps", "AWSSDK.Core.dll")));
    }

    [Fact]
    public void Import_and_an_AWS_call_load_AWSSDK_only_into_the_module_load_context()
    {
        using var stub = new WireStub { Default = StubResponse.FromSample("sts-GetCallerIdentity.xml") };
        using var host = new HostedPowerShell();
        var result = host.Run("Get-GdCallerIdentity -Region us-east-1 -EndpointUrl $args[0] -Credential @{AccessKey='AKIDEXAMPLE'; SecretKey='secret'}", stub.Url);
        Assert.Null(result.Terminating);
        Assert.Single(result.Output);

        var moduleContext = AssemblyLoadContext.All.Single(c => c.Name == "GuardDutyIR");
        Assert.Contains(moduleContext.Assemblies, a => a.GetName().Name == "AWSSDK.Core" && a.GetName().Version!.Major == 4);
        Assert.Contains(moduleContext.Assemblies, a => a.GetName().Name == "GuardDutyIR.Engine");
        // The default context may hold the older AWSSDK.Core the coexistence test loads deliberately, never ours.
        Assert.DoesNotContain(AssemblyLoadContext.Default.Assemblies,
            a => a.GetName().Name!.StartsWith("AWSSDK", StringComparison.Ordinal) && a.GetName().Version!.Major >= 4);
        Assert.DoesNotContain(AssemblyLoadContext.Default.Assemblies, a => a.GetName().Name == "GuardDutyIR.Engine");
    }

    [Fact]
    public void Every_powershell_file_in_the_repository_parses()
    {
        var files = Directory.EnumerateFiles(TestPaths.RepoRoot, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".ps1", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".psm1", StringComparison.OrdinalIgnoreCase)
                || f.EndsWith(".psd1", StringComparison.OrdinalIgnoreCase))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin") && !f.Contains($"{Path.DirectorySeparatorChar}obj")
                && !f.Contains($"{Path.DirectorySeparatorChar}out{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}.git{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.Contains(files, f => f.EndsWith("build.ps1", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("GuardDutyIR.psd1", StringComparison.Ordinal));
        foreach (var file in files)
        {
            Parser.ParseFile(file, out _, out var errors);
            Assert.True(errors.Length == 0, $"{file}: {string.Join("; ", errors.Select(e => $"{e.Extent.StartLineNumber}: {e.Message}"))}");
        }
        output.WriteLine($"{files.Count} PowerShell files parsed");
    }
}
