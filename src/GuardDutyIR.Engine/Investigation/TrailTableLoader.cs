using DuckDB.NET.Data;
using DuckDB.NET.Native;
using NativeAppender = DuckDB.NET.Native.DuckDBAppender;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// Loads trail files into a DuckDB table: the files are parsed on every core into column batches, and one appender
/// writes the batches in file order (a file's records in their order, files in the order given), so the table holds
/// the same rows in the same order however the parsing was spread. Parsing runs ahead of the appender only by a bounded
/// number of batches, so memory stays bounded whatever the input. A file found malformed part way is left out whole:
/// its rows already appended are deleted again.
/// </summary>
internal static class TrailTableLoader
{
    /// <summary>Rows per batch: a multiple of DuckDB's vector size (2048), so the appender's chunks fill evenly.</summary>
    internal const int BatchRows = 8192;

    private const int BatchBytes = 4 << 20;

    /// <summary>What files that are not the one being appended may hold parsed, waiting for their turn.</summary>
    private const long AheadBytes = 128L << 20;

    /// <summary>Appends the records of <paramref name="files"/> to <paramref name="table"/>; returns the indexes of the files loaded.</summary>
    public static async Task<IReadOnlyList<int>> LoadAsync(DuckDBConnection connection, string table, IReadOnlyList<string> files, IReadOnlyList<FlatColumn> columns,
        Action<int, Exception> malformed, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var handoff = new Handoff();
        var kinds = columns.Select(c => c.Kind).ToArray();
        var parse = Task.Run(async () =>
        {
            try
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, files.Count),
                    new ParallelOptions { CancellationToken = stop.Token, MaxDegreeOfParallelism = Environment.ProcessorCount },
                    (i, ct) =>
                    {
                        Exception? failure = null;
                        try
                        {
                            var batches = new BatchSink(kinds, handoff, i, ct);
                            using (var input = TrailFileReader.Open(files[i])) TrailFileReader.Read(input, columns, batches, ct);
                            batches.Flush();
                        }
                        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidDataException or IOException or UnauthorizedAccessException)
                        {
                            failure = e;
                        }
                        finally
                        {
                            handoff.Complete(i, failure);
                        }
                        return ValueTask.CompletedTask;
                    }).ConfigureAwait(false);
            }
            finally
            {
                handoff.ParsingEnded();
            }
        }, CancellationToken.None);

        var loaded = new List<int>();
        var dropped = new List<(long From, long To)>();
        try
        {
            long rows = 0;
            using (var appender = new ChunkWriter(connection, table))
            {
                for (var i = 0; i < files.Count; i++)
                {
                    var first = rows;
                    while (handoff.Take(i, stop.Token) is { } batch)
                    {
                        batch.AppendTo(appender);
                        rows += batch.Rows;
                        handoff.Return(batch);
                    }
                    if (handoff.Failure(i) is { } failure)
                    {
                        // One bad file must not sink the investigation: leave it out and say so.
                        if (rows > first) dropped.Add((first, rows - 1));
                        malformed(i, failure);
                    }
                    else
                    {
                        loaded.Add(i);
                    }
                }
                appender.Close();
            }
            foreach (var (from, to) in dropped)
            {
                using var delete = connection.CreateCommand();
                delete.CommandText = $"DELETE FROM {table} WHERE rowid BETWEEN {from} AND {to}";
                delete.ExecuteNonQuery();
            }
        }
        catch
        {
            stop.Cancel();
            try { await parse.ConfigureAwait(false); }
            catch (Exception) { }
            throw;
        }
        await parse.ConfigureAwait(false);
        return loaded;
    }

    /// <summary>
    /// Hands batches from the parsing workers to the appender in file order. A worker whose file is not the one being
    /// appended waits once the files ahead of their turn hold <see cref="AheadBytes"/>; the file being appended is always
    /// being parsed (files are started in order), so the appender never waits on a worker that waits on it.
    /// </summary>
    private sealed class Handoff
    {
        private readonly object _gate = new();
        private readonly Dictionary<int, Queue<ColumnBatch>> _queues = new();
        private readonly Dictionary<int, Exception?> _done = new();
        private readonly Stack<ColumnBatch> _free = new();
        private int _current;
        private long _ahead;
        private bool _ended;

        public ColumnBatch Rent(FlatKind[] kinds)
        {
            lock (_gate) return _free.Count > 0 ? _free.Pop() : new ColumnBatch(kinds);
        }

        public void Return(ColumnBatch batch)
        {
            batch.Clear();
            lock (_gate) if (_free.Count < 2 * Environment.ProcessorCount + 4) _free.Push(batch);
        }

        public void Put(int file, ColumnBatch batch, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                while (true)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var queue = Queue(file);
                    if (file == _current ? queue.Count < 4 : _ahead < AheadBytes || queue.Count == 0 && _ahead < 2 * AheadBytes) break;
                    // Timed, so cancellation is seen within a second even if no one pulses.
                    Monitor.Wait(_gate, 100);
                }
                Queue(file).Enqueue(batch);
                if (file != _current) _ahead += batch.Bytes;
                Monitor.PulseAll(_gate);
            }
        }

        public void Complete(int file, Exception? failure)
        {
            lock (_gate)
            {
                _done[file] = failure;
                Monitor.PulseAll(_gate);
            }
        }

        public void ParsingEnded()
        {
            lock (_gate)
            {
                _ended = true;
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>The next batch of <paramref name="file"/>, or null once the file is done.</summary>
        public ColumnBatch? Take(int file, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                if (_current != file)
                {
                    // The file's turn: what it parsed ahead no longer counts against the others.
                    _current = file;
                    if (_queues.TryGetValue(file, out var waiting)) foreach (var b in waiting) _ahead -= b.Bytes;
                    Monitor.PulseAll(_gate);
                }
                while (true)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var queue = Queue(file);
                    if (queue.Count > 0)
                    {
                        var batch = queue.Dequeue();
                        Monitor.PulseAll(_gate);
                        return batch;
                    }
                    if (_done.ContainsKey(file))
                    {
                        _queues.Remove(file);
                        return null;
                    }
                    // The workers stopped (cancelled or failed) before this file was read: the parse task says why.
                    if (_ended) throw new OperationCanceledException("Parsing ended before every file was read.");
                    Monitor.Wait(_gate, 100);
                }
            }
        }

        public Exception? Failure(int file)
        {
            lock (_gate)
            {
                _done.Remove(file, out var failure);
                return failure;
            }
        }

        private Queue<ColumnBatch> Queue(int file)
        {
            if (!_queues.TryGetValue(file, out var queue)) _queues[file] = queue = new Queue<ColumnBatch>();
            return queue;
        }
    }

    /// <summary>Collects one file's records into batches and hands each full one on.</summary>
    private sealed class BatchSink(FlatKind[] kinds, Handoff handoff, int file, CancellationToken cancellationToken) : IRecordSink
    {
        private ColumnBatch _batch = handoff.Rent(kinds);

        public void BeginRecord() => _batch.BeginRecord();
        public void Text(int column, ReadOnlySpan<byte> utf8) => _batch.Text(column, utf8);
        public void Time(int column, DateTime utc) => _batch.Time(column, utc);
        public void Boolean(int column, bool value) => _batch.Boolean(column, value);
        public void Null(int column) => _batch.Null(column);

        public void EndRecord()
        {
            _batch.EndRecord();
            if (_batch.Rows == BatchRows || _batch.Bytes >= BatchBytes)
            {
                handoff.Put(file, _batch, cancellationToken);
                _batch = handoff.Rent(kinds);
            }
        }

        public void Flush()
        {
            if (_batch.Rows > 0) handoff.Put(file, _batch, cancellationToken);
            else handoff.Return(_batch);
        }
    }

    /// <summary>
    /// Up to <see cref="BatchRows"/> records as columns: text as UTF-8 in one shared byte array (offset and length per
    /// value), times as ticks, booleans in the length; a length of -1 is null.
    /// </summary>
    internal sealed class ColumnBatch
    {
        private readonly FlatKind[] _kinds;
        private readonly int[][] _offsets;
        private readonly int[][] _lengths;
        private readonly long[][] _ticks;
        private byte[] _bytes = new byte[1 << 16];
        private int _used;
        private int _committed;

        public ColumnBatch(FlatKind[] kinds)
        {
            _kinds = kinds;
            _offsets = kinds.Select(k => k is FlatKind.Text or FlatKind.Json ? new int[BatchRows] : Array.Empty<int>()).ToArray();
            _lengths = kinds.Select(_ => new int[BatchRows]).ToArray();
            _ticks = kinds.Select(k => k == FlatKind.Time ? new long[BatchRows] : Array.Empty<long>()).ToArray();
        }

        public int Rows { get; private set; }

        public long Bytes => _used + (long)Rows * _kinds.Length * 8;

        public void BeginRecord()
        {
            _used = _committed;
            foreach (var lengths in _lengths) lengths[Rows] = -1;
        }

        public void Text(int column, ReadOnlySpan<byte> utf8)
        {
            if (_bytes.Length - _used < utf8.Length) Array.Resize(ref _bytes, (int)Math.Min(Math.Max(_bytes.Length * 2L, _used + (long)utf8.Length), Array.MaxLength));
            utf8.CopyTo(_bytes.AsSpan(_used));
            _offsets[column][Rows] = _used;
            _lengths[column][Rows] = utf8.Length;
            _used += utf8.Length;
        }

        public void Time(int column, DateTime utc)
        {
            _ticks[column][Rows] = utc.Ticks;
            _lengths[column][Rows] = 0;
        }

        public void Boolean(int column, bool value) => _lengths[column][Rows] = value ? 1 : 0;

        public void Null(int column) => _lengths[column][Rows] = -1;

        public void EndRecord()
        {
            _committed = _used;
            Rows++;
        }

        public void Clear()
        {
            Rows = 0;
            _used = _committed = 0;
        }

        public void AppendTo(ChunkWriter writer)
        {
            for (var r = 0; r < Rows; r++)
            {
                var k = writer.NextRow();
                for (var c = 0; c < _kinds.Length; c++)
                {
                    var length = _lengths[c][r];
                    if (length < 0) writer.Null(c, k);
                    else if (_kinds[c] == FlatKind.Time) writer.Time(c, k, _ticks[c][r]);
                    else if (_kinds[c] == FlatKind.Boolean) writer.Boolean(c, k, length == 1);
                    else writer.Text(c, k, _bytes.AsSpan(_offsets[c][r], length));
                }
            }
        }
    }
}

