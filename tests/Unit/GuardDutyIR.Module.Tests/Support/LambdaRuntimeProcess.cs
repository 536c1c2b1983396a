using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Lambda;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>The automation packages the build made (out/packages), and their contents unpacked as AWS unpacks them.</summary>
public static class AutomationPackages
{
    public const string LayerZip = "GuardDutyIR-lambda-layer.zip";
    public const string FunctionZip = "GuardDutyIR-lambda-function.zip";
    public const string AutomationZip = "GuardDutyIR-automation.zip";
    public const string Handler = "Invoke-GdAutoResponse.ps1::Invoke-GdAutoResponse";

    private static string Metadata(string key) =>
        typeof(AutomationPackages).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    public static string Directory => Metadata("AutomationPackagesDir");
    public static string PathOf(string zip) => System.IO.Path.Combine(Directory, zip);
    public static string RuntimeDll => Metadata("LambdaRuntimeDll");

    /// <summary>
    /// The environment a fresh execution environment would have: nothing of this process's AWS or GuardDutyIR settings
    /// (other tests set some), no PSModulePath, then <paramref name="settings"/>.
    /// </summary>
    public static void SetEnvironment(System.Diagnostics.ProcessStartInfo start, IReadOnlyDictionary<string, string> settings)
    {
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("AWS_", StringComparison.OrdinalIgnoreCase)
            || k.StartsWith("GUARDDUTYIR_", StringComparison.OrdinalIgnoreCase) || k == "PSModulePath" || k == "_HANDLER" || k == "LAMBDA_TASK_ROOT").ToList())
            start.Environment.Remove(name);
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        foreach (var (k, v) in settings) start.Environment[k] = v;
    }

    /// <summary>Unzips a package into a new folder under <paramref name="root"/> (a layer into what stands for /opt).</summary>
    public static string Extract(string zip, string root, string folder)
    {
        var target = System.IO.Path.Combine(root, folder);
        ZipFile.ExtractToDirectory(PathOf(zip), target);
        return target;
    }
}

/// <summary>
/// The stand-in for AWS's PowerShell runtime (tools/GuardDutyIR.LambdaRuntime) in a process of its own, as Lambda runs
/// one per execution environment: the layer unzipped as /opt, the function package as LAMBDA_TASK_ROOT, the function's
/// environment, and AWS_LAMBDA_RUNTIME_API pointing at the Lab's endpoint for the function. Nothing of the build's module
/// folder is on its PSModulePath, so the handler can only import the layer's copy.
/// </summary>
public sealed class LambdaRuntimeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly string _root;

    private LambdaRuntimeProcess(Process process, string root)
    {
        _process = process;
        _root = root;
    }

    public static LambdaRuntimeProcess Start(LabHost lab, LambdaFunction function, IReadOnlyDictionary<string, string> settings)
    {
        var root = System.IO.Directory.CreateTempSubdirectory("gdir-lambda-").FullName;
        var opt = AutomationPackages.Extract(AutomationPackages.LayerZip, root, "opt");
        var task = AutomationPackages.Extract(AutomationPackages.FunctionZip, root, "task");
        var start = new ProcessStartInfo("dotnet", new[] { "exec", AutomationPackages.RuntimeDll, "--module-path", Path.Combine(opt, "modules") })
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var env = new Dictionary<string, string>
        {
            ["AWS_LAMBDA_RUNTIME_API"] = function.RuntimeApi,
            ["_HANDLER"] = AutomationPackages.Handler,
            ["LAMBDA_TASK_ROOT"] = task,
            ["AWS_LAMBDA_FUNCTION_NAME"] = function.Name,
            ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "512",
            ["AWS_REGION"] = lab.Region,
            ["AWS_DEFAULT_REGION"] = lab.Region,
            // The execution role's keys, as Lambda puts them in the environment; the Lab stands for every endpoint.
            ["AWS_ACCESS_KEY_ID"] = lab.AccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = lab.SecretAccessKey,
            ["AWS_ENDPOINT_URL"] = lab.Endpoint,
            // The Lab does not throttle here; the client-side EC2 buckets would only slow the tests.
            ["GUARDDUTYIR_EC2_RATE_SCALE"] = "off",
            ["GUARDDUTYIR_CONVERSION_WAIT_SEC"] = "0",
        };
        foreach (var (k, v) in settings) env[k] = v;
        AutomationPackages.SetEnvironment(start, env);
        var process = new Process { StartInfo = start };
        var runtime = new LambdaRuntimeProcess(process, root);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (runtime._log) runtime._log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (runtime._log) runtime._log.AppendLine("stderr: " + e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return runtime;
    }

    /// <summary>What the runtime and the handler logged (what CloudWatch Logs would hold).</summary>
    public string Log { get { lock (_log) return _log.ToString(); } }

    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until the runtime answered the invocation; a runtime that died, or a hang, fails with its log.</summary>
    public void WaitFor(LambdaInvocation invocation, TimeSpan? hangGuard = null)
    {
        var guard = Stopwatch.StartNew();
        var limit = hangGuard ?? TimeSpan.FromSeconds(90);
        while (!invocation.Completion.Wait(TimeSpan.FromMilliseconds(100)))
        {
            if (_process.HasExited) throw new InvalidOperationException($"The runtime exited ({_process.ExitCode}) before answering {invocation.RequestId}:\n{Log}");
            if (guard.Elapsed > limit) throw new TimeoutException($"The runtime did not answer {invocation.RequestId} within {limit}:\n{Log}");
        }
    }

    /// <summary>Waits for the process to end by itself (an init failure ends it).</summary>
    public bool WaitForExit(TimeSpan hangGuard) => _process.WaitForExit(hangGuard);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        try { System.IO.Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
