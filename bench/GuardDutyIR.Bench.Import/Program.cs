using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

// dotnet run -c Release --project bench/GuardDutyIR.Bench.Import [-- <samplesPerVariant>]
// What a responder waits for in a new pwsh: Import-Module GuardDutyIR, then the first command that talks to AWS
// (Get-GdFinding against a Lab started by this parent). Each sample is a new process (this program as a child), so
// every assembly load is cold in the runtime's sense (the OS file cache stays warm, the same for both variants).
//   ours:  the built module (out/GuardDutyIR/<version>): the engine and AWSSDK load in the module's own context on
//          first use;
//   eager: a copy of that folder whose manifest lists every assembly of deps/ in RequiredAssemblies, so PowerShell
//          loads them all at Import-Module (the usual way a binary module ships its dependencies).
// Samples alternate ours/eager; the medians are compared. Target: ours/eager < 1.
if (args.Length > 0 && args[0] == "child") return Child.Run(args[1], args[2], args[3], args[4], args[5]);
return await Parent.RunAsync(args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 7);

static class Parent
{
    public static async Task<int> RunAsync(int samples)
    {
        var layout = typeof(Parent).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ModuleLayoutDir").Value!;
        var ours = Path.Combine(layout, "GuardDutyIR.psd1");
        var eagerRoot = Directory.CreateTempSubdirectory("gdir-bench-eager-").FullName;
        try
        {
            var eager = MakeEagerCopy(layout, Path.Combine(eagerRoot, "GuardDutyIR", new DirectoryInfo(layout.TrimEnd('/', '\\')).Name));
            return await MeasureAsync(ours, eager, samples);
        }
        finally
        {
            Directory.Delete(eagerRoot, recursive: true);
        }
    }

    // The Lab lives in its own method so the child never JITs code that touches it.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<int> MeasureAsync(string ours, string eager, int samples)
    {
        await using var lab = await GuardDutyIR.Lab.Core.LabHost.StartAsync(new GuardDutyIR.Lab.Core.LabOptions());
        Console.WriteLine($"Lab at {lab.Endpoint}; {samples} fresh processes per variant, alternating; each: runspace opened, then timed " +
                          "Import-Module and the first Get-GdFinding");
        var runs = new Dictionary<string, List<Sample>> { ["ours"] = new(), ["eager"] = new() };
        Spawn(ours, lab.Endpoint, lab.Region, lab.AccessKeyId, lab.SecretAccessKey);   // warm-up: OS file cache, the Lab's first answers
        Spawn(eager, lab.Endpoint, lab.Region, lab.AccessKeyId, lab.SecretAccessKey);
        for (var i = 0; i < samples; i++)
        {
            foreach (var (name, manifest) in i % 2 == 0 ? new[] { ("ours", ours), ("eager", eager) } : new[] { ("eager", eager), ("ours", ours) })
            {
                var s = Spawn(manifest, lab.Endpoint, lab.Region, lab.AccessKeyId, lab.SecretAccessKey);
                runs[name].Add(s);
                Console.WriteLine($"  {name,-5} import {s.ImportMs,6:0} ms  first call {s.FirstCallMs,6:0} ms  total {s.ImportMs + s.FirstCallMs,6:0} ms  " +
                                  $"process {s.ProcessMs,6:0} ms  {s.Findings} findings  assemblies after import {s.AssembliesAfterImport}, after call {s.AssembliesAfterCall}");
            }
        }
        double Med(string name, Func<Sample, double> f) => Median(runs[name].Select(f));
        Console.WriteLine($"{"median",-8} {"import ms",10} {"first call ms",14} {"total ms",10} {"process ms",11} {"assemblies after import",24}");
        foreach (var name in new[] { "ours", "eager" })
            Console.WriteLine($"{name,-8} {Med(name, s => s.ImportMs),10:0} {Med(name, s => s.FirstCallMs),14:0} {Med(name, s => s.ImportMs + s.FirstCallMs),10:0} " +
                              $"{Med(name, s => s.ProcessMs),11:0} {Med(name, s => s.AssembliesAfterImport),24:0}");
        var ratio = Med("ours", s => s.ImportMs + s.FirstCallMs) / Med("eager", s => s.ImportMs + s.FirstCallMs);
        var importRatio = Med("ours", s => s.ImportMs) / Med("eager", s => s.ImportMs);
        Console.WriteLine($"ratio ours/eager, import + first call (medians): {ratio:0.000} (target < 1); import alone: {importRatio:0.00}");
        var pass = ratio < 1;
        Console.WriteLine($"BENCH|import + first Get-GdFinding, fresh process, median of {samples}|eager copy {Med("eager", s => s.ImportMs + s.FirstCallMs):0} ms " +
                          $"(ours {Med("ours", s => s.ImportMs + s.FirstCallMs):0} ms)|{ratio:0.000}|< 1|{(pass ? "pass" : "FAIL")}");
        return pass ? 0 : 1;
    }

