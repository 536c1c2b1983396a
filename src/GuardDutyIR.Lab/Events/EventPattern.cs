using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace GuardDutyIR.Lab.Events;

/// <summary>A pattern EventBridge would refuse; <see cref="Exception.Message"/> is the text of its InvalidEventPatternException.</summary>
public sealed class InvalidEventPatternException : Exception
{
    public InvalidEventPatternException(string reason) : base("Event pattern is not valid. Reason: " + reason) => Reason = reason;

    /// <summary>What is wrong, without the "Event pattern is not valid" preamble.</summary>
    public string Reason { get; }
}

/// <summary>
/// An EventBridge event pattern, compiled: matches events as the EventBridge user guide documents it
/// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html, eb-create-pattern.html and
/// eb-create-pattern-operators.html). Pure: no Lab state, no clock.
/// </summary>
/// <remarks>
/// A pattern compiles, as EventBridge's rule engine does, into alternatives of "dotted field path → condition"
/// (one alternative per combination of <c>$or</c> branches); an event is flattened into leaf values by the same dotted
/// paths, so <c>{"a":{"b.c":[…]}}</c> and <c>{"a":{"b":{"c":[…]}}}</c> are the same pattern, as eb-create-pattern.html
/// says. Fields of one alternative must be matched by values that do not come from different elements of the same array
/// (a pattern's object matches one element of an array of objects, not a mix of several).
/// </remarks>
public sealed class EventPattern
{
    /// <summary>EventBridge refuses a pattern whose <c>$or</c> branches multiply to more than this (eb-create-pattern-operators.html).</summary>
    public const int MaxCombinations = 1000;

    // Numeric matching is limited to values between -5.0e9 and +5.0e9 inclusive (eb-create-pattern-operators.html).
    private const double NumericLimit = 5.0e9;

    private static readonly HashSet<string> s_operators = new(StringComparer.Ordinal)
    {
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard", "numeric", "cidr",
    };

    private readonly List<Dictionary<string, Condition>> _alternatives;

    private EventPattern(string text, List<Dictionary<string, Condition>> alternatives)
    {
        Text = text;
        _alternatives = alternatives;
    }

    /// <summary>The pattern as it was given.</summary>
    public string Text { get; }