/// <summary>
/// Writes rows into DuckDB's own data chunks and appends each full chunk (duckdb_append_data_chunk,
/// https://duckdb.org/docs/stable/clients/c/appender): a value is one store into the vector, or one call for a string,
/// and a null is one bit, where the row-at-a-time appender makes a native call per value, nulls included.
/// </summary>
internal sealed unsafe class ChunkWriter : IDisposable
{
    private static readonly long EpochTicks = DateTime.UnixEpoch.Ticks;
    private readonly NativeAppender _appender;
    private readonly DuckDBLogicalType[] _types;
    private readonly DuckDBDataChunk _chunk;
    private readonly IntPtr[] _vectors;
    private readonly void*[] _data;
    private readonly ulong*[] _validity;
    private readonly int _capacity = (int)NativeMethods.Helpers.DuckDBVectorSize();
    private int _size;
    private bool _closed;

    public ChunkWriter(DuckDBConnection connection, string table)
    {
        if (NativeMethods.Appender.DuckDBAppenderCreate(connection.NativeConnection, null!, table, out _appender) != DuckDBState.Success)
            throw LoadFailed($"DuckDB could not open an appender on {table}.");
        var count = (int)NativeMethods.Appender.DuckDBAppenderColumnCount(_appender);
        _types = Enumerable.Range(0, count).Select(i => NativeMethods.Appender.DuckDBAppenderColumnType(_appender, (ulong)i)).ToArray();
        _chunk = NativeMethods.DataChunks.DuckDBCreateDataChunk(_types.Select(t => t.DangerousGetHandle()).ToArray(), (ulong)count);
        _vectors = new IntPtr[count];
        _data = new void*[count];
        _validity = new ulong*[count];
        Start();
    }

