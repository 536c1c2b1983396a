using System.Diagnostics;
using System.IO.Compression;
using GuardDutyIR.Engine.Investigation;
using GuardDutyIR.TestSupport;
using Xunit.Abstractions;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// Trail files are read as streams: -TimeoutSec and Ctrl+C stop a file being parsed, and neither an endless file nor an
/// endless record can grow memory without bound.
/// </summary>
[Collection(CpuSaturatingCollection.Name)]
public sealed class TrailFileStreamingTests(ITestOutputHelper output) : IDisposable
{
    private const string Instance = "i-0123456789abcdef0";
    private readonly string _root = Directory.CreateTempSubdirectory("gdir-stream-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>The most managed memory seen while the work ran, above what was in use when it started.</summary>
    private static async Task<(T Result, long PeakGrowth, TimeSpan Took)> Measure<T>(Func<Task<T>> work)
    {
        GC.Collect();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = baseline;
        using var done = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(false));
                try { await Task.Delay(10, done.Token); } catch (OperationCanceledException) { }
            }
        });
        var watch = Stopwatch.StartNew();
        // The inputs never end: only the code under test ends the work; the guard keeps a broken build from hanging the suite.
        var result = await work().WaitAsync(TimeSpan.FromMinutes(2));
        watch.Stop();
        done.Cancel();
        await sampler;
        return (result, peak - baseline, watch.Elapsed);
    }

    private static async Task<GuardDutyIRException?> RunLocal(string path, TimeSpan timeout, List<QueryNotice> notices)
    {
        try
        {
            await foreach (var _ in LakeQueryService.RunLocalAsync(new LakeQueryRequest
            {
                Backend = QueryBackend.Local,
                Sql = "select eventname, count(*) as total from EDS_ID group by eventname",
                Paths = LocalTrailFiles.Resolve(new[] { path }),
                Timeout = timeout,
            }, notices.Add)) { }
            return null;
        }
        catch (GuardDutyIRException e)
        {
            return e;
        }
    }

    [Fact]
    public async Task An_endless_records_array_stops_at_the_timeout_with_bounded_memory()
    {
        var file = Path.Combine(_root, "endless.json.gz");
        TrailLogWriter.WriteEndlessGzip(file, endlessRecord: false);
        var notices = new List<QueryNotice>();

        var (error, growth, took) = await Measure(() => RunLocal(file, TimeSpan.FromSeconds(2), notices));

        output.WriteLine($"endless records: {took.TotalSeconds:0.00} s, peak managed heap growth {growth / 1048576.0:0} MiB, " +
                         $"process peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:0} MiB");
        Assert.NotNull(error);
        Assert.Equal("QueryTimedOut", error!.ErrorId);
        Assert.Equal(ErrorKind.OperationTimeout, error.Kind);
        Assert.True(growth < 256L << 20, $"managed heap grew by {growth / 1048576} MiB");
    }

    [Fact]
    public async Task An_endless_record_is_refused_at_the_record_limit_with_bounded_memory()
    {
        var file = Path.Combine(_root, "endless-record.json.gz");
        TrailLogWriter.WriteEndlessGzip(file, endlessRecord: true);
        var notices = new List<QueryNotice>();

        var (error, growth, took) = await Measure(() => RunLocal(file, TimeSpan.FromSeconds(30), notices));

        output.WriteLine($"endless record: {took.TotalSeconds:0.00} s, peak managed heap growth {growth / 1048576.0:0} MiB");
        Assert.NotNull(error);
        Assert.Equal("NoReadableTrailFiles", error!.ErrorId);
        var notice = Assert.Single(notices);
        Assert.Equal("TrailFileMalformed", notice.Id);
        Assert.Contains("larger than 16 MiB", notice.Message);
        Assert.True(growth < 256L << 20, $"managed heap grew by {growth / 1048576} MiB");
    }

    [Fact]
    public void Cancellation_is_observed_inside_a_file()
    {
        using var cancel = new CancellationTokenSource();
        var file = Path.Combine(_root, "endless.json.gz");
        TrailLogWriter.WriteEndlessGzip(file, endlessRecord: false, gigabytes: 1);
        long rows = 0;
        var columns = new[] { new FlatColumn("c_eventname", "VARCHAR", new[] { "eventName" }, FlatKind.Text) };
        Assert.ThrowsAny<OperationCanceledException>(() => TrailFileReader.Read(file, columns, _ =>
        {
            if (++rows == 100_000) cancel.Cancel();
        }, cancel.Token));
        Assert.InRange(rows, 100_000, 100_000 + 8192);
    }

    [Fact]
    public async Task Cancellation_stops_the_parallel_load_within_a_second()
    {
        // Endless files on every core and one waiting its turn: workers parsing, workers waiting to hand on, the appender.
        for (var i = 0; i < Environment.ProcessorCount + 1; i++) TrailLogWriter.WriteEndlessGzip(Path.Combine(_root, $"endless{i}.json.gz"), endlessRecord: false, gigabytes: 4);
        using var cancel = new CancellationTokenSource();
        var files = LocalTrailFiles.Resolve(new[] { _root });
        var run = Task.Run(async () =>
        {
            await foreach (var _ in LocalTrailEngine.RunAsync("select eventname, count(*) from EDS_ID group by eventname", files, false, _ => { }, cancel.Token)) { }
        });
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(run.IsCompleted);

        var watch = Stopwatch.StartNew();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromMinutes(1)));

        output.WriteLine($"stopped {watch.Elapsed.TotalMilliseconds:0} ms after the cancel");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed.TotalMilliseconds:0} ms to stop");
    }

    /// <summary>A stream that hands out at most a few bytes per read, so every token and record is cut somewhere.</summary>
    private sealed class Trickle(Stream inner, int most) : Stream
    {
        private readonly Random _random = new(7);
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, _random.Next(1, most + 1)));
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public void Records_cut_by_the_buffer_anywhere_read_the_same_as_whole_ones()
    {
        TrailLogWriter.WriteInvestigation(_root, Instance);
        var columns = new[]
        {
            new FlatColumn("a", "VARCHAR", new[] { "userIdentity", "principalId" }, FlatKind.Text),
            new FlatColumn("b", "VARCHAR", new[] { "requestParameters" }, FlatKind.Json),
            new FlatColumn("c", "TIMESTAMP", new[] { "eventTime" }, FlatKind.Time),
            new FlatColumn("d", "BOOLEAN", new[] { "readOnly" }, FlatKind.Boolean),
            new FlatColumn("e", "VARCHAR", new[] { "eventName" }, FlatKind.Text),
        };
        foreach (var file in LocalTrailFiles.Resolve(new[] { _root }))
        {
            var whole = new List<string>();
            TrailFileReader.Read(file, columns, row => whole.Add(string.Join("|", row)), CancellationToken.None);
            var json = ReadAllText(file);
            // A padding property before Records, larger than the first buffer, must be skipped across reads too.
            var padded = "\uFEFF{\"pad\":\"" + new string('x', 200_000) + "\"," + json.TrimStart('\uFEFF')[1..];
            foreach (var text in new[] { json, padded })
            {
                var cut = new List<string>();
                using var stream = new Trickle(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)), 7);
                TrailFileReader.Read(stream, columns, row => cut.Add(string.Join("|", row)), CancellationToken.None, maxRecordBytes: 1 << 20);
                Assert.Equal(whole, cut);
            }
            Assert.NotEmpty(whole);
        }
    }

    private static string ReadAllText(string file)
    {
        using var stream = File.OpenRead(file);
        using var input = file.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(stream, CompressionMode.Decompress) : (Stream)stream;
        using var reader = new StreamReader(input);
        return reader.ReadToEnd();
    }
}
