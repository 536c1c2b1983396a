using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;
using NuGet.Packaging;
using Xunit.Abstractions;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The PowerShell Gallery packages the build makes (out/gallery): GuardDutyIR.&lt;version&gt;.nupkg, and
/// GuardDutyIR.DuckDB.&lt;rid&gt;.&lt;version&gt;.nupkg with DuckDB's native library for one platform. Read as NuGet
/// reads them, then installed the way Install-Module and Install-PSResource install a module and used from a fresh
/// PowerShell process that has only the installed folder on PSModulePath (besides the engine's own modules).
/// </summary>
public sealed class GalleryPackageTests(ITestOutputHelper output)
{
    private const long GalleryLimit = 250L * 1000 * 1000;

    // What NuGet's package format adds around a module's files; Install-Module and Install-PSResource leave it out.
    private static bool IsNuGetMetadata(string path) =>
        path is "[Content_Types].xml" || path.StartsWith("_rels/", StringComparison.Ordinal) || path.StartsWith("package/", StringComparison.Ordinal)
        || (!path.Contains('/') && path.EndsWith(".nuspec", StringComparison.OrdinalIgnoreCase));

    private static string GalleryDirectory =>
        typeof(GalleryPackageTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "GalleryPackagesDir").Value!;

    private static string ModulePackage => Path.Combine(GalleryDirectory, $"GuardDutyIR.{PackageVersion}.nupkg");

    /// <summary>This platform's name in DuckDB.NET's package (one universal macOS library).</summary>
    private static string Platform => RuntimeInformation.RuntimeIdentifier.StartsWith("osx", StringComparison.Ordinal) ? "osx" : RuntimeInformation.RuntimeIdentifier;

    private static Dictionary<string, object?> BuiltManifest()
    {
        using var ps = PowerShell.Create();
        ps.AddCommand("Import-PowerShellDataFile").AddParameter("LiteralPath", ModuleLayout.ManifestPath);
        var table = (System.Collections.Hashtable)ps.Invoke().Single().BaseObject;
        return table.Cast<System.Collections.DictionaryEntry>().ToDictionary(e => (string)e.Key, e => e.Value, StringComparer.OrdinalIgnoreCase);
    }

    private static System.Collections.Hashtable PSData(Dictionary<string, object?> manifest) =>
        (System.Collections.Hashtable)((System.Collections.Hashtable)manifest["PrivateData"]!)["PSData"]!;

    // Read once: each read of the manifest runs a PowerShell, and the package's path is asked for many times.
    private static readonly Lazy<string> BuiltPackageVersion = new(() =>
    {
        var prerelease = PSData(BuiltManifest())["Prerelease"] as string;
        return string.IsNullOrEmpty(prerelease) ? ModuleLayout.Version : $"{ModuleLayout.Version}-{prerelease}";
    });

    private static string PackageVersion => BuiltPackageVersion.Value;

    private static string[] Strings(object? value) => value switch
    {
        null => Array.Empty<string>(),
        string s => new[] { s },
        System.Collections.IEnumerable e => e.Cast<object>().Select(o => o.ToString()!).ToArray(),
        _ => new[] { value.ToString()! },
    };