    /// <summary>The index in the chunk of the next row, after appending the chunk if it is full.</summary>
    public int NextRow()
    {
        if (_size == _capacity) Flush();
        return _size++;
    }

    public void Null(int column, int row)
    {
        if (_validity[column] == null)
        {
            NativeMethods.Vectors.DuckDBVectorEnsureValidityWritable(_vectors[column]);
            _validity[column] = NativeMethods.Vectors.DuckDBVectorGetValidity(_vectors[column]);
        }
        _validity[column][row >> 6] &= ~(1UL << (row & 63));
    }

    /// <summary>Text the reader has already checked to be UTF-8, so DuckDB need not check it again.</summary>
    public void Text(int column, int row, ReadOnlySpan<byte> utf8)
    {
        fixed (byte* bytes = utf8)
            NativeMethods.Vectors.DuckDBUnsafeVectorAssignStringElementLength(_vectors[column], (ulong)row, bytes, utf8.Length);
    }

    /// <summary>A TIMESTAMP: microseconds since 1970 (earlier times rounded down, as their text would be truncated).</summary>
    public void Time(int column, int row, long ticks) => ((long*)_data[column])[row] = Math.DivRem(ticks - EpochTicks, 10, out var rest) - (rest < 0 ? 1 : 0);

    public void Boolean(int column, int row, bool value) => ((byte*)_data[column])[row] = value ? (byte)1 : (byte)0;

