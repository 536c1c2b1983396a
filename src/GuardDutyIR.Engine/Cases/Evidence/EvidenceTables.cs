using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Cases.Evidence;

/// <summary>A query's rows as CSV (RFC 4180) for a spreadsheet, and as JSON with the values' own types.</summary>
public static class EvidenceTables
{
    public static byte[] Csv(EvidenceQuery query)
    {
        var text = new StringBuilder();
        text.AppendJoin(',', query.Columns.Select(c => Field(c, neutralize: true))).Append("\r\n");
        foreach (var row in query.Rows)
            text.AppendJoin(',', row.Select(v => Field(Text(v), neutralize: v is string or JsonNode))).Append("\r\n");
        return new UTF8Encoding(false).GetBytes(text.ToString());
    }

    public static JsonArray Json(EvidenceQuery query) => new(query.Rows.Select(row =>
    {
        var o = new JsonObject();
        for (var i = 0; i < query.Columns.Count; i++) o[query.Columns[i]] = Node(row[i]);
        return (JsonNode?)o;
    }).ToArray());

    private static JsonNode? Node(object? value) => value switch
    {
        null => null,
        JsonNode node => node.DeepClone(),
        DateTime t => JsonValue.Create(Iso(t)),
        DateTimeOffset t => JsonValue.Create(t.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)),
        _ => CaseRecords.ToJson(value),
    };

    private static string Iso(DateTime t) => (t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : t).ToString("O", CultureInfo.InvariantCulture);

    private static string Text(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        DateTime t => Iso(t),
        DateTimeOffset t => t.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonNode node => node.ToJsonString(),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => CaseRecords.ToJson(value)?.ToJsonString() ?? "",
    };

    /// <summary>
    /// One CSV field. Text that starts like a formula (= + - @, tab, CR) gets a leading apostrophe, as OWASP's CSV
    /// injection guidance says, since event fields (user agents, request parameters) are written by whoever made the
    /// calls and a spreadsheet would run them; the JSON beside the CSV keeps the exact value.
    /// </summary>
    private static string Field(string value, bool neutralize)
    {
        if (neutralize && value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r') value = "'" + value;
        return value.IndexOfAny(new[] { ',', '"', '\r', '\n' }) < 0 && value.Trim() == value ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }
}
