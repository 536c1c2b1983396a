using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>Athena over json-1.1 (target prefix AmazonAthena).</summary>
public sealed class AthenaClient : ServiceClientBase
{
    internal AthenaClient(AwsProtocolClient client, string region) : base(client, region) { }

    public async Task<(string QueryExecutionId, string? RequestId)> StartQueryExecutionAsync(string sql, string? database, string? catalog, string? workGroup,
        string? outputLocation, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["QueryString"] = sql, ["ClientRequestToken"] = Guid.NewGuid().ToString() };
        if (database is not null || catalog is not null)
        {
            var context = new JsonObject();
            if (database is not null) context["Database"] = database;
            if (catalog is not null) context["Catalog"] = catalog;
            body["QueryExecutionContext"] = context;
        }
        if (workGroup is not null) body["WorkGroup"] = workGroup;
        if (outputLocation is not null) body["ResultConfiguration"] = new JsonObject { ["OutputLocation"] = outputLocation };
        var response = await CallJson11WithIdAsync("StartQueryExecution", body, cancellationToken).ConfigureAwait(false);
        return (response.Body["QueryExecutionId"]?.GetValue<string>()
            ?? throw new GuardDutyIRException("MalformedServiceResponse", ErrorKind.InvalidData, "StartQueryExecution answered without a QueryExecutionId.", sql), response.RequestId);
    }

    /// <summary>GetQueryExecution: the QueryExecution object (status, statistics, query text).</summary>
    public async Task<JsonObject> GetQueryExecutionAsync(string queryExecutionId, CancellationToken cancellationToken = default)
    {
        var response = await CallJson11Async("GetQueryExecution", new JsonObject { ["QueryExecutionId"] = queryExecutionId }, cancellationToken)
            .ConfigureAwait(false);
        return response["QueryExecution"] as JsonObject ?? new JsonObject();
    }

    /// <summary>
    /// One page of GetQueryResults as the answer's bytes, to be read by <see cref="ReadResultPage"/> (so the next page
    /// can be asked for before this one is read, when <see cref="PageTokens.Find"/> finds its token).
    /// </summary>
    public Task<byte[]> GetQueryResultsBodyAsync(string queryExecutionId, string? nextToken, int maxResults, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["QueryExecutionId"] = queryExecutionId, ["MaxResults"] = Math.Clamp(maxResults, 1, 1000) };
        if (nextToken is not null) body["NextToken"] = nextToken;
        return CallJson11BytesAsync("GetQueryResults", body, cancellationToken);
    }

    /// <summary>One page of GetQueryResults read straight into rows of cell text, with the page's ColumnInfo.</summary>
    public async Task<AthenaResultPage> GetQueryResultRowsAsync(string queryExecutionId, string? nextToken, int maxResults, CancellationToken cancellationToken = default) =>
        ReadResultPage(await GetQueryResultsBodyAsync(queryExecutionId, nextToken, maxResults, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// A GetQueryResults answer, read in one pass (JSON that cannot be read is a malformed answer). Members may come
    /// in any order (ColumnInfo after the rows too) and unknown ones are passed over; of a repeated member the last
    /// counts. A column is its Name ("" when missing) and Type ("varchar" when missing); a row is its Data cells, each
    /// the VarCharValue's text or null (a cell that is no object holds a null too); a row without Data has no cells.
    /// </summary>
    internal static AthenaResultPage ReadResultPage(byte[] body) => ReadJson(body, Read);

    private static AthenaResultPage Read(byte[] body)
    {
        var reader = new Utf8JsonReader(body);
        reader.Read();
        IReadOnlyList<(string Name, string Type)> columns = Array.Empty<(string, string)>();
        IReadOnlyList<object?[]> rows = Array.Empty<object?[]>();
        string? next = null;
        if (reader.TokenType != JsonTokenType.StartObject) reader.Skip();
        else
            while (NextMember(ref reader))
            {
                if (reader.ValueTextEquals("ResultSet"u8))
                {
                    reader.Read();
                    (columns, rows) = ReadResultSet(ref reader, body);
                }
                else if (reader.ValueTextEquals("NextToken"u8))
                {
                    reader.Read();
                    next = Text(ref reader);
                }
                else SkipMember(ref reader);
            }
        // Anything after the answer's one value is not JSON: the reader throws on it.
        while (reader.Read()) { }
        return new AthenaResultPage(columns, rows, string.IsNullOrEmpty(next) ? null : next);
    }

    /// <summary>Moves to the next member's name of the object the reader is in; false at its end.</summary>
    private static bool NextMember(ref Utf8JsonReader reader) => reader.Read() && reader.TokenType == JsonTokenType.PropertyName;

    /// <summary>Passes over the value of the member whose name the reader stands on.</summary>
    private static void SkipMember(ref Utf8JsonReader reader)
    {
        reader.Read();
        reader.Skip();
    }

    private static (IReadOnlyList<(string Name, string Type)> Columns, IReadOnlyList<object?[]> Rows) ReadResultSet(ref Utf8JsonReader reader, byte[] body)
    {
        IReadOnlyList<(string Name, string Type)> columns = Array.Empty<(string, string)>();
        IReadOnlyList<object?[]> rows = Array.Empty<object?[]>();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return (columns, rows);
        }
        while (NextMember(ref reader))
        {
            if (reader.ValueTextEquals("ResultSetMetadata"u8))
            {
                reader.Read();
                columns = Array.Empty<(string, string)>();
                if (reader.TokenType != JsonTokenType.StartObject) reader.Skip();
                else
                    while (NextMember(ref reader))
                        if (reader.ValueTextEquals("ColumnInfo"u8))
                        {
                            reader.Read();
                            columns = ReadColumns(ref reader);
                        }
                        else SkipMember(ref reader);
            }
            else if (reader.ValueTextEquals("Rows"u8))
            {
                reader.Read();
                rows = ReadRows(ref reader, body);
            }
            else SkipMember(ref reader);
        }
        return (columns, rows);
    }

    private static IReadOnlyList<(string Name, string Type)> ReadColumns(ref Utf8JsonReader reader)
    {
        var columns = new List<(string Name, string Type)>();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return columns;
        }
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }
            string? name = null, type = null;
            while (NextMember(ref reader))
            {
                if (reader.ValueTextEquals("Name"u8))
                {
                    reader.Read();
                    name = Text(ref reader);
                }
                else if (reader.ValueTextEquals("Type"u8))
                {
                    reader.Read();
                    type = Text(ref reader);
                }
                else SkipMember(ref reader);
            }
            columns.Add((name ?? "", type ?? "varchar"));
        }
        return columns;
    }

    private static IReadOnlyList<object?[]> ReadRows(ref Utf8JsonReader reader, byte[] body)
    {
        var rows = new List<object?[]>();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return rows;
        }
        var cells = new object?[16];
        var repeated = new RepeatedCells(body);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var count = 0;
            if (reader.TokenType != JsonTokenType.StartObject) reader.Skip();
            else
                while (NextMember(ref reader))
                {
                    if (!reader.ValueTextEquals("Data"u8))
                    {
                        SkipMember(ref reader);
                        continue;
                    }
                    reader.Read();
                    count = 0;   // of a repeated Data, the last counts
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        reader.Skip();
                        continue;
                    }
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (count == cells.Length) Array.Resize(ref cells, count * 2);
                        string? value = null;
                        if (reader.TokenType != JsonTokenType.StartObject) reader.Skip();
                        else
                            while (NextMember(ref reader))
                                if (reader.ValueTextEquals("VarCharValue"u8))
                                {
                                    reader.Read();
                                    value = (string?)repeated.Value(ref reader, count);
                                }
                                else SkipMember(ref reader);
                        cells[count++] = value;
                    }
                }
            rows.Add(count == 0 ? Array.Empty<object?>() : cells.AsSpan(0, count).ToArray());
        }
        return rows;
    }

    public Task<JsonObject> StopQueryExecutionAsync(string queryExecutionId, CancellationToken cancellationToken = default) =>
        CallJson11Async("StopQueryExecution", new JsonObject { ["QueryExecutionId"] = queryExecutionId }, cancellationToken);
}

/// <summary>
/// An Athena result page: the columns (name, Presto/Trino type), rows of cell text (each a string or null, in an object
/// array so that a reader can replace them by typed values in place), and the token of the next page.
/// </summary>
public sealed record AthenaResultPage(IReadOnlyList<(string Name, string Type)> Columns, IReadOnlyList<object?[]> Rows, string? NextToken);
