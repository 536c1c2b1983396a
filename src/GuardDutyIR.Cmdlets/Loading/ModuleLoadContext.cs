using System.Reflection;
using System.Runtime.Loader;

namespace GuardDutyIR.Commands.Loading;

/// <summary>
/// The module's own load context: the engine and every third-party assembly it needs (AWSSDK.*, DuckDB and its
/// native library) load from deps/, whatever versions other modules (AWS.Tools) put in the default context.
/// </summary>
internal sealed class ModuleLoadContext : AssemblyLoadContext
{
    // Types that cross between the cmdlets and the engine must be the same Type objects on both sides.
    private static readonly HashSet<string> SharedWithDefault = new(StringComparer.OrdinalIgnoreCase)
    {
        "GuardDutyIR.Models", "System.Management.Automation",
    };

    private readonly AssemblyDependencyResolver _resolver;
    private readonly string _depsDirectory;

    public ModuleLoadContext(string depsDirectory) : base("GuardDutyIR", isCollectible: false)
    {
        _depsDirectory = depsDirectory;
        _resolver = new AssemblyDependencyResolver(Path.Combine(depsDirectory, EngineAssemblyName + ".dll"));
    }

    public const string EngineAssemblyName = "GuardDutyIR.Engine";

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name is null || SharedWithDefault.Contains(assemblyName.Name)) return null;
        var path = _resolver.ResolveAssemblyToPath(assemblyName);
        if (path is null || !File.Exists(path))
        {
            var local = Path.Combine(_depsDirectory, assemblyName.Name + ".dll");
            path = File.Exists(local) ? local : null;
        }
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        if (path is not null && File.Exists(path)) return LoadUnmanagedDllFromPath(path);
        // The gallery package leaves DuckDB's native library out (deps.json still lists every platform's): look for
        // the platform's own module. Zero lets the runtime throw DllNotFoundException, which the engine explains.
        if (DuckDbLibraryLocator.IsDuckDb(unmanagedDllName) && DuckDbLibraryLocator.Locate(_depsDirectory) is { } installed)
            return LoadUnmanagedDllFromPath(installed);
        return IntPtr.Zero;
    }
}
