using System.Runtime.CompilerServices;
using System.Text;
using DuckDB.NET.Data;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// Runs CloudTrail Lake SQL over local trail log files with the embedded DuckDB engine. The files (gzip or plain, each a
/// {"Records":[...]} object) are parsed on every core for just the fields the query uses, appended to DuckDB column
/// batch by column batch (see <see cref="TrailTableLoader"/>), and queried through a view with the Lake schema's column
/// names and types, so the workshop's queries run unchanged. DuckDB's own JSON reader (read_json) was measured several
/// times slower than that on the same files (bench/GuardDutyIR.Bench.LakeQuery). This class is the only one that
/// touches DuckDB, so nothing loads it until a local query runs.
/// </summary>
public static class LocalTrailEngine
{
    public const string TableName = "cloudtrail";

    // One Lake column: the flat columns the reader extracts for it (CloudTrail's own, case-sensitive JSON names) and
    // its expression in the view, which rebuilds the Lake shape (structs, maps, timestamps) from them.
    internal sealed record Column(string Name, FlatColumn[] Flat, string Expression);

    private static FlatColumn TextField(string name, params string[] path) => new(name, "VARCHAR", path, FlatKind.Text);
    private static FlatColumn JsonField(string name, params string[] path) => new(name, "VARCHAR", path, FlatKind.Json);

    private static Column Simple(string lake, string json, FlatKind kind = FlatKind.Text) =>
        new(lake, new[] { new FlatColumn("c_" + lake, kind switch { FlatKind.Time => "TIMESTAMP", FlatKind.Boolean => "BOOLEAN", _ => "VARCHAR" }, new[] { json }, kind) },
            "c_" + lake);

    private static Column Map(string lake, string json) =>
        new(lake, new[] { JsonField("c_" + lake, json) }, $"gdir_json_to_map(c_{lake}::JSON)");

    private static Column JsonText(string lake, string json) => new(lake, new[] { JsonField("c_" + lake, json) }, "c_" + lake);

