using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DuckDB.NET.Data;

namespace GuardDutyIR.Lab.CloudTrail;

/// <summary>Which service's table and SQL rules a query runs under.</summary>
public enum TrailDialect
{
    /// <summary>CloudTrail Lake: eventtime TIMESTAMP, readonly BOOLEAN, requestparameters MAP(VARCHAR,VARCHAR).</summary>
    Lake,
    /// <summary>Athena over trail logs (AWS's documented cloudtrail_logs table): eventtime/readonly/requestparameters are STRING.</summary>
    Athena,
}

public sealed record SqlColumn(string Name, string EngineType, string TrinoType);

/// <summary>A finished query's result: every value already rendered the way the service returns it (null = SQL NULL).</summary>
public sealed record SqlResult(IReadOnlyList<SqlColumn> Columns, IReadOnlyList<string?[]> Rows, long EventsScanned, long BytesScanned)
{
    /// <summary>The header and the rows as CSV lines ending in \n, each value (null for SQL NULL) written by <paramref name="field"/>.</summary>
    public byte[] ToCsv(Func<string?, string> field)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendJoin(',', Columns.Select(c => field(c.Name))).Append('\n');
        foreach (var row in Rows) sb.AppendJoin(',', row.Select(field)).Append('\n');
        return System.Text.Encoding.UTF8.GetBytes(sb.ToString());
    }
}

/// <summary>A query the engine rejected; the message is what the service reports.</summary>
public sealed class TrailQueryException : Exception
{
    public TrailQueryException(string message) : base(message) { }
}

/// <summary>
/// The CloudTrail events of a Lab in embedded DuckDB, as two isolated in-memory databases: one holding the event data
/// store table with CloudTrail Lake's schema, one holding Athena's <c>cloudtrail_logs</c> table with AWS's documented
/// Athena schema. Built on first use, so Labs that never query pay nothing.
/// </summary>
public sealed class TrailDatabase : IDisposable
{
    public const string LakeTable = "lake_events";
    public const string AthenaTable = "cloudtrail_logs";

    private readonly object _sync = new();
    private readonly List<CloudTrailRecord> _records = new();
    private DuckDBConnection? _lake;
    private DuckDBConnection? _athena;
    private long _bytes;
    private bool _disposed;

    public TrailDatabase(IEnumerable<CloudTrailRecord> initial)
    {
        foreach (var r in initial) { _records.Add(r); _bytes += CloudTrailLogFiles.SizeOf(r); }
    }

    /// <summary>Every record in the store, in insertion order (seeded records are in time order).</summary>
    public IReadOnlyList<CloudTrailRecord> Records
    {
        get { lock (_sync) return _records.ToArray(); }
    }

    public int Count { get { lock (_sync) return _records.Count; } }

    /// <summary>Adds events to the store (and to both tables if they are already built).</summary>
    public void Append(IEnumerable<CloudTrailRecord> records)
    {
        var list = records.ToList();
        lock (_sync)
        {
            _records.AddRange(list);
            foreach (var r in list) _bytes += CloudTrailLogFiles.SizeOf(r);
            if (_lake is not null) Load(_lake, list, TrailDialect.Lake);
            if (_athena is not null) Load(_athena, list, TrailDialect.Athena);
        }
    }

    // ---------------------------------------------------------------- schema

    private const string IdentityLake =
        "STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, accesskeyid VARCHAR, username VARCHAR, " +
        "sessioncontext STRUCT(attributes STRUCT(creationdate VARCHAR, mfaauthenticated VARCHAR), " +
        "sessionissuer STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR), " +
        "webidfederationdata STRUCT(federatedprovider VARCHAR, attributes MAP(VARCHAR, VARCHAR)), sourceidentity VARCHAR, ec2roledelivery VARCHAR, ec2issuedinvpc VARCHAR), " +
        "invokedby VARCHAR, identityprovider VARCHAR, credentialid VARCHAR, onbehalfof STRUCT(userid VARCHAR, identitystorearn VARCHAR))";

