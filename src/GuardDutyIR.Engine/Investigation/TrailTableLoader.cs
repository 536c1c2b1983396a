using DuckDB.NET.Data;

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
            using (var appender = connection.CreateAppender(table))
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

        public void AppendTo(DuckDBAppender appender)
        {
            for (var r = 0; r < Rows; r++)
            {
                var row = appender.CreateRow();
                for (var c = 0; c < _kinds.Length; c++)
                {
                    var length = _lengths[c][r];
                    if (length < 0)
                    {
                        row.AppendNullValue();
                        continue;
                    }
                    switch (_kinds[c])
                    {
                        case FlatKind.Time:
                            row.AppendValue((DateTime?)new DateTime(_ticks[c][r], DateTimeKind.Utc));
                            break;
                        case FlatKind.Boolean:
                            row.AppendValue((bool?)(length == 1));
                            break;
                        default:
                            row.AppendValue(new Span<byte>(_bytes, _offsets[c][r], length));
                            break;
                    }
                }
                row.EndRow();
            }
        }
    }
}