    private static string MakeEagerCopy(string layout, string target)
    {
        Copy(new DirectoryInfo(layout), target);
        var deps = Directory.GetFiles(Path.Combine(target, "deps"), "*.dll").Select(f => "deps/" + Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        var manifest = Path.Combine(target, "GuardDutyIR.psd1");
        var text = File.ReadAllText(manifest);
        var at = text.IndexOf("RootModule", StringComparison.Ordinal);
        if (at < 0) throw new InvalidOperationException("The manifest has no RootModule.");
        text = text.Insert(at, "RequiredAssemblies = @(" + string.Join(", ", deps.Select(d => $"'{d}'")) + ")\n    ");
        File.WriteAllText(manifest, text);
        Console.WriteLine($"eager copy: {target} with RequiredAssemblies of {deps.Count} assemblies ({string.Join(", ", deps.Select(Path.GetFileNameWithoutExtension))})");
        return manifest;
    }

    private static void Copy(DirectoryInfo from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in from.GetFiles()) f.CopyTo(Path.Combine(to, f.Name));
        foreach (var d in from.GetDirectories()) Copy(d, Path.Combine(to, d.Name));
    }

    private static Sample Spawn(string manifest, string endpoint, string region, string accessKey, string secretKey)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(Parent).Assembly.Location);
        foreach (var a in new[] { "child", manifest, endpoint, region, accessKey, secretKey }) start.ArgumentList.Add(a);
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2))) { process.Kill(entireProcessTree: true); throw new TimeoutException("child did not finish"); }
        var processMs = watch.Elapsed.TotalMilliseconds;
        var line = output.Result.Split('\n').LastOrDefault(l => l.StartsWith("CHILD|", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"child failed ({process.ExitCode}): {output.Result} {errors.Result}");
        var p = line.Trim().Split('|');
        return new Sample(double.Parse(p[1], CultureInfo.InvariantCulture), double.Parse(p[2], CultureInfo.InvariantCulture), processMs,
            int.Parse(p[3], CultureInfo.InvariantCulture), int.Parse(p[4], CultureInfo.InvariantCulture), int.Parse(p[5], CultureInfo.InvariantCulture));
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToList();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }
}

sealed record Sample(double ImportMs, double FirstCallMs, double ProcessMs, int Findings, int AssembliesAfterImport, int AssembliesAfterCall);

static class Child
{
    // A new pwsh's engine is up before the user types: the runspace is opened outside the timing, for both variants.
    public static int Run(string manifest, string endpoint, string region, string accessKey, string secretKey)
    {
        using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        runspace.Open();
        var watch = Stopwatch.StartNew();
        using (var import = PowerShell.Create())
        {
            import.Runspace = runspace;
            import.AddCommand("Import-Module").AddArgument(manifest).Invoke();
            if (import.HadErrors) throw new InvalidOperationException(string.Join("; ", import.Streams.Error));
        }
        var importMs = watch.Elapsed.TotalMilliseconds;
        var afterImport = Loaded();
        if (Environment.GetEnvironmentVariable("BENCH_IMPORT_LIST") == "1")   // what the import loaded, by load context
            foreach (var c in AssemblyLoadContext.All)
                Console.Error.WriteLine($"{c.Name}: {string.Join(", ", c.Assemblies.Select(a => a.GetName().Name).Order(StringComparer.Ordinal))}");
        watch.Restart();
        int findings;
        using (var call = PowerShell.Create())
        {
            call.Runspace = runspace;
            call.AddCommand("Get-GdFinding").AddParameter("Region", region).AddParameter("EndpointUrl", endpoint)
                .AddParameter("Credential", new System.Collections.Hashtable { ["AccessKey"] = accessKey, ["SecretKey"] = secretKey });
            findings = call.Invoke().Count;
            if (call.HadErrors) throw new InvalidOperationException(string.Join("; ", call.Streams.Error));
        }
        var callMs = watch.Elapsed.TotalMilliseconds;
        if (findings == 0) throw new InvalidOperationException("Get-GdFinding returned nothing from the Lab.");
        Console.WriteLine(FormattableString.Invariant($"CHILD|{importMs:0.0}|{callMs:0.0}|{findings}|{afterImport}|{Loaded()}"));
        return 0;
    }

    private static int Loaded() => AssemblyLoadContext.All.Sum(c => c.Assemblies.Count());
}
