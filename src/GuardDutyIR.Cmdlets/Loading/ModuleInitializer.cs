using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace GuardDutyIR.Commands.Loading;

/// <summary>
/// Sends the default context's request for GuardDutyIR.Engine (made when a cmdlet first calls into it) to the
/// module's own load context, and finds GuardDutyIR.Models beside the cmdlets. Only these two names are answered,
/// so nothing else of the module leaks into the default context.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer
{
    private static readonly object Gate = new();
    private static ModuleLoadContext? _context;
    private static bool _registered;

    public void OnImport() => EnsureRegistered();

    internal static string ModuleDirectory =>
        Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location) ?? AppContext.BaseDirectory;

    internal static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (_registered) return;
            _context = new ModuleLoadContext(Path.Combine(ModuleDirectory, "deps"));
            AssemblyLoadContext.Default.Resolving += Resolve;
            _registered = true;
        }
    }

    private static Assembly? Resolve(AssemblyLoadContext defaultContext, AssemblyName name)
    {
        if (name.Name == ModuleLoadContext.EngineAssemblyName)
            return _context?.LoadFromAssemblyName(name);
        if (name.Name == "GuardDutyIR.Models")
        {
            var path = Path.Combine(ModuleDirectory, "GuardDutyIR.Models.dll");
            return File.Exists(path) ? defaultContext.LoadFromAssemblyPath(path) : null;
        }
        return null;
    }

    // Runs when anything in this assembly first executes, so the resolver is in place even if PowerShell touches a
    // cmdlet type before it calls OnImport.
#pragma warning disable CA2255 // deliberate: a binary module is exactly the case where load order is not ours to control
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void InitializeAssembly() => EnsureRegistered();
#pragma warning restore CA2255
}
