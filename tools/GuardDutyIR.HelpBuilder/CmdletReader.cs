using System.Reflection;
using System.Runtime.InteropServices;

namespace GuardDutyIR.HelpBuilder;

/// <summary>
/// Reads the cmdlets of a compiled module assembly with <see cref="MetadataLoadContext"/>: attributes are decoded
/// from metadata by name, nothing is executed, and the assembly may target another runtime than this tool.
/// </summary>
public static class CmdletReader
{
    private const string Sma = "System.Management.Automation.";

    /// <summary>The assemblies that can resolve the cmdlet assembly's references: explicit ones first, then those
    /// beside it, PowerShell Standard's System.Management.Automation beside this tool, and this runtime's own.</summary>
    public static IReadOnlyList<string> ResolutionPaths(string assemblyPath, IEnumerable<string> references)
    {
        var candidates = new List<string>();
        candidates.AddRange(references.Where(r => r.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)));
        candidates.Add(Path.GetFullPath(assemblyPath));
        var assemblyDir = Path.GetDirectoryName(Path.GetFullPath(assemblyPath))!;
        candidates.AddRange(Directory.EnumerateFiles(assemblyDir, "*.dll"));
        candidates.Add(Path.Combine(AppContext.BaseDirectory, "System.Management.Automation.dll"));
        candidates.AddRange(Directory.EnumerateFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll"));

        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var path in candidates.Where(File.Exists))
            byName.TryAdd(Path.GetFileNameWithoutExtension(path), path);
        // The assembly under inspection always wins over anything of the same name.
        byName[Path.GetFileNameWithoutExtension(assemblyPath)] = Path.GetFullPath(assemblyPath);
        return byName.Values.ToList();
    }

    public static IReadOnlyList<CmdletMetadata> Read(string assemblyPath, IEnumerable<string> references)
    {
        var resolver = new PathAssemblyResolver(ResolutionPaths(assemblyPath, references));
        using var context = new MetadataLoadContext(resolver);
        var assembly = context.LoadFromAssemblyPath(Path.GetFullPath(assemblyPath));
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e)
        {
            throw new InvalidOperationException($"Cannot read the types of {assemblyPath}: "
                + string.Join("; ", e.LoaderExceptions.Where(x => x is not null).Select(x => x!.Message).Distinct()), e);
        }

        var cmdlets = new List<CmdletMetadata>();
        foreach (var type in types.Where(t => t.IsClass && t.IsPublic && !t.IsAbstract))
        {
            var cmdlet = Attribute(type.GetCustomAttributesData(), "CmdletAttribute");
            if (cmdlet is null) continue;
            var verb = (string)cmdlet.ConstructorArguments[0].Value!;
            var noun = (string)cmdlet.ConstructorArguments[1].Value!;
            var outputTypes = type.GetCustomAttributesData()
                .Where(a => a.AttributeType.FullName == Sma + "OutputTypeAttribute")
                .SelectMany(a => a.ConstructorArguments)
                .SelectMany(arg => arg.Value is IEnumerable<CustomAttributeTypedArgument> items ? items.Select(i => i.Value) : new[] { arg.Value })
                .Select(v => v is Type t ? TypeFullName(t) : v?.ToString())
                .Where(n => !string.IsNullOrEmpty(n))
                .Select(n => n!)
                .Distinct(StringComparer.Ordinal)
                .ToList();
            cmdlets.Add(new CmdletMetadata(
                verb + "-" + noun, verb, noun,
                Named<string>(cmdlet, "DefaultParameterSetName"),
                Named<bool>(cmdlet, "SupportsShouldProcess"),
                ReadParameters(type),
                outputTypes,
                type.FullName!));
        }
        return cmdlets.OrderBy(c => c.Name, StringComparer.OrdinalIgnoreCase).ToList();
    }

    private static List<ParameterMetadata> ReadParameters(Type type)
    {
        var depth = new Dictionary<Type, int>();
        var level = 0;
        for (var t = type; t is not null; t = t.BaseType) depth[t] = level++;

        var result = new List<ParameterMetadata>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .OrderBy(p => depth.TryGetValue(p.DeclaringType!, out var d) ? d : int.MaxValue)
            .ThenBy(p => p.MetadataToken);
        foreach (var property in properties)
        {
            var attributes = property.GetCustomAttributesData();
            var parameterAttributes = attributes.Where(a => a.AttributeType.FullName == Sma + "ParameterAttribute").ToList();
            if (parameterAttributes.Count == 0 || !seen.Add(property.Name)) continue;
            if (parameterAttributes.All(a => Named<bool>(a, "DontShow"))) continue;

            var sets = parameterAttributes.Select(a =>
            {
                var position = Named<int?>(a, "Position");
                return new ParameterSetMetadata(
                    Named<string>(a, "ParameterSetName") ?? CmdletMetadata.AllParameterSets,
                    Named<bool>(a, "Mandatory"),
                    position is null or int.MinValue ? null : position,
                    Named<bool>(a, "ValueFromPipeline"),
                    Named<bool>(a, "ValueFromPipelineByPropertyName"),
                    Named<bool>(a, "ValueFromRemainingArguments"));
            }).ToList();

            var aliases = attributes.Where(a => a.AttributeType.FullName == Sma + "AliasAttribute")
                .SelectMany(a => a.ConstructorArguments)
                .SelectMany(arg => arg.Value is IEnumerable<CustomAttributeTypedArgument> items ? items.Select(i => i.Value as string) : new[] { arg.Value as string })
                .Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).ToList();

            var propertyType = property.PropertyType;
            result.Add(new ParameterMetadata(
                property.Name,
                TypeFullName(propertyType),
                TypeDisplayName(propertyType),
                propertyType.FullName == Sma + "SwitchParameter",
                propertyType.IsArray,
                attributes.Any(a => a.AttributeType.FullName == Sma + "SupportsWildcardsAttribute"),
                aliases,
                sets,
                property.DeclaringType!.FullName!));
        }
        return result;
    }

    private static CustomAttributeData? Attribute(IEnumerable<CustomAttributeData> attributes, string name) =>
        attributes.FirstOrDefault(a => a.AttributeType.FullName == Sma + name);

    private static T? Named<T>(CustomAttributeData attribute, string name)
    {
        foreach (var arg in attribute.NamedArguments)
            if (arg.MemberName == name && arg.TypedValue.Value is { } value) return (T)value;
        return default;
    }

    private static Type Unwrap(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition().FullName == "System.Nullable`1" ? type.GetGenericArguments()[0] : type;

    /// <summary>The type as PowerShell users write it in full: System.String, System.String[], System.Int32.</summary>
    public static string TypeFullName(Type type)
    {
        type = Unwrap(type);
        if (type.IsArray) return TypeFullName(type.GetElementType()!) + "[]";
        if (type.IsGenericType)
            return type.GetGenericTypeDefinition().FullName!.Split('`')[0] + "[" + string.Join(",", type.GetGenericArguments().Select(TypeFullName)) + "]";
        return type.FullName ?? type.Name;
    }

    /// <summary>The short name shown in syntax: String, String[], PSCredential.</summary>
    public static string TypeDisplayName(Type type)
    {
        type = Unwrap(type);
        if (type.IsArray) return TypeDisplayName(type.GetElementType()!) + "[]";
        if (type.IsGenericType)
            return type.Name.Split('`')[0] + "[" + string.Join(",", type.GetGenericArguments().Select(TypeDisplayName)) + "]";
        return type.Name;
    }
}
