using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using GuardDutyIR.Demo;

// Usage: dotnet run --project tools/GuardDutyIR.Demo [-- <script.ps1> [script arguments]]
// Default script: examples/Demo.ps1. Exit code 0 when the script ran without errors.
string Metadata(string key) =>
    typeof(ConsoleHost).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

var repoRoot = Metadata("RepoRoot");
var manifest = Path.Combine(Metadata("ModuleLayoutDir"), "GuardDutyIR.psd1");
var script = args.Length > 0 ? Path.GetFullPath(args[0]) : Path.Combine(repoRoot, "examples", "Demo.ps1");
if (!File.Exists(script))
{
    Console.Error.WriteLine($"Script not found: {script}");
    return 2;
}

// Nothing in the demo may reach for a real AWS endpoint or the instance metadata service.
Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");

var host = new ConsoleHost();
var state = InitialSessionState.CreateDefault2();
using var runspace = RunspaceFactory.CreateRunspace(host, state);
runspace.Open();

using (var import = PowerShell.Create())
{
    import.Runspace = runspace;
    var watch = Stopwatch.StartNew();
    import.AddCommand("Import-Module").AddParameter("Name", manifest).Invoke();
    watch.Stop();
    if (import.HadErrors)
    {
        foreach (var error in import.Streams.Error) Console.Error.WriteLine(error);
        return 3;
    }
    Console.WriteLine($"Imported GuardDutyIR from {Path.GetDirectoryName(manifest)} in {watch.ElapsedMilliseconds} ms.");
}

using var ps = PowerShell.Create();
ps.Runspace = runspace;
ps.AddCommand(script);
foreach (var arg in args.Skip(1)) ps.AddArgument(arg);
ps.AddCommand("Out-Default");
Console.CancelKeyPress += (_, e) => { e.Cancel = true; ps.Stop(); };
try
{
    ps.Invoke();
}
catch (RuntimeException e)
{
    Console.Error.WriteLine(e.ErrorRecord.ToString());
    Console.Error.WriteLine(e.ErrorRecord.InvocationInfo?.PositionMessage);
    return 1;
}
foreach (var error in ps.Streams.Error)
{
    Console.Error.WriteLine(error.ToString());
    Console.Error.WriteLine(error.InvocationInfo?.PositionMessage);
}
return ps.HadErrors ? 1 : host.ExitCode;