    private static readonly Column[] Columns =
    {
        Simple("eventversion", "eventVersion"),
        new("useridentity", new[]
        {
            TextField("ui_type", "userIdentity", "type"), TextField("ui_principalid", "userIdentity", "principalId"), TextField("ui_arn", "userIdentity", "arn"),
            TextField("ui_accountid", "userIdentity", "accountId"), TextField("ui_accesskeyid", "userIdentity", "accessKeyId"),
            TextField("ui_username", "userIdentity", "userName"), TextField("ui_invokedby", "userIdentity", "invokedBy"),
            TextField("ui_identityprovider", "userIdentity", "identityProvider"),
            TextField("ui_creationdate", "userIdentity", "sessionContext", "attributes", "creationDate"),
            TextField("ui_mfaauthenticated", "userIdentity", "sessionContext", "attributes", "mfaAuthenticated"),
            TextField("ui_si_type", "userIdentity", "sessionContext", "sessionIssuer", "type"),
            TextField("ui_si_principalid", "userIdentity", "sessionContext", "sessionIssuer", "principalId"),
            TextField("ui_si_arn", "userIdentity", "sessionContext", "sessionIssuer", "arn"),
            TextField("ui_si_accountid", "userIdentity", "sessionContext", "sessionIssuer", "accountId"),
            TextField("ui_si_username", "userIdentity", "sessionContext", "sessionIssuer", "userName"),
            TextField("ui_ec2roledelivery", "userIdentity", "sessionContext", "ec2RoleDelivery"),
            TextField("ui_sourceidentity", "userIdentity", "sessionContext", "sourceIdentity"),
        },
        "{'type': ui_type, 'principalid': ui_principalid, 'arn': ui_arn, 'accountid': ui_accountid, 'accesskeyid': ui_accesskeyid, " +
        "'username': ui_username, 'invokedby': ui_invokedby, 'identityprovider': ui_identityprovider, " +
        "'sessioncontext': {'attributes': {'creationdate': ui_creationdate, 'mfaauthenticated': ui_mfaauthenticated}, " +
        "'sessionissuer': {'type': ui_si_type, 'principalid': ui_si_principalid, 'arn': ui_si_arn, 'accountid': ui_si_accountid, 'username': ui_si_username}, " +
        "'ec2roledelivery': ui_ec2roledelivery, 'sourceidentity': ui_sourceidentity}}"),
        Simple("eventtime", "eventTime", FlatKind.Time),
        Simple("eventsource", "eventSource"),
        Simple("eventname", "eventName"),
        Simple("awsregion", "awsRegion"),
        Simple("sourceipaddress", "sourceIPAddress"),
        Simple("useragent", "userAgent"),
        Simple("errorcode", "errorCode"),
        Simple("errormessage", "errorMessage"),
        Map("requestparameters", "requestParameters"),
        Map("responseelements", "responseElements"),
        Map("additionaleventdata", "additionalEventData"),
        Simple("requestid", "requestID"),
        Simple("eventid", "eventID"),
        Simple("readonly", "readOnly", FlatKind.Boolean),
        new("resources", new[] { JsonField("c_resources", "resources") },
            "CASE WHEN c_resources IS NULL THEN NULL ELSE from_json(c_resources::JSON, '[{\"ARN\":\"VARCHAR\",\"accountId\":\"VARCHAR\",\"type\":\"VARCHAR\"}]') END"),
        Simple("eventtype", "eventType"),
        Simple("apiversion", "apiVersion"),
        Simple("managementevent", "managementEvent", FlatKind.Boolean),
        Simple("recipientaccountid", "recipientAccountId"),
        Simple("sharedeventid", "sharedEventID"),
        Simple("vpcendpointid", "vpcEndpointId"),
        Simple("vpcendpointaccountid", "vpcEndpointAccountId"),
        JsonText("serviceeventdetails", "serviceEventDetails"),
        Simple("eventcategory", "eventCategory"),
        new("tlsdetails", new[] { TextField("tls_version", "tlsDetails", "tlsVersion"), TextField("tls_cipher", "tlsDetails", "cipherSuite"), TextField("tls_host", "tlsDetails", "clientProvidedHostHeader") },
            "{'tlsversion': tls_version, 'ciphersuite': tls_cipher, 'clientprovidedhostheader': tls_host}"),
        Simple("sessioncredentialfromconsole", "sessionCredentialFromConsole"),
        JsonText("addendum", "addendum"),
        JsonText("edgedevicedetails", "edgeDeviceDetails"),
        JsonText("insightdetails", "insightDetails"),
    };

    /// <summary>
    /// The Lake columns a query mentions. Parsing a JSON field costs time even when no one reads it, so the view
    /// reads only these (all of them for "*" or an unknown reference). Of a struct (useridentity, tlsdetails) only the
    /// fields named after a dot are parsed when every mention names one (useridentity.principalid); the others stay
    /// in the struct as NULL, so its type is the same. A bare mention (useridentity, useridentity['arn']) parses all.
    /// </summary>
    internal static IReadOnlyList<Column> ColumnsUsedBy(string sql)
    {
        var tokens = SqlTokenizer.Tokenize(sql);
        if (tokens.Any(t => t.IsSymbol("*") && IsSelectStar(tokens, t))) return Columns;
        var used = new List<Column>();
        foreach (var column in Columns)
        {
            var paths = FieldPaths(tokens, column.Name);
            if (paths.Count == 0) continue;
            if (column.Flat.Length == 1 || paths.Contains("")) { used.Add(column); continue; }
            var keep = column.Flat.Where(f => paths.Any(p => Overlaps(StructField(f), p))).ToArray();
            used.Add(keep.Length == column.Flat.Length ? column : column with
            {
                Flat = keep,
                Expression = column.Flat.Except(keep).Aggregate(column.Expression,
                    (e, f) => System.Text.RegularExpressions.Regex.Replace(e, $@"\b{f.Name}\b", "NULL::" + f.DuckDbType)),
            });
        }
        return used.Count == 0 ? new[] { Columns[0] } : used;
    }

