using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>
/// What the compiled code can call, read from the IL of the built assemblies (never loaded, only read): every method
/// is a node "Namespace.Type+Nested::Name" (overloads share one node, which can only add callees), with an edge to
/// each method it calls or takes a delegate of, to every override of that method in the assemblies read, and to
/// every method of an async state machine or iterator it touches (their MoveNext runs on behalf of the method that
/// creates them; lambdas and local functions are reached through the delegate or call that names them). The string literals of each method are kept too.
/// Reading IL rather than source sees what the compiler produced: no call can hide in a lambda, an async method,
/// an iterator or a local function.
/// </summary>
public sealed class IlCallGraph
{
    private readonly Dictionary<string, HashSet<string>> _edges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _literals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _methodsOfType = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _supertypes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _assemblyOf = new(StringComparer.Ordinal);
    private readonly HashSet<string> _virtuals = new(StringComparer.Ordinal);
    private static readonly Dictionary<short, OpCode> s_opcodes = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    public IlCallGraph(params string[] assemblyPaths)
    {
        foreach (var path in assemblyPaths) Read(path);
        var subtypes = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var type in _methodsOfType.Keys)
            foreach (var super in AllSupertypes(type))
                (subtypes.TryGetValue(super, out var set) ? set : subtypes[super] = new(StringComparer.Ordinal)).Add(type);
        foreach (var targets in _edges.Values)
            foreach (var edge in targets.ToList())
            {
                var (type, name) = Split(edge);
                targets.Remove(edge);
                if (name == "*")
                {
                    // A touched state machine stands for all of its methods (MoveNext runs for the method that made it).
                    targets.UnionWith(MethodsOf(type));
                    continue;
                }
                if (name == NewMarker)
                {
                    // A new object of ours can be handed to code we did not read (the SDK calls a credentials
                    // object's overrides, the runtime an iterator's MoveNext): its overrides of what no type of ours
                    // declares are reachable from where it is made.
                    targets.Add(type + "::.ctor");
                    var own = new[] { type }.Concat(AllSupertypes(type)).Where(_methodsOfType.ContainsKey).ToList();
                    foreach (var t in own)
                        foreach (var m in MethodsOf(t).Where(_virtuals.Contains))
                            if (!AllSupertypes(t).Any(super => _methodsOfType.ContainsKey(super) && MethodsOf(super).Contains(super + "::" + Split(m).Name)))
                                targets.Add(m);
                    continue;
                }
                var isVirtualCall = name.StartsWith(VirtualMarker, StringComparison.Ordinal);
                if (isVirtualCall) name = name[VirtualMarker.Length..];
                targets.Add(type + "::" + name);
                // Static constructors run on first use of a type.
                if (_methodsOfType.TryGetValue(type, out var methods) && methods.Contains(type + "::.cctor")) targets.Add(type + "::.cctor");
                // A virtual or interface call on a type of ours reaches every override in the assemblies read. A call
                // through a BCL interface (IEnumerator.MoveNext, IDisposable.Dispose) is not followed: it would reach
                // every iterator and disposable there is; those are reached from where they are made (above).
                // "call" (base.M(), static and non-virtual calls) reaches only the method named.
                if (!isVirtualCall || !_methodsOfType.ContainsKey(type)) continue;
                foreach (var sub in subtypes.GetValueOrDefault(type) ?? new())
                    if (_methodsOfType[sub].Contains(sub + "::" + name)) targets.Add(sub + "::" + name);
            }
    }

    private const string NewMarker = "+new";
    private const string VirtualMarker = "+virt:";

    /// <summary>Every method defined in the assemblies read.</summary>
    public IEnumerable<string> Methods => _methodsOfType.Values.SelectMany(m => m);

    public IReadOnlySet<string> MethodsOf(string type) => _methodsOfType.GetValueOrDefault(type) ?? new HashSet<string>();

    public bool IsDefined(string type) => _methodsOfType.ContainsKey(type);

    /// <summary>The types defined in the assembly read from a file of this name (such as "GuardDutyIR.Cmdlets.dll").</summary>
    public IEnumerable<string> TypesOf(string assemblyFileName) =>
        _assemblyOf.Where(t => string.Equals(t.Value, assemblyFileName, StringComparison.OrdinalIgnoreCase)).Select(t => t.Key);

    /// <summary>The types the given type derives from or implements, as far as the assemblies read say.</summary>
    public IEnumerable<string> AllSupertypes(string type)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>(_supertypes.GetValueOrDefault(type) ?? new());
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            if (!seen.Add(t)) continue;
            foreach (var s in _supertypes.GetValueOrDefault(t) ?? new()) stack.Push(s);
        }
        return seen;
    }

    public IReadOnlySet<string> Callees(string method) => _edges.GetValueOrDefault(method) ?? new HashSet<string>();

    public IReadOnlySet<string> Literals(string method) => _literals.GetValueOrDefault(method) ?? new HashSet<string>();

    /// <summary>
    /// Every method reachable from the entries, the entries included. A method in <paramref name="cut"/> is not
    /// entered (nor is anything reachable only through it).
    /// </summary>
    public IReadOnlySet<string> Reachable(IEnumerable<string> entries, IReadOnlySet<string>? cut = null)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>(entries);
        while (stack.Count > 0)
        {
            var m = stack.Pop();
            if (cut?.Contains(m) == true || !seen.Add(m)) continue;
            foreach (var next in Callees(m)) stack.Push(next);
        }
        return seen;
    }

    public static (string Type, string Name) Split(string method)
    {
        var i = method.LastIndexOf("::", StringComparison.Ordinal);
        return (method[..i], method[(i + 2)..]);
    }

    /// <summary>
    /// An async method's state machine or an iterator: "&lt;Method&gt;d__N" (of an async lambda "&lt;&lt;Method&gt;b__2&gt;d"),
    /// a generic one with its arity ("`2") after it.
    /// </summary>
    public static bool IsStateMachine(string type) => s_stateMachine.IsMatch(type[(type.LastIndexOf('+') + 1)..]);

    private static readonly System.Text.RegularExpressions.Regex s_stateMachine =
        new(@"^<.+>d(?:__\d+)?(?:`\d+)?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    private void Read(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        var names = new TypeNames(md);
        foreach (var th in md.TypeDefinitions)
        {
            var type = md.GetTypeDefinition(th);
            var typeName = names.Of(th);
            _assemblyOf[typeName] = Path.GetFileName(path);
            var methods = _methodsOfType.TryGetValue(typeName, out var existing) ? existing : _methodsOfType[typeName] = new(StringComparer.Ordinal);
            var supers = _supertypes.TryGetValue(typeName, out var s) ? s : _supertypes[typeName] = new(StringComparer.Ordinal);
            if (!type.BaseType.IsNil) supers.Add(names.Of(type.BaseType));
            foreach (var ih in type.GetInterfaceImplementations()) supers.Add(names.Of(md.GetInterfaceImplementation(ih).Interface));
            foreach (var mh in type.GetMethods())
            {
                var method = md.GetMethodDefinition(mh);
                var key = typeName + "::" + md.GetString(method.Name);
                methods.Add(key);
                if ((method.Attributes & System.Reflection.MethodAttributes.Virtual) != 0) _virtuals.Add(key);
                if (method.RelativeVirtualAddress == 0) continue;
                var edges = _edges.TryGetValue(key, out var e) ? e : _edges[key] = new(StringComparer.Ordinal);
                var literals = _literals.TryGetValue(key, out var l) ? l : _literals[key] = new(StringComparer.Ordinal);
                ReadBody(md, names, pe.GetMethodBody(method.RelativeVirtualAddress), edges, literals);
            }
        }
    }

    private void ReadBody(MetadataReader md, TypeNames names, MethodBodyBlock body, HashSet<string> edges, HashSet<string> literals)
    {
        var il = body.GetILReader();
        void Touch(string type)
        {
            if (IsStateMachine(type)) edges.Add(type + "::*");
        }
        while (il.RemainingBytes > 0)
        {
            short value = il.ReadByte();
            if (value == 0xFE) value = unchecked((short)(0xFE00 | il.ReadByte()));
            var op = s_opcodes[value];
            switch (op.OperandType)
            {
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: il.ReadByte(); break;
                case OperandType.InlineVar: il.ReadInt16(); break;
                case OperandType.InlineI8 or OperandType.InlineR: il.ReadInt64(); break;
                case OperandType.InlineSwitch:
                    var count = il.ReadInt32();
                    for (var i = 0; i < count; i++) il.ReadInt32();
                    break;
                case OperandType.InlineString:
                    literals.Add(md.GetUserString(MetadataTokens.UserStringHandle(il.ReadInt32() & 0xFFFFFF)));
                    break;
                case OperandType.InlineMethod:
                {
                    var handle = MetadataTokens.EntityHandle(il.ReadInt32());
                    var (type, name, instantiation) = names.Method(handle);
                    edges.Add(type + "::" + (op == OpCodes.Newobj ? NewMarker : op == OpCodes.Callvirt || op == OpCodes.Ldvirtftn ? VirtualMarker + name : name));
                    Touch(type);
                    foreach (var t in instantiation) Touch(t);
                    break;
                }
                case OperandType.InlineField:
                    Touch(names.FieldOwner(MetadataTokens.EntityHandle(il.ReadInt32())));
                    break;
                case OperandType.InlineType or OperandType.InlineTok:
                {
                    var handle = MetadataTokens.EntityHandle(il.ReadInt32());
                    if (handle.Kind is HandleKind.TypeDefinition or HandleKind.TypeReference or HandleKind.TypeSpecification) Touch(names.Of(handle));
                    break;
                }
                default: il.ReadInt32(); break;
            }
        }
    }

    /// <summary>Full names as "Namespace.Outer+Inner" (generic instantiations by their definition's name).</summary>
    private sealed class TypeNames(MetadataReader md) : ISignatureTypeProvider<string, object?>
    {
        public string Of(EntityHandle handle) => handle.Kind switch
        {
            HandleKind.TypeDefinition => Of((TypeDefinitionHandle)handle),
            HandleKind.TypeReference => Of((TypeReferenceHandle)handle),
            HandleKind.TypeSpecification => md.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null),
            _ => "?",
        };

        public string Of(TypeDefinitionHandle handle)
        {
            var t = md.GetTypeDefinition(handle);
            var declaring = t.GetDeclaringType();
            return declaring.IsNil ? Join(md.GetString(t.Namespace), md.GetString(t.Name)) : Of(declaring) + "+" + md.GetString(t.Name);
        }

        public string Of(TypeReferenceHandle handle)
        {
            var t = md.GetTypeReference(handle);
            return t.ResolutionScope.Kind == HandleKind.TypeReference
                ? Of((TypeReferenceHandle)t.ResolutionScope) + "+" + md.GetString(t.Name)
                : Join(md.GetString(t.Namespace), md.GetString(t.Name));
        }

        public (string Type, string Name, ImmutableArray<string> Instantiation) Method(EntityHandle handle)
        {
            switch (handle.Kind)
            {
                case HandleKind.MethodDefinition:
                {
                    var m = md.GetMethodDefinition((MethodDefinitionHandle)handle);
                    return (Of(m.GetDeclaringType()), md.GetString(m.Name), ImmutableArray<string>.Empty);
                }
                case HandleKind.MemberReference:
                {
                    var m = md.GetMemberReference((MemberReferenceHandle)handle);
                    var parent = m.Parent.Kind == HandleKind.MethodDefinition
                        ? Of(md.GetMethodDefinition((MethodDefinitionHandle)m.Parent).GetDeclaringType())
                        : Of(m.Parent);
                    return (parent, md.GetString(m.Name), ImmutableArray<string>.Empty);
                }
                case HandleKind.MethodSpecification:
                {
                    var spec = md.GetMethodSpecification((MethodSpecificationHandle)handle);
                    var (type, name, _) = Method(spec.Method);
                    return (type, name, spec.DecodeSignature(this, null));
                }
                default: return ("?", "?", ImmutableArray<string>.Empty);
            }
        }

        public string FieldOwner(EntityHandle handle) => handle.Kind switch
        {
            HandleKind.FieldDefinition => Of(md.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType()),
            HandleKind.MemberReference => Of(md.GetMemberReference((MemberReferenceHandle)handle).Parent),
            _ => "?",
        };

        private static string Join(string ns, string name) => ns.Length == 0 ? name : ns + "." + name;

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => Of(handle);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => Of(handle);
        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) => Of(handle);
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => genericType;
        public string GetArrayType(string elementType, ArrayShape shape) => elementType;
        public string GetSZArrayType(string elementType) => elementType;
        public string GetByReferenceType(string elementType) => elementType;
        public string GetPointerType(string elementType) => elementType;
        public string GetPinnedType(string elementType) => elementType;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetGenericTypeParameter(object? context, int index) => "!" + index;
        public string GetGenericMethodParameter(object? context, int index) => "!!" + index;
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
    }
}
