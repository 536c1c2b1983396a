using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using DuckDB.NET.Data;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// Runs CloudTrail Lake SQL over local trail log files with the embedded DuckDB engine. The files are read in place
/// (gzip or plain, each a {"Records":[...]} object) through a view with the Lake schema's column names and types, so
/// the workshop's queries run unchanged. DuckDB streams and aggregates without loading every event, which keeps
/// memory bounded on large inputs. This class is the only one that touches DuckDB, so nothing loads it until a
/// local query runs.
/// </summary>
public static partial class LocalTrailEngine
{
    public const string TableName = "cloudtrail";

    // One Lake column: its name, the CloudTrail record field(s) it is read from (typed for read_json; keys as CloudTrail
    // writes them, since JSON matching is case-sensitive) and its expression in the view. DuckDB resolves struct fields
    // case-insensitively, so useridentity.principalid finds principalId.
    private sealed record Column(string Name, string Fields, string Expression);

    private const string UserIdentityType =
        "STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, accessKeyId VARCHAR, userName VARCHAR, invokedBy VARCHAR, identityProvider VARCHAR, " +
        "sessionContext STRUCT(attributes STRUCT(creationDate VARCHAR, mfaAuthenticated VARCHAR), " +
        "sessionIssuer STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, userName VARCHAR), ec2RoleDelivery VARCHAR, sourceIdentity VARCHAR))";

    private static readonly Column[] Columns =
    {
        new("eventversion", "eventVersion VARCHAR", "r.eventVersion"),
        new("useridentity", "userIdentity " + UserIdentityType, "r.userIdentity"),
        new("eventtime", "eventTime VARCHAR", "try_cast(try_cast(r.eventTime AS TIMESTAMPTZ) AS TIMESTAMP)"),
        new("eventsource", "eventSource VARCHAR", "r.eventSource"),
        new("eventname", "eventName VARCHAR", "r.eventName"),
        new("awsregion", "awsRegion VARCHAR", "r.awsRegion"),
        new("sourceipaddress", "sourceIPAddress VARCHAR", "r.sourceIPAddress"),
        new("useragent", "userAgent VARCHAR", "r.userAgent"),
        new("errorcode", "errorCode VARCHAR", "r.errorCode"),
        new("errormessage", "errorMessage VARCHAR", "r.errorMessage"),
        new("requestparameters", "requestParameters JSON", "gdir_json_to_map(r.requestParameters)"),
        new("responseelements", "responseElements JSON", "gdir_json_to_map(r.responseElements)"),
        new("additionaleventdata", "additionalEventData JSON", "gdir_json_to_map(r.additionalEventData)"),
        new("requestid", "requestID VARCHAR", "r.requestID"),
        new("eventid", "eventID VARCHAR", "r.eventID"),
        new("readonly", "readOnly BOOLEAN", "r.readOnly"),
        new("resources", "resources STRUCT(ARN VARCHAR, accountId VARCHAR, type VARCHAR)[]", "r.resources"),
        new("eventtype", "eventType VARCHAR", "r.eventType"),
        new("apiversion", "apiVersion VARCHAR", "r.apiVersion"),
        new("managementevent", "managementEvent BOOLEAN", "r.managementEvent"),
        new("recipientaccountid", "recipientAccountId VARCHAR", "r.recipientAccountId"),
        new("sharedeventid", "sharedEventID VARCHAR", "r.sharedEventID"),
        new("vpcendpointid", "vpcEndpointId VARCHAR", "r.vpcEndpointId"),
        new("vpcendpointaccountid", "vpcEndpointAccountId VARCHAR", "r.vpcEndpointAccountId"),
        new("serviceeventdetails", "serviceEventDetails JSON", "r.serviceEventDetails::VARCHAR"),
        new("eventcategory", "eventCategory VARCHAR", "r.eventCategory"),
        new("tlsdetails", "tlsDetails STRUCT(tlsVersion VARCHAR, cipherSuite VARCHAR, clientProvidedHostHeader VARCHAR)", "r.tlsDetails"),
        new("sessioncredentialfromconsole", "sessionCredentialFromConsole VARCHAR", "r.sessionCredentialFromConsole"),
        new("addendum", "addendum JSON", "r.addendum::VARCHAR"),
        new("edgedevicedetails", "edgeDeviceDetails JSON", "r.edgeDeviceDetails::VARCHAR"),
        new("insightdetails", "insightDetails JSON", "r.insightDetails::VARCHAR"),
    };

