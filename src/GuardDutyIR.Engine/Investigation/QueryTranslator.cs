namespace GuardDutyIR.Engine.Investigation;

/// <summary>Where a CloudTrail query runs; each has its own table and SQL dialect.</summary>
public enum QueryBackend
{
    /// <summary>CloudTrail Lake: Trino SQL over an event data store (eventtime timestamp, readonly boolean, maps).</summary>
    Lake,
    /// <summary>Athena over trail logs: Trino SQL over AWS's CloudTrail table (strings for time, readonly and JSON fields).</summary>
    Athena,
    /// <summary>Local or downloaded trail files through the embedded DuckDB engine, shaped like the Lake schema.</summary>
    Local,
}

/// <summary>
/// Runs one SQL text (CloudTrail Lake's, as the workshop writes it) on all three backends: resolves the table
/// placeholder and rewrites what differs between Lake, AWS's Athena CloudTrail table and DuckDB.
/// </summary>
public static class QueryTranslator
{
    /// <summary>Identifiers that stand for "the CloudTrail table" in a query: the workshop's EDS_ID and $EDS.</summary>
    private static readonly string[] Placeholders = { "EDS_ID", "$EDS", "$EDS_ID", "EVENT_DATA_STORE" };

    // Map-typed columns of the Lake schema; JSON text in Athena's CloudTrail table.
    private static readonly HashSet<string> MapColumns = new(StringComparer.OrdinalIgnoreCase)
    {
        "requestparameters", "responseelements", "additionaleventdata",
    };

    /// <param name="sql">The query as the user wrote it.</param>
    /// <param name="backend">Where it will run.</param>
    /// <param name="table">The backend's table reference (an event data store ID, "db"."table", or the local view).</param>
    /// <param name="extraTableNames">Other names the user may have written for the table (the event data store's ID or ARN).</param>
    public static string Translate(string sql, QueryBackend backend, string table, IEnumerable<string>? extraTableNames = null)
    {
        var tokens = SqlTokenizer.Tokenize(sql);
        CheckReadOnly(tokens, sql);
        var names = new HashSet<string>(Placeholders, StringComparer.OrdinalIgnoreCase);
        foreach (var n in extraTableNames ?? Enumerable.Empty<string>()) if (!string.IsNullOrEmpty(n)) names.Add(n);
        return Rewrite(tokens, backend, table, names);
    }

    /// <summary>Checks that the text is one read-only SELECT, before anything runs.</summary>
    public static void Validate(string sql) => CheckReadOnly(SqlTokenizer.Tokenize(sql), sql);

    private static string Fragment(List<SqlToken> tokens, QueryBackend backend, string table, HashSet<string> names) =>
        Rewrite(tokens, backend, table, names);

