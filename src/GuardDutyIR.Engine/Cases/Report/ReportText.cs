using System.Collections;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>
/// How report values become text, and how text is made safe for HTML and Markdown. Findings, CloudTrail records and
/// query results are within an attacker's reach (a bucket key, a user agent, a finding's title), so every value is
/// encoded where it lands; nothing in a value can become markup.
/// </summary>
public static class ReportText
{
    /// <summary>Longest cell a report shows; the journal and the artifacts keep the whole value.</summary>
    public const int MaxCell = 2000;

    public static string Time(DateTime time) => Utc(time).ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Time(DateTime? time) => time is { } t ? Time(t) : "";

    /// <summary>A time as UTC; a time of unknown kind is taken as UTC, as AWS writes every time.</summary>
    public static DateTime Utc(DateTime time) => time.Kind switch
    {
        DateTimeKind.Utc => time,
        DateTimeKind.Local => time.ToUniversalTime(),
        _ => DateTime.SpecifyKind(time, DateTimeKind.Utc),
    };

    /// <summary>A cell value as text: times in UTC, numbers invariant, lists joined, maps as k=v.</summary>
    public static string Format(object? value) => Truncate(value switch
    {
        null => "",
        string s => s,
        DateTime t => Time(t),
        DateTimeOffset t => Time(t.UtcDateTime),
        bool b => b ? "true" : "false",
        JsonNode n => n.ToJsonString(),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IDictionary d => "{" + string.Join(", ", d.Keys.Cast<object>().Select(k => $"{Format(k)}={Format(d[k])}")) + "}",
        IEnumerable e => string.Join(", ", e.Cast<object?>().Select(Format)),
        var other => other.ToString() ?? "",
    });

    /// <summary>A time from a cell: a DateTime, a DateTimeOffset, or text in ISO 8601 (CloudTrail's form).</summary>
    public static DateTime? ParseTime(object? value) => value switch
    {
        DateTime t => Utc(t),
        DateTimeOffset t => t.UtcDateTime,
        string s when DateTime.TryParse(s.Replace(" UTC", "Z"), CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) => t,
        _ => null,
    };

    public static string Truncate(string text) =>
        text.Length <= MaxCell ? text : string.Concat(text.AsSpan(0, MaxCell), $" … ({text.Length - MaxCell} more characters)");

    /// <summary>
    /// Text for HTML content or a quoted attribute: &amp; &lt; &gt; " ' encoded, and control characters (which no
    /// HTML document may hold) replaced.
    /// </summary>
    public static string Html(string? text) => WebUtility.HtmlEncode(Clean(text ?? ""));

    /// <summary>
    /// Text for a Markdown table cell: Markdown's and HTML's special characters backslash-escaped (CommonMark escapes
    /// any ASCII punctuation), so no value can end a cell, open a code span, a link or an HTML tag; line breaks become
    /// spaces because a table row is one line.
    /// </summary>
    public static string Markdown(string? text)
    {
        var cleaned = Clean(text ?? "");
        var escaped = new StringBuilder(cleaned.Length + 16);
        foreach (var c in cleaned)
        {
            switch (c)
            {
                case '\r': break;
                case '\n' or '\t': escaped.Append(' '); break;
                case '\\' or '`' or '|' or '*' or '_' or '[' or ']' or '<' or '>' or '#' or '!' or '~' or '&':
                    escaped.Append('\\').Append(c);
                    break;
                default: escaped.Append(c); break;
            }
        }
        return escaped.ToString();
    }

    // C0 controls other than tab and line breaks, DEL, and lone surrogates cannot be in an HTML or XML document.
    private static string Clean(string text)
    {
        if (!text.Any(NeedsReplacing)) return text;
        var clean = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                clean.Append(c).Append(text[++i]);
                continue;
            }
            clean.Append(NeedsReplacing(c) ? '\uFFFD' : c);
        }
        return clean.ToString();
    }

    private static bool NeedsReplacing(char c) =>
        (c < ' ' && c is not '\t' and not '\n' and not '\r') || c == '\u007F' || char.IsSurrogate(c);
}
