using System.Text.RegularExpressions;

namespace GuardDutyIR.Engine.Findings;

/// <summary>PowerShell-style wildcards (* ? [abc]) for engine code, which cannot use WildcardPattern.</summary>
public static class Glob
{
    public static bool HasWildcard(string pattern) => pattern.IndexOfAny(new[] { '*', '?', '[' }) >= 0;

    /// <summary>The pattern as a regular expression; a malformed one ('[' without ']', a reversed range) is InvalidWildcard.</summary>
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
                    else throw Invalid(pattern, "a '[' without a closing ']'");
                    break;
                default: body.Append(Regex.Escape(c.ToString())); break;
            }
        }
        try
        {
            return new Regex(body.Append('$').ToString(), RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw Invalid(pattern, "a character range in the wrong order or otherwise malformed", e);
        }
    }

    private static GuardDutyIRException Invalid(string pattern, string what, Exception? inner = null) =>
        new("InvalidWildcard", ErrorKind.InvalidArgument,
            $"'{pattern}' is not a valid wildcard pattern: it has {what}. Use * and ? as wildcards, and [abc] or [a-z] for one of a set; write [[] for a literal '['.",
            pattern, inner);
}
