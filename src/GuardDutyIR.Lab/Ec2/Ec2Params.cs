using System.Collections.Specialized;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Lab.Ec2;

/// <summary>An EC2 API error; the service turns it into the EC2 error XML.</summary>
public sealed class Ec2Exception : Exception
{
    public Ec2Exception(string code, string message, int status = 400) : base(message)
    {
        Code = code;
        Status = status;
    }

    public string Code { get; }
    public int Status { get; }
}

/// <summary>EC2 query-protocol input reading: Name.N lists, dotted structures, Filter.N.Name/Value.M.</summary>
internal sealed partial class Ec2Params
{
    private readonly NameValueCollection _form;

    public Ec2Params(NameValueCollection form) => _form = form;

    public string? this[string name] => _form[name];

    /// <summary>
    /// The value of a member the model marks required. The model check has already answered an absent one with
    /// MissingParameter before the handler runs; this is the accessor, with the same answer as a guard.
    /// </summary>
    public string Required(string name) =>
        string.IsNullOrEmpty(_form[name]) ? throw new Ec2Exception("MissingParameter", $"The request must contain the parameter {name}") : _form[name]!;

    public bool Has(string name) => _form[name] is not null;

    public bool HasPrefix(string prefix) => _form.AllKeys.Any(k => k is not null && k.StartsWith(prefix, StringComparison.Ordinal));

    public bool Bool(string name, bool fallback = false)
    {
        var v = _form[name];
        if (v is null) return fallback;
        if (string.Equals(v, "true", StringComparison.OrdinalIgnoreCase)) return true;
        if (string.Equals(v, "false", StringComparison.OrdinalIgnoreCase)) return false;
        throw new Ec2Exception("InvalidParameterValue", $"Value ({v}) for parameter {name} is invalid. Expected: 'true' or 'false'.");
    }

    public bool? OptBool(string name) => _form[name] is null ? null : Bool(name);

    public int? Int(string name)
    {
        var v = _form[name];
        if (v is null) return null;
        return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
            : throw new Ec2Exception("InvalidParameterValue", $"Value ({v}) for parameter {name} is invalid. Expected an integer.");
    }

    /// <summary>Prefix.1, Prefix.2, … (1-based, stops at the first gap as the SDKs never leave one).</summary>
    public List<string> List(string prefix)
    {
        var list = new List<string>();
        for (int i = 1; ; i++)
        {
            var v = _form[$"{prefix}.{i}"];
            if (v is null) break;
            list.Add(v);
        }
        return list;
    }

    /// <summary>Indices N for which any key Prefix.N.* exists, in order.</summary>
    public List<int> StructIndices(string prefix)
    {
        var set = new SortedSet<int>();
        var p = prefix + ".";
        foreach (string? k in _form.AllKeys)
        {
            if (k is null || !k.StartsWith(p, StringComparison.Ordinal)) continue;
            var rest = k[p.Length..];
            var dot = rest.IndexOf('.');
            if (int.TryParse(dot < 0 ? rest : rest[..dot], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)) set.Add(n);
        }
        return set.ToList();
    }

    public List<Ec2Filter> Filters()
    {
        var filters = new List<Ec2Filter>();
        foreach (var i in StructIndices("Filter"))
        {
            var name = _form[$"Filter.{i}.Name"] ?? throw new Ec2Exception("InvalidParameterValue", $"The filter name at index {i} is missing");
            filters.Add(new Ec2Filter(name, List($"Filter.{i}.Value")));
        }
        return filters;
    }

    /// <summary>TagSpecification.N.ResourceType / .Tag.M.Key/Value, for the resource type being created.</summary>
    public List<KeyValuePair<string, string>> TagSpecifications(string resourceType)
    {
        var tags = new List<KeyValuePair<string, string>>();
        foreach (var i in StructIndices("TagSpecification"))
        {
            var type = _form[$"TagSpecification.{i}.ResourceType"];
            if (type is not null && type != resourceType)
                throw new Ec2Exception("InvalidParameterValue", $"'{type}' is not a valid taggable resource type for this operation.");
            tags.AddRange(Tags($"TagSpecification.{i}.Tag"));
        }
        return tags;
    }

    public List<KeyValuePair<string, string>> Tags(string prefix)
    {
        var tags = new List<KeyValuePair<string, string>>();
        foreach (var j in StructIndices(prefix))
        {
            var key = _form[$"{prefix}.{j}.Key"] ?? throw new Ec2Exception("InvalidParameterValue", "Tag keys must be provided");
            tags.Add(new(key, _form[$"{prefix}.{j}.Value"] ?? ""));
        }
        return tags;
    }

    public static string ValidateId(string id, string prefix, string malformedCode, string what)
    {
        if (!IdPattern().IsMatch(id) || !id.StartsWith(prefix + "-", StringComparison.Ordinal))
            throw new Ec2Exception(malformedCode, $"Invalid id: \"{id}\"{(what.Length > 0 ? $" ({what})" : "")}");
        return id;
    }

