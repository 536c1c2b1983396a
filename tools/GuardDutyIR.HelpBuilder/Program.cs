using System.Diagnostics;
using GuardDutyIR.HelpBuilder;

// GuardDutyIR.HelpBuilder --assembly <cmdlets.dll> --help <module/help> --out <layout/en-US>
//                         [--references-file <file with one path a line>] [--reference <dll>]...
// Exit 0: help written (or already up to date). Exit 1: the help disagrees with the code or is incomplete; each
// problem is printed as "file(line): error GDHELPnnn: Cmdlet: message", which MSBuild shows as a build error.
// Exit 2: bad arguments or an unreadable assembly.

var watch = Stopwatch.StartNew();
string? assembly = null, help = null, output = null;
var references = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    try
    {
        switch (args[i])
        {
            case "--assembly": assembly = Next(); break;
            case "--help": help = Next(); break;
            case "--out": output = Next(); break;
            case "--reference": references.Add(Next()); break;
            case "--references-file":
                references.AddRange(File.ReadAllLines(Next()).Select(l => l.Trim()).Where(l => l.Length > 0));
                break;
            default: throw new ArgumentException($"unknown argument '{args[i]}'");
        }
    }
    catch (Exception e) when (e is ArgumentException or IOException)
    {
        Console.Error.WriteLine($"GuardDutyIR.HelpBuilder: error GDHELP000: {e.Message}");
        return 2;
    }
}
if (assembly is null || help is null || output is null)
{
    Console.Error.WriteLine("GuardDutyIR.HelpBuilder: error GDHELP000: usage: --assembly <cmdlets.dll> --help <help folder> --out <output folder> [--references-file <file>] [--reference <dll>]...");
    return 2;
}

HelpBuildResult result;
try
{
    result = HelpBuild.Run(new HelpBuildOptions
    {
        AssemblyPath = Path.GetFullPath(assembly),
        HelpDirectory = Path.GetFullPath(help),
        OutputDirectory = Path.GetFullPath(output),
        References = references,
    });
}
catch (Exception e) when (e is IOException or BadImageFormatException or InvalidOperationException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"{assembly}: error GDHELP000: cannot read the cmdlets: {e.Message}");
    return 2;
}

foreach (var error in result.Errors) Console.Error.WriteLine(error);
if (!result.Succeeded)
{
    Console.Error.WriteLine($"GuardDutyIR.HelpBuilder: error GDHELP000: {result.Errors.Count} help problem(s); no help was written.");
    return 1;
}
Console.WriteLine($"GuardDutyIR.HelpBuilder: {result.CmdletCount} cmdlets, {result.Written.Count} file(s) written, {result.Unchanged.Count} unchanged, {watch.ElapsedMilliseconds} ms.");
return 0;
