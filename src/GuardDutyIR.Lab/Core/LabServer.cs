using System.Collections.Specialized;
using System.Net;
using System.Net.Sockets;
using System.Web;

namespace GuardDutyIR.Lab.Core;

/// <summary>
/// The HTTP front: an HttpListener bound to 127.0.0.1 only. It authenticates every request with SigV4, routes it by
/// the credential scope's service name, applies fault injection, counts it, and writes the service's response.
/// Requests are handled concurrently.
/// </summary>
internal sealed class LabServer : IAsyncDisposable
{
    private readonly LabContext _context;
    private readonly Dictionary<string, ILabService> _services;
    private readonly SigV4Verifier _verifier;
    private readonly HttpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _inFlight;

    public LabServer(LabContext context, IEnumerable<ILabService> services, int port)
    {
        _context = context;
        _services = services.ToDictionary(s => s.SigningName, StringComparer.Ordinal);
        // Clients sign with their own wall clock, so the signing-date window is checked against the real one; the Lab's
        // clock (LabOptions.Clock) only drives what the Lab simulates, which a test may move on without re-signing.
        _verifier = new SigV4Verifier(context.Credentials, TimeProvider.System);
        (_listener, Port) = Bind(port);
    }

    public int Port { get; }

    private static (HttpListener, int) Bind(int port)
    {
        Exception? last = null;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            int p = port;
            if (p == 0)
            {
                // HttpListener cannot bind port 0, so ask the OS for a free loopback port first.
                var probe = new TcpListener(IPAddress.Loopback, 0);
                probe.Start();
                p = ((IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
            }
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{p}/");
            try
            {
                listener.Start();
                return (listener, p);
            }
            catch (HttpListenerException ex)
            {
                last = ex;
                listener.Close();
                if (port != 0) break;
            }
        }
        throw new InvalidOperationException($"Could not bind the Lab to 127.0.0.1:{port}", last);
    }

    public void Start() => _loop = Task.Run(AcceptLoopAsync);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync().ConfigureAwait(false); }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening) { break; }
            catch (HttpListenerException) { continue; }
            _ = Task.Run(() => HandleSafeAsync(ctx));
        }
    }

    private async Task HandleSafeAsync(HttpListenerContext ctx)
    {
        Interlocked.Increment(ref _inFlight);
        try { await HandleAsync(ctx).ConfigureAwait(false); }
        catch (Exception)
        {
            try { ctx.Response.Abort(); } catch (Exception) { /* connection already gone */ }
        }
        finally { Interlocked.Decrement(ref _inFlight); }
    }

    private async Task HandleAsync(HttpListenerContext ctx)
    {
        var req = ctx.Request;
        byte[] body;
        using (var ms = new MemoryStream())
        {
            await req.InputStream.CopyToAsync(ms, _stop.Token).ConfigureAwait(false);
            body = ms.ToArray();
        }
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string? name in req.Headers.AllKeys)
            if (name is not null) headers[name] = string.Join(",", req.Headers.GetValues(name) ?? Array.Empty<string>());
        var rawUrl = req.RawUrl ?? "/";
        SigV4Verifier.SplitUrl(rawUrl, out var rawPath, out var rawQuery);
        var requestId = Guid.NewGuid().ToString();

        if (rawPath.StartsWith("/_lab/", StringComparison.Ordinal) || rawPath == "/_lab")
        {
            var adminQuery = HttpUtility.ParseQueryString(rawQuery);
            await WriteAsync(ctx, _context.Admin.Handle(new LabAdminRequest(req.HttpMethod, Uri.UnescapeDataString(rawPath), adminQuery, body, headers))).ConfigureAwait(false);
            return;
        }

        var queryPairs = SigV4Verifier.ParseQuery(rawQuery);
        var scope = SigV4Verifier.ReadScope(headers, queryPairs);
        if (scope is null)
        {
            await WriteAsync(ctx, LabAdminRouter.JsonResponse(403, new { __type = "MissingAuthenticationTokenException", message = "Missing Authentication Token: the Lab routes requests by the SigV4 credential scope." })).ConfigureAwait(false);
            return;
        }
        if (!_services.TryGetValue(scope.Service, out var service))
        {
            await WriteAsync(ctx, LabAdminRouter.JsonResponse(400, new { __type = "UnknownService", message = $"The Lab has no service with signing name '{scope.Service}'.", services = _services.Keys.OrderBy(k => k) })).ConfigureAwait(false);
            return;
        }

        var action = "";
        var verdict = _verifier.Verify(req.HttpMethod, rawUrl, headers, body);
        if (verdict.Ok && scope.Service == "s3" && scope.Region != _context.Region && rawPath.Trim('/').Length > 0)
        {
            // S3 answers a bucket request signed for another region with 400 AuthorizationHeaderMalformed and names the
            // bucket's region in x-amz-bucket-region (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html),
            // which is how a client with no region finds it. The Lab's buckets all live in the Lab's region.
            var wrongRegion = ProtocolErrors.S3(400, "AuthorizationHeaderMalformed",
                $"The authorization header is malformed; the region '{scope.Region}' is wrong; expecting '{_context.Region}'", requestId);
            wrongRegion.Headers["x-amz-bucket-region"] = _context.Region;
            _context.Counters.Record(scope.Service, ActionOf(scope.Service, req.HttpMethod, rawPath, headers, queryPairs, body), false, wrongRegion.ErrorCode);
            await WriteAsync(ctx, wrongRegion).ConfigureAwait(false);
            return;
        }
        if (verdict.Ok && scope.Region != _context.Region && scope.Service is not ("sts" or "iam")
            && !(scope.Service == "guardduty" && _context.Options.AdditionalGuardDutyRegions.Contains(scope.Region)))
            verdict = verdict with { Failure = SigV4Failure.SignatureMismatch, Message = $"Credential should be scoped to a valid region, not '{scope.Region}'. " };
        if (!verdict.Ok)
        {
            var error = AuthError(scope.Service, verdict, requestId);
            _context.Counters.Record(scope.Service, ActionOf(scope.Service, req.HttpMethod, rawPath, headers, queryPairs, body), false, error.ErrorCode);
            await WriteAsync(ctx, error).ConfigureAwait(false);
            return;
        }

        // An explicit deny in the signer's own policies (e.g. IAM's "revoke active sessions" on a role) refuses the call in
        // every service alike. GetCallerIdentity is the one exception: "No permissions are required to perform this
        // operation" and an explicit deny does not stop it (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
        // The action as the request names it, before the service has parsed it: for the policy check, holds and faults.
        var requested = ActionOf(scope.Service, req.HttpMethod, rawPath, headers, queryPairs, body);
        if (verdict.Principal is { Kind: LabPrincipalKind.AssumedRole } signer)
        {
            if (!(scope.Service == "sts" && requested == "GetCallerIdentity"))
            {
                foreach (var authority in _context.Services.OfType<ILabPolicyAuthority>())
                {
                    if (authority.ExplicitDeny(signer, scope.Service, requested) is not { } denial) continue;
                    var refused = ProtocolErrors.AccessDenied(scope.Service, denial, requestId);
                    _context.Counters.Record(scope.Service, requested, !LabCounters.IsReadOnlyAction(requested), refused.ErrorCode, accountId: signer.AccountId);
                    await WriteAsync(ctx, refused).ConfigureAwait(false);
                    return;
                }
            }
        }

        await _context.Holds.ArriveAsync(scope.Service, requested, _stop.Token).ConfigureAwait(false);
        var faults = _context.Faults;
        // Real waiting on the system clock; on a test's clock the answer waits until the test moves that clock on.
        if (faults.LatencyMs > 0 && faults.AppliesTo(scope.Service))
            await Task.Delay(TimeSpan.FromMilliseconds(faults.LatencyMs), _context.Clock, _stop.Token).ConfigureAwait(false);
        var fault = faults.Decide(scope.Service);
        if (fault == FaultKind.Drop)
        {
            _context.Counters.Record(scope.Service, requested, false, "Dropped", injectedFault: true);
            await DropAsync(ctx).ConfigureAwait(false);
            return;
        }
        if (fault is FaultKind.Error500 or FaultKind.Error503)
        {
            var err = ProtocolErrors.Fault(scope.Service, fault == FaultKind.Error500 ? 500 : 503, requestId);
            _context.Counters.Record(scope.Service, requested, false, err.ErrorCode, injectedFault: true);
            await WriteAsync(ctx, err).ConfigureAwait(false);
            return;
        }

        if (AwsChunked.IsStreaming(headers))
        {
            body = AwsChunked.Decode(body, out var trailers);
            // A trailing checksum is the same checksum as its header form, only sent after the body.
            foreach (var (name, value) in trailers)
                if (name.StartsWith("x-amz-checksum-", StringComparison.OrdinalIgnoreCase)) headers.TryAdd(name, value);
        }
        var query = new NameValueCollection(StringComparer.Ordinal);
        foreach (var kv in queryPairs) query.Add(kv.Key, kv.Value);

        var labRequest = new LabRequest
        {
            Method = req.HttpMethod,
            RawPath = rawPath,
            Query = query,
            Headers = headers,
            Body = body,
            Service = scope.Service,
            Region = scope.Region,
            AccessKeyId = scope.AccessKeyId,
            AccountId = verdict.Principal!.AccountId,
            RequestId = requestId,
            Principal = verdict.Principal,
        };

        LabResponse response;
        try
        {
            response = await service.HandleAsync(labRequest, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            response = ProtocolErrors.ForService(scope.Service, 500, ProtocolErrors.ProtocolOf(scope.Service).Protocol == LabProtocol.Ec2 ? "InternalError" : "InternalFailure",
                "Lab internal error: " + ex.Message, requestId, senderFault: false);
        }
        action = labRequest.Action ?? ActionOf(scope.Service, req.HttpMethod, rawPath, headers, queryPairs, body, labRequest);
        var mutating = labRequest.Mutating ?? !LabCounters.IsReadOnlyAction(action);
        _context.Counters.Record(scope.Service, action, mutating, response.ErrorCode, accountId: labRequest.AccountId);
        await WriteAsync(ctx, response).ConfigureAwait(false);
    }

    /// <summary>The operation name for counters when the service did not name it: query Action, or the JSON target's suffix.</summary>
    private static string ActionOf(string service, string method, string rawPath, IReadOnlyDictionary<string, string> headers,
        IReadOnlyList<KeyValuePair<string, string>> query, byte[] body, LabRequest? parsed = null)
    {
        var form = parsed?.Form;
        if (form?["Action"] is { } a) return a;
        foreach (var kv in query) if (kv.Key == "Action") return kv.Value;
        if (headers.TryGetValue("X-Amz-Target", out var target)) return target[(target.LastIndexOf('.') + 1)..];
        if (parsed is null && headers.TryGetValue("Content-Type", out var ct) && ct.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            var text = System.Text.Encoding.UTF8.GetString(body);
            foreach (var pair in text.Split('&'))
                if (pair.StartsWith("Action=", StringComparison.Ordinal)) return Uri.UnescapeDataString(pair[7..]);
        }
        _ = service;
        return method + " " + rawPath;
    }

    /// <summary>Maps a SigV4 failure to the code, status and shape each protocol family uses.</summary>
    internal static LabResponse AuthError(string service, SigV4Result v, string requestId)
    {
        var (protocol, xmlns) = ProtocolErrors.ProtocolOf(service);
        var f = v.Failure;
        switch (protocol)
        {
            case LabProtocol.Ec2:
                // EC2 answers every credential problem with AuthFailure 401 and a stale date with RequestExpired 400
                // (both observed in the wild; EC2 does not document the status codes).
                if (f is SigV4Failure.RequestExpired or SigV4Failure.ExpiredSessionToken)
                    return ProtocolErrors.Ec2(400, "RequestExpired", "Request has expired.", requestId);
                return ProtocolErrors.Ec2(401, "AuthFailure", "AWS was not able to validate the provided access credentials", requestId);
            case LabProtocol.Query:
            {
                var ns = xmlns ?? ProtocolErrors.StsNamespace;
                return f switch
                {
                    SigV4Failure.UnknownAccessKey or SigV4Failure.InvalidSessionToken => ProtocolErrors.Query(403, "Sender", "InvalidClientTokenId", v.Message, requestId, ns),
                    SigV4Failure.ExpiredSessionToken => ProtocolErrors.Query(403, "Sender", "ExpiredToken", v.Message, requestId, ns),
                    SigV4Failure.Malformed => ProtocolErrors.Query(400, "Sender", "IncompleteSignature", v.Message, requestId, ns),
                    SigV4Failure.MissingAuthentication => ProtocolErrors.Query(403, "Sender", "MissingAuthenticationToken", v.Message, requestId, ns),
                    _ => ProtocolErrors.Query(403, "Sender", "SignatureDoesNotMatch", v.Message, requestId, ns),
                };
            }
            case LabProtocol.RestJson:
                // API Gateway-style front ends answer auth failures with 403 (unverified for GuardDuty specifically).
                return f switch
                {
                    SigV4Failure.UnknownAccessKey or SigV4Failure.InvalidSessionToken => ProtocolErrors.RestJson(403, "UnrecognizedClientException", v.Message, requestId),
                    SigV4Failure.ExpiredSessionToken => ProtocolErrors.RestJson(403, "ExpiredTokenException", v.Message, requestId),
                    SigV4Failure.Malformed or SigV4Failure.MissingAuthentication => ProtocolErrors.RestJson(403, "IncompleteSignatureException", v.Message, requestId),
                    _ => ProtocolErrors.RestJson(403, "InvalidSignatureException", v.Message, requestId),
                };
            case LabProtocol.S3:
                return f switch
                {
                    SigV4Failure.UnknownAccessKey => ProtocolErrors.S3(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", requestId),
                    SigV4Failure.InvalidSessionToken => ProtocolErrors.S3(400, "InvalidToken", "The provided token is malformed or otherwise invalid.", requestId),
                    SigV4Failure.ExpiredSessionToken => ProtocolErrors.S3(400, "ExpiredToken", "The provided token has expired.", requestId),
                    SigV4Failure.Malformed or SigV4Failure.MissingAuthentication => ProtocolErrors.S3(400, "AuthorizationHeaderMalformed", v.Message, requestId),
                    SigV4Failure.RequestExpired when v.Message.StartsWith("Request has expired", StringComparison.Ordinal) => ProtocolErrors.S3(403, "AccessDenied", "Request has expired", requestId),
                    SigV4Failure.RequestExpired => ProtocolErrors.S3(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", requestId),
                    _ => ProtocolErrors.S3(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", requestId),
                };
            default:
                // awsJson (DynamoDB-style behaviour; CloudTrail/Athena assumed to match): 400 for every auth failure.
                return f switch
                {
                    SigV4Failure.UnknownAccessKey or SigV4Failure.InvalidSessionToken => ProtocolErrors.Json11(400, "UnrecognizedClientException", v.Message, requestId),
                    SigV4Failure.ExpiredSessionToken => ProtocolErrors.Json11(400, "ExpiredTokenException", v.Message, requestId),
                    SigV4Failure.Malformed or SigV4Failure.MissingAuthentication => ProtocolErrors.Json11(400, "IncompleteSignatureException", v.Message, requestId),
                    _ => ProtocolErrors.Json11(400, "InvalidSignatureException", v.Message, requestId),
                };
        }
    }

    /// <summary>
    /// Cuts the connection in the middle of an answer: headers that promise a body, the first byte of it, then the
    /// connection closed. HttpListenerResponse.Abort alone is not a drop on every platform: the managed listener (Linux,
    /// macOS) flushes the pending headers as it closes, and the client reads an empty 200 as a complete answer.
    /// </summary>
    private static async Task DropAsync(HttpListenerContext ctx)
    {
        var r = ctx.Response;
        try
        {
            r.StatusCode = 200;
            r.SendChunked = false;
            r.ContentLength64 = 4096;
            await r.OutputStream.WriteAsync("<"u8.ToArray()).ConfigureAwait(false);
            await r.OutputStream.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException) { /* the client already went */ }
        try { r.Abort(); } catch (Exception) { /* connection already gone */ }
    }

    private static async Task WriteAsync(HttpListenerContext ctx, LabResponse response)
    {
        var r = ctx.Response;
        bool head = ctx.Request.HttpMethod == "HEAD";
        r.StatusCode = response.StatusCode;
        r.ContentType = response.ContentType;
        foreach (var (k, v) in response.Headers)
        {
            if (string.Equals(k, "Content-Type", StringComparison.OrdinalIgnoreCase)) continue;
            if (string.Equals(k, "Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
            r.Headers[k] = v;
        }
        // HEAD answers carry the entity's length without a body (S3 HeadObject).
        if (head && response.Headers.TryGetValue("Content-Length", out var declared) && long.TryParse(declared, out var len)) r.ContentLength64 = len;
        else r.ContentLength64 = head ? 0 : response.Body.Length;
        if (!head && response.Body.Length > 0) await r.OutputStream.WriteAsync(response.Body).ConfigureAwait(false);
        r.Close();
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { _listener.Stop(); _listener.Close(); } catch (ObjectDisposedException) { }
        if (_loop is not null) { try { await _loop.ConfigureAwait(false); } catch (Exception) { /* stopping */ } }
        for (int i = 0; i < 50 && Volatile.Read(ref _inFlight) > 0; i++) await Task.Delay(20).ConfigureAwait(false);
        _stop.Dispose();
    }
}
