using System.Net;
using Amazon.Runtime;
using Amazon.Runtime.Credentials.Internal;
using Amazon.Runtime.Endpoints;
using Amazon.Runtime.Internal;
using Amazon.Runtime.Internal.Auth;
using Amazon.Runtime.Internal.Transform;

namespace GuardDutyIR.Engine.Aws;

/// <summary>
/// A request for a service we call without its AWSSDK package. The SDK's own pipeline carries it: credentials,
/// endpoint, SigV4 signing, retries with backoff (AWS_RETRY_MODE / AWS_MAX_ATTEMPTS) and cancellation all come
/// from AWSSDK.Core; only the wire body is ours.
/// </summary>
internal sealed class AwsRawRequest : AmazonWebServiceRequest
{
    public required string Operation { get; init; }
    public string Method { get; init; } = "POST";
    /// <summary>Path template with {Labels}, e.g. "/detector/{DetectorId}/findings".</summary>
    public string PathTemplate { get; init; } = "/";
    public Dictionary<string, string> PathParameters { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> QueryParameters { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);
    public byte[]? Body { get; init; }
    public string? ContentType { get; init; }
}

/// <summary>The raw answer of a successful call.</summary>
internal sealed class AwsRawResponse : AmazonWebServiceResponse
{
    public byte[] Body { get; set; } = Array.Empty<byte>();
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);
    public string? RequestId => ResponseMetadata?.RequestId;
}

/// <summary>
/// A service error as our parser read it. The SDK pipeline may rewrite RequestId on the way out (it looks only at
/// headers), so the wire values travel with the exception.
/// </summary>
internal sealed class WireServiceException(WireError error, Exception inner, HttpStatusCode status)
    : AmazonServiceException(error.Message, inner, (int)status >= 500 ? ErrorType.Receiver : ErrorType.Sender,
        error.Code, error.RequestId, status)
{
    public WireError Wire { get; } = error;
}

internal sealed class AwsProtocolClientConfig : ClientConfig
{
    private readonly AwsServiceDescriptor _service;

    public AwsProtocolClientConfig(AwsServiceDescriptor service)
        : base(new DefaultConfigurationProvider(DefaultModes()))
    {
        _service = service;
        ServiceId = service.ServiceId;
        AuthenticationServiceName = service.SigningName;
        EndpointProvider = new AwsProtocolEndpointProvider(service);
    }

    public AwsServiceDescriptor Service => _service;
    public override string RegionEndpointServiceName => _service.EndpointPrefix;
    public override string ServiceVersion => _service.ApiVersion;
    public override string UserAgent => "GuardDutyIR/" + typeof(AwsProtocolClientConfig).Assembly.GetName().Version;

    public override Endpoint DetermineServiceOperationEndpoint(ServiceOperationEndpointParameters parameters) =>
        EndpointProvider.ResolveEndpoint(AwsProtocolEndpointResolver.Map(this, parameters.AlternateEndpoint?.SystemName));

    // Every defaults mode gets the SDK's standard retry mode; AWS_RETRY_MODE and AWS_MAX_ATTEMPTS still override it
    // because ClientConfig consults the environment and shared config before these defaults.
    private static IEnumerable<IDefaultConfiguration> DefaultModes() =>
        Enum.GetValues<DefaultConfigurationMode>().Select(mode => (IDefaultConfiguration)new DefaultConfiguration
        {
            Name = mode,
            RetryMode = RequestRetryMode.Standard,
        });
}

internal sealed class AwsProtocolEndpointProvider(AwsServiceDescriptor service) : IEndpointProvider
{
    public Endpoint ResolveEndpoint(EndpointParameters parameters)
    {
        if (parameters["Endpoint"] is string custom && custom.Length > 0) return new Endpoint(custom);
        var region = parameters["Region"] as string
            ?? throw new AmazonClientException($"No region is set for {service.ServiceId}.");
        if (service.Global) return new Endpoint(IamClient.EndpointFor(region));
        var suffix = region.StartsWith("cn-", StringComparison.Ordinal) ? "amazonaws.com.cn" : "amazonaws.com";
        return new Endpoint($"https://{service.EndpointPrefix}.{region}.{suffix}");
    }
}

internal sealed class AwsProtocolEndpointResolver : BaseEndpointResolver
{
    protected override EndpointParameters MapEndpointsParameters(IRequestContext requestContext) =>
        Map(requestContext.ClientConfig, requestContext.Request.AlternateEndpoint?.SystemName);

    public static EndpointParameters Map(IClientConfig config, string? alternateRegion)
    {
        var parameters = new EndpointParameters();
        parameters["Region"] = alternateRegion ?? config.RegionEndpoint?.SystemName ?? config.AuthenticationRegion;
        parameters["Endpoint"] = config.ServiceURL;
        return parameters;
    }
}

internal sealed class SigV4AuthSchemeHandler : BaseAuthResolverHandler
{
    protected override List<IAuthSchemeOption> ResolveAuthOptions(IExecutionContext executionContext) =>
        AuthSchemeOption.DEFAULT_SIGV4;
}

