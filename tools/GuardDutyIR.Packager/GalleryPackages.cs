using System.Collections;
using System.Globalization;
using System.Management.Automation.Language;
using System.Security.Cryptography;
using System.Text.Json;
using NuGet.Packaging;
using NuGet.Versioning;

/// <summary>
/// The module manifest as PowerShell reads it (its own parser and safe value conversion, as Import-PowerShellDataFile
/// does): the one source of the package's id, version, metadata and tags.
/// </summary>
internal sealed record ModuleManifest(
    string Name, string ModuleVersion, string? Prerelease, string Author, string? CompanyName, string? Copyright, string Description,
    IReadOnlyList<string> Cmdlets, IReadOnlyList<string> Editions, IReadOnlyList<string> Tags, string? ProjectUri, string? LicenseUri,
    string? IconUri, string? ReleaseNotes)
{
    /// <summary>The package version PowerShellGet and PSResourceGet give a module: ModuleVersion, then -Prerelease.</summary>
    public string PackageVersion => string.IsNullOrEmpty(Prerelease) ? ModuleVersion : $"{ModuleVersion}-{Prerelease}";

    public static ModuleManifest Read(string path)
    {
        var ast = Parser.ParseFile(path, out _, out var errors);
        if (errors.Length > 0) throw new InvalidDataException($"{path}: {errors[0].Message}");
        if (ast.Find(a => a is HashtableAst, searchNestedScriptBlocks: false) is not HashtableAst table)
            throw new InvalidDataException($"{path} is not a module manifest (no hashtable).");
        var data = (Hashtable)table.SafeGetValue();
        var psData = (data["PrivateData"] as Hashtable)?["PSData"] as Hashtable ?? new Hashtable();
        string? Text(Hashtable h, string key) => h[key] switch { null => null, string s => s, var o => Convert.ToString(o, CultureInfo.InvariantCulture) };
        IReadOnlyList<string> List(Hashtable h, string key) => h[key] switch
        {
            null => Array.Empty<string>(),
            string s => new[] { s },
            IEnumerable e => e.Cast<object>().Select(o => Convert.ToString(o, CultureInfo.InvariantCulture)!).ToArray(),
            var o => new[] { Convert.ToString(o, CultureInfo.InvariantCulture)! },
        };
        return new ModuleManifest(
            Path.GetFileNameWithoutExtension(path), Text(data, "ModuleVersion") ?? throw new InvalidDataException($"{path} has no ModuleVersion."),
            Text(psData, "Prerelease"), Text(data, "Author") ?? throw new InvalidDataException($"{path} has no Author."), Text(data, "CompanyName"),
            Text(data, "Copyright"), Text(data, "Description") ?? throw new InvalidDataException($"{path} has no Description (the gallery requires one)."),
            List(data, "CmdletsToExport"), List(data, "CompatiblePSEditions"), List(psData, "Tags"), Text(psData, "ProjectUri"), Text(psData, "LicenseUri"),
            Text(psData, "IconUri"), Text(psData, "ReleaseNotes"));
    }

    /// <summary>
    /// The tags PowerShellGet's Publish-Module and PSResourceGet's Publish-PSResource give a module, which the gallery
    /// searches on (Find-Module -Tag, Find-Command): PSModule, PSEdition_&lt;edition&gt;, PSIncludes_Cmdlet, and
    /// PSCmdlet_&lt;name&gt; and PSCommand_&lt;name&gt; per exported cmdlet, after the manifest's own tags.
    /// </summary>
    public IReadOnlyList<string> GalleryTags()
    {
        var tags = new List<string>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        void Add(string tag) { if (seen.Add(tag)) tags.Add(tag); }
        foreach (var t in Tags) Add(t);
        Add("PSModule");
        foreach (var e in Editions) Add("PSEdition_" + e);
        if (Cmdlets.Count > 0) Add("PSIncludes_Cmdlet");
        foreach (var c in Cmdlets) { Add("PSCmdlet_" + c); Add("PSCommand_" + c); }
        return tags;
    }
}

/// <summary>One platform's DuckDB native library in the layout (runtimes/&lt;rid&gt;/native of DuckDB.NET.Bindings).</summary>
internal sealed record DuckDbNative(string Rid, string RelativePath, string FullPath)
{
    public string FileName => Path.GetFileName(RelativePath);
}

/// <summary>
/// DuckDB.NET's native libraries as the engine's deps.json lists them, and the pins the module checks a separately
/// installed library against (deps/GuardDutyIR.DuckDB.json, read by the module's load context).
/// </summary>
internal sealed record DuckDbNatives(string Version, string PackagePath, IReadOnlyList<DuckDbNative> Libraries)
{
    public const string PinFile = "deps/GuardDutyIR.DuckDB.json";
    public const string CompanionPrefix = "GuardDutyIR.DuckDB.";
    private const string BindingsPackage = "DuckDB.NET.Bindings.Full";