    /// <summary>Compiles <paramref name="pattern"/>; throws <see cref="InvalidEventPatternException"/> where EventBridge refuses it.</summary>
    public static EventPattern Parse(string pattern)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(pattern); }
        catch (JsonException ex) { throw new InvalidEventPatternException("The pattern is not valid JSON: " + ex.Message); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidEventPatternException("Filter is not an object");
            var rules = new List<Dictionary<string, Condition>>();
            CompileObject(doc.RootElement, "", rules, insideOr: false);
            if (rules.Count == 0) rules.Add(new Dictionary<string, Condition>(StringComparer.Ordinal));
            return new EventPattern(pattern, rules);
        }
    }

    /// <summary>Whether <paramref name="eventJson"/> (a JSON object) matches.</summary>
    public bool Matches(string eventJson)
    {
        using var doc = JsonDocument.Parse(eventJson);
        return Matches(doc.RootElement);
    }

    public bool Matches(JsonElement evt)
    {
        var leaves = new Dictionary<string, List<Leaf>>(StringComparer.Ordinal);
        Flatten(evt, "", Array.Empty<(int, int)>(), leaves, new int[1]);
        return _alternatives.Any(rule => MatchesRule(rule, leaves));
    }

    // ---------------------------------------------------------------- compiling

    private static void CompileObject(JsonElement obj, string prefix, List<Dictionary<string, Condition>> rules, bool insideOr)
    {
        bool any = false;
        foreach (var prop in obj.EnumerateObject())
        {
            any = true;
            if (prop.Name == "$or")
            {
                CompileOr(prop.Value, prefix, rules);
                continue;
            }
            // Inside $or an operator's name as a field name is refused, so a misplaced operator cannot pass as a field.
            if (insideOr && s_operators.Contains(prop.Name))
                throw new InvalidEventPatternException(prop.Name + " is Ruler reserved fieldName which cannot be used inside $or.");
            var path = prefix.Length == 0 ? prop.Name : prefix + "." + prop.Name;
            switch (prop.Value.ValueKind)
            {
                case JsonValueKind.Object:
                    CompileObject(prop.Value, path, rules, insideOr);
                    break;
                case JsonValueKind.Array:
                    var condition = CompileLeaf(prop.Value);
                    if (rules.Count == 0) rules.Add(new Dictionary<string, Condition>(StringComparer.Ordinal));
                    // "If multiple patterns are specified for the same JSON field, EventBridge only uses the last one."
                    foreach (var rule in rules) rule[path] = condition;
                    break;
                default:
                    throw new InvalidEventPatternException($"\"{prop.Name}\" must be an object or an array");
            }
        }
        if (!any) throw new InvalidEventPatternException("Empty objects are not allowed");
    }

    /// <summary><c>"$or": [ {…}, {…} ]</c>: every rule so far is copied once per branch, each copy completed by its branch.</summary>
    private static void CompileOr(JsonElement value, string prefix, List<Dictionary<string, Condition>> rules)
    {
        if (value.ValueKind != JsonValueKind.Array)
            throw new InvalidEventPatternException("It must be an Array followed with $or.");
        var current = rules.Count == 0 ? new List<Dictionary<string, Condition>> { new(StringComparer.Ordinal) } : rules.ToList();
        var result = new List<Dictionary<string, Condition>>();
        int branches = 0;
        foreach (var branch in value.EnumerateArray())
        {
            branches++;
            if (branch.ValueKind != JsonValueKind.Object)
                throw new InvalidEventPatternException("Only JSON object is allowed in array of $or relationship.");
            var copies = current.Select(r => new Dictionary<string, Condition>(r, StringComparer.Ordinal)).ToList();
            CompileObject(branch, prefix, copies, insideOr: true);
            result.AddRange(copies);
            if (result.Count > MaxCombinations)
                throw new InvalidEventPatternException($"The $or combinations of the pattern exceed the limit of {MaxCombinations} rules.");
        }
        if (branches < 2)
            throw new InvalidEventPatternException("There must have at least 2 Objects in $or relationship.");
        rules.Clear();
        rules.AddRange(result);
    }

    private static Condition CompileLeaf(JsonElement array)
    {
        var matchers = new List<Matcher>();
        foreach (var item in array.EnumerateArray())
        {
            switch (item.ValueKind)
            {
                case JsonValueKind.String:
                    matchers.Add(new Exact(JsonValueKind.String, item.GetString()!));
                    break;
                case JsonValueKind.Number:
                    // "For numbers, EventBridge uses string representation. For example, 300, 300.0, and 3.0e2 are not
                    // considered equal." (eb-create-pattern.html)
                    matchers.Add(new Exact(JsonValueKind.Number, item.GetRawText()));
                    break;
                case JsonValueKind.True:
                case JsonValueKind.False:
                case JsonValueKind.Null:
                    matchers.Add(new Exact(item.ValueKind, item.GetRawText()));
                    break;
                case JsonValueKind.Object:
                    matchers.Add(CompileOperator(item));
                    break;
                default:
                    throw new InvalidEventPatternException("Match value must be String, number, true, false, or null");
            }
        }
        if (matchers.Count == 0) throw new InvalidEventPatternException("Empty arrays are not allowed");
        return new Condition(matchers);
    }

    private static JsonProperty SingleMember(JsonElement obj, string missing)
    {
        using var e = obj.EnumerateObject();
        if (!e.MoveNext()) throw new InvalidEventPatternException(missing);
        var first = e.Current;
        if (e.MoveNext()) throw new InvalidEventPatternException("Only one key allowed in match expression");
        return first;
    }

    private static Matcher CompileOperator(JsonElement obj)
    {
        var op = SingleMember(obj, "Match expression name not found");
        var v = op.Value;
        switch (op.Name)
        {
            case "prefix":
                return v.ValueKind == JsonValueKind.Object
                    ? new Affix(Prefix: true, IgnoreCase(v, "Prefix expression name not found", "Unsupported prefix pattern: "), IgnoreCase: true)
                    : new Affix(Prefix: true, RequireString(v, "prefix match pattern must be a string"), IgnoreCase: false);
            case "suffix":
                return v.ValueKind == JsonValueKind.Object
                    ? new Affix(Prefix: false, IgnoreCase(v, "Suffix expression name not found", "Unsupported suffix pattern: "), IgnoreCase: true)
                    : new Affix(Prefix: false, RequireString(v, "suffix match pattern must be a string"), IgnoreCase: false);
            case "equals-ignore-case":
                return new EqualsIgnoreCase(RequireString(v, "equals-ignore-case match pattern must be a string"));
            case "wildcard":
                return new Wildcard(Wildcard.Compile(RequireString(v, "wildcard match pattern must be a string")));
            case "numeric":
                return CompileNumeric(v);
            case "exists":
                return v.ValueKind switch
                {
                    JsonValueKind.True => new Exists(true),
                    JsonValueKind.False => new Exists(false),
                    _ => throw new InvalidEventPatternException("exists match pattern must be either true or false."),
                };
            case "cidr":
                return Cidr.Parse(RequireString(v, "cidr match pattern must be a string"));
            case "anything-but":
                return CompileAnythingBut(v);
            default:
                throw new InvalidEventPatternException("Unrecognized match type " + op.Name);
        }
    }

    private static string RequireString(JsonElement v, string message) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new InvalidEventPatternException(message);

    /// <summary><c>{"equals-ignore-case": "…"}</c> inside prefix or suffix.</summary>
    private static string IgnoreCase(JsonElement obj, string missing, string unsupported)
    {
        var inner = SingleMember(obj, missing);
        if (inner.Name != "equals-ignore-case") throw new InvalidEventPatternException(unsupported + inner.Name);
        return RequireString(inner.Value, "equals-ignore-case match pattern must be a string");
    }

    private static Matcher CompileAnythingBut(JsonElement v)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.String:
                return new AnythingBut(new Exact(JsonValueKind.String, v.GetString()!));
            case JsonValueKind.Number:
                return new AnythingBut(NumberOf(v));
            case JsonValueKind.Array:
            {
                var items = v.EnumerateArray().ToList();
                if (items.Any(i => i.ValueKind is not (JsonValueKind.String or JsonValueKind.Number)))
                    throw new InvalidEventPatternException("Inside anything but list, start|null|boolean is not supported.");
                bool strings = items.Any(i => i.ValueKind == JsonValueKind.String), numbers = items.Any(i => i.ValueKind == JsonValueKind.Number);
                if (strings == numbers)
                    throw new InvalidEventPatternException("Inside anything but list, either all values are number or string, mixed type is not supported");
                return new AnythingBut(items.Select(i => strings ? (Matcher)new Exact(JsonValueKind.String, i.GetString()!) : NumberOf(i)).ToArray());
            }
            case JsonValueKind.Object:
            {
                var inner = SingleMember(v, "Anything-But expression name not found");
                if (inner.Name is not ("prefix" or "suffix" or "equals-ignore-case" or "wildcard"))
                    throw new InvalidEventPatternException("Unsupported anything-but pattern: " + inner.Name);
                var values = inner.Value.ValueKind == JsonValueKind.Array ? inner.Value.EnumerateArray().ToList() : new List<JsonElement> { inner.Value };
                if (values.Count == 0) throw new InvalidEventPatternException("Empty arrays are not allowed");
                var excluded = new List<Matcher>();
                foreach (var item in values)
                {
                    if (item.ValueKind != JsonValueKind.String)
                        throw new InvalidEventPatternException(inner.Name switch
                        {
                            "equals-ignore-case" => "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
                            "wildcard" => "wildcard match pattern must be a string",
                            _ => "prefix/suffix match pattern must be a string",
                        });
                    var s = item.GetString()!;
                    if (s.Length == 0 && inner.Name is "prefix" or "suffix")
                        throw new InvalidEventPatternException("Null prefix/suffix not allowed");
                    excluded.Add(inner.Name switch
                    {
                        "prefix" => new Affix(Prefix: true, s, IgnoreCase: false),
                        "suffix" => new Affix(Prefix: false, s, IgnoreCase: false),
                        "equals-ignore-case" => new EqualsIgnoreCase(s),
                        _ => new Wildcard(Wildcard.Compile(s)),
                    });
                }
                return new AnythingBut(excluded.ToArray());
            }
            default:
                throw new InvalidEventPatternException("Value of anything-but must be an array or single string/number value.");
        }
    }

    private static Matcher NumberOf(JsonElement v) => new NumericRange(Bounded(v.GetDouble()), false, Bounded(v.GetDouble()), false);

    private static double Bounded(double d) =>
        d is >= -NumericLimit and <= NumericLimit ? d : throw new InvalidEventPatternException("Value must be between -5.0E9 and 5.0E9, inclusive");

    /// <summary><c>["=", n]</c>, <c>[">"|">=", n]</c>, <c>["<"|"<=", n]</c> or a lower bound followed by an upper bound.</summary>
    private static Matcher CompileNumeric(JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Array) throw new InvalidEventPatternException("Value of numeric must be an array.");
        var terms = v.EnumerateArray().ToList();
        double Operand(int i, string op)
        {
            if (i >= terms.Count || terms[i].ValueKind != JsonValueKind.Number)
                throw new InvalidEventPatternException(op == "=" ? "Value of equals must be numeric" : $"Value of {op} must be numeric");
            return Bounded(terms[i].GetDouble());
        }
        if (terms.Count == 0 || terms[0].ValueKind != JsonValueKind.String)
            throw new InvalidEventPatternException("Invalid member in numeric match: " + (terms.Count == 0 ? "]" : terms[0].GetRawText()));
        var op = terms[0].GetString()!;
        switch (op)
        {
            case "=":
            {
                var n = Operand(1, op);
                if (terms.Count > 2) throw new InvalidEventPatternException("Too many elements in numeric expression");
                return new NumericRange(n, false, n, false);
            }
            case "<":
            case "<=":
            {
                var n = Operand(1, op);
                if (terms.Count > 2) throw new InvalidEventPatternException("Too many elements in numeric expression");
                return new NumericRange(double.NegativeInfinity, true, n, op == "<");
            }
            case ">":
            case ">=":
            {
                var bottom = Operand(1, op);
                if (terms.Count == 2) return new NumericRange(bottom, op == ">", double.PositiveInfinity, true);
                if (terms[2].ValueKind != JsonValueKind.String)
                    throw new InvalidEventPatternException("Bad value in numeric range: " + terms[2].GetRawText());
                var upper = terms[2].GetString()!;
                if (upper is not ("<" or "<="))
                    throw new InvalidEventPatternException("Bad numeric range operator: " + upper);
                var top = Operand(3, upper);
                if (terms.Count > 4) throw new InvalidEventPatternException("Too many terms in numeric range expression");
                if (!(bottom < top)) throw new InvalidEventPatternException("Bottom must be less than top");
                return new NumericRange(bottom, op == ">", top, upper == "<");
            }
            default:
                throw new InvalidEventPatternException("Unrecognized numeric range operator: " + op);
        }
    }

    // ---------------------------------------------------------------- matching

    /// <summary>One leaf value of the event, and the array elements it sits in (array number, element index).</summary>
    private readonly record struct Leaf(JsonElement Value, (int Array, int Index)[] Elements);

    private static void Flatten(JsonElement node, string path, (int, int)[] elements, Dictionary<string, List<Leaf>> leaves, int[] arrays)
    {
        switch (node.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in node.EnumerateObject())
                    Flatten(p.Value, path.Length == 0 ? p.Name : path + "." + p.Name, elements, leaves, arrays);
                break;
            case JsonValueKind.Array:
            {
                // "If the value in the event is an array, then the event pattern matches if the intersection of the
                // event pattern array and the event array is non-empty" (eb-event-patterns-arrays.html); nested arrays flatten.
                int id = arrays[0]++;
                int i = 0;
                foreach (var item in node.EnumerateArray())
                    Flatten(item, path, elements.Append((id, i++)).ToArray(), leaves, arrays);
                break;
            }
            default:
                if (!leaves.TryGetValue(path, out var list)) leaves[path] = list = new List<Leaf>();
                list.Add(new Leaf(node, elements));
                break;
        }
    }

    private static bool MatchesRule(Dictionary<string, Condition> rule, Dictionary<string, List<Leaf>> leaves)
    {
        var fields = rule.ToList();
        var chosen = new Dictionary<int, int>();
        return Choose(0);

        // Picks, field by field, a matching leaf whose array elements agree with those picked so far.
        bool Choose(int f)
        {
            if (f == fields.Count) return true;
            var (path, condition) = fields[f];
            var values = leaves.TryGetValue(path, out var l) ? l : null;
            if (values is null && condition.MatchesAbsent) return Choose(f + 1);
            if (values is null) return false;
            foreach (var leaf in values)
            {
                if (!condition.Matches(leaf.Value)) continue;
                var added = new List<int>();
                bool consistent = true;
                foreach (var (array, index) in leaf.Elements)
                {
                    if (chosen.TryGetValue(array, out var at)) { if (at != index) { consistent = false; break; } }
                    else { chosen[array] = index; added.Add(array); }
                }
                if (consistent && Choose(f + 1)) return true;
                foreach (var a in added) chosen.Remove(a);
            }
            return false;
        }
    }

    /// <summary>The matchers of one field (any of them).</summary>
    private sealed class Condition
    {
        private readonly Matcher[] _values;

        public Condition(IEnumerable<Matcher> matchers)
        {
            var all = matchers.ToList();
            // exists:false is met by the field's absence, exists:true by any leaf value; the others look at values.
            MatchesAbsent = all.OfType<Exists>().Any(e => !e.Present);
            _values = all.Where(m => m is not Exists { Present: false }).ToArray();
        }

        public bool MatchesAbsent { get; }

        public bool Matches(JsonElement value) => _values.Any(m => m.Matches(value));
    }

    private abstract class Matcher
    {
        public abstract bool Matches(JsonElement value);
    }

    private sealed class Exact(JsonValueKind kind, string text) : Matcher
    {
        public override bool Matches(JsonElement value) => kind switch
        {
            JsonValueKind.String => value.ValueKind == JsonValueKind.String && value.GetString() == text,
            JsonValueKind.Number => value.ValueKind == JsonValueKind.Number && value.GetRawText() == text,
            _ => value.ValueKind == kind,
        };
    }

    private sealed class Affix(bool Prefix, string text, bool IgnoreCase) : Matcher
    {
        public override bool Matches(JsonElement value)
        {
            if (value.ValueKind != JsonValueKind.String) return false;
            var s = value.GetString()!;
            var comparison = IgnoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
            return Prefix ? s.StartsWith(text, comparison) : s.EndsWith(text, comparison);
        }
    }

    private sealed class EqualsIgnoreCase(string text) : Matcher
    {
        public override bool Matches(JsonElement value) =>
            value.ValueKind == JsonValueKind.String && string.Equals(value.GetString(), text, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Matches any value present that none of the excluded matchers match (null and non-strings included).</summary>
    private sealed class AnythingBut(params Matcher[] excluded) : Matcher
    {
        public override bool Matches(JsonElement value) => !excluded.Any(m => m.Matches(value));
    }

    private sealed class Exists(bool present) : Matcher
    {
        public bool Present => present;
        public override bool Matches(JsonElement value) => present;
    }

    private sealed class NumericRange(double bottom, bool openBottom, double top, bool openTop) : Matcher
    {
        public override bool Matches(JsonElement value)
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var d)) return false;
            if (d is < -NumericLimit or > NumericLimit) return false;
            bool aboveBottom = openBottom ? d > bottom : d >= bottom;
            bool belowTop = openTop ? d < top : d <= top;
            return aboveBottom && belowTop;
        }
    }

    /// <summary>
    /// <c>*</c> matches any run of characters; <c>\*</c> is a literal asterisk and <c>\\</c> a literal backslash; two
    /// wildcards in a row, or a backslash before anything else, are refused.
    /// </summary>
    private sealed class Wildcard(Wildcard.Token[] tokens) : Matcher
    {
        public readonly record struct Token(bool Star, char Literal);

        public static Token[] Compile(string pattern)
        {
            var tokens = new List<Token>();
            for (int i = 0; i < pattern.Length; i++)
            {
                var c = pattern[i];
                if (c == '*')
                {
                    if (tokens.Count > 0 && tokens[^1].Star)
                        throw new InvalidEventPatternException("Consecutive wildcard characters at pos " + i.ToString(CultureInfo.InvariantCulture));
                    tokens.Add(new Token(true, '\0'));
                }
                else if (c == '\\')
                {
                    if (i + 1 >= pattern.Length || pattern[i + 1] is not ('*' or '\\'))
                        throw new InvalidEventPatternException("Invalid escape character at pos " + i.ToString(CultureInfo.InvariantCulture));
                    tokens.Add(new Token(false, pattern[++i]));
                }
                else tokens.Add(new Token(false, c));
            }
            return tokens.ToArray();
        }

        public override bool Matches(JsonElement value)
        {
            if (value.ValueKind != JsonValueKind.String) return false;
            var s = value.GetString()!;
            // Greedy with backtracking to the last star: linear in practice, exact for '*' only patterns.
            int si = 0, ti = 0, starAt = -1, resumeAt = 0;
            while (si < s.Length)
            {
                if (ti < tokens.Length && !tokens[ti].Star && tokens[ti].Literal == s[si]) { si++; ti++; }
                else if (ti < tokens.Length && tokens[ti].Star) { starAt = ti++; resumeAt = si; }
                else if (starAt >= 0) { ti = starAt + 1; si = ++resumeAt; }
                else return false;
            }
            while (ti < tokens.Length && tokens[ti].Star) ti++;
            return ti == tokens.Length;
        }
    }

    /// <summary>An IPv4 or IPv6 network; matches string values that are addresses inside it.</summary>
    private sealed class Cidr(byte[] network, int prefixBits) : Matcher
    {
        public static Cidr Parse(string text)
        {
            var slash = text.IndexOf('/');
            if (slash < 0 || !IPAddress.TryParse(text[..slash], out var ip)
                || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var bits)
                || bits > (ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128))
                throw new InvalidEventPatternException("Nonstandard IP address: " + text);
            return new Cidr(ip.GetAddressBytes(), bits);
        }

        public override bool Matches(JsonElement value)
        {
            if (value.ValueKind != JsonValueKind.String || !IPAddress.TryParse(value.GetString(), out var ip)) return false;
            var bytes = ip.GetAddressBytes();
            if (bytes.Length != network.Length) return false;
            for (int bit = 0; bit < prefixBits; bit++)
            {
                int mask = 0x80 >> (bit % 8);
                if ((bytes[bit / 8] & mask) != (network[bit / 8] & mask)) return false;
            }
            return true;
        }
    }
}
