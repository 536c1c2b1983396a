using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GuardDutyIR.TestSupport;

/// <summary>One request as the stub received it.</summary>
public sealed record CapturedRequest(string Method, string PathAndQuery, Dictionary<string, string> Headers, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
    public string Header(string name) => Headers.TryGetValue(name, out var v) ? v : "";
}

/// <summary>A canned answer: status, headers, body.</summary>
public sealed record StubResponse(int Status, string Body, Dictionary<string, string>? Headers = null, TimeSpan? Delay = null)
{
    /// <summary>Reads a ../shared/aws-samples template; .http files carry their own status line and headers.</summary>
    public static StubResponse FromSample(string fileName)
    {
        var text = File.ReadAllText(Path.Combine(TestPaths.Samples, fileName));
        if (!fileName.EndsWith(".http", StringComparison.Ordinal))
        {
            var contentType = fileName.EndsWith(".xml", StringComparison.Ordinal) ? "text/xml" : "application/json";
            return new StubResponse(200, text, new() { ["Content-Type"] = contentType, ["x-amzn-RequestId"] = "stub-request-1" });
        }
        var split = text.Replace("\r\n", "\n").Split("\n\n", 2);
        var lines = split[0].Split('\n');
        var status = int.Parse(lines[0].Split(' ')[1]);
        var headers = lines.Skip(1).Where(l => l.Contains(':'))
            .ToDictionary(l => l[..l.IndexOf(':')].Trim(), l => l[(l.IndexOf(':') + 1)..].Trim(), StringComparer.OrdinalIgnoreCase);
        return new StubResponse(status, split.Length > 1 ? split[1] : "", headers);
    }
}

/// <summary>
/// An HTTP server on 127.0.0.1 that records every request and answers from a queue (or a fixed answer), so a test
/// can check the exact wire request a client sends and how it reads each kind of answer.
/// </summary>
public sealed class WireStub : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<StubResponse> _queue = new();
    private readonly CancellationTokenSource _stop = new();

    public WireStub()
    {
        Port = FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}/";
    public ConcurrentQueue<CapturedRequest> Requests { get; } = new();
    /// <summary>Answers by request (e.g. by Action) before the queue is consulted; null falls through to the queue.</summary>
    public Func<CapturedRequest, StubResponse?>? Responder { get; set; }
    /// <summary>Answer used when the queue is empty.</summary>
    public StubResponse? Default { get; set; }

    public WireStub Enqueue(params StubResponse[] responses)
    {
        foreach (var r in responses) _queue.Enqueue(r);
        return this;
    }

    public CapturedRequest Single() => Assert.Single(Requests);

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (HttpListenerException) { return; }
            catch (ObjectDisposedException) { return; }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        try
        {
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null)
                .ToDictionary(k => k!, k => context.Request.Headers[k] ?? "", StringComparer.OrdinalIgnoreCase);
            var captured = new CapturedRequest(context.Request.HttpMethod, context.Request.RawUrl ?? "/", headers, body.ToArray());
            Requests.Enqueue(captured);

            var answer = Responder?.Invoke(captured) ?? (_queue.TryDequeue(out var queued) ? queued : null)
                ?? Default ?? new StubResponse(500, "{\"message\":\"no stub answer queued\"}");
            if (answer.Delay is { } delay) await Task.Delay(delay, _stop.Token);
            context.Response.StatusCode = answer.Status;
            foreach (var (name, value) in answer.Headers ?? new())
            {
                if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) context.Response.ContentType = value;
                else context.Response.Headers[name] = value;
            }
            var bytes = Encoding.UTF8.GetBytes(answer.Body);
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception) when (_stop.IsCancellationRequested) { }
        catch (HttpListenerException) { }
    }

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
    }
}
