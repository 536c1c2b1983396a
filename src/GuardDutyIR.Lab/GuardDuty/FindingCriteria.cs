using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Lab.GuardDuty;

/// <summary>A rejected criterion; the message is GuardDuty's BadRequestException text.</summary>
public sealed class FindingCriteriaException : Exception
{
    public FindingCriteriaException(string message) : base(message) { }
}

/// <summary>
/// findingCriteria.criterion evaluated over stored finding JSON: each key is a dotted path into the finding (arrays
/// are searched element-wise, so resource.instanceDetails.networkInterfaces.vpcId matches any interface), each value
/// a Condition. Timestamps (ISO strings in findings) compare as epoch milliseconds, as GuardDuty's criteria take them.
/// </summary>
public sealed class FindingCriteria
{
    private static readonly HashSet<string> TopLevel = new(StringComparer.Ordinal)
    {
        "accountId", "arn", "confidence", "createdAt", "description", "id", "partition", "region", "resource", "schemaVersion",
        "service", "severity", "title", "type", "updatedAt", "associatedAttackSequenceArn",
    };

    private static readonly HashSet<string> Operators = new(StringComparer.Ordinal)
    {
        "eq", "neq", "gt", "gte", "lt", "lte", "equals", "notEquals", "greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual", "matches", "notMatches",
    };

    // Each path is split, and each list of values read, once here, not once per finding: a listing evaluates every
    // condition over every finding of the detector.
    private readonly List<Condition> _conditions = new();

    public static FindingCriteria Empty { get; } = new();

    public static FindingCriteria Parse(JsonNode? findingCriteria)
    {
        var c = new FindingCriteria();
        if (findingCriteria is null) return c;
        if (findingCriteria is not JsonObject fc) throw new FindingCriteriaException("The request is rejected because the input findingCriteria has an invalid value.");
        if (fc["criterion"] is null) return c;
        if (fc["criterion"] is not JsonObject criterion) throw new FindingCriteriaException("The request is rejected because the input criterion has an invalid value.");
        foreach (var (path, condition) in criterion)
        {
            if (path.Length == 0 || !TopLevel.Contains(path.Split('.')[0]))
                throw new FindingCriteriaException($"The request is rejected because the criterion field {path} is invalid.");
            if (condition is not JsonObject ops || ops.Count == 0)
                throw new FindingCriteriaException($"The request is rejected because the condition for {path} is empty or invalid.");
            foreach (var (op, value) in ops)
            {
                if (!Operators.Contains(op))
                    throw new FindingCriteriaException($"The request is rejected because the operator {op} is invalid.");
                if (value is null) continue;
                bool listOp = op is "eq" or "neq" or "equals" or "notEquals" or "matches" or "notMatches";
                if (listOp)
                {
                    if (value is not JsonArray arr || arr.Any(v => v is not JsonValue jv || jv.GetValueKind() != JsonValueKind.String))
                        throw new FindingCriteriaException($"The request is rejected because the value of {op} for {path} must be a list of strings.");
                    int max = op is "matches" or "notMatches" ? 5 : 50;
                    if (arr.Count > max)
                        throw new FindingCriteriaException($"The request is rejected because {op} for {path} has more than {max} values.");
                }
                else if (value is not JsonValue num || num.GetValueKind() != JsonValueKind.Number)
                    throw new FindingCriteriaException($"The request is rejected because the value of {op} for {path} must be a number.");
                c._conditions.Add(new Condition(path.Split('.'), op, value));
            }
        }
        return c;
    }

    public bool Matches(JsonObject finding)
    {
        if (_conditions.Count == 0) return true;
        var leaves = new List<JsonNode>();
        foreach (var condition in _conditions)
        {
            leaves.Clear();
            Collect(finding, condition.Parts, 0, leaves);
            if (!condition.Holds(leaves)) return false;
        }
        return true;
    }

    /// <summary>One operator of a field's Condition: true when any value at the path satisfies it (negations: none does).</summary>
    private sealed class Condition
    {
        private readonly string _op;
        private readonly JsonNode _value;
        private readonly string[] _strings;
        private double? _bound;

        public Condition(string[] parts, string op, JsonNode value)
        {
            Parts = parts;
            _op = op;
            _value = value;
            _strings = value is JsonArray list ? list.Select(v => v!.GetValue<string>()).ToArray() : Array.Empty<string>();
        }

        public string[] Parts { get; }

        public bool Holds(List<JsonNode> leaves) => _op switch
        {
            "eq" or "equals" => AnyLeaf(leaves, static (l, v) => Equal(l, v)),
            "neq" or "notEquals" => !AnyLeaf(leaves, static (l, v) => Equal(l, v)),
            "matches" => AnyLeaf(leaves, static (l, v) => Glob(Text(l), v)),
            "notMatches" => !AnyLeaf(leaves, static (l, v) => Glob(Text(l), v)),
            _ => AnyCompared(leaves),
        };

        private bool AnyLeaf(List<JsonNode> leaves, Func<JsonNode, string, bool> test)
        {
            foreach (var leaf in leaves)
                foreach (var wanted in _strings)
                    if (test(leaf, wanted)) return true;
            return false;
        }