    /// <summary>
    /// The Lake columns a query mentions. Parsing a JSON field costs time even when no one reads it, so the view
    /// reads only these (all of them for "*" or an unknown reference).
    /// </summary>
    private static IReadOnlyList<Column> ColumnsUsedBy(string sql)
    {
        var tokens = SqlTokenizer.Tokenize(sql);
        if (tokens.Any(t => t.IsSymbol("*") && IsSelectStar(tokens, t))) return Columns;
        var words = new HashSet<string>(tokens.Where(t => t.Kind == SqlTokenKind.Identifier).Select(t => t.Text.Split('.')[0]), StringComparer.OrdinalIgnoreCase);
        var used = Columns.Where(c => words.Contains(c.Name)).ToList();
        return used.Count == 0 ? new[] { Columns[0] } : used;
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

    [GeneratedRegex("in file \"([^\"]+)\"")]
    private static partial Regex FileInError();

    /// <summary>
    /// Runs one query. Malformed files are reported through <paramref name="notice"/> and left out; the rest still
    /// answers. Rows are yielded as DuckDB produces them.
    /// </summary>
    public static async IAsyncEnumerable<QueryRow> RunAsync(string lakeSql, IReadOnlyList<string> files, bool raw, Action<QueryNotice> notice,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var sql = QueryTranslator.Translate(lakeSql, QueryBackend.Local, TableName);
        var included = files.ToList();
        using var connection = new DuckDBConnection("DataSource=:memory:");
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        foreach (var statement in Setup) Execute(connection, statement);

        while (true)
        {
            if (included.Count == 0)
                throw new GuardDutyIRException("NoReadableTrailFiles", ErrorKind.InvalidData, "None of the trail files could be read.", string.Join(", ", files.Take(5)));
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            // Ctrl+C interrupts DuckDB mid-scan (duckdb_interrupt), not only between rows.
            using var registration = cancellationToken.Register(command.Cancel);
            DuckDBDataReader reader;
            try
            {
                // Creating the view already samples the files, so a malformed one can surface here too.
                CreateView(connection, included, ColumnsUsedBy(sql));
                reader = (DuckDBDataReader)await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DuckDBException e) when (FileInError().Match(e.Message) is { Success: true } m && included.Contains(m.Groups[1].Value))
            {
                // One bad file must not sink the investigation: leave it out, say so, and run again.
                var bad = m.Groups[1].Value;
                included.Remove(bad);
                notice(new QueryNotice("TrailFileMalformed", $"Skipped '{bad}': {e.Message.Split('\n')[0]}", bad));
                continue;
            }
            catch (DuckDBException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
            catch (DuckDBException e)
            {
                throw new GuardDutyIRException("QueryFailed", ErrorKind.InvalidArgument, "The query failed: " + e.Message.Split('\n')[0], lakeSql, e);
            }
            using (reader)
            {
                var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
                while (true)
                {
                    bool more;
                    try
                    {
                        more = reader.Read();
                    }
                    catch (DuckDBException e) when (FileInError().Match(e.Message) is { Success: true } m && included.Contains(m.Groups[1].Value))
                    {
                        throw new GuardDutyIRException("TrailFileMalformed", ErrorKind.InvalidData,
                            $"'{m.Groups[1].Value}' could not be read while results were streaming: {e.Message.Split('\n')[0]}. Remove it and run again.", m.Groups[1].Value, e);
                    }
                    catch (Exception) when (cancellationToken.IsCancellationRequested)
                    {
                        throw new OperationCanceledException(cancellationToken);
                    }
                    if (!more) break;
                    var values = new object?[columns.Count];
                    for (var i = 0; i < values.Length; i++)
                        values[i] = reader.IsDBNull(i) ? null : raw ? Text(reader.GetValue(i)) : Convert(reader.GetValue(i));
                    yield return new QueryRow(columns, values);
                }
            }
            yield break;
        }
    }

    private static void CreateView(DuckDBConnection connection, IReadOnlyList<string> files, IReadOnlyList<Column> columns)
    {
        var list = "[" + string.Join(", ", files.Select(SqlTokenizer.Literal)) + "]";
        var recordType = "STRUCT(" + string.Join(", ", columns.Select(c => c.Fields)) + ")[]";
        var select = string.Join(", ", columns.Select(c => $"{c.Expression} AS {c.Name}"));
        Execute(connection,
            $"CREATE OR REPLACE VIEW {TableName} AS SELECT {select} FROM (SELECT unnest(Records) AS r FROM read_json({list}, " +
            $"columns = {{Records: '{recordType}'}}, format = 'auto', maximum_object_size = 1073741824))");
    }

    private static void Execute(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
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
