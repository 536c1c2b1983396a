using System.Management.Automation;
using System.Management.Automation.Runspaces;
using GuardDutyIR.LambdaRuntime;

// Usage:
//   GuardDutyIR.LambdaRuntime --module-path <opt>/modules [--module-path ...] [--task-root <dir>] [--handler <handler>]
//       The runtime loop: AWS_LAMBDA_RUNTIME_API (host:port) and _HANDLER / LAMBDA_TASK_ROOT come from the environment
//       as on Lambda; it serves invocations until the Runtime API goes away.
//   GuardDutyIR.LambdaRuntime --module-path <dir> --script <file.ps1> [script arguments]
//       Runs one script with only those module folders on PSModulePath (as an SSM aws:executeScript step runs a script
//       next to its attachment) and exits 0 when it ran without errors.
var modulePaths = new List<string>();
string? taskRoot = Environment.GetEnvironmentVariable("LAMBDA_TASK_ROOT");
string? handler = Environment.GetEnvironmentVariable("_HANDLER");
string? script = null;
var scriptArgs = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--module-path" when i + 1 < args.Length: modulePaths.Add(Path.GetFullPath(args[++i])); break;
        case "--task-root" when i + 1 < args.Length: taskRoot = Path.GetFullPath(args[++i]); break;
        case "--handler" when i + 1 < args.Length: handler = args[++i]; break;
        case "--script" when i + 1 < args.Length:
            script = Path.GetFullPath(args[++i]);
            scriptArgs.AddRange(args.Skip(i + 1));
            i = args.Length;
            break;
        default:
            Console.Error.WriteLine($"Unknown or incomplete argument '{args[i]}'.");
            return 2;
    }
}

Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", Environment.GetEnvironmentVariable("AWS_EC2_METADATA_DISABLED") ?? "true");

if (script is not null) return RunScript(script, scriptArgs, modulePaths);

var runtimeApi = Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API");
if (string.IsNullOrEmpty(runtimeApi) || string.IsNullOrEmpty(handler) || string.IsNullOrEmpty(taskRoot))
{
    Console.Error.WriteLine("AWS_LAMBDA_RUNTIME_API, _HANDLER (or --handler) and LAMBDA_TASK_ROOT (or --task-root) are required.");
    return 2;
}
// The package's own modules folder comes after the layers', as on Lambda.
modulePaths.Add(Path.Combine(taskRoot, "modules"));
using var loop = new LambdaRuntimeLoop(new LambdaRuntimeOptions
{
    RuntimeApi = runtimeApi, Handler = handler, TaskRoot = taskRoot, ModulePaths = modulePaths, Log = Console.Out,
});
try
{
    await loop.InitializeAsync();
}
catch (LambdaInitException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
Console.WriteLine($"INIT_DURATION_MS={loop.InitDuration.TotalMilliseconds:F0}");
await loop.RunAsync();
return 0;

static int RunScript(string script, IReadOnlyList<string> scriptArgs, IReadOnlyList<string> modulePaths)
{
    var engineModules = Path.Combine(Path.GetDirectoryName(typeof(PSObject).Assembly.Location)!, "Modules");
    Environment.SetEnvironmentVariable("PSModulePath", string.Join(Path.PathSeparator, new[] { engineModules }.Where(Directory.Exists).Concat(modulePaths)));
    using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
    runspace.Open();
    using var ps = PowerShell.Create();
    ps.Runspace = runspace;
    ps.AddCommand(script);
    foreach (var a in scriptArgs) ps.AddArgument(a);
    ps.AddCommand("Out-String").AddParameter("Stream");
    try
    {
        foreach (var line in ps.Invoke()) Console.WriteLine(line);
    }
    catch (RuntimeException e)
    {
        Console.Error.WriteLine(e.ErrorRecord.ToString());
        Console.Error.WriteLine(e.ErrorRecord.InvocationInfo?.PositionMessage);
        return 1;
    }
    foreach (var w in ps.Streams.Warning) Console.Error.WriteLine("WARNING: " + w.Message);
    foreach (var e in ps.Streams.Error)
    {
        Console.Error.WriteLine(e.ToString());
        Console.Error.WriteLine(e.InvocationInfo?.PositionMessage);
    }
    return ps.HadErrors ? 1 : 0;
}