    /// <summary>CloudTrail Lake's event schema (query-supported-event-schemas), lower-case as Lake exposes it.</summary>
    private static readonly (string Name, string Type)[] LakeColumns =
    {
        ("eventversion", "VARCHAR"), ("useridentity", IdentityLake), ("eventtime", "TIMESTAMP"), ("eventsource", "VARCHAR"),
        ("eventname", "VARCHAR"), ("awsregion", "VARCHAR"), ("sourceipaddress", "VARCHAR"), ("useragent", "VARCHAR"),
        ("errorcode", "VARCHAR"), ("errormessage", "VARCHAR"), ("requestparameters", "MAP(VARCHAR, VARCHAR)"),
        ("responseelements", "MAP(VARCHAR, VARCHAR)"), ("additionaleventdata", "MAP(VARCHAR, VARCHAR)"), ("requestid", "VARCHAR"),
        ("eventid", "VARCHAR"), ("readonly", "BOOLEAN"), ("resources", "STRUCT(accountid VARCHAR, type VARCHAR, arn VARCHAR, arnprefix VARCHAR)[]"),
        ("eventtype", "VARCHAR"), ("apiversion", "VARCHAR"), ("managementevent", "BOOLEAN"), ("recipientaccountid", "VARCHAR"),
        ("sharedeventid", "VARCHAR"), ("annotation", "VARCHAR"), ("vpcendpointid", "VARCHAR"), ("vpcendpointaccountid", "VARCHAR"),
        ("serviceeventdetails", "MAP(VARCHAR, VARCHAR)"), ("addendum", "STRUCT(reason VARCHAR, updatedfields VARCHAR, originalrequestid VARCHAR, originaleventid VARCHAR)"),
        ("edgedevicedetails", "VARCHAR"), ("eventcategory", "VARCHAR"),
        ("tlsdetails", "STRUCT(tlsversion VARCHAR, ciphersuite VARCHAR, clientprovidedhostheader VARCHAR)"),
        ("sessioncredentialfromconsole", "VARCHAR"), ("eventjson", "VARCHAR"), ("eventjsonchecksum", "VARCHAR"),
    };

    /// <summary>The Athena table from the Athena user guide ("Create a table for CloudTrail logs in Athena using manual partitioning").</summary>
    private static readonly (string Name, string Type)[] AthenaColumns =
    {
        ("eventversion", "VARCHAR"),
        ("useridentity", "STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, invokedby VARCHAR, accesskeyid VARCHAR, username VARCHAR, " +
                         "onbehalfof STRUCT(userid VARCHAR, identitystorearn VARCHAR), " +
                         "sessioncontext STRUCT(attributes STRUCT(mfaauthenticated VARCHAR, creationdate VARCHAR), " +
                         "sessionissuer STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR), " +
                         "ec2roledelivery VARCHAR, webidfederationdata STRUCT(federatedprovider VARCHAR, attributes MAP(VARCHAR, VARCHAR))))"),
        ("eventtime", "VARCHAR"), ("eventsource", "VARCHAR"), ("eventname", "VARCHAR"), ("awsregion", "VARCHAR"),
        ("sourceipaddress", "VARCHAR"), ("useragent", "VARCHAR"), ("errorcode", "VARCHAR"), ("errormessage", "VARCHAR"),
        ("requestparameters", "VARCHAR"), ("responseelements", "VARCHAR"), ("additionaleventdata", "VARCHAR"),
        ("requestid", "VARCHAR"), ("eventid", "VARCHAR"), ("resources", "STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[]"),
        ("eventtype", "VARCHAR"), ("apiversion", "VARCHAR"), ("readonly", "VARCHAR"), ("recipientaccountid", "VARCHAR"),
        ("serviceeventdetails", "VARCHAR"), ("sharedeventid", "VARCHAR"), ("vpcendpointid", "VARCHAR"), ("vpcendpointaccountid", "VARCHAR"),
        ("eventcategory", "VARCHAR"), ("addendum", "STRUCT(reason VARCHAR, updatedfields VARCHAR, originalrequestid VARCHAR, originaleventid VARCHAR)"),
        ("sessioncredentialfromconsole", "VARCHAR"), ("edgedevicedetails", "VARCHAR"),
        ("tlsdetails", "STRUCT(tlsversion VARCHAR, ciphersuite VARCHAR, clientprovidedhostheader VARCHAR)"),
    };

