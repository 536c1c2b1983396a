using System.Text;
using System.Text.Json;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>CloudTrail over json-1.1: PascalCase members, epoch-second timestamps.</summary>
public sealed class CloudTrailClient : ServiceClientBase
{
    internal CloudTrailClient(AwsProtocolClient client, string region) : base(client, region) { }

    /// <summary>Every event data store of the region, each as the raw JSON object of ListEventDataStores.</summary>
    public async IAsyncEnumerable<JsonObject> ListEventDataStoresAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? nextToken = null;
        do
        {
            var body = new JsonObject { ["MaxResults"] = 1000 };
            if (nextToken is not null) body["NextToken"] = nextToken;
            var page = await CallJson11Async("ListEventDataStores", body, cancellationToken).ConfigureAwait(false);
            foreach (var store in page["EventDataStores"]?.AsArray() ?? new JsonArray())
                if (store is JsonObject o) yield return o;
            nextToken = page["NextToken"]?.GetValue<string>();
        } while (!string.IsNullOrEmpty(nextToken));
    }

    /// <summary>GetEventDataStore: status, retention, selectors of one store (by ID or ARN).</summary>
    public Task<JsonObject> GetEventDataStoreAsync(string eventDataStore, CancellationToken cancellationToken = default) =>
        CallJson11Async("GetEventDataStore", new JsonObject { ["EventDataStore"] = eventDataStore }, cancellationToken);

    /// <summary>StartQuery: the store goes in the SQL's FROM; returns the query ID.</summary>
    public async Task<(string QueryId, string? RequestId)> StartQueryAsync(string sql, CancellationToken cancellationToken = default)
    {
        var response = await CallJson11WithIdAsync("StartQuery", new JsonObject { ["QueryStatement"] = sql }, cancellationToken).ConfigureAwait(false);
        return (response.Body["QueryId"]?.GetValue<string>()
            ?? throw new GuardDutyIRException("MalformedServiceResponse", ErrorKind.InvalidData, "StartQuery answered without a QueryId.", sql), response.RequestId);
    }

    /// <summary>DescribeQuery: QueryStatus (QUEUED, RUNNING, FINISHED, FAILED, CANCELLED, TIMED_OUT), statistics and error message.</summary>
    public Task<JsonObject> DescribeQueryAsync(string queryId, CancellationToken cancellationToken = default) =>
        CallJson11Async("DescribeQuery", new JsonObject { ["QueryId"] = queryId }, cancellationToken);

    /// <summary>
    /// One page of GetQueryResults as the answer's bytes, to be read by <see cref="ReadResultPage"/> (so the next page
    /// can be asked for before this one is read, when <see cref="PageTokens.Find"/> finds its token).
    /// </summary>
    public Task<byte[]> GetQueryResultsBodyAsync(string queryId, string? nextToken, int maxResults, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["QueryId"] = queryId, ["MaxQueryResults"] = Math.Clamp(maxResults, 1, 1000) };
        if (nextToken is not null) body["NextToken"] = nextToken;
        return CallJson11BytesAsync("GetQueryResults", body, cancellationToken);
    }

    /// <summary>
    /// One page of GetQueryResults read straight into rows: each row its columns and values in SELECT order, as the
    /// answer's one-key objects give them.
    /// </summary>
    public async Task<LakeResultPage> GetQueryResultRowsAsync(string queryId, string? nextToken, int maxResults, CancellationToken cancellationToken = default) =>
        ReadResultPage(await GetQueryResultsBodyAsync(queryId, nextToken, maxResults, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// A GetQueryResults answer, read in one pass (JSON that cannot be read is a malformed answer). Members may come
    /// in any order and unknown ones are passed over; of a repeated member the last counts. A row that is no array is
    /// a row of no cells; a cell gives its object's first key and value (numbers and booleans as their text, anything
    /// but a scalar as null); a cell that is no object, or an empty one, gives nothing (Lake leaves null columns out
    /// of a row).
    /// </summary>
    internal static LakeResultPage ReadResultPage(byte[] body) => ReadResultPage(body, null);

    /// <summary>The same, with the plain string cells that <paramref name="typed"/> makes something of as that value.</summary>
    internal static LakeResultPage ReadResultPage(byte[] body, TypedCell? typed) => ReadJson(body, b => Read(b, typed));

    private static LakeResultPage Read(byte[] body, TypedCell? typed)
    {
        var reader = new Utf8JsonReader(body);
        reader.Read();
        IReadOnlyList<LakeResultRow> rows = Array.Empty<LakeResultRow>();
        string? next = null;
        if (reader.TokenType != JsonTokenType.StartObject) reader.Skip();
        else
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var member = reader.ValueTextEquals("QueryResultRows"u8) ? 1 : reader.ValueTextEquals("NextToken"u8) ? 2 : 0;
                reader.Read();
                if (member == 1) rows = ReadRows(ref reader, body, typed);
                else if (member == 2) next = Text(ref reader);
                else reader.Skip();
            }
        // Anything after the answer's one value is not JSON: the reader throws on it.
        while (reader.Read()) { }
        return new LakeResultPage(rows, string.IsNullOrEmpty(next) ? null : next);
    }

    private static IReadOnlyList<LakeResultRow> ReadRows(ref Utf8JsonReader reader, byte[] body, TypedCell? typed)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return Array.Empty<LakeResultRow>();
        }
        var rows = new List<LakeResultRow>();
        // A query's rows name the same columns, in the same order, unless a null was left out: each row's names are
        // compared as bytes with the columns of the row before, and rows with the same names share one array of them.
        var columns = new LakeColumns();
        var names = new string[16];
        var cells = new RepeatedCells(body, typed);
        var values = new object?[16];
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                reader.Skip();
                rows.Add(new LakeResultRow(Array.Empty<string>(), Array.Empty<object?>()));
                continue;
            }
            var count = 0;
            var same = true;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }
                if (!reader.Read() || reader.TokenType != JsonTokenType.PropertyName) continue;   // {}: no cell
                if (count == names.Length)
                {
                    Array.Resize(ref names, count * 2);
                    Array.Resize(ref values, count * 2);
                }
                if (same && columns.NameAt(count, ref reader) is { } known) names[count] = known;
                else
                {
                    names[count] = reader.GetString()!;
                    same = false;
                }
                reader.Read();
                values[count] = cells.Value(ref reader, count);
                count++;
                // Only the first key of a cell counts; the rest of the object is passed over.
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject) reader.Skip();
            }
            var row = same && count == columns.Current.Length ? columns.Current : columns.Use(names.AsSpan(0, count));
            rows.Add(new LakeResultRow(row, values.AsSpan(0, count).ToArray()));
        }
        return rows;
    }

    /// <summary>The column lists seen in one page: the one in use (with its names as UTF-8 to compare against) and the others.</summary>
    private sealed class LakeColumns
    {
        private readonly List<string[]> _seen = new();
        private byte[][] _utf8 = Array.Empty<byte[]>();

        public string[] Current { get; private set; } = Array.Empty<string>();

        /// <summary>The current list's name at <paramref name="index"/> when the reader's property name is that name.</summary>
        public string? NameAt(int index, ref Utf8JsonReader reader) =>
            index < _utf8.Length && reader.ValueTextEquals(_utf8[index]) ? Current[index] : null;

        /// <summary>Makes the list of these names current: one seen before in this page, or a new one.</summary>
        public string[] Use(ReadOnlySpan<string> names)
        {
            string[]? list = null;
            foreach (var seen in _seen)
                if (names.SequenceEqual(seen)) { list = seen; break; }
            if (list is null) _seen.Add(list = names.ToArray());
            if (!ReferenceEquals(list, Current))
            {
                Current = list;
                _utf8 = list.Select(n => Encoding.UTF8.GetBytes(n)).ToArray();
            }
            return list;
        }
    }

    public Task<JsonObject> CancelQueryAsync(string queryId, CancellationToken cancellationToken = default) =>
        CallJson11Async("CancelQuery", new JsonObject { ["QueryId"] = queryId }, cancellationToken);

    /// <summary>One page of LookupEvents: management events of the last 90 days, one lookup attribute.</summary>
    public Task<JsonObject> LookupEventsPageAsync(string attributeKey, string attributeValue, DateTime? start, DateTime? end, string? nextToken,
        CancellationToken cancellationToken = default)
    {
        var body = new JsonObject
        {
            ["LookupAttributes"] = new JsonArray(new JsonObject { ["AttributeKey"] = attributeKey, ["AttributeValue"] = attributeValue }),
            ["MaxResults"] = 50,
        };
        if (start is { } s) body["StartTime"] = new DateTimeOffset(s.ToUniversalTime()).ToUnixTimeSeconds();
        if (end is { } e) body["EndTime"] = new DateTimeOffset(e.ToUniversalTime()).ToUnixTimeSeconds();
        if (nextToken is not null) body["NextToken"] = nextToken;
        return CallJson11Async("LookupEvents", body, cancellationToken);
    }
}

/// <summary>A CloudTrail Lake result page: its rows in order, and the token of the next page.</summary>
public sealed record LakeResultPage(IReadOnlyList<LakeResultRow> Rows, string? NextToken);

/// <summary>
/// One Lake result row: its columns in SELECT order (rows of a page with the same names share one list) and each
/// column's value as the answer gave it, a string or null (or what the page's reader was asked to make of a string).
/// The values are objects so that a reader can replace them by typed values in place.
/// </summary>
public readonly record struct LakeResultRow(IReadOnlyList<string> Columns, object?[] Values);
