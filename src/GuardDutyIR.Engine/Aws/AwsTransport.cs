using System.Globalization;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using Amazon.Runtime;
using Amazon.Runtime.Internal;

namespace GuardDutyIR.Engine.Aws;

/// <summary>
/// How long a client waits for a connection and for an answer. Without limits an endpoint that accepts a connection
/// and never answers holds a cmdlet for minutes (HttpClient's 100-second default, times the SDK's attempts). Set per
/// session with Set-GdDefault -ConnectTimeoutSec/-RequestTimeoutSec, or for a process (a Lambda function, an SSM run)
/// with the environment variables below.
/// </summary>
public sealed record TransportSettings(TimeSpan ConnectTimeout, TimeSpan RequestTimeout)
{
    public const string ConnectTimeoutVariable = "GUARDDUTYIR_CONNECT_TIMEOUT_SEC";
    public const string RequestTimeoutVariable = "GUARDDUTYIR_REQUEST_TIMEOUT_SEC";
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Given values first, then the environment, then the defaults.</summary>
    public static TransportSettings Resolve(double? connectSeconds, double? requestSeconds) => new(
        Pick(connectSeconds, ConnectTimeoutVariable, DefaultConnectTimeout),
        Pick(requestSeconds, RequestTimeoutVariable, DefaultRequestTimeout));

    /// <summary>Timeouts are whole or fractional seconds, more than 0 and at most an hour.</summary>
    public static double ValidateSeconds(double seconds, string name)
    {
        if (double.IsNaN(seconds) || seconds <= 0 || seconds > 3600)
            throw new GuardDutyIRException("InvalidTimeout", ErrorKind.InvalidArgument,
                $"{name} must be more than 0 and at most 3600 seconds.", seconds);
        return seconds;
    }

    private static TimeSpan Pick(double? given, string variable, TimeSpan fallback)
    {
        if (given is { } seconds) return TimeSpan.FromSeconds(ValidateSeconds(seconds, variable));
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(text)) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
            throw new GuardDutyIRException("InvalidTimeout", ErrorKind.InvalidArgument,
                $"The environment variable {variable} must be a number of seconds.", variable);
        return TimeSpan.FromSeconds(ValidateSeconds(parsed, variable));
    }

    /// <summary>Applies the limits to one client's configuration.</summary>
    internal void Apply(ClientConfig config)
    {
        config.ConnectTimeout = ConnectTimeout;
        config.Timeout = RequestTimeout;
    }
}

/// <summary>
/// The one place where what the network does to a call (refused, reset, no DNS answer, a failed TLS handshake, no
/// answer in time, a corrupt body) becomes a <see cref="GuardDutyIRException"/> with a stable ErrorId and the
/// endpoint as target, after the SDK's own retries have given up. Service answers and the caller's own cancellation
/// pass through untouched.
/// </summary>
public static class TransportErrors
{
    private const string CustomizerName = "GuardDutyIR.TransportErrors";

    /// <summary>The ErrorId of an endpoint that did not answer in time (not a resource's own deadline).</summary>
    public const string OperationTimeoutId = "OperationTimeout";

    /// <summary>Puts the translation at the outside of every client pipeline this load context creates (ours and AWSSDK's).</summary>
    internal static void Register() => RuntimePipelineCustomizerRegistry.Instance.Register(new Customizer());

