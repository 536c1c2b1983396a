using System.Text.Json.Nodes;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>One statement of an identity-based IAM policy, as the JSON says it (a single string or a list).</summary>
public sealed record IamStatement(string Sid, string Effect, IReadOnlyList<string> Actions, IReadOnlyList<string> Resources, JsonObject? Condition);

/// <summary>A policy document of module/iam/, read strictly: only the elements IAM defines, each of the type IAM takes.</summary>
public sealed class IamPolicyFile
{
    private static readonly HashSet<string> s_statementKeys = new(StringComparer.Ordinal) { "Sid", "Effect", "Action", "Resource", "Condition" };

    private IamPolicyFile(string name, string version, IReadOnlyList<IamStatement> statements)
    {
        Name = name;
        Version = version;
        Statements = statements;
    }

    public string Name { get; }
    public string Version { get; }
    public IReadOnlyList<IamStatement> Statements { get; }

    /// <summary>Every action an Allow statement grants.</summary>
    public IReadOnlySet<string> AllowedActions =>
        Statements.Where(s => s.Effect == "Allow").SelectMany(s => s.Actions).ToHashSet(StringComparer.Ordinal);

    public static string Directory => Path.Combine(GuardDutyIR.TestSupport.TestPaths.RepoRoot, "module", "iam");

    public static IamPolicyFile Load(string name) => Parse(name, File.ReadAllText(Path.Combine(Directory, name + ".json")));

    public static IamPolicyFile Parse(string name, string json)
    {
        var root = JsonNode.Parse(json) as JsonObject ?? throw new FormatException($"{name}: not a JSON object.");
        var unknown = root.Select(p => p.Key).Where(k => k is not ("Version" or "Statement" or "Id")).ToList();
        if (unknown.Count > 0) throw new FormatException($"{name}: elements IAM does not define: {string.Join(", ", unknown)}.");
        var version = root["Version"]?.GetValue<string>() ?? throw new FormatException($"{name}: no Version.");
        var statements = (root["Statement"] as JsonArray ?? throw new FormatException($"{name}: Statement is not a list."))
            .Select((node, i) => Statement(name, i, node as JsonObject ?? throw new FormatException($"{name}: statement {i} is not an object."))).ToList();
        return new IamPolicyFile(name, version, statements);
    }

    private static IamStatement Statement(string policy, int index, JsonObject s)
    {
        var unknown = s.Select(p => p.Key).Where(k => !s_statementKeys.Contains(k)).ToList();
        if (unknown.Count > 0) throw new FormatException($"{policy} statement {index}: elements this module does not use: {string.Join(", ", unknown)}.");
        var sid = s["Sid"]?.GetValue<string>() ?? throw new FormatException($"{policy} statement {index}: no Sid.");
        return new IamStatement(
            sid,
            s["Effect"]?.GetValue<string>() ?? throw new FormatException($"{policy} {sid}: no Effect."),
            Strings(s["Action"]) ?? throw new FormatException($"{policy} {sid}: no Action."),
            Strings(s["Resource"]) ?? throw new FormatException($"{policy} {sid}: no Resource."),
            s["Condition"] is null ? null : s["Condition"] as JsonObject ?? throw new FormatException($"{policy} {sid}: Condition is not an object."));
    }

    private static IReadOnlyList<string>? Strings(JsonNode? node) => node switch
    {
        null => null,
        JsonArray list => list.Select(n => n!.GetValue<string>()).ToList(),
        _ => new[] { node.GetValue<string>() },
    };
}