    private static readonly HashSet<string> MapFields = new(StringComparer.Ordinal) { "requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails" };

    /// <summary>
    /// Trino functions the CloudTrail Lake and Athena docs use that DuckDB lacks or spells differently. DuckDB's own
    /// element_at returns a one-element list for maps; Trino returns the value, so it is redefined.
    /// </summary>
    private static readonly string[] CompatibilityMacros =
    {
        "CREATE OR REPLACE MACRO element_at(m, k) AS m[k]",
        "CREATE OR REPLACE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
        "CREATE OR REPLACE MACRO regexp_like(s, p) AS regexp_matches(s, p)",
        "CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CAST(replace(replace(s, 'T', ' '), 'Z', '') AS TIMESTAMP)",
        "CREATE OR REPLACE MACRO date_add(u, n, t) AS t + (CASE lower(u) WHEN 'second' THEN to_seconds(CAST(n AS BIGINT)) WHEN 'minute' THEN to_minutes(CAST(n AS BIGINT)) " +
            "WHEN 'hour' THEN to_hours(CAST(n AS BIGINT)) WHEN 'day' THEN to_days(CAST(n AS INTEGER)) WHEN 'week' THEN to_weeks(CAST(n AS INTEGER)) " +
            "WHEN 'month' THEN to_months(CAST(n AS INTEGER)) ELSE to_years(CAST(n AS INTEGER)) END)",
        "CREATE OR REPLACE MACRO approx_distinct(x) AS count(DISTINCT x)",
        "CREATE OR REPLACE MACRO cardinality(x) AS len(x)",
    };

