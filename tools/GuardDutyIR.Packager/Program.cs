using System.Globalization;
using System.IO.Compression;
using System.Text.Json;

// GuardDutyIR.Packager --module <out/GuardDutyIR/<version>> --lambda <module/lambda> --out <out/packages>
//                      [--gallery <out/gallery>] [--companions current|all] [--packages-root <NuGet packages folder>]
// Pins DuckDB's native libraries in the layout (deps/GuardDutyIR.DuckDB.json), writes the automation packages, and with
// --gallery the PowerShell Gallery package of the module (GuardDutyIR.<version>.nupkg) and, with --companions, the
// nupkgs of DuckDB's native library for this platform or for all five (GuardDutyIR.DuckDB.<rid>.<version>.nupkg; the
// DuckDB licence comes from the DuckDB.NET package under --packages-root). Prints every package's size against its
// limit and writes packages.json beside the automation packages.
// Exit 0: written and within every limit. Exit 1: a package exceeds a limit ("error GDPKG001", shown by MSBuild as a
// build error). Exit 2: bad arguments or an unreadable layout.

string? module = null, lambda = null, output = null, gallery = null, companions = null, packagesRoot = null;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--module": module = Next(); break;
        case "--lambda": lambda = Next(); break;
        case "--out": output = Next(); break;
        case "--gallery": gallery = Next(); break;
        case "--companions": companions = Next(); break;
        case "--packages-root": packagesRoot = Next(); break;
        default:
            Console.Error.WriteLine($"GuardDutyIR.Packager: error GDPKG000: unknown argument '{args[i]}'");
            return 2;
    }
}
if (module is null || lambda is null || output is null || !File.Exists(Path.Combine(module, "GuardDutyIR.psd1"))
    || companions is not (null or "current" or "all") || (companions is not null && gallery is null))
{
    Console.Error.WriteLine("GuardDutyIR.Packager: error GDPKG000: usage: --module <module layout with GuardDutyIR.psd1> --lambda <handler folder> --out <folder> " +
        "[--gallery <folder> [--companions current|all] [--packages-root <folder>]]");
    return 2;
}

module = Path.GetFullPath(module);
var version = new DirectoryInfo(module).Name;
var natives = DuckDbNatives.Read(module);
natives.WritePins(module);
var plan = new PackagePlan(module, Path.GetFullPath(lambda), version);
Directory.CreateDirectory(output);
var reports = plan.Write(Path.GetFullPath(output)).ToList();
var galleryReports = new List<PackageReport>();
if (gallery is not null)
{
    gallery = Path.GetFullPath(gallery);
    Directory.CreateDirectory(gallery);
    var manifest = ModuleManifest.Read(Path.Combine(module, "GuardDutyIR.psd1"));
    galleryReports.Add(GalleryPackages.WriteModule(manifest, plan.Kept, gallery));
    var current = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
    var license = packagesRoot is null ? null : Path.Combine(packagesRoot, natives.PackagePath, "LICENSE-DuckDB.txt");
    foreach (var native in natives.Libraries)
    {
        // "current": the platform this build runs on (osx is one universal library), for the install test.
        var isCurrent = current == native.Rid || (native.Rid == "osx" && current.StartsWith("osx", StringComparison.Ordinal));
        if (companions == "all" || (companions == "current" && isCurrent))
            galleryReports.Add(GalleryPackages.WriteCompanion(manifest, natives, native, license, gallery));
    }
}

