using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GuardDutyIR.Lab.Lambda;

/// <summary>One HTTP request to the runtime API.</summary>
internal sealed record RuntimeRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>An answer; <see cref="Undelivered"/> runs when it could not be written (the runtime went away).</summary>
internal sealed class RuntimeResponse
{
    public int Status { get; init; } = 200;
    public string ContentType { get; init; } = "application/json";
    public byte[] Body { get; init; } = Array.Empty<byte>();
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Action? Undelivered { get; init; }

    public static RuntimeResponse Json(int status, string json) => new() { Status = status, Body = Encoding.UTF8.GetBytes(json) };
}

/// <summary>
/// A small HTTP/1.1 server on 127.0.0.1 for one function's runtime API (Lambda gives each execution environment its own
/// endpoint, which runtimes read from AWS_LAMBDA_RUNTIME_API as host:port). Written on sockets rather than HttpListener
/// so a long-polling <c>/next</c> notices a runtime that hangs up and does not hand the next invocation to nobody.
/// </summary>
internal sealed class RuntimeApiServer : IAsyncDisposable
{
    private const int MaxHead = 64 * 1024;
    /// <summary>Bodies beyond this are refused before they are read (responses are limited to 6 MB; see LambdaFunction).</summary>
    private const int MaxBody = 7 * 1024 * 1024;

