using System.Diagnostics;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// In a fresh process (a new pwsh session), importing the module loads neither DuckDB nor the Lab; the first local
/// query loads DuckDB into the module's load context only.
/// </summary>
public sealed class LazyLoadingTests
{
    [Fact]
    public void Import_does_not_load_DuckDB_and_a_local_query_loads_it_into_the_module_context()
    {
        var root = Directory.CreateTempSubdirectory("gdir-lazy-").FullName;
        var script = Path.Combine(root, "probe.ps1");
        try
        {
            TrailLogWriter.WriteInvestigation(Path.Combine(root, "logs"), "i-0123456789abcdef0");
            File.WriteAllText(script, """
                function Loaded([string] $name) {
                    foreach ($context in [System.Runtime.Loader.AssemblyLoadContext]::All) {
                        foreach ($assembly in $context.Assemblies) { if ($assembly.GetName().Name -like $name) { '{0}:{1}' -f $context.Name, $assembly.GetName().Name } }
                    }
                }
                'after-import'; Loaded 'DuckDB*'; Loaded 'GuardDutyIR.Lab'
                $null = Invoke-LakeQuery -Query 'select count(*) from EDS_ID' -Path (Join-Path $PSScriptRoot 'logs') -Region us-east-1 -Credential @{ AccessKey = 'AKID'; SecretKey = 's' }
                'after-query'; Loaded 'DuckDB*'
                """.Replace("(Join-Path $PSScriptRoot 'logs')", $"'{Path.Combine(root, "logs")}'"));
            var start = new ProcessStartInfo("dotnet", new[] { "exec", ModuleLayout.DemoHostDll, script }) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd();
            var errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, output + errors);

            var lines = output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var afterImport = lines.SkipWhile(l => l != "after-import").Skip(1).TakeWhile(l => l != "after-query").ToList();
            var afterQuery = lines.SkipWhile(l => l != "after-query").Skip(1).ToList();
            Assert.Empty(afterImport);
            Assert.NotEmpty(afterQuery);
            Assert.All(afterQuery, l => Assert.StartsWith("GuardDutyIR:DuckDB", l));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