internal sealed class AwsProtocolClient : AmazonServiceClient
{
    private readonly AwsServiceDescriptor _service;
    private readonly InvokeOptions _options;

    public AwsProtocolClient(AWSCredentials credentials, AwsProtocolClientConfig config)
        : base(credentials, config)
    {
        _service = config.Service;
        _options = new InvokeOptions
        {
            RequestMarshaller = new RawRequestMarshaller(_service),
            ResponseUnmarshaller = new RawResponseUnmarshaller(_service),
        };
    }

    public AwsServiceDescriptor Service => _service;

    protected override IServiceMetadata ServiceMetadata => new Metadata(_service.ServiceId);

    protected override void CustomizeRuntimePipeline(RuntimePipeline pipeline)
    {
        pipeline.RemoveHandler<EndpointResolver>();
        pipeline.AddHandlerAfter<Marshaller>(new AwsProtocolEndpointResolver());
        pipeline.AddHandlerAfter<Marshaller>(new SigV4AuthSchemeHandler());
    }

    /// <summary>Sends one request; service errors come back as <see cref="AwsServiceException"/>.</summary>
    public async Task<AwsRawResponse> SendAsync(AwsRawRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await InvokeAsync<AwsRawResponse>(request, _options, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonServiceException e) when (e is not null)
        {
            throw AwsErrors.Translate(e, _service.ServiceId, request.Operation, target: null);
        }
    }

    private sealed class Metadata(string serviceId) : IServiceMetadata
    {
        public string ServiceId { get; } = serviceId;
        public IDictionary<string, string> OperationNameMapping { get; } = new Dictionary<string, string>();
    }

    private sealed class RawRequestMarshaller(AwsServiceDescriptor service) : IMarshaller<IRequest, AmazonWebServiceRequest>
    {
        public IRequest Marshall(AmazonWebServiceRequest input)
        {
            var raw = (AwsRawRequest)input;
            var request = new DefaultRequest(raw, service.ServiceId)
            {
                HttpMethod = raw.Method,
                ResourcePath = raw.PathTemplate,
            };
            foreach (var (label, value) in raw.PathParameters) request.AddPathResource("{" + label + "}", value);
            foreach (var (name, value) in raw.QueryParameters) request.Parameters[name] = value;
            if (raw.QueryParameters.Count > 0) request.UseQueryString = true;
            foreach (var (name, value) in raw.Headers) request.Headers[name] = value;
            if (raw.Body is not null)
            {
                request.Content = raw.Body;
                request.Headers["Content-Type"] = raw.ContentType ?? "application/json";
            }
            return request;
        }
    }

    private sealed class RawResponseUnmarshaller(AwsServiceDescriptor service) : JsonResponseUnmarshaller
    {
        public override AmazonWebServiceResponse Unmarshall(JsonUnmarshallerContext context)
        {
            var response = new AwsRawResponse { Body = ReadBody(context) };
            foreach (var name in context.ResponseData.GetHeaderNames())
                response.Headers[name] = context.ResponseData.GetHeaderValue(name);
            response.ResponseMetadata = new ResponseMetadata
            {
                RequestId = AwsErrors.FindRequestId(service.Protocol, response.Headers, response.Body),
            };
            return response;
        }

        public override AmazonServiceException UnmarshallException(JsonUnmarshallerContext context, Exception innerException, HttpStatusCode statusCode)
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var name in context.ResponseData.GetHeaderNames()) headers[name] = context.ResponseData.GetHeaderValue(name);
            var error = AwsErrors.Parse(service.Protocol, (int)statusCode, headers, ReadBody(context));
            return new WireServiceException(error, innerException, statusCode);
        }

        // The body is not always JSON (query protocol answers XML) and the SDK may peek at the stream of an error
        // response, so the whole body is buffered once here and read raw from then on.
        protected override UnmarshallerContext ConstructUnmarshallerContext(Stream responseStream, bool maintainResponseBody,
            IWebResponseData response, bool isException) =>
            new BufferedContext(Buffer(responseStream), response, isException, null);

        protected override UnmarshallerContext ConstructUnmarshallerContext(Stream responseStream, bool maintainResponseBody,
            IWebResponseData response, bool isException, IRequestContext requestContext) =>
            new BufferedContext(Buffer(responseStream), response, isException, requestContext);

        private static byte[] Buffer(Stream stream)
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return buffer.ToArray();
        }

        // Read through the context's stream, not the buffer: when the answer carries x-amz-crc32 that stream computes
        // the checksum the SDK then verifies, and a body read around it would always look corrupt.
        private static byte[] ReadBody(JsonUnmarshallerContext context) => Buffer(context.Stream);

        private sealed class BufferedContext(byte[] raw, IWebResponseData response, bool isException, IRequestContext? requestContext)
            : JsonUnmarshallerContext(new MemoryStream(raw), false, response, isException, requestContext);
    }
}