    private static readonly Lazy<JsonElement> BuiltPins = new(() =>
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(ModuleLayout.Directory, "deps", "GuardDutyIR.DuckDB.json")));
        return document.RootElement.Clone();
    });

    private static JsonElement Pins() => BuiltPins.Value;

    private static string CompanionPackage(string platform) =>
        Path.Combine(GalleryDirectory, $"GuardDutyIR.DuckDB.{platform}.{Pins().GetProperty("version").GetString()}.nupkg");

    [Fact]
    public void The_module_package_has_the_module_at_its_root_the_manifest_s_metadata_and_the_tags_the_gallery_searches_on()
    {
        var manifest = BuiltManifest();
        var psData = PSData(manifest);
        using var package = new PackageArchiveReader(ModulePackage);
        var nuspec = package.NuspecReader;

        Assert.Equal("GuardDutyIR", nuspec.GetId());
        Assert.Equal(PackageVersion, nuspec.GetVersion().ToNormalizedString());
        Assert.Equal((string)manifest["Author"]!, nuspec.GetAuthors());
        Assert.Equal((string)manifest["Description"]!, nuspec.GetDescription());
        Assert.Equal((string)manifest["Copyright"]!, nuspec.GetCopyright());
        Assert.Equal((string)psData["ProjectUri"]!, nuspec.GetProjectUrl());
        Assert.Equal((string)psData["LicenseUri"]!, nuspec.GetLicenseUrl());
        Assert.Equal(((string)psData["ReleaseNotes"]!).ReplaceLineEndings("\n").Trim(), nuspec.GetReleaseNotes().ReplaceLineEndings("\n").Trim());
        Assert.Contains("DuckDB", nuspec.GetReleaseNotes());
        Assert.Empty(nuspec.GetDependencyGroups());

        // The tags Publish-Module and Publish-PSResource derive, which Find-Module -Tag and Find-Command search on.
        var tags = nuspec.GetTags().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(tags.Length, tags.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        var cmdlets = Strings(manifest["CmdletsToExport"]);
        Assert.True(cmdlets.Length >= 40, $"{cmdlets.Length} cmdlets exported");
        var expected = new[] { "PSModule", "PSEdition_Core", "PSIncludes_Cmdlet" }
            .Concat(Strings(psData["Tags"]))
            .Concat(cmdlets.SelectMany(c => new[] { "PSCmdlet_" + c, "PSCommand_" + c }));
        foreach (var tag in expected) Assert.Contains(tag, tags, StringComparer.OrdinalIgnoreCase);
        Assert.Equal(cmdlets.Order(StringComparer.Ordinal), tags.Where(t => t.StartsWith("PSCmdlet_", StringComparison.Ordinal)).Select(t => t["PSCmdlet_".Length..]).Order(StringComparer.Ordinal));

        // The module's files at the package root: the manifest beside its root module; the built module less DuckDB's
        // native libraries, debug symbols and the Lab's executable host.
        var files = package.GetFiles().Where(f => !IsNuGetMetadata(f)).OrderBy(f => f, StringComparer.Ordinal).ToList();
        Assert.Contains("GuardDutyIR.psd1", files);
        Assert.Contains((string)manifest["RootModule"]!, files);
        Assert.Contains("deps/GuardDutyIR.DuckDB.json", files);
        Assert.Contains("en-US/GuardDutyIR.Cmdlets.dll-Help.xml", files);
        Assert.DoesNotContain(files, f => f.EndsWith(".pdb", StringComparison.OrdinalIgnoreCase) || f.Contains("runtimes/", StringComparison.Ordinal)
            || f.StartsWith("deps/GuardDutyIR.Lab.", StringComparison.Ordinal) && !f.EndsWith(".dll", StringComparison.Ordinal) || f == "deps/GuardDutyIR.Lab");
        Assert.Equal(PackagedLayout.Expected(), files);
        foreach (var f in files)
        {
            using var inPackage = package.GetStream(f);
            using var copy = new MemoryStream();
            inPackage.CopyTo(copy);
            Assert.True(File.ReadAllBytes(Path.Combine(ModuleLayout.Directory, f)).AsSpan().SequenceEqual(copy.ToArray()), $"{f} differs from the build's");
        }

        // One fixed entry time: the same build gives the same bytes, so a published package can be checked against a rebuild.
        using (var zip = System.IO.Compression.ZipFile.OpenRead(ModulePackage))
            Assert.Single(zip.Entries.Select(e => e.LastWriteTime).Distinct());

        var size = new FileInfo(ModulePackage).Length;
        Assert.True(size < GalleryLimit / 10, $"the package is {size} bytes");
        output.WriteLine($"{Path.GetFileName(ModulePackage)}: {size:N0} bytes");
    }

    [Fact]
    public void This_platform_s_DuckDB_package_carries_the_library_the_module_pins_and_its_licence()
    {
        var pins = Pins();
        var version = pins.GetProperty("version").GetString()!;
        var pin = pins.GetProperty("libraries").GetProperty(Platform);
        using var package = new PackageArchiveReader(CompanionPackage(Platform));

        Assert.Equal($"GuardDutyIR.DuckDB.{Platform}", package.NuspecReader.GetId());
        Assert.Equal(version, package.NuspecReader.GetVersion().ToString());
        Assert.Contains("PSModule", package.NuspecReader.GetTags().Split(' '));
        var file = pin.GetProperty("file").GetString()!;
        Assert.Equal(new[] { "GuardDutyIR.DuckDB." + Platform + ".psd1", "LICENSE-DuckDB.txt", "native/" + file },
            package.GetFiles().Where(f => !IsNuGetMetadata(f)).OrderBy(f => f, StringComparer.Ordinal));
        using (var library = package.GetStream("native/" + file))
            Assert.Equal(pin.GetProperty("sha256").GetString(), Convert.ToHexString(SHA256.HashData(library)).ToLowerInvariant());
        // The library is what the build loads from its own folder: the same bytes DuckDB.NET shipped.
        using (var built = File.OpenRead(Path.Combine(ModuleLayout.Directory, "deps", "runtimes", Platform, "native", file)))
            Assert.Equal(pin.GetProperty("sha256").GetString(), Convert.ToHexString(SHA256.HashData(built)).ToLowerInvariant());
        using var licence = new StreamReader(package.GetStream("LICENSE-DuckDB.txt"));
        Assert.Contains("MIT", licence.ReadToEnd(), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Install-Module and Install-PSResource unpack a package into &lt;modules folder&gt;/&lt;name&gt;/&lt;ModuleVersion&gt;/
    /// (no prerelease label in the folder's name) without NuGet's own files.
    /// </summary>
    private static string Install(string nupkg, string modules)
    {
        using var package = new PackageArchiveReader(nupkg);
        var nuspec = package.NuspecReader;
        var folder = Path.Combine(modules, nuspec.GetId(), nuspec.GetVersion().Version.ToString(nuspec.GetVersion().Version.Revision > 0 ? 4 : 3));
        foreach (var file in package.GetFiles().Where(f => !IsNuGetMetadata(f)))
        {
            var target = Path.Combine(folder, file);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var from = package.GetStream(file);
            using var to = File.Create(target);
            from.CopyTo(to);
        }
        return folder;
    }

    /// <summary>A test's own folder: Modules/ to install into, the investigation's trail logs, its scripts; deleted after.</summary>
    private sealed class Sandbox : IDisposable
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("gdir-gallery-").FullName;
        public string Modules => Path.Combine(Root, "Modules");
        public string Logs => Path.Combine(Root, "logs");

        public Sandbox WithLogs()
        {
            TrailLogWriter.WriteInvestigation(Logs, "i-0123456789abcdef0");
            return this;
        }

        public string Script(string name, string text)
        {
            var path = Path.Combine(Root, name);
            File.WriteAllText(path, text);
            return path;
        }

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }

    private sealed record ScriptRun(int ExitCode, Dictionary<string, string> Lines, string Text);

    private static async Task<ScriptRun> RunFresh(string modules, string script, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet", new[] { "exec", AutomationPackages.RuntimeDll, "--module-path", modules, "--script", script }.Concat(arguments))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        AutomationPackages.SetEnvironment(start, environment);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3))) { process.Kill(entireProcessTree: true); Assert.Fail("the script did not end"); }
        var text = await stdout + await stderr;
        var lines = (await stdout).Split('\n', StringSplitOptions.TrimEntries).Where(l => l.Contains('='))
            .GroupBy(l => l[..l.IndexOf('=')]).ToDictionary(g => g.Key, g => g.Last()[(g.Last().IndexOf('=') + 1)..]);
        return new ScriptRun(process.ExitCode, lines, text);
    }

    private const string LocalQueryLines = """
        try { 'lake=' + (Invoke-LakeQuery -Query 'select count(*) as n from EDS_ID' -Path $Logs -ErrorAction Stop).n }
        catch { 'lake=' + $_.FullyQualifiedErrorId; 'lakemessage=' + $_.Exception.Message; 'laketarget=' + $_.TargetObject }
        """;

    [Fact]
    public async Task Installed_from_the_packages_it_imports_by_name_in_a_fresh_engine_and_runs_the_workshop_with_a_local_query()
    {
        await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Workshop });
        using var box = new Sandbox().WithLogs();
        var script = box.Script("first-response.ps1", $$"""
            param($Logs)
            Import-Module GuardDutyIR -ErrorAction Stop
            $module = Get-Module GuardDutyIR
            'base=' + $module.ModuleBase
            'version=' + $module.Version
            'available=' + ((Get-Module -ListAvailable GuardDutyIR*).Name -join ',')
            $finding = Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom'
            'first=' + [DateTime]::UtcNow.Ticks
            'finding=' + $finding.InstanceId
            $q = $finding | Set-InstanceQuarantine -CaseId IR-GALLERY -ConversionWaitSeconds 0
            'status=' + $q.Status
            {{LocalQueryLines}}
            """);
        var environment = new Dictionary<string, string>
        {
            ["AWS_REGION"] = lab.Region,
            ["AWS_ACCESS_KEY_ID"] = lab.AccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = lab.SecretAccessKey,
            ["AWS_ENDPOINT_URL"] = lab.Endpoint,
            ["GUARDDUTYIR_EC2_RATE_SCALE"] = "off",
        };

        var installStarted = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        var modules = box.Modules;
        var installed = Install(ModulePackage, modules);
        var companion = Install(CompanionPackage(Platform), modules);
        var installMs = clock.ElapsedMilliseconds;
        var run = await RunFresh(modules, script, environment, box.Logs);

        Assert.True(run.ExitCode == 0, run.Text);
        Assert.Equal(Path.Combine(modules, "GuardDutyIR", ModuleLayout.Version), installed);
        Assert.Equal(installed, run.Lines["base"]);
        Assert.Equal(ModuleLayout.Version, run.Lines["version"]);
        Assert.Equal($"GuardDutyIR,GuardDutyIR.DuckDB.{Platform}", run.Lines["available"]);
        Assert.Equal(lab.World.CompromisedInstanceId, run.Lines["finding"]);
        Assert.Equal("Quarantined", run.Lines["status"]);
        var instance = lab.World.Instance(lab.World.CompromisedInstanceId!);
        var isolation = Assert.Single(lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"), g => g.VpcId == instance.VpcId).GroupId;
        foreach (var eni in instance.NetworkInterfaces) Assert.Equal(new[] { isolation }, lab.Ec2.GroupsOf(eni.NetworkInterfaceId));
        // The local query ran on the library of the DuckDB module installed beside GuardDutyIR: 11 events in the logs.
        Assert.Equal("11", run.Lines["lake"]);
        Assert.True(Directory.Exists(Path.Combine(companion, "native")));

        var firstResultMs = (new DateTime(long.Parse(run.Lines["first"], CultureInfo.InvariantCulture), DateTimeKind.Utc) - installStarted).TotalMilliseconds;
        var installedBytes = Directory.EnumerateFiles(installed, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        var companionBytes = Directory.EnumerateFiles(companion, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        var summary = string.Join(Environment.NewLine,
            $"{Path.GetFileName(ModulePackage)}: {new FileInfo(ModulePackage).Length:N0} bytes, installed {installedBytes:N0} bytes",
            $"{Path.GetFileName(CompanionPackage(Platform))}: {new FileInfo(CompanionPackage(Platform)).Length:N0} bytes, installed {companionBytes:N0} bytes",
            $"fresh install to the first Lab-backed result (Get-GdFinding in a new process): {firstResultMs:N0} ms (unpacking both {installMs:N0} ms)");
        output.WriteLine(summary);
        var results = Path.Combine(TestPaths.RepoRoot, "TestResults", "Gallery");
        Directory.CreateDirectory(results);
        File.WriteAllText(Path.Combine(results, "install.txt"), summary + Environment.NewLine);
    }

    private static readonly string OnlyLocalQuery = "param($Logs)\nImport-Module GuardDutyIR -ErrorAction Stop\n" + LocalQueryLines;

    [Fact]
    public async Task Without_the_DuckDB_module_a_local_query_says_what_to_install_and_loads_nothing()
    {
        using var box = new Sandbox().WithLogs();
        // The module's own Lab answers CloudTrail Lake queries with DuckDB too: it must say the same.
        var script = box.Script("query.ps1", OnlyLocalQuery + """

            $lab = Start-GdLab -Scenario Workshop
            'finding=' + (Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom').InstanceId
            $eds = (Get-LakeEventDataStore | Select-Object -First 1).EventDataStore
            try { 'labquery=' + (Invoke-LakeQuery -EventDataStore $eds -Query 'select count(*) as n from EDS_ID' -ErrorAction Stop).n }
            catch { 'labquery=' + $_.FullyQualifiedErrorId; 'labmessage=' + $_.Exception.Message }
            Stop-GdLab
            """);
        var modules = box.Modules;
        Install(ModulePackage, modules);

        var run = await RunFresh(modules, script, new Dictionary<string, string>(), box.Logs);

        var version = Pins().GetProperty("version").GetString();
        Assert.Equal("LocalQueryEngineUnavailable,GuardDutyIR.Commands.InvokeLakeQueryCommand", run.Lines["lake"]);
        Assert.Contains($"Install-PSResource GuardDutyIR.DuckDB.{Platform} -Version {version}", run.Lines["lakemessage"]);
        Assert.Contains($"Install-Module GuardDutyIR.DuckDB.{Platform} -RequiredVersion {version}", run.Lines["lakemessage"]);
        Assert.Contains("GUARDDUTYIR_DUCKDB_LIBRARY", run.Lines["lakemessage"]);
        Assert.Contains("-EventDataStore", run.Lines["lakemessage"]);
        Assert.Equal("duckdb", run.Lines["laketarget"]);
        // Everything that needs no local engine works: the Lab, findings.
        Assert.StartsWith("i-", run.Lines["finding"]);
        Assert.Equal("QueryFailed,GuardDutyIR.Commands.InvokeLakeQueryCommand", run.Lines["labquery"]);
        Assert.Contains($"Install-PSResource GuardDutyIR.DuckDB.{Platform} -Version {version}", run.Lines["labmessage"]);
        Assert.DoesNotContain("cannot open shared object", run.Lines["labmessage"]);
    }

    [Fact]
    public async Task A_DuckDB_library_that_is_not_the_pinned_build_is_never_loaded_and_an_offline_copy_named_by_the_variable_is()
    {
        using var box = new Sandbox().WithLogs();
        var script = box.Script("query.ps1", OnlyLocalQuery);
        var modules = box.Modules;
        Install(ModulePackage, modules);
        var companion = Install(CompanionPackage(Platform), modules);
        var file = Pins().GetProperty("libraries").GetProperty(Platform).GetProperty("file").GetString()!;
        var library = Path.Combine(companion, "native", file);

        // One byte changed in the installed module's library: the same size, another hash.
        var offline = Path.Combine(box.Root, "offline-" + file);
        File.Copy(library, offline);
        using (var stream = new FileStream(library, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = stream.Length / 2;
            var b = stream.ReadByte();
            stream.Position = stream.Length / 2;
            stream.WriteByte((byte)(b ^ 0xFF));
        }
        var tampered = await RunFresh(modules, script, new Dictionary<string, string>(), box.Logs);
        Assert.Equal("LocalQueryEngineUnavailable,GuardDutyIR.Commands.InvokeLakeQueryCommand", tampered.Lines["lake"]);
        Assert.Contains(library, tampered.Lines["lakemessage"]);
        Assert.Contains("was not loaded", tampered.Lines["lakemessage"]);

        // Offline: the variable names a good copy and wins over the tampered module.
        var named = await RunFresh(modules, script, new Dictionary<string, string> { ["GUARDDUTYIR_DUCKDB_LIBRARY"] = offline }, box.Logs);
        Assert.True(named.Lines.ContainsKey("lake"), named.Text);
        Assert.Equal("11", named.Lines["lake"]);

        // A variable naming the tampered file is refused, not replaced by something found elsewhere.
        var wrong = await RunFresh(modules, script, new Dictionary<string, string> { ["GUARDDUTYIR_DUCKDB_LIBRARY"] = library }, box.Logs);
        Assert.Equal("LocalQueryEngineUnavailable,GuardDutyIR.Commands.InvokeLakeQueryCommand", wrong.Lines["lake"]);
        Assert.Contains("GUARDDUTYIR_DUCKDB_LIBRARY names", wrong.Lines["lakemessage"]);
    }

    [Fact]
    public async Task A_prerelease_label_makes_a_prerelease_package_that_installs_into_the_plain_version_folder()
    {
        using var box = new Sandbox();
        // The packaged module with the label the build stamps from ModulePrerelease.
        var layout = Path.Combine(box.Root, "layout", "GuardDutyIR", ModuleLayout.Version);
        foreach (var f in PackagedLayout.Expected())
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(layout, f))!);
            File.Copy(Path.Combine(ModuleLayout.Directory, f), Path.Combine(layout, f));
        }
        var manifestPath = Path.Combine(layout, "GuardDutyIR.psd1");
        var manifest = File.ReadAllText(manifestPath);
        Assert.Matches("Prerelease\\s*=\\s*''", manifest);
        File.WriteAllText(manifestPath, System.Text.RegularExpressions.Regex.Replace(manifest, "Prerelease(\\s*)=(\\s*)''", "Prerelease$1=$2'rc1'"));

        var packager = typeof(GalleryPackageTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "PackagerDll").Value!;
        var start = new ProcessStartInfo("dotnet", new[] { "exec", packager, "--module", layout, "--lambda", Path.Combine(TestPaths.RepoRoot, "module", "lambda"),
            "--out", Path.Combine(box.Root, "packages"), "--gallery", Path.Combine(box.Root, "gallery") })
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using (var process = Process.Start(start)!)
        {
            var text = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, text);
        }
        var nupkg = Path.Combine(box.Root, "gallery", $"GuardDutyIR.{ModuleLayout.Version}-rc1.nupkg");
        using (var package = new PackageArchiveReader(nupkg))
        {
            Assert.True(package.NuspecReader.GetVersion().IsPrerelease);
            Assert.Equal($"{ModuleLayout.Version}-rc1", package.NuspecReader.GetVersion().ToNormalizedString());
        }

        var modules = box.Modules;
        Assert.Equal(Path.Combine(modules, "GuardDutyIR", ModuleLayout.Version), Install(nupkg, modules));
        var script = box.Script("prerelease.ps1", """
            Import-Module GuardDutyIR -ErrorAction Stop
            'version=' + (Get-Module GuardDutyIR).Version
            'prerelease=' + (Get-Module GuardDutyIR).PrivateData.PSData.Prerelease
            """);
        var run = await RunFresh(modules, script, new Dictionary<string, string>());
        Assert.True(run.ExitCode == 0, run.Text);
        Assert.Equal(ModuleLayout.Version, run.Lines["version"]);
        Assert.Equal("rc1", run.Lines["prerelease"]);
    }
}