    [GeneratedRegex("^[a-z]+(-[a-z]+)?-([0-9a-f]{8}|[0-9a-f]{17})$")]
    private static partial Regex IdPattern();
}

internal sealed record Ec2Filter(string Name, IReadOnlyList<string> Values)
{
    /// <summary>EC2 filter values support * and ? wildcards; matching is case-sensitive.</summary>
    public bool Matches(IEnumerable<string?> candidates)
    {
        foreach (var c in candidates)
        {
            if (c is null) continue;
            foreach (var v in Values)
                if (v.Contains('*') || v.Contains('?') ? Wildcard(v).IsMatch(c) : v == c) return true;
        }
        return false;
    }

    private static Regex Wildcard(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace("\\*", ".*").Replace("\\?", ".") + "$", RegexOptions.CultureInvariant);
}

/// <summary>Applies filters: the table maps a filter name to the values an item has for it; tags are generic.</summary>
internal sealed class FilterTable<T>
{
    private readonly Dictionary<string, Func<T, IEnumerable<string?>>> _fields = new(StringComparer.Ordinal);
    private readonly Func<T, IReadOnlyDictionary<string, string>>? _tags;

    public FilterTable(Func<T, IReadOnlyDictionary<string, string>>? tags) => _tags = tags;

    public FilterTable<T> Add(string name, Func<T, string?> one)
    {
        _fields[name] = x => new[] { one(x) };
        return this;
    }

    public FilterTable<T> AddMany(string name, Func<T, IEnumerable<string?>> many)
    {
        _fields[name] = many;
        return this;
    }

    public IEnumerable<T> Apply(IEnumerable<T> items, IReadOnlyList<Ec2Filter> filters)
    {
        foreach (var f in filters)
        {
            if (f.Name.StartsWith("tag:", StringComparison.Ordinal) && _tags is not null) continue;
            if (f.Name is "tag-key" or "tag-value" && _tags is not null) continue;
            if (!_fields.ContainsKey(f.Name))
                throw new Ec2Exception("InvalidParameterValue", $"The filter '{f.Name}' is invalid");
        }
        return items.Where(item => filters.All(f => Matches(item, f)));
    }

    private bool Matches(T item, Ec2Filter f)
    {
        if (_tags is not null)
        {
            if (f.Name.StartsWith("tag:", StringComparison.Ordinal))
            {
                var tags = _tags(item);
                return tags.TryGetValue(f.Name[4..], out var v) && f.Matches(new[] { v });
            }
            if (f.Name == "tag-key") return f.Matches(_tags(item).Keys);
            if (f.Name == "tag-value") return f.Matches(_tags(item).Values);
        }
        return f.Matches(_fields[f.Name](item));
    }
}

internal static class Ec2Paging
{
    /// <summary>
    /// The most items one page carries when the model leaves MaxResults open (DescribeInstances, DescribeVolumes,
    /// DescribeSnapshots, DescribeTags): 1000, the largest page any EC2 describe allows (the bound the model gives
    /// DescribeSecurityGroups and the other bounded describes, and the page size the AWS CLI sends for
    /// describe-volumes and describe-snapshots).
    /// </summary>
    public const int LargestPage = 1000;

    /// <summary>
    /// One page of an ordered result. The model has already checked MaxResults against its bounds; a value the model
    /// leaves open is served up to <see cref="LargestPage"/> items, and one below 1 (which no client pages with) as if
    /// absent. The token is opaque to clients (base64 of the offset plus the operation) and rejected when malformed,
    /// as EC2 rejects foreign tokens.
    /// </summary>
    public static (List<T> Page, string? Next) Page<T>(IReadOnlyList<T> items, int? maxResults, string? nextToken, string operation)
    {
        int offset = 0;
        if (!string.IsNullOrEmpty(nextToken))
        {
            string decoded;
            try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(nextToken)); }
            catch (FormatException) { throw new Ec2Exception("InvalidParameterValue", "Invalid value for 'nextToken'"); }
            var parts = decoded.Split(':');
            if (parts.Length != 3 || parts[0] != "lab" || parts[1] != operation || !int.TryParse(parts[2], out offset) || offset < 0)
                throw new Ec2Exception("InvalidParameterValue", "Invalid value for 'nextToken'");
        }
        int? size = maxResults is { } m && m > 0 ? Math.Min(m, LargestPage) : null;
        var page = items.Skip(offset).Take(size ?? int.MaxValue).ToList();
        string? next = size is not null && offset + page.Count < items.Count
            ? Convert.ToBase64String(Encoding.UTF8.GetBytes($"lab:{operation}:{offset + page.Count}"))
            : null;
        return (page, next);
    }
}
