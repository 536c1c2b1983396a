using System.Buffers;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>One flat column the reader extracts from every CloudTrail record.</summary>
internal sealed record FlatColumn(string Name, string DuckDbType, string[] JsonPath, FlatKind Kind)
{
    /// <summary>The path as UTF-8, so property names are compared without allocating a string per property.</summary>
    public byte[][] Utf8Path { get; } = JsonPath.Select(Encoding.UTF8.GetBytes).ToArray();
}

internal enum FlatKind
{
    /// <summary>A string (numbers and booleans written as their JSON text).</summary>
    Text,
    /// <summary>An ISO-8601 time, as a UTC DateTime.</summary>
    Time,
    /// <summary>true/false (or "true"/"false").</summary>
    Boolean,
    /// <summary>Any JSON value kept as its raw JSON text (objects, arrays).</summary>
    Json,
}

/// <summary>
/// Reads CloudTrail log files ({"Records":[...]}, gzip or plain) with Utf8JsonReader, keeping only the fields a query
/// needs. No DOM is built: values not asked for are skipped, objects asked for as JSON are sliced from the buffer.
/// </summary>
internal static class TrailFileReader
{
    private static readonly byte[] RecordsName = Encoding.UTF8.GetBytes("Records");

    /// <summary>The rows of one file, one value per column (null where the record lacks the field).</summary>
    public static List<object?[]> Read(string path, IReadOnlyList<FlatColumn> columns)
    {
        var bytes = Load(path);
        var rows = new List<object?[]>();
        var all = Enumerable.Range(0, columns.Count).ToArray();
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("The file is not a JSON object with a Records array.");
        var found = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals(RecordsName))
            {
                reader.Read();
                reader.Skip();
                continue;
            }
            found = true;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray) throw new JsonException("Records is not an array.");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); continue; }
                var row = new object?[columns.Count];
                ReadObject(ref reader, bytes, columns, row, depth: 0, all);
                rows.Add(row);
            }
        }
        if (!found) throw new JsonException("The file has no Records array.");
        return rows;
    }

    private static byte[] Load(string path)
    {
        using var file = File.OpenRead(path);
        if (!path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) return ReadAll(file, file.Length);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        return ReadAll(gz, file.Length * 8);
    }

    private static byte[] ReadAll(Stream stream, long sizeHint)
    {
        using var buffer = new MemoryStream((int)Math.Min(Math.Max(sizeHint, 4096), 256L * 1024 * 1024));
        stream.CopyTo(buffer);
        return buffer.GetBuffer().AsSpan(0, (int)buffer.Length).ToArray();
    }

    // Walks one object; the reader is on its StartObject and ends on its EndObject. Only the columns whose path
    // matched so far (candidates) are compared at this depth.
    private static void ReadObject(ref Utf8JsonReader reader, byte[] bytes, IReadOnlyList<FlatColumn> columns, object?[] row, int depth, int[] candidates)
    {
        Span<int> deeper = stackalloc int[candidates.Length];
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var matched = -1;
            var deeperCount = 0;
            foreach (var c in candidates)
            {
                var path = columns[c].Utf8Path;
                if (!reader.ValueTextEquals(path[depth])) continue;
                if (path.Length == depth + 1) { matched = c; break; }
                deeper[deeperCount++] = c;
            }
            reader.Read();
            if (matched >= 0)
            {
                row[matched] = Value(ref reader, bytes, columns[matched].Kind);
                continue;
            }
            if (deeperCount > 0 && reader.TokenType == JsonTokenType.StartObject)
            {
                ReadObject(ref reader, bytes, columns, row, depth + 1, deeper[..deeperCount].ToArray());
                continue;
            }
            reader.Skip();
        }
    }

    private static object? Value(ref Utf8JsonReader reader, byte[] bytes, FlatKind kind)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                var json = Encoding.UTF8.GetString(bytes, start, (int)reader.BytesConsumed - start);
                return kind == FlatKind.Json ? json : json;
            case JsonTokenType.True or JsonTokenType.False:
                var b = reader.TokenType == JsonTokenType.True;
                return kind == FlatKind.Boolean ? b : b ? "true" : "false";
            case JsonTokenType.Number:
                var number = Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan);
                return kind == FlatKind.Json ? number : number;
            default:
                var text = reader.GetString();
                return kind switch
                {
                    FlatKind.Time => reader.TryGetDateTime(out var t) ? t.ToUniversalTime() : null,
                    FlatKind.Boolean => text is null ? null : bool.TryParse(text, out var parsed) ? parsed : null,
                    FlatKind.Json => text is null ? null : JsonSerializer.Serialize(text),
                    _ => text,
                };
        }
    }
}
