using System.Text.RegularExpressions;

namespace GuardDutyIR.Engine.Findings;

/// <summary>PowerShell-style wildcards (* ? [abc]) for engine code, which cannot use WildcardPattern.</summary>
public static class Glob
{
    public static bool HasWildcard(string pattern) => pattern.IndexOfAny(new[] { '*', '?', '[' }) >= 0;

    public static Regex ToRegex(string pattern)
    {
        var body = new System.Text.StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*': body.Append(".*"); break;
                case '?': body.Append('.'); break;
                case '[':
                    var close = pattern.IndexOf(']', i + 1);
                    if (close > i + 1)
                    {
                        body.Append('[').Append(Regex.Escape(pattern[(i + 1)..close]).Replace("\\-", "-")).Append(']');
                        i = close;
                    }
                    else body.Append("\\[");
                    break;
                default: body.Append(Regex.Escape(c.ToString())); break;
            }
        }
        return new Regex(body.Append('$').ToString(), RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }
}