    public void Close()
    {
        if (_closed) return;
        _closed = true;
        if (_size > 0) Flush();
        if (NativeMethods.Appender.DuckDBAppenderClose(_appender) != DuckDBState.Success) throw LoadFailed("DuckDB could not finish appending the parsed trail files.");
    }

    public void Dispose()
    {
        // An abandoned load (cancelled, or a file error) is not flushed: the half-built cache is deleted anyway.
        _closed = true;
        _chunk.Dispose();
        foreach (var type in _types) type.Dispose();
        _appender.Dispose();
    }

    private void Flush()
    {
        NativeMethods.DataChunks.DuckDBDataChunkSetSize(_chunk, (ulong)_size);
        if (NativeMethods.Appender.DuckDBAppendDataChunk(_appender, _chunk) != DuckDBState.Success) throw LoadFailed("DuckDB could not append the parsed trail files.");
        NativeMethods.DataChunks.DuckDBDataChunkReset(_chunk);
        Start();
    }

    // DuckDB refuses an append when its disk or memory limit is reached (the spill folder, memory_limit).
    private static GuardDutyIRException LoadFailed(string message) =>
        new("LocalQueryLoadFailed", ErrorKind.ResourceUnavailable, message + " Check the free space of the work folder.", "trail-cache");

    // A reset chunk may hand out other buffers, so the pointers are taken again for each chunk.
    private void Start()
    {
        _size = 0;
        for (var c = 0; c < _vectors.Length; c++)
        {
            _vectors[c] = NativeMethods.DataChunks.DuckDBDataChunkGetVector(_chunk, c);
            _data[c] = NativeMethods.Vectors.DuckDBVectorGetData(_vectors[c]);
            _validity[c] = null;
        }
    }
}