    internal static GuardDutyIRException? Classify(Exception error, string service, string operation, Uri? endpoint,
        TimeSpan? requestTimeout, bool cancelledByCaller)
    {
        if (error is GuardDutyIRException or AmazonServiceException) return null;
        if (cancelledByCaller && error is OperationCanceledException) return null;
        var where = Describe(endpoint);
        var call = $"{service} {operation}";
        foreach (var e in Chain(error))
        {
            switch (e)
            {
                case TimeoutException:
                case OperationCanceledException:
                    return Timeout(call, where, requestTimeout, error);
                case AuthenticationException:
                    return Connection(call, where, "the TLS handshake failed (is the endpoint really https, with a certificate this machine trusts?)", error);
                case SocketException socket:
                    return socket.SocketErrorCode switch
                    {
                        SocketError.ConnectionRefused => Connection(call, where, "the connection was refused (nothing listens there)", error),
                        SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData =>
                            Connection(call, where, "the host name could not be resolved (DNS)", error),
                        SocketError.TimedOut => Timeout(call, where, requestTimeout, error),
                        SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown =>
                            Connection(call, where, "the connection was reset", error),
                        _ => Connection(call, where, $"the network failed ({socket.SocketErrorCode})", error),
                    };
                case IOException io when io.TargetSite?.Name == "ValidateCRC32IfAvailable":
                    return new GuardDutyIRException("CorruptResponse", ErrorKind.InvalidData,
                        $"{call}: the answer from {where} does not match its x-amz-crc32 checksum, on every attempt.", where, error);
            }
        }
        foreach (var e in Chain(error))
        {
            switch (e)
            {
                case HttpRequestException http:
                    return Connection(call, where, http.HttpRequestError switch
                    {
                        HttpRequestError.NameResolutionError => "the host name could not be resolved (DNS)",
                        HttpRequestError.SecureConnectionError => "the TLS handshake failed",
                        HttpRequestError.ResponseEnded => "the connection closed before the answer was complete",
                        HttpRequestError.InvalidResponse => "the answer was not valid HTTP",
                        _ => "the connection failed",
                    }, error);
                case IOException:
                    return Connection(call, where, "the connection was lost while the answer was read", error);
            }
        }
        return null;
    }

    private static GuardDutyIRException Timeout(string call, string where, TimeSpan? limit, Exception inner) =>
        new(OperationTimeoutId, ErrorKind.OperationTimeout,
            $"{call}: no answer from {where}" + (limit is { } l ? $" within {l.TotalSeconds:0.#} s" : "")
            + $" on any attempt. Check the endpoint, or allow longer with Set-GdDefault -RequestTimeoutSec or {TransportSettings.RequestTimeoutVariable}.",
            where, inner);

    private static GuardDutyIRException Connection(string call, string where, string what, Exception inner) =>
        new("ConnectionError", ErrorKind.ConnectionError, $"{call}: cannot reach {where}: {what}.", where, inner);

    // The endpoint without user info, query or path: what the responder needs to check, and never a secret.
    private static string Describe(Uri? endpoint) =>
        endpoint is null ? "the endpoint" : endpoint.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped);

    private static IEnumerable<Exception> Chain(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Chain)) yield return inner;
        }
    }

    private sealed class Customizer : IRuntimePipelineCustomizer
    {
        public string UniqueName => CustomizerName;

        public void Customize(Type type, RuntimePipeline pipeline) => pipeline.AddHandler(new Handler());
    }

    private sealed class Handler : PipelineHandler
    {
        public override void InvokeSync(IExecutionContext executionContext)
        {
            try
            {
                base.InvokeSync(executionContext);
            }
            catch (Exception e) when (Translate(e, executionContext) is { } translated)
            {
                throw translated;
            }
        }

        public override async Task<T> InvokeAsync<T>(IExecutionContext executionContext)
        {
            try
            {
                return await base.InvokeAsync<T>(executionContext).ConfigureAwait(false);
            }
            catch (Exception e) when (Translate(e, executionContext) is { } translated)
            {
                throw translated;
            }
        }

        private static GuardDutyIRException? Translate(Exception e, IExecutionContext context)
        {
            var request = context.RequestContext;
            var operation = request.OriginalRequest is AwsRawRequest raw ? raw.Operation
                : request.RequestName?.Replace("Request", "", StringComparison.Ordinal) ?? "call";
            var endpoint = request.Request?.Endpoint ?? (request.ClientConfig.ServiceURL is { } url ? new Uri(url) : null);
            return Classify(e, request.ServiceMetaData?.ServiceId ?? request.ClientConfig.ServiceId ?? "AWS", operation, endpoint,
                request.ClientConfig.Timeout, request.CancellationToken.IsCancellationRequested);
        }
    }
}