    // A struct's fields in the Lake schema are its JSON names in lower case, below the struct's own name.
    private static string StructField(FlatColumn flat) => string.Join('.', flat.JsonPath.Skip(1)).ToLowerInvariant();

    private static bool Overlaps(string field, string path) =>
        field == path || field.StartsWith(path + ".", StringComparison.Ordinal) || path.StartsWith(field + ".", StringComparison.Ordinal);

    // The field paths after each mention of a column ("" for a bare mention): useridentity.sessioncontext.attributes
    // gives "sessioncontext.attributes".
    private static HashSet<string> FieldPaths(List<SqlToken> tokens, string column)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < tokens.Count; i++)
        {
            if (!NameOf(tokens[i]).Equals(column, StringComparison.OrdinalIgnoreCase)) continue;
            var path = new List<string>();
            var j = NextSolid(tokens, i);
            while (j < tokens.Count && tokens[j].IsSymbol(".") && NextSolid(tokens, j) is var k && k < tokens.Count && NameOf(tokens[k]) is { Length: > 0 } field)
            {
                path.Add(field.ToLowerInvariant());
                j = NextSolid(tokens, k);
            }
            paths.Add(string.Join('.', path));
        }
        return paths;
    }

    private static string NameOf(SqlToken token) => token.Kind switch
    {
        SqlTokenKind.Identifier => token.Text,
        SqlTokenKind.QuotedIdentifier when token.Text.StartsWith('"') => token.Text[1..^1].Replace("\"\"", "\""),
        _ => "",
    };

    private static int NextSolid(List<SqlToken> tokens, int i)
    {
        i++;
        while (i < tokens.Count && tokens[i].IsTrivia) i++;
        return i;
    }

    // count(*) reads no column; "select *" or "t.*" needs all of them.
    private static bool IsSelectStar(List<SqlToken> tokens, SqlToken star)
    {
        var i = tokens.IndexOf(star);
        var previous = tokens.Take(i).LastOrDefault(t => !t.IsTrivia);
        return !previous.IsSymbol("(");
    }

    private static readonly string[] Setup =
    {
        "SET TimeZone = 'UTC'",
        // Trino functions the workshop and AWS's query samples use, under their Trino names.
        "CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
        "CREATE MACRO from_iso8601_timestamp(s) AS try_cast(try_cast(s AS TIMESTAMPTZ) AS TIMESTAMP)",
        "CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)",
        "CREATE MACRO gdir_json_to_map(j) AS CASE WHEN j IS NULL OR json_type(j) <> 'OBJECT' THEN NULL ELSE " +
        "map_from_entries(list_transform(json_keys(j), k -> {'k': k, 'v': CASE WHEN json_type(j, '$.\"' || k || '\"') = 'VARCHAR' " +
        "THEN json_extract_string(j, '$.\"' || k || '\"') ELSE json_extract(j, '$.\"' || k || '\"')::VARCHAR END})) END",
    };

    /// <summary>
    /// Runs one query. The files are parsed in parallel for only the fields the query uses (once per set of files and
    /// fields: see <see cref="ParsedCache"/>) and read by DuckDB through a view with the Lake schema. Malformed files are
    /// reported through <paramref name="notice"/> and left out; the rest still answers.
    /// </summary>
    public static async IAsyncEnumerable<QueryRow> RunAsync(string lakeSql, IReadOnlyList<string> files, bool raw, Action<QueryNotice> notice,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var sql = QueryTranslator.Translate(lakeSql, QueryBackend.Local, TableName);
        await foreach (var row in RunLocalSqlAsync(sql, lakeSql, files, raw, notice, cancellationToken).ConfigureAwait(false)) yield return row;
    }

    /// <summary>
    /// Runs DuckDB SQL over the files' view, with no check of the text: the engine itself is what keeps the query to
    /// reading the view (see <see cref="OpenSandboxAsync"/> and <see cref="CheckOneSelect"/>). Internal so that tests can
    /// prove that without the text checks of <see cref="QueryTranslator"/>.
    /// </summary>
    /// <param name="sql">DuckDB SQL over the view <see cref="TableName"/>.</param>
    /// <param name="shown">The query as the user wrote it, the target of errors.</param>
    internal static async IAsyncEnumerable<QueryRow> RunLocalSqlAsync(string sql, string shown, IReadOnlyList<string> files, bool raw, Action<QueryNotice> notice,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var connection = await OpenSandboxAsync(files, ColumnsUsedBy(sql), notice, cancellationToken).ConfigureAwait(false);
        CheckOneSelect(connection, sql, shown);

        using var command = connection.CreateCommand();
        command.CommandText = sql;
        // Ctrl+C interrupts DuckDB mid-query (duckdb_interrupt), not only between rows.
        using var registration = cancellationToken.Register(command.Cancel);
        DuckDBDataReader reader;
        try
        {
            reader = (DuckDBDataReader)await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DuckDBException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (DuckDBException e)
        {
            throw QueryError(e, shown);
        }
        using (reader)
        {
            var names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
            while (true)
            {
                bool more;
                try
                {
                    more = reader.Read();
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                    throw new OperationCanceledException(cancellationToken);
                }
                catch (DuckDBException e)
                {
                    throw QueryError(e, shown);
                }
                if (!more) break;
                var values = new object?[names.Count];
                for (var i = 0; i < values.Length; i++)
                    values[i] = reader.IsDBNull(i) ? null : raw ? Text(reader.GetValue(i)) : Convert(reader.GetValue(i));
                yield return new QueryRow(names, values);
            }
        }
    }

    /// <summary>
    /// The connection user SQL runs on: our macros, the files' parsed fields attached read-only and the Lake view over
    /// them, and then the engine closed. With external access off DuckDB refuses every file, URL, ATTACH, COPY,
    /// INSTALL and LOAD whatever function or syntax asks for it (https://duckdb.org/docs/stable/operations_manual/securing_duckdb/overview);
    /// with extension installing and autoloading off a URL cannot fetch an extension; and with the configuration
    /// locked no statement can turn any of that back on, nor raise the memory, thread or spill limits.
    /// </summary>
    internal static async Task<DuckDBConnection> OpenSandboxAsync(IReadOnlyList<string> files, IReadOnlyList<Column> columns, Action<QueryNotice> notice,
        CancellationToken cancellationToken)
    {
        DuckDBConnection connection;
        try
        {
            EnsureNativeLibrary();
            connection = new DuckDBConnection("DataSource=:memory:");
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (EngineMissing(e) is { } missing)
        {
            throw missing;
        }
        try
        {
            Execute(connection, "SET autoinstall_known_extensions = false");
            Execute(connection, "SET autoload_known_extensions = false");
            Execute(connection, "SET allow_community_extensions = false");
            foreach (var statement in Setup) Execute(connection, statement);
            Execute(connection, $"SET temp_directory = {SqlTokenizer.Literal(WorkFolders.Get("duckdb-spill", notice))}");
            Execute(connection, "SET memory_limit = '1GB'");

            var flat = columns.SelectMany(c => c.Flat).ToList();
            // A query that names only fields a struct does not have still needs a table with a column.
            if (flat.Count == 0) flat.AddRange(Columns[0].Flat);
            var cache = await ParsedCache.OpenOrBuildAsync(connection, files, flat, notice, cancellationToken).ConfigureAwait(false);
            Execute(connection, $"CREATE VIEW trail_events AS SELECT * FROM {cache}");
            Execute(connection, $"CREATE VIEW {TableName} AS SELECT {string.Join(", ", columns.Select(c => $"{c.Expression} AS {c.Name}"))} FROM trail_events");

            Execute(connection, "SET enable_external_access = false");
            Execute(connection, "SET lock_configuration = true");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Set by the module's load context (GuardDutyIR.Commands.Loading.DuckDbLibraryLocator.ProblemKey).</summary>
    internal const string NativeLibraryProblemKey = "GuardDutyIR.DuckDB.Problem";

    /// <summary>
    /// DuckDB's native library ships per platform (runtimes/&lt;rid&gt;/native). The gallery package, the Lambda layer and
    /// the automation package leave it out, so a local query there must say what to install (the module's load context
    /// leaves its search result in AppContext data), not what the native loader searched.
    /// </summary>
    /// <summary>
    /// Loads DuckDB's native library the way DuckDB.NET's P/Invoke would (the assembly's load context included) before
    /// any DuckDB.NET type runs its static initializer. A static initializer that fails on a missing library leaves its
    /// type broken for the life of the process, and a module installed without the library once held a later query (the
    /// Lab's, in the same process) in the runtime's class initialization for good; checked first, nothing is touched.
    /// </summary>
    private static void EnsureNativeLibrary()
    {
        // Once loaded it stays loaded: later queries skip the search (a failure is tried again, the library may have
        // been installed meanwhile).
        if (_nativeLibraryLoaded) return;
        if (!System.Runtime.InteropServices.NativeLibrary.TryLoad("duckdb", typeof(DuckDBConnection).Assembly, null, out _))
            throw new DllNotFoundException("DuckDB's native library (duckdb) could not be loaded.");
        _nativeLibraryLoaded = true;
    }

    private static volatile bool _nativeLibraryLoaded;

    internal static GuardDutyIRException? EngineMissing(Exception e) => e switch
    {
        DllNotFoundException => new GuardDutyIRException("LocalQueryEngineUnavailable", ErrorKind.ResourceUnavailable,
            (AppContext.GetData(NativeLibraryProblemKey) as string
                ?? $"Local queries (-Path, -S3Uri) run on DuckDB, whose native library for {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier} " +
                   "is not in this copy of GuardDutyIR.") +
            " CloudTrail Lake (-EventDataStore) and Athena (-Athena) need no local engine.", "duckdb", e),
        TypeInitializationException { InnerException: { } inner } => EngineMissing(inner),
        _ => null,
    };

    /// <summary>
    /// Refuses anything but one SELECT, as DuckDB's own parser reads the text (json_serialize_sql serializes SELECT
    /// statements only), so no quoting, comment or syntax the text checks do not know can slip a second statement or a
    /// COPY, ATTACH, SET or PRAGMA past them.
    /// </summary>
    internal static void CheckOneSelect(DuckDBConnection connection, string sql, string shown)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT json_extract(j, '$.error')::BOOLEAN, json_extract_string(j, '$.error_type'), json_extract_string(j, '$.error_message'), " +
            $"coalesce(json_array_length(j, '$.statements'), 0) FROM (SELECT json_serialize_sql({SqlTokenizer.Literal(sql)}) AS j)";
        using var reader = command.ExecuteReader();
        reader.Read();
        if (reader.GetBoolean(0))
        {
            var type = reader.IsDBNull(1) ? "" : reader.GetString(1);
            var message = reader.IsDBNull(2) ? "" : reader.GetString(2);
            if (type == "not implemented" || message.Contains("Only SELECT", StringComparison.Ordinal))
                throw new GuardDutyIRException("QueryNotSelect", ErrorKind.InvalidArgument, "Only SELECT queries can be run (CloudTrail Lake and Athena allow nothing else).", shown);
            throw new GuardDutyIRException("QueryFailed", ErrorKind.InvalidArgument, "The query failed: " + message.Split('\n')[0], shown);
        }
        var statements = System.Convert.ToInt64(reader.GetValue(3), System.Globalization.CultureInfo.InvariantCulture);
        if (statements != 1)
            throw new GuardDutyIRException(statements == 0 ? "QueryEmpty" : "QueryMultipleStatements", ErrorKind.InvalidArgument,
                statements == 0 ? "The query is empty." : "Run one query at a time.", shown);
    }

    // DuckDB says "Permission Error" when the locked engine refuses a file, URL or extension.
    private static GuardDutyIRException QueryError(DuckDBException e, string shown)
    {
        var first = e.Message.Split('\n')[0];
        return first.StartsWith("Permission Error", StringComparison.Ordinal)
            ? new GuardDutyIRException("QueryFileAccess", ErrorKind.InvalidArgument,
                "Local queries read the CloudTrail table (EDS_ID) only; files, URLs and extensions are closed to them. " + first, shown, e)
            : new GuardDutyIRException("QueryFailed", ErrorKind.InvalidArgument, "The query failed: " + first, shown, e);
    }

    /// <summary>
    /// The parsed fields of a set of trail files, kept as a DuckDB database in the user's private work folder so that
    /// the next queries of an investigation over the same files read columns instead of parsing JSON again. The key
    /// covers each file's path, size and modification time and the fields kept, so a changed file or a query needing
    /// other fields builds a new one. Files skipped as malformed are remembered and reported again. Entries unused for
    /// 7 days are removed.
    /// </summary>
    internal static class ParsedCache
    {
        private const int FormatVersion = 2;
        private static readonly TimeSpan KeepFor = TimeSpan.FromDays(7);

        /// <summary>Attaches the cache for these files and fields (building it first if needed); returns the table to read.</summary>
        /// <summary>Tests only: runs just before the cache entry is attached (to stand in for another process clearing it).</summary>
        internal static readonly AsyncLocal<Action<string>?> BeforeAttach = new();

        public static async Task<string> OpenOrBuildAsync(DuckDBConnection connection, IReadOnlyList<string> files, IReadOnlyList<FlatColumn> flat,
            Action<QueryNotice> notice, CancellationToken cancellationToken)
        {
            var folder = WorkFolders.Get("trail-cache", notice);
            Prune(folder);
            var path = Path.Combine(folder, Key(files, flat) + ".duckdb");
            // The folder is shared by the user's processes: another one may prune or clear an entry between our check
            // and our open. A vanished entry (or build file) is built again, once.
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    if (!File.Exists(path)) await BuildAsync(path, files, flat, notice, cancellationToken).ConfigureAwait(false);
                    else File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
                    BeforeAttach.Value?.Invoke(path);
                    Execute(connection, $"ATTACH {SqlTokenizer.Literal(path)} AS parsed (READ_ONLY)");
                    break;
                }
                catch (Exception e) when (attempt == 0 && e is FileNotFoundException or DuckDBException && !File.Exists(path))
                {
                }
            }
            using (var skipped = connection.CreateCommand())
            {
                skipped.CommandText = "SELECT file, message FROM parsed.skipped_files";
                using var reader = skipped.ExecuteReader();
                while (reader.Read()) notice(new QueryNotice("TrailFileMalformed", $"Skipped '{reader.GetString(0)}': {reader.GetString(1)}", reader.GetString(0)));
            }
            if (!HasRows(connection))
                throw new GuardDutyIRException("NoReadableTrailFiles", ErrorKind.InvalidData, "None of the trail files could be read.", string.Join(", ", files.Take(5)));
            return "parsed.trail_events";
        }

        private static bool HasRows(DuckDBConnection connection)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM parsed.loaded_files";
            return System.Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
        }

        private static async Task BuildAsync(string path, IReadOnlyList<string> files, IReadOnlyList<FlatColumn> flat, Action<QueryNotice> notice,
            CancellationToken cancellationToken)
        {
            var building = path + "." + Guid.NewGuid().ToString("N") + ".building";
            try
            {
                using (var builder = new DuckDBConnection($"DataSource={building}"))
                {
                    builder.Open();
                    Execute(builder, "SET autoinstall_known_extensions = false");
                    Execute(builder, "SET autoload_known_extensions = false");
                    Execute(builder, $"SET temp_directory = {SqlTokenizer.Literal(WorkFolders.Get("duckdb-spill", notice))}");
                    Execute(builder, "SET memory_limit = '1GB'");
                    // FSST's analysis of every string column costs about a fifth of appending (2,000,000 rows of three
                    // strings: 1.1-1.2 s of CPU with it, 0.9 s without); dictionary compression, which the repetitive
                    // fields of trail logs need most, stays on.
                    Execute(builder, "SET disabled_compression_methods = 'fsst'");
                    Execute(builder, $"CREATE TABLE trail_events ({string.Join(", ", flat.Select(f => $"{f.Name} {f.DuckDbType}"))})");
                    Execute(builder, "CREATE TABLE skipped_files (file VARCHAR, message VARCHAR)");
                    Execute(builder, "CREATE TABLE loaded_files (file VARCHAR)");
                    var skipped = new List<(string File, string Message)>();
                    var loaded = await TrailTableLoader.LoadAsync(builder, "trail_events", files, flat, (i, e) => skipped.Add((files[i], e.Message)), cancellationToken)
                        .ConfigureAwait(false);
                    using (var appender = builder.CreateAppender("skipped_files"))
                        foreach (var (file, message) in skipped) appender.CreateRow().AppendValue(file).AppendValue(message).EndRow();
                    using (var appender = builder.CreateAppender("loaded_files"))
                        foreach (var i in loaded) appender.CreateRow().AppendValue(files[i]).EndRow();
                }
                // Another query may have built the same entry meanwhile; either copy is right.
                try { File.Move(building, path, overwrite: false); }
                catch (IOException) when (File.Exists(path)) { }
            }
            finally
            {
                TryDelete(building);
                TryDelete(building + ".wal");
            }
        }

        private static string Key(IReadOnlyList<string> files, IReadOnlyList<FlatColumn> flat)
        {
            var text = new StringBuilder().Append(FormatVersion).Append('|').AppendJoin(',', flat.Select(f => f.Name + ":" + f.DuckDbType));
            foreach (var file in files.OrderBy(f => f, StringComparer.Ordinal))
            {
                var info = new FileInfo(file);
                text.Append('|').Append(info.FullName).Append(':').Append(info.Exists ? info.Length : -1).Append(':').Append(info.Exists ? info.LastWriteTimeUtc.Ticks : 0);
            }
            return System.Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..40];
        }

        private static void Prune(string folder)
        {
            foreach (var old in Directory.EnumerateFiles(folder).Where(f => File.GetLastWriteTimeUtc(f) < DateTime.UtcNow - KeepFor)) TryDelete(old);
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static void Execute(DuckDBConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var registration = cancellationToken.CanBeCanceled ? cancellationToken.Register(command.Cancel) : default;
        try
        {
            command.ExecuteNonQuery();
        }
        catch (DuckDBException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    // DuckDB hands back BIGINT as long, HUGEINT as BigInteger, DECIMAL as decimal, TIMESTAMP as DateTime, MAP as
    // Dictionary, LIST as List, STRUCT as Dictionary<string, object>.
    private static object? Convert(object value) => value switch
    {
        System.Numerics.BigInteger big => big >= long.MinValue && big <= long.MaxValue ? (long)big : (object)(decimal)big,
        DateTime t => DateTime.SpecifyKind(t, DateTimeKind.Utc),
        _ => value,
    };

    private static string Text(object value) => value switch
    {
        DateTime t => t.ToString("yyyy-MM-dd HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        System.Collections.IDictionary d => "{" + string.Join(", ", d.Keys.Cast<object>().Select(k => $"{k}={d[k]}")) + "}",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