    private static string Rewrite(List<SqlToken> tokens, QueryBackend backend, string table, HashSet<string> names)
    {
        var output = new List<SqlToken>(tokens.Count);
        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            if (t.Kind is SqlTokenKind.Identifier or SqlTokenKind.QuotedIdentifier && names.Contains(Unquote(t.Text)) && AfterFromOrJoin(tokens, i))
            {
                output.Add(new SqlToken(SqlTokenKind.Identifier, table));
                continue;
            }
            if (backend != QueryBackend.Lake && t.IsWord("element_at") && NextNonTrivia(tokens, i + 1) is { } open && tokens[open].IsSymbol("("))
            {
                var (args, close) = Arguments(tokens, open);
                if (args.Count == 2)
                {
                    var first = Fragment(args[0], backend, table, names);
                    var second = Fragment(args[1], backend, table, names);
                    if (backend == QueryBackend.Athena && MapColumns.Contains(first.Trim()))
                        output.AddRange(SqlTokenizer.Tokenize($"json_extract_scalar({first.Trim()}, {JsonPath(second.Trim())})"));
                    else
                        output.AddRange(SqlTokenizer.Tokenize(backend == QueryBackend.Local ? $"({first.Trim()})[{second.Trim()}]" : $"element_at({first}, {second})"));
                    i = close;
                    continue;
                }
            }
            if (backend == QueryBackend.Athena && t.IsWord("readonly") && IsComparedToBoolean(tokens, i, out var literalIndex))
            {
                output.Add(t);
                for (var j = i + 1; j < literalIndex; j++) output.Add(tokens[j]);
                output.Add(new SqlToken(SqlTokenKind.StringLiteral, "'" + tokens[literalIndex].Text.ToLowerInvariant() + "'"));
                i = literalIndex;
                continue;
            }
            if (backend == QueryBackend.Athena && t.IsWord("eventtime") && IsCompared(tokens, i))
            {
                output.AddRange(SqlTokenizer.Tokenize("from_iso8601_timestamp(eventtime)"));
                continue;
            }
            output.Add(t);
        }
        return SqlTokenizer.Join(output);
    }

    /// <summary>Lake and Athena run only SELECT; the local engine must not be tricked into writing files either.</summary>
    private static void CheckReadOnly(List<SqlToken> tokens, string sql)
    {
        // No SQL dialect takes a NUL, and DuckDB's parser ends the text at one (a parser error about unterminated
        // quotes, not a refusal): it is refused here as what it is.
        if (sql.Contains('\0'))
            throw new GuardDutyIRException("QueryInvalidCharacter", ErrorKind.InvalidArgument, "The query holds a NUL character, which no query language takes.", sql);
        var words = tokens.Where(t => !t.IsTrivia).ToList();
        if (words.Count == 0)
            throw new GuardDutyIRException("QueryEmpty", ErrorKind.InvalidArgument, "The query is empty.", sql);
        if (!(words[0].IsWord("select") || words[0].IsWord("with") || words[0].IsSymbol("(")))
            throw new GuardDutyIRException("QueryNotSelect", ErrorKind.InvalidArgument, "Only SELECT queries can be run (CloudTrail Lake and Athena allow nothing else).", sql);
        var forbidden = new[] { "insert", "update", "delete", "drop", "create", "alter", "copy", "attach", "detach", "install", "load", "pragma", "export", "import", "call", "set", "checkpoint" };
        var statementStarts = words.Select((t, i) => (t, i)).Where(p => p.i == 0 || words[p.i - 1].IsSymbol(";")).Select(p => p.t);
        foreach (var start in statementStarts)
            if (forbidden.Any(start.IsWord))
                throw new GuardDutyIRException("QueryNotSelect", ErrorKind.InvalidArgument, $"Only SELECT queries can be run; '{start.Text}' is not allowed.", sql);
        if (words.Count(t => t.IsSymbol(";")) > (words[^1].IsSymbol(";") ? 1 : 0))
            throw new GuardDutyIRException("QueryMultipleStatements", ErrorKind.InvalidArgument, "Run one query at a time.", sql);
        // An early, readable refusal of what reads files or other queries; the local engine refuses them itself anyway
        // (external access off, configuration locked), whatever spelling gets past this list.
        for (var i = 0; i < words.Count; i++)
        {
            var w = words[i];
            var name = w.Kind == SqlTokenKind.QuotedIdentifier ? Unquote(w.Text) : w.Kind == SqlTokenKind.Identifier ? w.Text : null;
            if (name is not null && FileFunctions.Contains(name) && i + 1 < words.Count && words[i + 1].IsSymbol("("))
                throw new GuardDutyIRException("QueryFileAccess", ErrorKind.InvalidArgument, $"'{name}' reads files directly; query the CloudTrail table (EDS_ID) instead.", sql);
            if (w.Kind == SqlTokenKind.StringLiteral && i > 0 && (words[i - 1].IsWord("from") || words[i - 1].IsWord("join")))
                throw new GuardDutyIRException("QueryFileAccess", ErrorKind.InvalidArgument, $"{w.Text} names a file; query the CloudTrail table (EDS_ID) instead.", sql);
        }
    }

    private static readonly HashSet<string> FileFunctions = new(StringComparer.OrdinalIgnoreCase)
    {
        "read_csv", "read_csv_auto", "sniff_csv", "read_json", "read_json_auto", "read_json_objects", "read_json_objects_auto", "read_ndjson",
        "read_ndjson_auto", "read_ndjson_objects", "read_parquet", "parquet_scan", "parquet_metadata", "parquet_schema", "parquet_file_metadata",
        "parquet_kv_metadata", "read_text", "read_blob", "glob", "read_xlsx", "query", "query_table", "iceberg_scan", "delta_scan",
    };

    private static string Unquote(string text) => text.Length >= 2 && text[0] is '"' or '`' ? text[1..^1] : text;

    private static bool AfterFromOrJoin(List<SqlToken> tokens, int index)
    {
        var previous = PreviousNonTrivia(tokens, index - 1);
        return previous is { } p && (tokens[p].IsWord("from") || tokens[p].IsWord("join") || tokens[p].IsSymbol(","));
    }

    private static int? NextNonTrivia(List<SqlToken> tokens, int from)
    {
        for (var i = from; i < tokens.Count; i++) if (!tokens[i].IsTrivia) return i;
        return null;
    }

    private static int? PreviousNonTrivia(List<SqlToken> tokens, int from)
    {
        for (var i = from; i >= 0; i--) if (!tokens[i].IsTrivia) return i;
        return null;
    }

    /// <summary>The top-level arguments of a call whose "(" is at <paramref name="open"/>, and the index of its ")".</summary>
    private static (List<List<SqlToken>> Args, int Close) Arguments(List<SqlToken> tokens, int open)
    {
        var args = new List<List<SqlToken>> { new() };
        var depth = 0;
        for (var i = open + 1; i < tokens.Count; i++)
        {
            var t = tokens[i];
            if (t.IsSymbol("(") || t.IsSymbol("[")) depth++;
            else if ((t.IsSymbol(")") || t.IsSymbol("]")) && depth > 0) depth--;
            else if (t.IsSymbol(")")) return (args, i);
            else if (t.IsSymbol(",") && depth == 0) { args.Add(new List<SqlToken>()); continue; }
            args[^1].Add(t);
        }
        throw new GuardDutyIRException("SqlUnbalancedParentheses", ErrorKind.InvalidArgument, "The query has an unclosed parenthesis.", SqlTokenizer.Join(tokens));
    }

    private static string JsonPath(string keyLiteral)
    {
        // element_at(requestparameters, 'bucketName') becomes json_extract_scalar(requestparameters, '$.bucketName').
        if (keyLiteral.Length >= 2 && keyLiteral[0] == '\'' && keyLiteral[^1] == '\'')
        {
            var key = keyLiteral[1..^1].Replace("''", "'");
            var path = key.All(c => char.IsLetterOrDigit(c) || c == '_') ? "$." + key : "$[\"" + key.Replace("\"", "\\\"") + "\"]";
            return SqlTokenizer.Literal(path);
        }
        return "concat('$.', " + keyLiteral + ")";
    }

    private static readonly string[] ComparisonSymbols = { "=", "<>", "!=", "<", ">", "<=", ">=" };

    private static bool IsComparedToBoolean(List<SqlToken> tokens, int index, out int literalIndex)
    {
        literalIndex = -1;
        if (NextNonTrivia(tokens, index + 1) is not { } op) return false;
        var isOperator = ComparisonSymbols.Any(tokens[op].IsSymbol) || tokens[op].IsWord("is");
        if (!isOperator) return false;
        var valueIndex = NextNonTrivia(tokens, op + 1);
        if (valueIndex is { } v && tokens[v].IsWord("not")) valueIndex = NextNonTrivia(tokens, v + 1);
        if (valueIndex is not { } value || !(tokens[value].IsWord("true") || tokens[value].IsWord("false"))) return false;
        literalIndex = value;
        return true;
    }

    private static bool IsCompared(List<SqlToken> tokens, int index)
    {
        var next = NextNonTrivia(tokens, index + 1);
        var previous = PreviousNonTrivia(tokens, index - 1);
        bool IsOp(int? i) => i is { } k && (ComparisonSymbols.Any(tokens[k].IsSymbol) || tokens[k].IsWord("between"));
        return IsOp(next) || IsOp(previous);
    }
}