    private readonly TcpListener _listener;
    private readonly Func<RuntimeRequest, CancellationToken, Task<RuntimeResponse>> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    public RuntimeApiServer(Func<RuntimeRequest, CancellationToken, Task<RuntimeResponse>> handler)
    {
        _handler = handler;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accept = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException) { if (_stop.IsCancellationRequested) break; continue; }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            client.NoDelay = true;
            var stream = client.GetStream();
            var reader = new Connection(stream);
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var request = await reader.ReadRequestAsync(_stop.Token).ConfigureAwait(false);
                    if (request is null) return;
                    if (request.Value.TooLarge)
                    {
                        await WriteAsync(stream, RuntimeResponse.Json(413, "{\"errorMessage\":\"Exceeded maximum allowed payload size (6291556 bytes).\",\"errorType\":\"RequestEntityTooLarge\"}"), close: true).ConfigureAwait(false);
                        return;
                    }
                    var req = request.Value.Request!;
                    using var gone = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    // While the answer is prepared (a long poll), a read that ends means the runtime hung up.
                    reader.Watch(() => { try { gone.Cancel(); } catch (ObjectDisposedException) { } });
                    RuntimeResponse response;
                    try { response = await _handler(req, gone.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) { return; }
                    bool close = string.Equals(req.Header("Connection"), "close", StringComparison.OrdinalIgnoreCase);
                    try { await WriteAsync(stream, response, close).ConfigureAwait(false); }
                    catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
                    {
                        response.Undelivered?.Invoke();
                        return;
                    }
                    if (close) return;
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or OperationCanceledException or InvalidDataException)
            {
                // The runtime went away or spoke something that is not HTTP; its connection ends here.
            }
        }
    }

    private static async Task WriteAsync(NetworkStream stream, RuntimeResponse response, bool close)
    {
        var head = new StringBuilder();
        head.Append("HTTP/1.1 ").Append(response.Status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(Reason(response.Status)).Append("\r\n");
        head.Append("Content-Type: ").Append(response.ContentType).Append("\r\n");
        head.Append("Content-Length: ").Append(response.Body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        head.Append("Date: ").Append(DateTime.UtcNow.ToString("R", CultureInfo.InvariantCulture)).Append("\r\n");
        foreach (var (k, v) in response.Headers) head.Append(k).Append(": ").Append(v).Append("\r\n");
        if (close) head.Append("Connection: close\r\n");
        head.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString())).ConfigureAwait(false);
        if (response.Body.Length > 0) await stream.WriteAsync(response.Body).ConfigureAwait(false);
        await stream.FlushAsync().ConfigureAwait(false);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Internal Server Error",
    };

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try { await _accept.ConfigureAwait(false); } catch (Exception) { /* stopping */ }
        _stop.Dispose();
    }

    /// <summary>Reads requests off one connection, keeping what arrived beyond the current one.</summary>
    private sealed class Connection
    {
        private readonly NetworkStream _stream;
        private byte[] _buf = new byte[16 * 1024];
        private int _start, _end;
        private Task<int>? _pending;

        public Connection(NetworkStream stream) => _stream = stream;

        /// <summary>Starts a read that completes only when the runtime sends again or hangs up; a hang-up calls <paramref name="closed"/>.</summary>
        public void Watch(Action closed)
        {
            if (_pending is not null || _end > _start) return;
            Compact();
            _pending = _stream.ReadAsync(_buf.AsMemory(_end)).AsTask();
            _pending.ContinueWith(t =>
            {
                // A failed read is the connection going away; reading the exception marks it observed.
                if (t.IsFaulted) _ = t.Exception;
                if (t.IsFaulted || t.IsCanceled || t.Result == 0) closed();
            }, TaskScheduler.Default);
        }

        private async Task<int> FillAsync(CancellationToken ct)
        {
            int n;
            if (_pending is not null)
            {
                try { n = await _pending.WaitAsync(ct).ConfigureAwait(false); }
                finally { if (_pending.IsCompleted) _pending = null; }
            }
            else
            {
                Compact();
                if (_end == _buf.Length) Array.Resize(ref _buf, _buf.Length * 2);
                n = await _stream.ReadAsync(_buf.AsMemory(_end), ct).ConfigureAwait(false);
            }
            _end += n;
            return n;
        }

        private void Compact()
        {
            if (_start == 0) return;
            Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        /// <summary>The next request; null at the end of the connection.</summary>
        public async Task<(RuntimeRequest? Request, bool TooLarge)?> ReadRequestAsync(CancellationToken ct)
        {
            int headEnd;
            while ((headEnd = IndexOf(_buf, _start, _end, "\r\n\r\n"u8)) < 0)
            {
                if (_end - _start > MaxHead) throw new InvalidDataException("request head too large");
                if (await FillAsync(ct).ConfigureAwait(false) == 0) return null;
            }
            var head = Encoding.ASCII.GetString(_buf, _start, headEnd - _start).Split("\r\n");
            _start = headEnd + 4;
            var line = head[0].Split(' ');
            if (line.Length < 3) throw new InvalidDataException("bad request line");
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in head.Skip(1))
            {
                var colon = h.IndexOf(':');
                if (colon > 0) headers[h[..colon].Trim()] = h[(colon + 1)..].Trim();
            }
            byte[] body;
            if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                var chunks = new MemoryStream();
                while (true)
                {
                    var sizeLine = await ReadLineAsync(ct).ConfigureAwait(false);
                    var size = int.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    if (size == 0)
                    {
                        while ((await ReadLineAsync(ct).ConfigureAwait(false)).Length > 0) { }
                        break;
                    }
                    if (chunks.Length + size > MaxBody) return (null, true);
                    chunks.Write(await ReadExactAsync(size, ct).ConfigureAwait(false));
                    await ReadLineAsync(ct).ConfigureAwait(false);
                }
                body = chunks.ToArray();
            }
            else if (headers.TryGetValue("Content-Length", out var cl) && long.TryParse(cl, NumberStyles.None, CultureInfo.InvariantCulture, out var length) && length > 0)
            {
                if (length > MaxBody) return (null, true);
                body = await ReadExactAsync((int)length, ct).ConfigureAwait(false);
            }
            else body = Array.Empty<byte>();
            var target = line[1];
            var q = target.IndexOf('?');
            return (new RuntimeRequest(line[0], q < 0 ? target : target[..q], headers, body), false);
        }

        private async Task<byte[]> ReadExactAsync(int count, CancellationToken ct)
        {
            while (_end - _start < count)
                if (await FillAsync(ct).ConfigureAwait(false) == 0) throw new IOException("connection closed in a body");
            var result = _buf.AsSpan(_start, count).ToArray();
            _start += count;
            return result;
        }

        private async Task<string> ReadLineAsync(CancellationToken ct)
        {
            int eol;
            while ((eol = IndexOf(_buf, _start, _end, "\r\n"u8)) < 0)
                if (await FillAsync(ct).ConfigureAwait(false) == 0) throw new IOException("connection closed in a chunk");
            var text = Encoding.ASCII.GetString(_buf, _start, eol - _start);
            _start = eol + 2;
            return text;
        }

        private static int IndexOf(byte[] buf, int start, int end, ReadOnlySpan<byte> what)
        {
            var i = buf.AsSpan(start, end - start).IndexOf(what);
            return i < 0 ? -1 : start + i;
        }
    }
}
