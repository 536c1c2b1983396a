using System.Management.Automation;
using System.Reflection;
using System.Text;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>
/// Which Pester runs the Pester suites in the hosted engine, and why: the shared build for this engine
/// (../shared/tools/Pester/&lt;version&gt;) when it is complete, otherwise the official Pester package that
/// `dotnet restore` downloads for this project (PackageDownload, version PesterVersion in Directory.Packages.props).
/// </summary>
public sealed record PesterModule(string Manifest, string Version, string Reason)
{
    /// <summary>Where Pester's loader looks for its assembly under PowerShell 7 (Pester.psm1: bin/net8.0/Pester.dll).</summary>
    public const string AssemblyPath = "bin/net8.0/Pester.dll";

    public static string SharedFolder => Path.Combine(TestPaths.Shared, "tools", "Pester");

    /// <summary>The manifest of the restored package, stamped in at build time from NuGetPackageRoot and PesterVersion.</summary>
    public static string PackageManifest => Metadata("PesterPackageManifest");
    public static string PackageVersion => Metadata("PesterPackageVersion");

    private static readonly Lazy<PesterModule> Chosen = new(() => Choose(SharedFolder, PackageManifest, PackageVersion));

    public static PesterModule Current => Chosen.Value;

    public override string ToString() => Reason;

    /// <summary>The newest shared build when it has its assembly, otherwise the restored package; the reason says which and why.</summary>
    public static PesterModule Choose(string sharedFolder, string packageManifest, string packageVersion)
    {
        var shared = Directory.Exists(sharedFolder)
            ? Directory.GetDirectories(sharedFolder)
                .Select(d => (Folder: d, Version: System.Version.TryParse(Path.GetFileName(d), out var v) ? v : null))
                .Where(d => d.Version is not null && File.Exists(Path.Combine(d.Folder, "Pester.psd1")))
                .OrderByDescending(d => d.Version)
                .FirstOrDefault()
            : default;
        if (shared.Folder is not null && File.Exists(Path.Combine(shared.Folder, AssemblyPath)))
            return new PesterModule(Path.Combine(shared.Folder, "Pester.psd1"), shared.Version!.ToString(),
                $"Pester {shared.Version} from ../shared/tools/Pester/{shared.Version} (the shared build for this engine)");

        var why = shared.Folder is null
            ? "../shared/tools/Pester has no Pester build"
            : $"Pester {shared.Version} from ../shared/tools is missing {AssemblyPath}";
        if (!File.Exists(packageManifest))
            throw new InvalidOperationException(
                $"{why}, and the Pester {packageVersion} package is not restored at {packageManifest}: run 'dotnet restore GuardDutyIR.sln'.");
        return new PesterModule(packageManifest, packageVersion,
            $"{why}; using Pester {packageVersion} from NuGet ({Path.GetDirectoryName(packageManifest)})");
    }

    private static string Metadata(string key) =>
        typeof(PesterModule).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}

/// <summary>Reading what Pester printed: in the hosted engine its Write-Host output lands in the information stream.</summary>
public static class PesterOutput
{
    /// <summary>
    /// For a run without -PassThru (as users type Invoke-Pester): Pester's summary line on the host says tests ran and
    /// none failed.
    /// </summary>
    public static void AssertHostSummaryPassed(IEnumerable<InformationRecord> records)
    {
        var text = HostText(records);
        var summary = System.Text.RegularExpressions.Regex.Matches(text, @"Tests Passed: (\d+), Failed: (\d+)").LastOrDefault();
        Assert.True(summary is not null, "Pester printed no summary:\n" + text);
        Assert.True(int.Parse(summary.Groups[2].Value) == 0 && int.Parse(summary.Groups[1].Value) > 0, text);
        Assert.DoesNotContain("Container failed", text);
    }

    /// <summary>What Pester wrote to the host (Write-Host lands in the information stream here), as lines of text.</summary>
    public static string HostText(IEnumerable<InformationRecord> records)
    {
        var text = new StringBuilder();
        foreach (var record in records)
        {
            if (record.MessageData is HostInformationMessage message)
            {
                text.Append(message.Message);
                if (message.NoNewLine != true) text.AppendLine();
            }
            else text.AppendLine(record.MessageData?.ToString());
        }
        return text.ToString();
    }
}