    public static DuckDbNatives Read(string module)
    {
        var depsJson = Path.Combine(module, "deps", "GuardDutyIR.Engine.deps.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(depsJson));
        var root = document.RootElement;
        var library = root.GetProperty("libraries").EnumerateObject().FirstOrDefault(l => l.Name.StartsWith(BindingsPackage + "/", StringComparison.OrdinalIgnoreCase));
        if (library.Value.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{depsJson} lists no {BindingsPackage}.");
        var natives = new List<DuckDbNative>();
        foreach (var target in root.GetProperty("targets").EnumerateObject())
            if (target.Value.TryGetProperty(library.Name, out var entry) && entry.TryGetProperty("runtimeTargets", out var assets))
                foreach (var asset in assets.EnumerateObject())
                    if (asset.Value.GetProperty("assetType").GetString() == "native")
                        natives.Add(new DuckDbNative(asset.Value.GetProperty("rid").GetString()!, "deps/" + asset.Name, Path.Combine(module, "deps", asset.Name)));
        return new DuckDbNatives(library.Name[(BindingsPackage.Length + 1)..], library.Value.GetProperty("path").GetString()!,
            natives.DistinctBy(n => n.Rid).OrderBy(n => n.Rid, StringComparer.Ordinal).ToList());
    }

    /// <summary>
    /// Writes the pins into the layout, so every copy of the module (gallery, Lambda layer, SSM attachment) can check a
    /// library installed apart from it. Hashes again only when a library changed since the pins were written.
    /// </summary>
    public void WritePins(string module)
    {
        var pinPath = Path.Combine(module, PinFile);
        if (Libraries.Any(l => !File.Exists(l.FullPath)))
        {
            // A layout that was packaged already (the libraries left out) keeps the pins it came with.
            if (File.Exists(pinPath) && Libraries.All(l => !File.Exists(l.FullPath))) return;
            throw new FileNotFoundException($"The layout lacks {string.Join(", ", Libraries.Where(l => !File.Exists(l.FullPath)).Select(l => l.RelativePath))} " +
                $"and has no {PinFile} to say which build they were.");
        }
        var written = File.Exists(pinPath) ? File.ReadAllText(pinPath) : null;
        if (written is not null && Libraries.All(l => File.GetLastWriteTimeUtc(l.FullPath) <= File.GetLastWriteTimeUtc(pinPath))
            && PinnedVersion(written) == Version)
            return;
        var text = JsonSerializer.Serialize(new
        {
            package = BindingsPackage,
            version = Version,
            libraries = Libraries.ToDictionary(l => l.Rid, l =>
            {
                using var stream = File.OpenRead(l.FullPath);
                return new { file = l.FileName, sha256 = Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant(), bytes = stream.Length };
            }),
        }, new JsonSerializerOptions { WriteIndented = true });
        if (written != text) File.WriteAllText(pinPath, text);
        else File.SetLastWriteTimeUtc(pinPath, DateTime.UtcNow);
    }

    private static string? PinnedVersion(string pins)
    {
        try
        {
            using var document = JsonDocument.Parse(pins);
            return document.RootElement.TryGetProperty("version", out var version) ? version.GetString() : null;
        }
        catch (JsonException)
        {
            return null;   // unreadable pins are written again
        }
    }
}

/// <summary>
/// The PowerShell Gallery packages: the module's nupkg (its files at the package root, the manifest beside the root
/// module, as Publish-Module lays a module out) and one nupkg per platform for DuckDB's native library, a module of
/// its own named GuardDutyIR.DuckDB.&lt;rid&gt;, versioned as the DuckDB.NET build it is, so a module update does not
/// download it again.
/// </summary>
internal static class GalleryPackages
{
    /// <summary>The PowerShell Gallery refuses packages over 250 MB; counted here in decimal megabytes, the stricter reading.</summary>
    public const long GalleryLimit = 250L * 1000 * 1000;
    public const string GalleryLimitText = "250 MB (PowerShell Gallery)";

    public static PackageReport WriteModule(ModuleManifest manifest, IEnumerable<LayoutFile> files, string output)
    {
        var builder = NewBuilder(manifest.Name, manifest.PackageVersion, manifest.Description, manifest);
        foreach (var f in files) builder.Files.Add(new PhysicalPackageFile { SourcePath = f.FullPath, TargetPath = f.RelativePath });
        return Save(builder, output);
    }

    public static PackageReport WriteCompanion(ModuleManifest module, DuckDbNatives natives, DuckDbNative native, string? licenseFile, string output)
    {
        var name = DuckDbNatives.CompanionPrefix + native.Rid;
        var root = Directory.CreateTempSubdirectory("gdir-companion-").FullName;
        try
        {
            var description = $"DuckDB's native library ({native.FileName}, DuckDB.NET {natives.Version}) for {native.Rid}, which GuardDutyIR's local " +
                "queries (Invoke-LakeQuery -Path and -S3Uri) load. Nothing to import: GuardDutyIR finds it beside itself or on PSModulePath " +
                "and loads it only if its SHA-256 is the one GuardDutyIR was built with. DuckDB is MIT-licensed (LICENSE-DuckDB.txt).";
            var platformTag = native.Rid.StartsWith("win", StringComparison.Ordinal) ? "Windows" : native.Rid.StartsWith("osx", StringComparison.Ordinal) ? "MacOS" : "Linux";
            var manifestPath = Path.Combine(root, name + ".psd1");
            File.WriteAllText(manifestPath, $$"""
                @{
                    # A data-only module: DuckDB's native library for {{native.Rid}}, loaded by GuardDutyIR's local queries.
                    ModuleVersion        = '{{natives.Version}}'
                    GUID                 = '{{StableGuid(name)}}'
                    Author               = {{Quote(module.Author)}}
                    CompanyName          = {{Quote(module.CompanyName ?? module.Author)}}
                    Copyright            = 'DuckDB: (c) DuckDB Foundation, MIT licence. Packaging: (c) GuardDutyIR contributors, Apache-2.0.'
                    Description          = {{Quote(description)}}
                    PowerShellVersion    = '7.4'
                    CompatiblePSEditions = @('Core')
                    FunctionsToExport    = @()
                    CmdletsToExport      = @()
                    VariablesToExport    = @()
                    AliasesToExport      = @()
                    FileList             = @('native/{{native.FileName}}', 'LICENSE-DuckDB.txt')
                    PrivateData          = @{
                        PSData = @{
                            Tags       = @('GuardDutyIR', 'DuckDB', '{{platformTag}}', 'PSEdition_Core')
                            LicenseUri = 'https://github.com/duckdb/duckdb/blob/main/LICENSE'
                            ProjectUri = {{Quote(module.ProjectUri ?? "")}}
                        }
                    }
                }
                """);
            var companion = ModuleManifest.Read(manifestPath);
            var builder = NewBuilder(name, natives.Version, description, companion);
            builder.Files.Add(new PhysicalPackageFile { SourcePath = manifestPath, TargetPath = name + ".psd1" });
            builder.Files.Add(new PhysicalPackageFile { SourcePath = native.FullPath, TargetPath = "native/" + native.FileName });
            var license = Path.Combine(root, "LICENSE-DuckDB.txt");
            if (licenseFile is not null && File.Exists(licenseFile)) File.Copy(licenseFile, license);
            else File.WriteAllText(license, "DuckDB is released under the MIT License: https://github.com/duckdb/duckdb/blob/main/LICENSE\n");
            builder.Files.Add(new PhysicalPackageFile { SourcePath = license, TargetPath = "LICENSE-DuckDB.txt" });
            return Save(builder, output);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    public static string CompanionFileName(DuckDbNatives natives, DuckDbNative native) =>
        $"{DuckDbNatives.CompanionPrefix}{native.Rid}.{NuGetVersion.Parse(natives.Version).ToNormalizedString()}.nupkg";

    private static PackageBuilder NewBuilder(string id, string version, string description, ModuleManifest manifest)
    {
        // Deterministic: a fixed core-properties name and no package-specific GUIDs.
        var builder = new PackageBuilder(deterministic: true)
        {
            Id = id,
            Version = NuGetVersion.Parse(version),
            Description = description,
            Copyright = manifest.Copyright,
            ReleaseNotes = manifest.ReleaseNotes,
            RequireLicenseAcceptance = false,
        };
        builder.Authors.Add(manifest.Author);
        builder.Owners.Add(manifest.CompanyName ?? manifest.Author);
        if (!string.IsNullOrEmpty(manifest.ProjectUri)) builder.ProjectUrl = new Uri(manifest.ProjectUri);
        if (!string.IsNullOrEmpty(manifest.LicenseUri)) builder.LicenseUrl = new Uri(manifest.LicenseUri);
        if (!string.IsNullOrEmpty(manifest.IconUri)) builder.IconUrl = new Uri(manifest.IconUri);
        builder.Tags.AddRange(manifest.GalleryTags());
        return builder;
    }

    private static PackageReport Save(PackageBuilder builder, string output)
    {
        var path = Path.Combine(output, $"{builder.Id}.{builder.Version!.ToNormalizedString()}.nupkg");
        var temp = path + ".tmp";
        using (var stream = File.Create(temp)) builder.Save(stream);
        // NuGet stamps entries with the time of packing even in deterministic mode; one fixed time makes the same
        // layout give the same bytes, so a published package can be checked against a rebuild.
        using (var zip = System.IO.Compression.ZipFile.Open(temp, System.IO.Compression.ZipArchiveMode.Update))
            foreach (var entry in zip.Entries) entry.LastWriteTime = PackagePlan.EntryTime;
        File.Move(temp, path, overwrite: true);
        var unzipped = builder.Files.Sum(f => new FileInfo(((PhysicalPackageFile)f).SourcePath!).Length);
        return new PackageReport(Path.GetFileName(path), new FileInfo(path).Length, unzipped, builder.Files.Count, GalleryLimit, GalleryLimitText);
    }

    private static string Quote(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static Guid StableGuid(string name)
    {
        var hash = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("GuardDutyIR companion module " + name));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);   // a name-based GUID: the same name always gives the same GUID
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16));
    }
}