        private bool AnyCompared(List<JsonNode> leaves)
        {
            if (leaves.Count == 0) return false;
            var bound = _bound ??= _value.GetValue<double>();
            foreach (var leaf in leaves)
                if (Compare(leaf, _op, bound)) return true;
            return false;
        }
    }

    /// <summary>All values at a dotted path, descending into arrays at any level.</summary>
    public static IEnumerable<JsonNode> Leaves(JsonNode? node, string path)
    {
        var found = new List<JsonNode>();
        Collect(node, path.Split('.'), 0, found);
        return found;
    }

    /// <summary>Leaves' walk without iterators: arrays are searched element-wise at every level, the leaves too.</summary>
    private static void Collect(JsonNode? node, string[] parts, int depth, List<JsonNode> found)
    {
        switch (node)
        {
            case null:
                return;
            case JsonArray array:
                foreach (var element in array) Collect(element, parts, depth, found);
                return;
            default:
                if (depth == parts.Length) found.Add(node);
                else if (node is JsonObject o) Collect(o[parts[depth]], parts, depth + 1, found);
                return;
        }
    }

    private static IEnumerable<JsonNode> Expand(JsonNode? n) => n switch
    {
        null => Array.Empty<JsonNode>(),
        JsonArray a => a.SelectMany(Expand),
        _ => new[] { n },
    };

    private static string Text(JsonNode leaf) => leaf is JsonValue v ? v.GetValueKind() switch
    {
        JsonValueKind.String => v.GetValue<string>(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => v.ToJsonString(),
    } : leaf.ToJsonString();

    private static bool Equal(JsonNode leaf, string wanted)
    {
        if (leaf is JsonValue v && v.GetValueKind() == JsonValueKind.Number && double.TryParse(wanted, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            return NumberOf(v) == d;
        return Text(leaf) == wanted;
    }

    /// <summary>
    /// A number's value whatever .NET type holds it: findings built in the Lab keep counts and ports as integers,
    /// which JsonValue.GetValue&lt;double&gt; refuses to convert.
    /// </summary>
    private static double NumberOf(JsonValue number) =>
        number.TryGetValue<double>(out var d) ? d : double.Parse(number.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static bool Compare(JsonNode leaf, string op, double bound)
    {
        double? x = null;
        if (leaf is JsonValue v)
        {
            if (v.GetValueKind() == JsonValueKind.Number) x = NumberOf(v);
            else if (v.GetValueKind() == JsonValueKind.String && DateTimeOffset.TryParse(v.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
                x = t.ToUnixTimeMilliseconds();
            else if (v.GetValueKind() == JsonValueKind.String && double.TryParse(v.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture, out var s))
                x = s;
        }
        if (x is null) return false;
        return op switch
        {
            "gt" or "greaterThan" => x > bound,
            "gte" or "greaterThanOrEqual" => x >= bound,
            "lt" or "lessThan" => x < bound,
            "lte" or "lessThanOrEqual" => x <= bound,
            _ => false,
        };
    }

    private static bool Glob(string text, string pattern) =>
        Regex.IsMatch(text, "^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$");

    /// <summary>Orders findings by sortCriteria.attributeName (numbers numerically, strings ordinally; missing values last).</summary>
    public static IEnumerable<JsonObject> Sort(IEnumerable<JsonObject> findings, string? attribute, bool descending)
    {
        if (string.IsNullOrEmpty(attribute)) return findings;
        var parts = attribute.Split('.');
        var leaves = new List<JsonNode>();
        // Keys and IDs are read once per finding, then sorted as plain values (the comparison of CompareNodes).
        var keyed = findings.Select(f =>
        {
            leaves.Clear();
            Collect(f, parts, 0, leaves);
            return new SortKey(f, leaves.Count > 0 ? leaves[0] : null, (string?)f["id"]);
        }).ToArray();
        var sign = descending ? -1 : 1;
        Array.Sort(keyed, (a, b) =>
        {
            var byKey = sign * a.CompareTo(b);
            return byKey != 0 ? byKey : string.CompareOrdinal(a.Id, b.Id);
        });
        return keyed.Select(k => k.Finding);
    }

    private sealed class SortKey
    {
        private readonly JsonNode? _key;
        private string? _text;

        public SortKey(JsonObject finding, JsonNode? key, string? id)
        {
            Finding = finding;
            Id = id;
            _key = key;
            Present = key is not null;
            if (key is JsonValue v && v.GetValueKind() == JsonValueKind.Number) { IsNumber = true; Number = NumberOf(v); }
        }

        public JsonObject Finding { get; }
        public string? Id { get; }
        private bool Present { get; }
        private bool IsNumber { get; }
        private double Number { get; }

        // Only a comparison that is not of two numbers needs the text, so a sort by severity writes none.
        private string? Text => _key is null ? null : _text ??= FindingCriteria.Text(_key);

        /// <summary>Missing values last, numbers numerically, anything else by its text, ordinally.</summary>
        public int CompareTo(SortKey other)
        {
            if (!Present || !other.Present) return !Present ? (!other.Present ? 0 : 1) : -1;
            if (IsNumber && other.IsNumber) return Number.CompareTo(other.Number);
            return string.CompareOrdinal(Text, other.Text);
        }
    }
}
