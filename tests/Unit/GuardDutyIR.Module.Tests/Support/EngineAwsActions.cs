using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>One AWS API operation: the service's signing name (the IAM prefix) and the operation's name.</summary>
public sealed record AwsOperation(string Service, string Operation)
{
    public override string ToString() => Service + ":" + Operation;
}

/// <summary>
/// The AWS operations the built module can call, derived from its IL (see <see cref="IlCallGraph"/>):
/// <list type="bullet">
/// <item>the official SDK clients (EC2, S3, STS): every call to a method of an SDK client type (IAmazonEC2,
/// AmazonEC2Client, ...) is an operation, its name the method's without "Async";</item>
/// <item>our own clients (subclasses of ServiceClientBase, one per service without an SDK package): they name the
/// operation as a string, sometimes built from two ("Get" + "ThreatIntelSet"), so a client method calls every
/// operation of its service's model that is one of the literals it and its own helpers hold, or two of them joined.</item>
/// </list>
/// A method's operations are those of everything it reaches, so a cmdlet's are what its code can call, whatever its
/// parameters. The operation names come from AWS's service models (botocore's data/&lt;service&gt;/service-2.json).
/// </summary>
public sealed class EngineAwsActions
{
    private const string ClientBase = "GuardDutyIR.Engine.Aws.ServiceClientBase";
    private const string CommandsNamespace = "GuardDutyIR.Commands.";
    private const string CmdletAssembly = "GuardDutyIR.Cmdlets.dll";