    private DuckDBConnection Connection(TrailDialect dialect)
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ref var slot = ref dialect == TrailDialect.Lake ? ref _lake : ref _athena;
            if (slot is null)
            {
                // Loaded the way DuckDB.NET's P/Invoke would, before any of its types initializes: a static initializer
                // that fails on a missing library breaks its type for the process (see TrailQueryRunner's message).
                if (!System.Runtime.InteropServices.NativeLibrary.TryLoad("duckdb", typeof(DuckDBConnection).Assembly, null, out _))
                    throw new DllNotFoundException("DuckDB's native library (duckdb) could not be loaded.");
                var c = new DuckDBConnection("DataSource=:memory:");
                c.Open();
                var cols = dialect == TrailDialect.Lake ? LakeColumns : AthenaColumns;
                Exec(c, $"CREATE TABLE {(dialect == TrailDialect.Lake ? LakeTable : AthenaTable)} ({string.Join(", ", cols.Select(x => x.Name + " " + x.Type))})");
                foreach (var m in CompatibilityMacros) Exec(c, m);
                Load(c, _records, dialect);
                slot = c;
            }
            return slot;
        }
    }

    private static void Exec(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Bulk load through newline-delimited JSON (DuckDB's read_json), much faster than row inserts.</summary>
    private static void Load(DuckDBConnection c, IReadOnlyList<CloudTrailRecord> records, TrailDialect dialect)
    {
        if (records.Count == 0) return;
        var path = Path.Combine(Path.GetTempPath(), $"gdir-lab-trail-{Guid.NewGuid():N}.ndjson");
        try
        {
            using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            using (var w = new Utf8JsonWriter(fs))
            {
                foreach (var r in records)
                {
                    if (dialect == TrailDialect.Lake) WriteLakeRow(w, r); else WriteAthenaRow(w, r);
                    w.Flush();
                    fs.WriteByte((byte)'\n');
                    // One JSON document per line: the writer must start afresh for each.
                    w.Reset();
                }
            }
            var cols = dialect == TrailDialect.Lake ? LakeColumns : AthenaColumns;
            var spec = string.Join(", ", cols.Select(x => $"{x.Name}: '{x.Type}'"));
            var table = dialect == TrailDialect.Lake ? LakeTable : AthenaTable;
            Exec(c, $"INSERT INTO {table} SELECT {string.Join(", ", cols.Select(x => x.Name))} FROM read_json('{path.Replace("'", "''")}', format='newline_delimited', columns={{{spec}}})");
        }
        finally
        {
            try { File.Delete(path); } catch (IOException) { /* temp file; best effort */ }
        }
    }

    private static void WriteLakeRow(Utf8JsonWriter w, CloudTrailRecord r)
    {
        w.WriteStartObject();
        foreach (var (key, value) in r.Json)
        {
            var name = key.ToLowerInvariant();
            if (MapFields.Contains(name))
            {
                w.WritePropertyName(name);
                var map = CloudTrailRecord.FlatMap(value);
                if (map is null) w.WriteNullValue();
                else { w.WriteStartObject(); foreach (var (k, v) in map) w.WriteString(k, v); w.WriteEndObject(); }
            }
            else if (name == "eventtime")
                w.WriteString(name, r.EventTime.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
            else
            {
                w.WritePropertyName(name);
                WriteLowered(w, value);
            }
        }
        w.WriteString("eventjson", r.JsonText);
        w.WriteEndObject();
    }

    private static void WriteAthenaRow(Utf8JsonWriter w, CloudTrailRecord r)
    {
        w.WriteStartObject();
        foreach (var (key, value) in r.Json)
        {
            var name = key.ToLowerInvariant();
            if (MapFields.Contains(name))
            {
                // The CloudTrail SerDe hands these over as the raw JSON text of the element.
                if (value is null) w.WriteNull(name); else w.WriteString(name, value.ToJsonString());
            }
            else if (name == "readonly")
                w.WriteString(name, value?.GetValueKind() == JsonValueKind.True ? "true" : "false");
            else if (value is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False or JsonValueKind.Number)
                w.WriteString(name, v.ToJsonString());
            else
            {
                w.WritePropertyName(name);
                WriteLowered(w, value);
            }
        }
        w.WriteEndObject();
    }

    /// <summary>Copies a JSON value with object keys lower-cased (struct fields are lower-case in both schemas).</summary>
    private static void WriteLowered(Utf8JsonWriter w, JsonNode? node)
    {
        switch (node)
        {
            case null: w.WriteNullValue(); break;
            case JsonObject o:
                w.WriteStartObject();
                foreach (var (k, v) in o) { w.WritePropertyName(k.ToLowerInvariant()); WriteLowered(w, v); }
                w.WriteEndObject();
                break;
            case JsonArray a:
                w.WriteStartArray();
                foreach (var v in a) WriteLowered(w, v);
                w.WriteEndArray();
                break;
            default: node.WriteTo(w); break;
        }
    }

    // ---------------------------------------------------------------- querying

    /// <summary>Runs an already validated and rewritten SELECT; renders values as the dialect's service does.</summary>
    public SqlResult Execute(string sql, TrailDialect dialect, CancellationToken ct)
    {
        var written = TrailSql.SelectItemNames(sql);
        var c = Connection(dialect);
        long scanned, bytes;
        lock (_sync) { scanned = _records.Count; bytes = _bytes; }
        // One DuckDB connection per dialect; DuckDB connections are not safe for concurrent commands.
        lock (c)
        {
            ct.ThrowIfCancellationRequested();
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            try
            {
                using var reader = cmd.ExecuteReader();
                var columns = new List<SqlColumn>();
                for (int i = 0; i < reader.FieldCount; i++)
                {
                    var engineType = reader.GetDataTypeName(i);
                    var name = written is not null && written.Count == reader.FieldCount && written[i] is { } w ? w : ColumnName(reader.GetName(i), i);
                    // Athena reports column names in lower case (Hive metastore); Lake keeps them as written in the SELECT.
                    if (dialect == TrailDialect.Athena) name = name.ToLowerInvariant();
                    columns.Add(new SqlColumn(name, engineType, TrinoType(engineType)));
                }
                var rows = new List<string?[]>();
                while (reader.Read())
                {
                    if ((rows.Count & 1023) == 0) ct.ThrowIfCancellationRequested();
                    var row = new string?[reader.FieldCount];
                    for (int i = 0; i < row.Length; i++)
                        row[i] = reader.IsDBNull(i) ? null : Render(reader.GetValue(i));
                    rows.Add(row);
                }
                return new SqlResult(columns, rows, scanned, bytes);
            }
            catch (DuckDBException ex)
            {
                throw new TrailQueryException(ex.Message.Split('\n')[0].Trim());
            }
        }
    }

    /// <summary>Trino names unaliased expressions _col0, _col1…; plain column references keep their name.</summary>
    private static string ColumnName(string engineName, int index) =>
        Regex.IsMatch(engineName, "^[A-Za-z_][A-Za-z0-9_]*$") ? engineName : "_col" + index.ToString(CultureInfo.InvariantCulture);

    private static string TrinoType(string duck) => duck.ToLowerInvariant() switch
    {
        "varchar" => "varchar",
        "bigint" or "hugeint" or "ubigint" => "bigint",
        "integer" or "uinteger" => "integer",
        "smallint" or "tinyint" or "usmallint" or "utinyint" => "smallint",
        "boolean" => "boolean",
        "double" => "double",
        "float" => "real",
        "decimal" => "decimal",
        "timestamp" or "timestamptz" or "timestamp with time zone" => "timestamp",
        "date" => "date",
        "map" => "map",
        "list" or "array" => "array",
        "struct" => "row",
        "json" => "json",
        _ => "varchar",
    };

    /// <summary>
    /// Renders a value as Trino (Lake and Athena) does in results: timestamps "yyyy-MM-dd HH:mm:ss.fff", booleans
    /// true/false, maps and rows "{key=value, …}", arrays "[a, b]".
    /// </summary>
    public static string Render(object? value) => value switch
    {
        null => "null",
        string s => s,
        bool b => b ? "true" : "false",
        DateTime dt => dt.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture),
        DateTimeOffset dto => dto.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        decimal m => m.ToString(CultureInfo.InvariantCulture),
        IDictionary dict => "{" + string.Join(", ", dict.Keys.Cast<object>().Select(k => Render(k) + "=" + Render(dict[k]))) + "}",
        IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(Render)) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public void Dispose()
    {
        lock (_sync)
        {
            _disposed = true;
            _lake?.Dispose();
            _athena?.Dispose();
            _lake = _athena = null;
        }
    }
}

/// <summary>SQL checks and rewrites shared by the Lake and Athena front ends.</summary>
public static partial class TrailSql
{
    [GeneratedRegex(@"--[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comments();

    [GeneratedRegex(@"\b(read_\w+|glob|parquet_\w+|sniff_csv|duckdb_\w+|pragma_\w+|sqlite_\w+|iceberg_\w+|delta_scan|query_table|getenv|load_extension)\s*\(", RegexOptions.IgnoreCase)]
    private static partial Regex ForbiddenFunctions();

    [GeneratedRegex(@"\b(?:FROM|JOIN)\s+(?<q>[""`]?)(?<name>[A-Za-z0-9_:/.\-]+)\k<q>", RegexOptions.IgnoreCase)]
    private static partial Regex FromTargets();

    [GeneratedRegex(@"(?:\bWITH\s+(?:RECURSIVE\s+)?|,\s*)(?<name>[A-Za-z_][A-Za-z0-9_]*)\s+AS\s*\(", RegexOptions.IgnoreCase)]
    private static partial Regex CteNames();

    [GeneratedRegex(@"\bFROM\s+'", RegexOptions.IgnoreCase)]
    private static partial Regex FromStringLiteral();

    /// <summary>Removes comments and a trailing semicolon; null when the text is not one SELECT (or WITH … SELECT) statement.</summary>
    public static string? SingleSelect(string sql)
    {
        var text = Comments().Replace(sql, " ").Trim();
        if (text.EndsWith(';')) text = text[..^1].TrimEnd();
        if (text.Length == 0 || ContainsTopLevelSemicolon(text)) return null;
        var first = new string(text.TrimStart('(', ' ', '\t', '\r', '\n').TakeWhile(char.IsLetter).ToArray()).ToUpperInvariant();
        if (first is not ("SELECT" or "WITH")) return null;
        if (ForbiddenFunctions().IsMatch(text) || FromStringLiteral().IsMatch(text)) return null;
        return text;
    }

    private static bool ContainsTopLevelSemicolon(string text)
    {
        bool inString = false;
        foreach (var ch in text)
        {
            if (ch == '\'') inString = !inString;
            else if (ch == ';' && !inString) return true;
        }
        return false;
    }

    /// <summary>
    /// The names Trino gives the main SELECT's items that are plain column references (the last path segment as
    /// written: <c>useridentity.principalId</c> → principalId); null entries leave the engine's name (aliases, _colN).
    /// Null when the list cannot be read (e.g. *).
    /// </summary>
    public static IReadOnlyList<string?>? SelectItemNames(string sql)
    {
        int depth = 0, start = -1, end = -1;
        bool inString = false, inIdent = false;
        for (int i = 0; i < sql.Length; i++)
        {
            char ch = sql[i];
            if (inString) { if (ch == '\'') inString = false; continue; }
            if (inIdent) { if (ch == '"') inIdent = false; continue; }
            if (ch == '\'') { inString = true; continue; }
            if (ch == '"') { inIdent = true; continue; }
            if (ch == '(') depth++;
            else if (ch == ')') depth--;
            else if (depth == 0 && IsWord(sql, i, "SELECT") && start < 0) start = i + 6;
            else if (depth == 0 && start >= 0 && IsWord(sql, i, "FROM")) { end = i; break; }
        }
        if (start < 0) return null;
        var list = sql[start..(end < 0 ? sql.Length : end)].Trim();
        if (list.StartsWith("DISTINCT ", StringComparison.OrdinalIgnoreCase)) list = list[9..];
        var items = new List<string>();
        depth = 0;
        int from = 0;
        inString = false;
        for (int i = 0; i < list.Length; i++)
        {
            char ch = list[i];
            if (ch == '\'') inString = !inString;
            if (inString) continue;
            if (ch == '(') depth++;
            else if (ch == ')') depth--;
            else if (ch == ',' && depth == 0) { items.Add(list[from..i].Trim()); from = i + 1; }
        }
        items.Add(list[from..].Trim());
        if (items.Any(x => x == "*" || x.EndsWith(".*", StringComparison.Ordinal))) return null;
        return items.Select(x => PlainPath().IsMatch(x) ? x[(x.LastIndexOf('.') + 1)..] : null).ToList();
    }

    private static bool IsWord(string s, int i, string word) =>
        string.Compare(s, i, word, 0, word.Length, StringComparison.OrdinalIgnoreCase) == 0 &&
        (i == 0 || !char.IsLetterOrDigit(s[i - 1]) && s[i - 1] != '_') &&
        (i + word.Length >= s.Length || !char.IsLetterOrDigit(s[i + word.Length]) && s[i + word.Length] != '_');

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]
    private static partial Regex PlainPath();

    /// <summary>The table names after FROM/JOIN that are not CTE names (as written, unquoted).</summary>
    public static IReadOnlyList<string> Tables(string sql)
    {
        var ctes = new HashSet<string>(CteNames().Matches(sql).Select(m => m.Groups["name"].Value), StringComparer.OrdinalIgnoreCase);
        return FromTargets().Matches(sql).Select(m => m.Groups["name"].Value).Where(n => !ctes.Contains(n)).ToList();
    }

    /// <summary>Replaces every FROM/JOIN target for which <paramref name="map"/> returns a value.</summary>
    public static string RewriteTables(string sql, Func<string, string?> map) =>
        FromTargets().Replace(sql, m =>
        {
            var replacement = map(m.Groups["name"].Value);
            if (replacement is null) return m.Value;
            var nameGroup = m.Groups["name"];
            var start = m.Groups["q"].Length > 0 ? m.Groups["q"].Index : nameGroup.Index;
            return m.Value[..(start - m.Index)] + replacement;
        });
}
