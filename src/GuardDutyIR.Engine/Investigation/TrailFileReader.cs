using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

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
/// Where the reader hands the values of each record. A record cut by the buffer's end is read again from its start, so
/// <see cref="BeginRecord"/> drops whatever the record handed on before; a column given no value is null.
/// </summary>
internal interface IRecordSink
{
    void BeginRecord();

    /// <summary>Valid UTF-8, only valid during the call.</summary>
    void Text(int column, ReadOnlySpan<byte> utf8);

    void Time(int column, DateTime utc);

    void Boolean(int column, bool value);

    /// <summary>A later duplicate of a property set to null: the last value wins, as before.</summary>
    void Null(int column);

    void EndRecord();
}

/// <summary>
/// Reads CloudTrail log files ({"Records":[...]}, gzip or plain) as a stream with Utf8JsonReader, keeping only the
/// fields a query needs and handing each record on as soon as it is read. No DOM is built and no file is held whole:
/// a file costs one buffer, which grows only as far as the record being read needs, up to <see cref="MaxRecordBytes"/>,
/// so an endless file or an endless record cannot take the machine's memory. Values not asked for are skipped; objects
/// asked for as JSON are sliced from the buffer, and strings that need no unescaping are handed on as the bytes of the
/// file itself, so a record costs no allocation.
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
    private static readonly byte[] TrueText = Encoding.UTF8.GetBytes("true");
    private static readonly byte[] FalseText = Encoding.UTF8.GetBytes("false");
    private static readonly JsonReaderOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Opens a trail file for reading: gzip is decompressed as it streams.</summary>
    public static Stream Open(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, InitialBufferBytes, FileOptions.SequentialScan);
        return path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    /// <summary>Reads one file, handing each record's row (one value per column, null where absent) to <paramref name="onRow"/>.</summary>
    /// <returns>The number of records read.</returns>
    public static long Read(string path, IReadOnlyList<FlatColumn> columns, Action<object?[]> onRow, CancellationToken cancellationToken)
    {
        using var input = Open(path);
        return Read(input, columns, onRow, cancellationToken);
    }

    /// <summary>Reads one log file's JSON from a stream (see <see cref="Read(string, IReadOnlyList{FlatColumn}, Action{object?[]}, CancellationToken)"/>).</summary>
    internal static long Read(Stream input, IReadOnlyList<FlatColumn> columns, Action<object?[]> onRow, CancellationToken cancellationToken,
        int maxRecordBytes = MaxRecordBytes) =>
        Read(input, columns, new RowSink(columns.Count, onRow), cancellationToken, maxRecordBytes);

    /// <summary>Reads one log file's JSON from a stream, handing each record's values to <paramref name="sink"/>.</summary>
    internal static long Read(Stream input, IReadOnlyList<FlatColumn> columns, IRecordSink sink, CancellationToken cancellationToken,
        int maxRecordBytes = MaxRecordBytes) =>
        new Parser(input, PathTree.Build(columns), columns.Select(c => c.Kind).ToArray(), sink, cancellationToken, maxRecordBytes).Run();

    /// <summary>The old row-at-a-time shape: one object array per record.</summary>
    private sealed class RowSink(int count, Action<object?[]> onRow) : IRecordSink
    {
        private object?[] _row = new object?[count];
        public void BeginRecord() => _row = new object?[count];
        public void Text(int column, ReadOnlySpan<byte> utf8) => _row[column] = Encoding.UTF8.GetString(utf8);
        public void Time(int column, DateTime utc) => _row[column] = utc;
        public void Boolean(int column, bool value) => _row[column] = value;
        public void Null(int column) => _row[column] = null;
        public void EndRecord() => onRow(_row);
    }

    /// <summary>
    /// The columns' JSON paths as a tree of property names, so each property of a record is looked up once (by length,
    /// then bytes) instead of being compared with every column.
    /// </summary>
    internal sealed class PathTree
    {
        private readonly List<byte[]> _names = new();
        private readonly List<int> _leaf = new();
        private readonly List<PathTree?> _child = new();
        private int[][] _byLength = Array.Empty<int[]>();

        public static PathTree Build(IReadOnlyList<FlatColumn> columns)
        {
            var root = new PathTree();
            for (var c = 0; c < columns.Count; c++)
            {
                var node = root;
                var path = columns[c].Utf8Path;
                for (var d = 0; d < path.Length; d++)
                {
                    var i = node._names.FindIndex(n => n.AsSpan().SequenceEqual(path[d]));
                    if (i < 0)
                    {
                        i = node._names.Count;
                        node._names.Add(path[d]);
                        node._leaf.Add(-1);
                        node._child.Add(null);
                    }
                    if (d == path.Length - 1)
                    {
                        // The first column with a path wins, as it did when columns were compared in order.
                        if (node._leaf[i] < 0) node._leaf[i] = c;
                    }
                    else
                    {
                        node = node._child[i] ??= new PathTree();
                    }
                }
            }
            root.Index();
            return root;
        }

        private void Index()
        {
            var longest = _names.Count == 0 ? 0 : _names.Max(n => n.Length);
            _byLength = Enumerable.Range(0, longest + 1).Select(length => Enumerable.Range(0, _names.Count).Where(i => _names[i].Length == length).ToArray()).ToArray();
            foreach (var child in _child) child?.Index();
        }

        public int Longest => _byLength.Length - 1;

        /// <summary>The entry named <paramref name="name"/> (unescaped UTF-8), or -1.</summary>
        public int Find(ReadOnlySpan<byte> name)
        {
            if (name.Length >= _byLength.Length) return -1;
            foreach (var i in _byLength[name.Length])
                if (name.SequenceEqual(_names[i])) return i;
            return -1;
        }

        /// <summary>The entry the reader's property name is (escaped names compared as the reader unescapes them).</summary>
        public int Find(ref Utf8JsonReader reader)
        {
            if (!reader.ValueIsEscaped) return Find(reader.ValueSpan);
            // An escape takes at least two bytes for one, so a long escaped name can still be one of ours.
            if (reader.ValueSpan.Length > 6 * Longest) return -1;
            for (var i = 0; i < _names.Count; i++)
                if (reader.ValueTextEquals(_names[i])) return i;
            return -1;
        }

        public int Leaf(int entry) => _leaf[entry];

        public PathTree? Child(int entry) => _child[entry];
    }

    /// <summary>
    /// The incremental reader of one file. Each pass reads as many whole tokens as the buffer holds; a record (or any
    /// other value) cut by the buffer's end is read again from its start once more bytes have arrived, so a record is
    /// always parsed from contiguous memory and the buffer only needs to hold the largest one.
    /// </summary>
    private sealed class Parser(Stream input, PathTree paths, FlatKind[] kinds, IRecordSink sink, CancellationToken cancellationToken, int maxRecordBytes)
    {
        private enum Phase { Start, Property, RecordsArray, Records, Done }

        private byte[] _buffer = new byte[Math.Min(InitialBufferBytes, maxRecordBytes)];
        private byte[] _scratch = new byte[256];
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
                        sink.BeginRecord();
                        if (!ReadObject(ref reader, data, paths)) { reader = before; return; }
                        sink.EndRecord();
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

        // Walks one object; the reader is on its StartObject and ends on its EndObject. False when the object is not
        // whole in the buffer yet.
        private bool ReadObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> data, PathTree node)
        {
            while (true)
            {
                if (!reader.Read()) return false;
                if (reader.TokenType != JsonTokenType.PropertyName) return true;
                var entry = node.Find(ref reader);
                if (!reader.Read()) return false;
                if (entry < 0)
                {
                    if (!reader.TrySkip()) return false;
                    continue;
                }
                var column = node.Leaf(entry);
                if (column >= 0)
                {
                    if (!TryValue(ref reader, data, column)) return false;
                    continue;
                }
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    if (!ReadObject(ref reader, data, node.Child(entry)!)) return false;
                    continue;
                }
                if (!reader.TrySkip()) return false;
            }
        }

        // A value of the wrong JSON type for a time or boolean column is null (a number is no time); text columns keep
        // any value as its JSON text.
        private bool TryValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> data, int column)
        {
            var kind = kinds[column];
            switch (reader.TokenType)
            {
                case JsonTokenType.Null:
                    sink.Null(column);
                    return true;
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    var start = (int)reader.TokenStartIndex;
                    if (!reader.TrySkip()) return false;
                    if (kind is FlatKind.Text or FlatKind.Json) TextOrReplaced(column, data.Slice(start, (int)reader.BytesConsumed - start));
                    else sink.Null(column);
                    return true;
                case JsonTokenType.True or JsonTokenType.False:
                    var b = reader.TokenType == JsonTokenType.True;
                    if (kind == FlatKind.Boolean) sink.Boolean(column, b);
                    else if (kind == FlatKind.Time) sink.Null(column);
                    else sink.Text(column, b ? TrueText : FalseText);
                    return true;
                case JsonTokenType.Number:
                    if (kind is FlatKind.Text or FlatKind.Json) sink.Text(column, reader.ValueSpan);
                    else sink.Null(column);
                    return true;
                default:
                    switch (kind)
                    {
                        case FlatKind.Time:
                            if (reader.TryGetDateTime(out var t)) sink.Time(column, t.ToUniversalTime());
                            else sink.Null(column);
                            break;
                        case FlatKind.Boolean:
                            if (bool.TryParse(reader.GetString(), out var parsed)) sink.Boolean(column, parsed);
                            else sink.Null(column);
                            break;
                        case FlatKind.Json:
                            // A string where JSON was expected stays a JSON string, as System.Text.Json writes one.
                            sink.Text(column, JsonSerializer.SerializeToUtf8Bytes(reader.GetString()));
                            break;
                        default:
                            sink.Text(column, Unescaped(ref reader));
                            break;
                    }
                    return true;
            }
        }

        // The string's text as UTF-8: the file's own bytes when nothing is escaped. Text that is not UTF-8 is not a
        // CloudTrail file; the reader stops at it as at any other malformed JSON.
        private ReadOnlySpan<byte> Unescaped(ref Utf8JsonReader reader)
        {
            ReadOnlySpan<byte> text;
            if (!reader.ValueIsEscaped)
            {
                text = reader.ValueSpan;
            }
            else
            {
                if (_scratch.Length < reader.ValueSpan.Length) _scratch = new byte[Math.Max(reader.ValueSpan.Length, _scratch.Length * 2)];
                text = _scratch.AsSpan(0, reader.CopyString(_scratch));
            }
            if (!Utf8.IsValid(text)) throw new JsonException("A string in the file is not valid UTF-8.");
            return text;
        }

        // A slice of the JSON text; bytes that are not UTF-8 are replaced as a decoder would replace them.
        private void TextOrReplaced(int column, ReadOnlySpan<byte> slice)
        {
            if (Utf8.IsValid(slice)) sink.Text(column, slice);
            else sink.Text(column, Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(slice)));
        }
    }
}
