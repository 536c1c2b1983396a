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
/// Reads CloudTrail log files ({"Records":[...]}, gzip or plain) as a stream with Utf8JsonReader, keeping only the
/// fields a query needs and handing each record on as soon as it is read. No DOM is built and no file is held whole:
/// a file costs one buffer, which grows only as far as the record being read needs, up to <see cref="MaxRecordBytes"/>,
/// so an endless file or an endless record cannot take the machine's memory. Values not asked for are skipped; objects
/// asked for as JSON are sliced from the buffer.
/// </summary>
internal static class TrailFileReader
{
    /// <summary>
    /// The largest record read. CloudTrail's largest events are 1 MB (MaxEventSize Large,
    /// https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutEventConfiguration.html), so a record
    /// sixteen times that size is not a CloudTrail event.
    /// </summary>
    public const int MaxRecordBytes = 16 * 1024 * 1024;

    private const int InitialBufferBytes = 1 << 16;
    private static readonly byte[] RecordsName = Encoding.UTF8.GetBytes("Records");
    private static readonly JsonReaderOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Reads one file, handing each record's row (one value per column, null where absent) to <paramref name="onRow"/>.</summary>
    /// <returns>The number of records read.</returns>
    public static long Read(string path, IReadOnlyList<FlatColumn> columns, Action<object?[]> onRow, CancellationToken cancellationToken)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, InitialBufferBytes, FileOptions.SequentialScan);
        using var input = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
        return Read(input, columns, onRow, cancellationToken);
    }

    /// <summary>Reads one log file's JSON from a stream (see <see cref="Read(string, IReadOnlyList{FlatColumn}, Action{object?[]}, CancellationToken)"/>).</summary>
    internal static long Read(Stream input, IReadOnlyList<FlatColumn> columns, Action<object?[]> onRow, CancellationToken cancellationToken,
        int maxRecordBytes = MaxRecordBytes) =>
        new Parser(input, columns, onRow, cancellationToken, maxRecordBytes).Run();

    /// <summary>
    /// The incremental reader of one file. Each pass reads as many whole tokens as the buffer holds; a record (or any
    /// other value) cut by the buffer's end is read again from its start once more bytes have arrived, so a record is
    /// always parsed from contiguous memory and the buffer only needs to hold the largest one.
    /// </summary>
    private sealed class Parser(Stream input, IReadOnlyList<FlatColumn> columns, Action<object?[]> onRow, CancellationToken cancellationToken, int maxRecordBytes)
    {
        private enum Phase { Start, Property, RecordsArray, Records, Done }

        private readonly int[] _all = Enumerable.Range(0, columns.Count).ToArray();
        private byte[] _buffer = new byte[Math.Min(InitialBufferBytes, maxRecordBytes)];
        private int _start;
        private int _end;
        private bool _final;
        private JsonReaderState _state = new(Options);
        private Phase _phase;
        private bool _found;
        private long _count;

        public long Run()
        {
            Fill();
            if (_end >= 3 && _buffer[0] == 0xEF && _buffer[1] == 0xBB && _buffer[2] == 0xBF) _start = 3;   // a UTF-8 byte order mark
            while (true)
            {
                var data = new ReadOnlySpan<byte>(_buffer, _start, _end - _start);
                var reader = new Utf8JsonReader(data, _final, _state);
                Advance(ref reader, data);
                _start += (int)reader.BytesConsumed;
                _state = reader.CurrentState;
                if (_phase == Phase.Done) return _count;
                if (_final) throw new JsonException(_phase == Phase.Start ? "The file is empty." : "The file ends inside its JSON.");
                Fill();
            }
        }

        private void Advance(ref Utf8JsonReader reader, ReadOnlySpan<byte> data)
        {
            while (true)
            {
                var before = reader;
                switch (_phase)
                {
                    case Phase.Start:
                        if (!reader.Read()) return;
                        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("The file is not a JSON object with a Records array.");
                        _phase = Phase.Property;
                        break;
                    case Phase.Property:
                        if (!reader.Read()) return;
                        if (reader.TokenType == JsonTokenType.EndObject)
                        {
                            if (!_found) throw new JsonException("The file has no Records array.");
                            _phase = Phase.Done;
                            return;
                        }
                        if (reader.ValueTextEquals(RecordsName))
                        {
                            _found = true;
                            _phase = Phase.RecordsArray;
                        }
                        else if (!reader.Read() || !reader.TrySkip())
                        {
                            reader = before;
                            return;
                        }
                        break;
                    case Phase.RecordsArray:
                        if (!reader.Read()) return;
                        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("Records is not an array.");
                        _phase = Phase.Records;
                        break;
                    case Phase.Records:
                        if (!reader.Read()) return;
                        if (reader.TokenType == JsonTokenType.EndArray)
                        {
                            _phase = Phase.Property;
                            break;
                        }
                        if (reader.TokenType != JsonTokenType.StartObject)
                        {
                            if (!reader.TrySkip()) { reader = before; return; }
                            break;
                        }
                        var row = new object?[columns.Count];
                        if (!ReadObject(ref reader, data, columns, row, depth: 0, _all)) { reader = before; return; }
                        onRow(row);
                        if (++_count % 4096 == 0) cancellationToken.ThrowIfCancellationRequested();
                        break;
                    default:
                        return;
                }
            }
        }

        // Keeps the unread bytes and reads until the buffer is full, so a record cut by the buffer's end is read again
        // only after the buffer has doubled: re-reading costs at most as much again as the record itself.
        private void Fill()
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                if (_buffer.Length >= maxRecordBytes)
                    throw new InvalidDataException($"A record is larger than {maxRecordBytes / 1048576.0:0.#} MiB; CloudTrail writes no event that large, so the file is not read.");
                Array.Resize(ref _buffer, (int)Math.Min(_buffer.Length * 2L, maxRecordBytes));
            }
            while (_end < _buffer.Length)
            {
                var read = input.Read(_buffer, _end, _buffer.Length - _end);
                if (read == 0)
                {
                    _final = true;
                    return;
                }
                _end += read;
            }
        }
    }

    // Walks one object; the reader is on its StartObject and ends on its EndObject. Only the columns whose path
    // matched so far (candidates) are compared at this depth. False when the object is not whole in the buffer yet.
    private static bool ReadObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> data, IReadOnlyList<FlatColumn> columns, object?[] row, int depth, int[] candidates)
    {
        Span<int> deeper = stackalloc int[candidates.Length];
        while (true)
        {
            if (!reader.Read()) return false;
            if (reader.TokenType != JsonTokenType.PropertyName) return true;
            var matched = -1;
            var deeperCount = 0;
            foreach (var c in candidates)
            {
                var path = columns[c].Utf8Path;
                if (!reader.ValueTextEquals(path[depth])) continue;
                if (path.Length == depth + 1) { matched = c; break; }
                deeper[deeperCount++] = c;
            }
            if (!reader.Read()) return false;
            if (matched >= 0)
            {
                if (!TryValue(ref reader, data, columns[matched].Kind, out row[matched])) return false;
                continue;
            }
            if (deeperCount > 0 && reader.TokenType == JsonTokenType.StartObject)
            {
                if (!ReadObject(ref reader, data, columns, row, depth + 1, deeper[..deeperCount].ToArray())) return false;
                continue;
            }
            if (!reader.TrySkip()) return false;
        }
    }

    private static bool TryValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> data, FlatKind kind, out object? value)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                value = null;
                return true;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                var start = (int)reader.TokenStartIndex;
                value = null;
                if (!reader.TrySkip()) return false;
                value = Encoding.UTF8.GetString(data.Slice(start, (int)reader.BytesConsumed - start));
                return true;
            case JsonTokenType.True or JsonTokenType.False:
                var b = reader.TokenType == JsonTokenType.True;
                value = kind == FlatKind.Boolean ? b : b ? "true" : "false";
                return true;
            case JsonTokenType.Number:
                value = Encoding.UTF8.GetString(reader.ValueSpan);
                return true;
            default:
                var text = reader.GetString();
                value = kind switch
                {
                    FlatKind.Time => reader.TryGetDateTime(out var t) ? t.ToUniversalTime() : null,
                    FlatKind.Boolean => text is null ? null : bool.TryParse(text, out var parsed) ? parsed : null,
                    FlatKind.Json => text is null ? null : JsonSerializer.Serialize(text),
                    _ => text,
                };
                return true;
        }
    }
}
