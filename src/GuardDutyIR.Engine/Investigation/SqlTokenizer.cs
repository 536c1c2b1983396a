using System.Text;

namespace GuardDutyIR.Engine.Investigation;

public enum SqlTokenKind
{
    Whitespace,
    Comment,
    Identifier,
    QuotedIdentifier,
    StringLiteral,
    Number,
    Symbol,
}

public readonly record struct SqlToken(SqlTokenKind Kind, string Text)
{
    public bool IsWord(string word) => Kind == SqlTokenKind.Identifier && Text.Equals(word, StringComparison.OrdinalIgnoreCase);
    public bool IsSymbol(string symbol) => Kind == SqlTokenKind.Symbol && Text == symbol;
    public bool IsTrivia => Kind is SqlTokenKind.Whitespace or SqlTokenKind.Comment;
}

/// <summary>
/// Splits SQL into tokens that concatenate back to the original text, keeping string literals, quoted identifiers
/// and comments intact, so rewrites never touch what is inside a literal.
/// </summary>
public static class SqlTokenizer
{
    public static List<SqlToken> Tokenize(string sql)
    {
        var tokens = new List<SqlToken>();
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            var start = i;
            if (char.IsWhiteSpace(c))
            {
                while (i < sql.Length && char.IsWhiteSpace(sql[i])) i++;
                tokens.Add(new(SqlTokenKind.Whitespace, sql[start..i]));
            }
            else if (c == '-' && Peek(sql, i + 1) == '-')
            {
                while (i < sql.Length && sql[i] != '\n') i++;
                tokens.Add(new(SqlTokenKind.Comment, sql[start..i]));
            }
            else if (c == '/' && Peek(sql, i + 1) == '*')
            {
                var end = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? sql.Length : end + 2;
                tokens.Add(new(SqlTokenKind.Comment, sql[start..i]));
            }
            else if (c is '\'' or '"' or '`')
            {
                i++;
                while (i < sql.Length)
                {
                    if (sql[i] == c)
                    {
                        if (Peek(sql, i + 1) == c) { i += 2; continue; }   // doubled quote: an escaped quote
                        i++;
                        break;
                    }
                    i++;
                }
                if (i > sql.Length || sql[i - 1] != c || i - start < 2)
                    throw new GuardDutyIRException("SqlUnterminatedLiteral", ErrorKind.InvalidArgument, $"The query has an unterminated {(c == '\'' ? "string literal" : "quoted identifier")} at character {start + 1}.", sql);
                tokens.Add(new(c == '\'' ? SqlTokenKind.StringLiteral : SqlTokenKind.QuotedIdentifier, sql[start..i]));
            }
            else if (char.IsLetter(c) || c is '_' or '$')
            {
                while (i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] is '_' or '$' or '-' && IsIdentifierDash(sql, i))) i++;
                tokens.Add(new(SqlTokenKind.Identifier, sql[start..i]));
            }
            else if (char.IsDigit(c))
            {
                while (i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] is '.' or '-' && IsIdentifierDash(sql, i))) i++;
                tokens.Add(new(char.IsLetter(sql[i - 1]) || sql[start..i].Contains('-') ? SqlTokenKind.Identifier : SqlTokenKind.Number, sql[start..i]));
            }
            else
            {
                // Two-character operators stay together so "<=" is never read as "<" then "=".
                var two = i + 1 < sql.Length ? sql.Substring(i, 2) : "";
                if (two is "<=" or ">=" or "<>" or "!=" or "||" or "::") i += 2;
                else i++;
                tokens.Add(new(SqlTokenKind.Symbol, sql[start..i]));
            }
        }
        return tokens;
    }

    // Event data store IDs are UUIDs (0123abcd-0123-...): a dash between letters/digits with no spaces belongs to
    // the identifier. "a - b" (with spaces) stays a subtraction.
    private static bool IsIdentifierDash(string sql, int i) =>
        i + 1 < sql.Length && char.IsLetterOrDigit(sql[i + 1]) && i > 0 && char.IsLetterOrDigit(sql[i - 1]);

    private static char Peek(string s, int i) => i < s.Length ? s[i] : '\0';

    public static string Join(IEnumerable<SqlToken> tokens)
    {
        var sb = new StringBuilder();
        foreach (var t in tokens) sb.Append(t.Text);
        return sb.ToString();
    }

    /// <summary>A SQL string literal with the value embedded safely (quotes doubled).</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''") + "'";
}