var mib = 1024.0 * 1024.0;
string Mib(long bytes) => bytes < 1024 * 1024
    ? (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB"
    : (bytes / mib).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";
Console.WriteLine($"GuardDutyIR packages ({Path.GetFullPath(output)}):");
Console.WriteLine($"  {"package",-34} {"zipped",10} {"unzipped",10} {"files",6}  limit");
foreach (var r in reports)
    Console.WriteLine($"  {r.Name,-34} {Mib(r.ZippedBytes),10} {Mib(r.UnzippedBytes),10} {r.Files,6}  {r.LimitText}");
if (galleryReports.Count > 0)
{
    Console.WriteLine($"PowerShell Gallery packages ({gallery}; installed size = unzipped):");
    foreach (var r in galleryReports)
        Console.WriteLine($"  {r.Name,-48} {Mib(r.ZippedBytes),10} {Mib(r.UnzippedBytes),10} {r.Files,6}  {r.LimitText}");
    reports.AddRange(galleryReports);
}
var layer = reports.Single(r => r.Name == PackagePlan.LayerZip);
var function = reports.Single(r => r.Name == PackagePlan.FunctionZip);
var lambdaTotal = layer.UnzippedBytes + function.UnzippedBytes;
Console.WriteLine($"  {"Lambda function + layer, unzipped",-34} {"",10} {Mib(lambdaTotal),10} {"",6}  " +
    $"{Mib(AwsLimits.LambdaUnzippedWithLayers)} with every layer, the PowerShell runtime's included: {Mib(AwsLimits.LambdaUnzippedWithLayers - lambdaTotal)} left for it");
Console.WriteLine($"  left out of every package: DuckDB's native libraries ({plan.LeftOut.Count} platforms, {Mib(plan.LeftOut.Sum(f => f.Length))}), " +
    $"used only by local queries (Invoke-LakeQuery -Path/-S3Uri) and shipped per platform as GuardDutyIR.DuckDB.<rid>; " +
    $"debug symbols and the Lab's executable files ({plan.Leftovers.Count} files, {Mib(plan.Leftovers.Sum(f => f.Length))}); the build's folder is {Mib(plan.ModuleBytes)}");

var failures = reports.SelectMany(r => r.Failures).ToList();
if (lambdaTotal > AwsLimits.LambdaUnzippedWithLayers)
    failures.Add($"the Lambda function and layer unzip to {Mib(lambdaTotal)}, over Lambda's {Mib(AwsLimits.LambdaUnzippedWithLayers)}");
File.WriteAllText(Path.Combine(output, "packages.json"), JsonSerializer.Serialize(new
{
    version,
    packages = reports.Select(r => new { r.Name, r.ZippedBytes, r.UnzippedBytes, r.Files, r.LimitBytes, r.LimitText }),
    duckDb = new { natives.Version, platforms = natives.Libraries.Select(l => l.Rid) },
    lambdaUnzippedBytes = lambdaTotal,
    leftOut = plan.LeftOut.Select(f => new { path = f.RelativePath, bytes = f.Length }),
}, new JsonSerializerOptions { WriteIndented = true }));
foreach (var f in failures) Console.Error.WriteLine($"GuardDutyIR.Packager: error GDPKG001: {f}");
return failures.Count == 0 ? 0 : 1;

/// <summary>AWS's size limits for what the packages are uploaded as, in bytes (AWS's "MB" here are MiB).</summary>
internal static class AwsLimits
{
    private const long MiB = 1024 * 1024;
    /// <summary>A .zip uploaded directly (function code or a layer): 50 MB zipped (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).</summary>
    public const long LambdaZippedDirectUpload = 50 * MiB;
    /// <summary>A function's deployment package with all its layers and custom runtimes, unzipped: 250 MB (same page).</summary>
    public const long LambdaUnzippedWithLayers = 250 * MiB;
    /// <summary>An Automation runbook attachment: 256 MB per attachment (https://docs.aws.amazon.com/general/latest/gr/ssm.html).</summary>
    public const long SsmRunbookAttachment = 256 * MiB;
}

internal sealed record LayoutFile(string FullPath, string RelativePath, long Length);

internal sealed record PackageReport(string Name, long ZippedBytes, long UnzippedBytes, int Files, long LimitBytes, string LimitText)
{
    public IEnumerable<string> Failures =>
        ZippedBytes > LimitBytes ? new[] { $"{Name} is {ZippedBytes} bytes zipped, over {LimitText}" } : Array.Empty<string>();
}

/// <summary>
/// What goes where. The module layout less DuckDB's native libraries (one per platform, about 318 MB together, loaded
/// only when a local query runs: the engine loads DuckDB lazily, the platform's library is a gallery module of its own,
/// and without it a local query is refused with LocalQueryEngineUnavailable, saying what to install) and less what
/// only a developer's build needs (debug symbols; the Lab's executable host, runtimeconfig and deps.json: the module
/// runs the Lab in process). Everything else is managed code and runs on any architecture, so one layer serves x86_64
/// and arm64 functions, and one gallery package every platform.
/// </summary>
internal sealed class PackagePlan
{
    public const string LayerZip = "GuardDutyIR-lambda-layer.zip";
    public const string FunctionZip = "GuardDutyIR-lambda-function.zip";
    public const string AutomationZip = "GuardDutyIR-automation.zip";

    // Entries get one fixed time, so the same layout always gives the same bytes (and the same layer hash).
    public static readonly DateTimeOffset EntryTime = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly HashSet<string> DuckDbNativeNames = new(StringComparer.OrdinalIgnoreCase) { "libduckdb.so", "libduckdb.dylib", "duckdb.dll" };

    private static readonly HashSet<string> LabHostFiles = new(StringComparer.OrdinalIgnoreCase)
    {
        "deps/GuardDutyIR.Lab", "deps/GuardDutyIR.Lab.exe", "deps/GuardDutyIR.Lab.runtimeconfig.json", "deps/GuardDutyIR.Lab.deps.json",
    };

    public static bool IsBuildLeftover(string relative) =>
        relative.EndsWith(".pdb", StringComparison.OrdinalIgnoreCase) || LabHostFiles.Contains(relative);

    private readonly List<LayoutFile> _kept = new();
    private readonly string _lambda;
    private readonly string _version;

    public PackagePlan(string module, string lambda, string version)
    {
        _lambda = lambda;
        _version = version;
        foreach (var path in Directory.EnumerateFiles(module, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(module, path).Replace('\\', '/');
            var file = new LayoutFile(path, relative, new FileInfo(path).Length);
            ModuleBytes += file.Length;
            if (relative.StartsWith("deps/runtimes/", StringComparison.Ordinal) && DuckDbNativeNames.Contains(Path.GetFileName(relative))) LeftOut.Add(file);
            else if (IsBuildLeftover(relative)) Leftovers.Add(file);
            else _kept.Add(file);
        }
        _kept.Sort((a, b) => string.CompareOrdinal(a.RelativePath, b.RelativePath));
    }

    public long ModuleBytes { get; }
    public List<LayoutFile> LeftOut { get; } = new();
    public List<LayoutFile> Leftovers { get; } = new();
    public IReadOnlyList<LayoutFile> Kept => _kept;

    public IReadOnlyList<PackageReport> Write(string output)
    {
        // The PowerShell runtime finds modules of layers in /opt/modules/<module>/<version>/ (a layer unzips into /opt).
        var layer = Zip(Path.Combine(output, LayerZip), _kept.Select(f => ($"modules/GuardDutyIR/{_version}/{f.RelativePath}", f.FullPath)));
        // The function's code: the handler script at the root of the package (LAMBDA_TASK_ROOT).
        var handlers = Directory.EnumerateFiles(_lambda, "*.ps1").OrderBy(p => p, StringComparer.Ordinal).Select(p => (Path.GetFileName(p), p)).ToList();
        if (handlers.Count == 0) throw new FileNotFoundException($"No handler script in {_lambda}.");
        var function = Zip(Path.Combine(output, FunctionZip), handlers);
        // An SSM attachment: GuardDutyIR/<version>/ at the root, a module folder for Import-Module or PSModulePath.
        var automation = Zip(Path.Combine(output, AutomationZip), _kept.Select(f => ($"GuardDutyIR/{_version}/{f.RelativePath}", f.FullPath)));
        WriteRunbook(output);
        return new[]
        {
            Report(LayerZip, layer, AwsLimits.LambdaZippedDirectUpload, "50 MiB zipped (Lambda direct upload)"),
            Report(FunctionZip, function, AwsLimits.LambdaZippedDirectUpload, "50 MiB zipped (Lambda direct upload)"),
            Report(AutomationZip, automation, AwsLimits.SsmRunbookAttachment, "256 MiB (SSM Automation runbook attachment)"),
        };
    }

    public const string RunbookFile = "GuardDutyIR-Isolate.yaml";
    private const string ChecksumPlaceholder = "'0000000000000000000000000000000000000000000000000000000000000000'";

    /// <summary>
    /// The Automation runbook as it is created in an account: Systems Manager checks an attachment against the SHA-256
    /// the document names, so the packaged copy names the zip just written (the source keeps a placeholder).
    /// </summary>
    private void WriteRunbook(string output)
    {
        var source = Path.Combine(Path.GetDirectoryName(_lambda)!, "ssm", RunbookFile);
        var text = File.ReadAllText(source);
        if (!text.Contains(ChecksumPlaceholder, StringComparison.Ordinal))
            throw new InvalidDataException($"{source} has no placeholder checksum for {AutomationZip} to fill in.");
        using var zip = File.OpenRead(Path.Combine(output, AutomationZip));
        var sha256 = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(zip)).ToLowerInvariant();
        File.WriteAllText(Path.Combine(output, RunbookFile), text.Replace(ChecksumPlaceholder, $"'{sha256}'", StringComparison.Ordinal));
    }

    private static PackageReport Report(string name, (long Zipped, long Unzipped, int Files) size, long limit, string limitText) =>
        new(name, size.Zipped, size.Unzipped, size.Files, limit, limitText);

    private static (long Zipped, long Unzipped, int Files) Zip(string path, IEnumerable<(string Entry, string Source)> files)
    {
        var temp = path + ".tmp";
        long unzipped = 0;
        var count = 0;
        using (var stream = File.Create(temp))
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create))
        {
            foreach (var (entryName, source) in files)
            {
                var entry = zip.CreateEntry(entryName, CompressionLevel.Optimal);
                entry.LastWriteTime = EntryTime;
                using var from = File.OpenRead(source);
                using var to = entry.Open();
                from.CopyTo(to);
                unzipped += from.Length;
                count++;
            }
        }
        File.Move(temp, path, overwrite: true);
        return (new FileInfo(path).Length, unzipped, count);
    }
}
