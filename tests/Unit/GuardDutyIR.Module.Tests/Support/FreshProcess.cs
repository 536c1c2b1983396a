using System.Diagnostics;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>
/// Runs a script in a new process with the module imported (the demo host), as a new pwsh session would: for what
/// AWSSDK.Core and .NET read once per process (environment, shared files) and for what must not leak between tests.
/// </summary>
public static class FreshProcess
{
    public sealed record Outcome(int ExitCode, string Output, string Errors)
    {
        public string All => Output + Errors;
    }

    public static Outcome Run(string scriptText, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var folder = Directory.CreateTempSubdirectory("gdir-fresh-").FullName;
        try
        {
            var script = Path.Combine(folder, "script.ps1");
            File.WriteAllText(script, scriptText);
            var start = new ProcessStartInfo("dotnet", new[] { "exec", ModuleLayout.DemoHostDll, script })
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
            foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
            {
                if (value is null) start.Environment.Remove(name);
                else start.Environment[name] = value;
            }
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("The script did not finish within 2 minutes: " + scriptText);
            }
            return new Outcome(process.ExitCode, output.Result, errors.Result);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