    /// <summary>Our clients and the service (signing name, model folder) each speaks; a new client must be added here.</summary>
    public static readonly IReadOnlyDictionary<string, string> OwnClients = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["GuardDutyIR.Engine.Aws.GuardDutyClient"] = "guardduty",
        ["GuardDutyIR.Engine.Aws.CloudTrailClient"] = "cloudtrail",
        ["GuardDutyIR.Engine.Aws.AthenaClient"] = "athena",
        ["GuardDutyIR.Engine.Aws.EventBridgeClient"] = "events",
        ["GuardDutyIR.Engine.Aws.SnsClient"] = "sns",
        ["GuardDutyIR.Engine.Aws.AutoScalingClient"] = "autoscaling",
        ["GuardDutyIR.Engine.Aws.IamClient"] = "iam",
        ["GuardDutyIR.Engine.Aws.SsmClient"] = "ssm",
    };

    /// <summary>The SDK packages' namespaces and the services they call.</summary>
    public static readonly IReadOnlyDictionary<string, string> SdkNamespaces = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Amazon.EC2"] = "ec2",
        ["Amazon.S3"] = "s3",
        ["Amazon.SecurityToken"] = "sts",
    };

    // Amazon.Runtime's AmazonServiceClient is the SDK pipeline our own clients send through, not a service.

    /// <summary>SDK methods whose name is not the operation's (AWSSDK.S3 GetObjectMetadataAsync sends HeadObject).</summary>
    private static readonly IReadOnlyDictionary<string, string> SdkRenames = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["s3:GetObjectMetadata"] = "HeadObject",
    };

    private static readonly Regex SdkClientType = new(@"^(?<ns>Amazon\.(?!Runtime\.)\w+)\.(?:IAmazon\w+|Amazon\w+Client)$", RegexOptions.CultureInvariant);

    private readonly Dictionary<string, IReadOnlySet<AwsOperation>> _ownOperations = new(StringComparer.Ordinal);

    public EngineAwsActions(string moduleDirectory)
    {
        Graph = new IlCallGraph(Path.Combine(moduleDirectory, CmdletAssembly), Path.Combine(moduleDirectory, "deps", "GuardDutyIR.Engine.dll"));
        var clients = Graph.Methods.Select(m => IlCallGraph.Split(m).Type).Distinct()
            .Where(t => Graph.AllSupertypes(t).Contains(ClientBase)).ToList();
        var unmapped = clients.Where(c => !OwnClients.ContainsKey(c)).ToList();
        if (unmapped.Count > 0)
            throw new InvalidOperationException("Clients with no service in EngineAwsActions.OwnClients: " + string.Join(", ", unmapped));
        foreach (var (client, service) in OwnClients)
        {
            var model = ModelOperations(service);
            foreach (var method in Graph.MethodsOf(client).Concat(NestedMethods(client)))
                _ownOperations[method] = OperationsNamedBy(client, method, service, model);
        }
    }

    public IlCallGraph Graph { get; }

    /// <summary>Every operation the module's code can call: everything its cmdlets reach, and every operation of every client.</summary>
    public IReadOnlySet<AwsOperation> All()
    {
        var entries = Graph.TypesOf(CmdletAssembly).SelectMany(Graph.MethodsOf)
            .Concat(OwnClients.Keys.SelectMany(c => Graph.MethodsOf(c)));
        return OperationsOf(Graph.Reachable(entries));
    }

    /// <summary>
    /// The operations reachable from a cmdlet (its class, and the base classes PowerShell calls into), minus what only
    /// the cut methods reach. The other cmdlets' classes are cut too: a base class's virtual call reaches their
    /// overrides in the graph, but only this cmdlet's run in its pipeline.
    /// </summary>
    public IReadOnlySet<AwsOperation> OfCmdlet(string cmdlet, IReadOnlySet<string>? cut = null)
    {
        var own = CmdletChain(cmdlet);
        var others = Graph.TypesOf(CmdletAssembly)
            .Where(t => t.StartsWith(CommandsNamespace, StringComparison.Ordinal) && !own.Contains(t) && !own.Any(o => t.StartsWith(o + "+", StringComparison.Ordinal)))
            .SelectMany(Graph.MethodsOf);
        var cuts = new HashSet<string>(others, StringComparer.Ordinal);
        if (cut is not null) cuts.UnionWith(cut);
        return OperationsOf(Graph.Reachable(own.SelectMany(Graph.MethodsOf), cuts));
    }

    /// <summary>The operations reachable from the given methods ("Type::Method").</summary>
    public IReadOnlySet<AwsOperation> OfMethods(IEnumerable<string> methods, IReadOnlySet<string>? cut = null)
    {
        var list = methods.ToList();
        var missing = list.Where(m => !Graph.MethodsOf(IlCallGraph.Split(m).Type).Contains(m)).ToList();
        if (missing.Count > 0) throw new InvalidOperationException("No such method in the built module: " + string.Join(", ", missing));
        return OperationsOf(Graph.Reachable(list, cut));
    }

    public bool CmdletExists(string cmdlet) => Graph.IsDefined(CmdletType(cmdlet));

    /// <summary>The cmdlets the built module exports (its manifest's CmdletsToExport).</summary>
    public static IReadOnlyList<string> ExportedCmdlets(string moduleDirectory)
    {
        var manifest = File.ReadAllText(Path.Combine(moduleDirectory, "GuardDutyIR.psd1"));
        var list = Regex.Match(manifest, @"CmdletsToExport\s*=\s*@\((?<list>[^)]*)\)").Groups["list"].Value;
        return Regex.Matches(list, "'(?<name>[^']+)'").Select(m => m.Groups["name"].Value).ToList();
    }

    /// <summary>The cmdlet's class and its base classes in the cmdlet assembly.</summary>
    private IReadOnlySet<string> CmdletChain(string cmdlet)
    {
        var type = CmdletType(cmdlet);
        if (!Graph.IsDefined(type)) throw new InvalidOperationException($"{cmdlet}: no {type} in the built module.");
        var own = Graph.TypesOf(CmdletAssembly).ToHashSet(StringComparer.Ordinal);
        return new[] { type }.Concat(Graph.AllSupertypes(type).Where(own.Contains)).ToHashSet(StringComparer.Ordinal);
    }

    private static string CmdletType(string cmdlet) => CommandsNamespace + cmdlet.Replace("-", "", StringComparison.Ordinal) + "Command";

    private IReadOnlySet<AwsOperation> OperationsOf(IReadOnlySet<string> reached)
    {
        var result = new HashSet<AwsOperation>();
        foreach (var m in reached)
        {
            if (_ownOperations.TryGetValue(m, out var own)) result.UnionWith(own);
            else if (SdkOperation(m) is { } sdk) result.Add(sdk);
        }
        return result;
    }

    /// <summary>A call on an SDK client (interface or class) is the operation of the method's name; nothing else on it is a call.</summary>
    public static AwsOperation? SdkOperation(string method)
    {
        var (type, name) = IlCallGraph.Split(method);
        var match = SdkClientType.Match(type);
        if (!match.Success || !name.EndsWith("Async", StringComparison.Ordinal)) return null;
        if (!SdkNamespaces.TryGetValue(match.Groups["ns"].Value, out var service))
            throw new InvalidOperationException($"{method}: an SDK client of a namespace EngineAwsActions.SdkNamespaces does not map to a service.");
        var operation = name[..^"Async".Length];
        return new AwsOperation(service, SdkRenames.GetValueOrDefault(service + ":" + operation, operation));
    }

    private IEnumerable<string> NestedMethods(string type) => Graph.Methods.Where(m => m.StartsWith(type + "+", StringComparison.Ordinal));

    /// <summary>
    /// The operations a client method names: the literals of the method and of what it reaches inside its own class
    /// (its state machine, private helpers such as the one that picks "ThreatIntelSet" or "IPSet"), alone or two joined.
    /// </summary>
    private IReadOnlySet<AwsOperation> OperationsNamedBy(string client, string method, string service, IReadOnlySet<string> model)
    {
        var inside = Graph.Reachable(new[] { method }).Where(m => IlCallGraph.Split(m).Type is var t && (t == client || t.StartsWith(client + "+", StringComparison.Ordinal)));
        var literals = inside.SelectMany(Graph.Literals).Where(l => l.Length > 0 && char.IsUpper(l[0])).ToHashSet(StringComparer.Ordinal);
        var names = literals.Where(model.Contains).ToHashSet(StringComparer.Ordinal);
        foreach (var a in literals)
            foreach (var b in literals)
                if (model.Contains(a + b)) names.Add(a + b);
        return names.Select(n => new AwsOperation(service, n)).ToHashSet();
    }

    private static readonly Dictionary<string, IReadOnlySet<string>> s_models = new(StringComparer.Ordinal);

    /// <summary>The operation names of a service's AWS model.</summary>
    public static IReadOnlySet<string> ModelOperations(string service)
    {
        lock (s_models)
        {
            if (s_models.TryGetValue(service, out var known)) return known;
            var path = Path.Combine(TestPaths.Shared, "aws-models", service, "service-2.json");
            var model = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            return s_models[service] = model["operations"]!.AsObject().Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
        }
    }
}
