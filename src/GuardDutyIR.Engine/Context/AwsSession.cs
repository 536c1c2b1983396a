using System.Collections.Concurrent;
using Amazon;
using Amazon.EC2;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.S3;
using Amazon.SecurityToken;
using Amazon.SecurityToken.Model;
using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Engine.Context;

/// <summary>
/// Everything one cmdlet invocation needs to talk to AWS: credentials resolved once, the default region, the
/// endpoint override, and clients created once per region (never per pipeline record).
/// </summary>
public sealed class AwsSession : IDisposable
{
    // Transport failures of every client this load context makes become ConnectionError / OperationTimeout errors.
    static AwsSession() => TransportErrors.Register();

    private readonly ConcurrentDictionary<(string Kind, string Region), IDisposable> _clients = new();
    private readonly AwsContextOptions _options;
    private readonly string? _profileForRegion;
    private readonly AWSCredentials _baseCredentials;
    private readonly AWSCredentials _credentials;

    private AwsSession(AwsContextOptions options, ResolvedCredentials credentials, RoleRequest? role, string? region, string regionSource,
        Uri? endpoint, string? profileForRegion, TransportSettings transport)
    {
        _options = options;
        _baseCredentials = credentials.Credentials;
        CredentialSource = credentials.Source;
        DefaultRegion = region;
        RegionSource = regionSource;
        EndpointUrl = endpoint;
        Transport = transport;
        _profileForRegion = profileForRegion;
        // With a role, every client signs with the role's keys: no service can act with the caller's own by forgetting
        // to assume. STS itself is called with the base keys.
        _credentials = role is null ? _baseCredentials
            : new AssumedRoleCredentials(() => GetOrCreate("sts-base", region ?? "us-east-1", r =>
                new AmazonSecurityTokenServiceClient(_baseCredentials, Configure(new AmazonSecurityTokenServiceConfig(), r, "STS"))), role);
    }

    /// <summary>The region used when a call does not name one; null when nothing supplied one.</summary>
    public string? DefaultRegion { get; }
    public string RegionSource { get; }
    public string CredentialSource { get; }
    public Uri? EndpointUrl { get; }
    public TransportSettings Transport { get; }
    /// <summary>The role every call of this session acts as (-RoleArn or Set-GdDefault -RoleArn), or null.</summary>
    public RoleRequest? Role => (_credentials as AssumedRoleCredentials)?.Role;
    internal AWSCredentials Credentials => _credentials;

    /// <summary>
    /// Validates the common parameters and resolves credentials, region and endpoint without any network call
    /// (a role is assumed on first use, or at once through <see cref="AssumeRoleIfRequestedAsync"/>).
    /// </summary>
    public static AwsSession Resolve(AwsContextOptions options, SessionDefaults? defaults, Action<string>? verbose = null)
    {
        AwsContextValidator.Validate(options);
        ProfileStore.EnsureDefaultFilesReadable();
        var transport = TransportSettings.Resolve(defaults?.ConnectTimeoutSec, defaults?.RequestTimeoutSec);
        var credentials = CredentialResolver.Resolve(options, defaults, verbose);
        verbose?.Invoke($"Credentials: {credentials.Source}.");

        var role = options.RoleArn is not null ? new RoleRequest(options.RoleArn, options.ExternalId, options.RoleSessionName)
            : defaults?.RoleArn is { } defaultRole ? new RoleRequest(defaultRole, defaults.ExternalId, defaults.RoleSessionName) : null;
        if (role is not null) verbose?.Invoke($"Role: {role.RoleArn}" + (options.RoleArn is null ? " (session defaults)." : "."));

        var (region, regionSource) = ResolveRegion(options, defaults, verbose);
        verbose?.Invoke(region is null ? "Region: none found yet." : $"Region: {region} ({regionSource}).");

        var endpointText = options.EndpointUrl ?? defaults?.EndpointUrl ?? Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL");
        var endpoint = string.IsNullOrEmpty(endpointText) ? null : AwsContextValidator.ValidateEndpointUrl(endpointText);
        if (endpoint is not null) verbose?.Invoke($"Endpoint: {endpoint}.");

        return new AwsSession(options, credentials, role, region, regionSource, endpoint, options.ProfileName ?? defaults?.ProfileName, transport);
    }

    private static (string? Region, string Source) ResolveRegion(AwsContextOptions options, SessionDefaults? defaults, Action<string>? verbose)
    {
        if (options.Region is not null) return (AwsContextValidator.ValidateRegion(options.Region), "the -Region parameter");
        if (defaults?.Region is { } d) return (d, $"session defaults ({defaults.Source})");
        foreach (var name in new[] { "AWS_REGION", "AWS_DEFAULT_REGION" })
            if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } env)
                return (AwsContextValidator.ValidateRegion(env), $"environment variable {name}");

        var profileName = options.ProfileName ?? defaults?.ProfileName
            ?? (Environment.GetEnvironmentVariable("AWS_PROFILE") is { Length: > 0 } p ? p : "default");
        var store = new ProfileStore(options.ProfileLocation ?? defaults?.ProfileLocation);
        if (store.TryGetProfile(profileName, out var profile) && profile.Region is not null)
            return (profile.Region.SystemName, $"profile '{profileName}'");

        if (Ec2Environment.MetadataServiceAllowed())
        {
            verbose?.Invoke("Trying the EC2 instance metadata service for the region.");
            if (Amazon.Util.EC2InstanceMetadata.Region is { } imds) return (imds.SystemName, "EC2 instance metadata");
        }
        return (null, "");
    }

    /// <summary>The keys of any credential object -Credential accepts, for session defaults.</summary>
    public static (string AccessKeyId, string SecretAccessKey, string? SessionToken) KeysOf(object credential)
    {
        var keys = CredentialResolver.FromObject(credential).GetCredentials();
        return (keys.AccessKey, keys.SecretKey, string.IsNullOrEmpty(keys.Token) ? null : keys.Token);
    }

    /// <summary>The region for one call: the record's own region if it has one, else the session default.</summary>
    public string RegionFor(string? region)
    {
        if (!string.IsNullOrEmpty(region)) return AwsContextValidator.ValidateRegion(region);
        return DefaultRegion ?? throw new GuardDutyIRException("NoRegion", ErrorKind.InvalidArgument,
            "No AWS Region is set. Tried: the -Region parameter, session defaults (Set-GdDefault), AWS_REGION, AWS_DEFAULT_REGION, "
            + $"the region of profile '{_profileForRegion ?? "default"}', and EC2 instance metadata (only on EC2). Pass -Region or run Set-GdDefault -Region.");
    }

    /// <summary>
    /// With a role, assumes it now (once; the keys refresh themselves later), so that a refused AssumeRole stops the
    /// command before anything else is tried.
    /// </summary>
    public async Task AssumeRoleIfRequestedAsync(CancellationToken cancellationToken)
    {
        if (_credentials is AssumedRoleCredentials assumed)
            await assumed.GetCredentialsAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    internal IAmazonEC2 Ec2(string? region) => GetOrCreate("ec2", region, r =>
    {
        var config = Configure(new AmazonEC2Config(), r, "EC2");
        // Bulk containment makes hundreds of calls: more attempts than the default 3 (RequestLimitExceeded and 5xx
        // are retried with the SDK's backoff), and no client-wide retry quota, because our own token buckets already
        // pace the calls and one noisy minute must not make every later retry fail fast. Transport failures keep
        // the usual three attempts (PatientEc2Client).
        config.MaxErrorRetry = 8;
        config.ThrottleRetries = false;
        return new PatientEc2Client(_credentials, config);
    });

    internal IAmazonS3 S3(string? region) => GetOrCreate("s3", region, r =>
    {
        var config = Configure(new AmazonS3Config(), r, "S3");
        config.ForcePathStyle = EndpointUrl is not null;   // custom endpoints (the Lab) serve path-style buckets
        return new AmazonS3Client(_credentials, config);
    });

    internal IAmazonSecurityTokenService Sts(string? region) => GetOrCreate("sts", region ?? DefaultRegion ?? "us-east-1", r =>
        new AmazonSecurityTokenServiceClient(_credentials, Configure(new AmazonSecurityTokenServiceConfig(), r, "STS")));

    internal AwsProtocolClient Protocol(AwsServiceDescriptor service, string? region) => GetOrCreate(service.SigningName, region, r =>
        new AwsProtocolClient(_credentials, Configure(new AwsProtocolClientConfig(service), r, service.ServiceId.ToUpperInvariant())));

    public GuardDutyClient GuardDuty(string? region = null) => new(Protocol(AwsServiceDescriptor.GuardDuty, region), RegionFor(region));
    public CloudTrailClient CloudTrail(string? region = null) => new(Protocol(AwsServiceDescriptor.CloudTrail, region), RegionFor(region));
    public AthenaClient Athena(string? region = null) => new(Protocol(AwsServiceDescriptor.Athena, region), RegionFor(region));
    public EventBridgeClient EventBridge(string? region = null) => new(Protocol(AwsServiceDescriptor.EventBridge, region), RegionFor(region));
    public SnsClient Sns(string? region = null) => new(Protocol(AwsServiceDescriptor.Sns, region), RegionFor(region));
    public AutoScalingClient AutoScaling(string? region = null) => new(Protocol(AwsServiceDescriptor.AutoScaling, region), RegionFor(region));
    public SsmClient Ssm(string? region = null) => new(Protocol(AwsServiceDescriptor.Ssm, region), RegionFor(region));

    /// <summary>
    /// IAM for the partition of <paramref name="region"/> (or of the session's region; the aws partition without
    /// one): IAM is global, so the client is signed for the partition's home region whatever region the caller works in.
    /// </summary>
    public IamClient Iam(string? region = null)
    {
        var signing = IamClient.SigningRegionFor(string.IsNullOrEmpty(region) ? DefaultRegion : AwsContextValidator.ValidateRegion(region));
        return new(Protocol(AwsServiceDescriptor.Iam, signing), signing);
    }

    /// <summary>STS GetCallerIdentity: who these credentials are. Needs no permission, so it is a safe probe.</summary>
    public async Task<CallerIdentity> GetCallerIdentityAsync(string? region, CancellationToken cancellationToken)
    {
        await AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var resolvedRegion = RegionFor(region);
        try
        {
            var response = await Sts(resolvedRegion).GetCallerIdentityAsync(new GetCallerIdentityRequest(), cancellationToken).ConfigureAwait(false);
            var source = Role is { } role ? $"role {role.RoleArn} assumed with {CredentialSource}" : CredentialSource;
            return new CallerIdentity(response.Account, response.Arn, response.UserId, resolvedRegion, source, EndpointUrl?.ToString());
        }
        catch (AmazonServiceException e)
        {
            // GetCallerIdentity needs no permission: a refusal says these credentials cannot be used at all.
            var error = AwsErrors.Translate(e, "STS", "GetCallerIdentity", null);
            throw error.Kind is ErrorKind.PermissionDenied ? new CredentialsUnavailableException(error) : error;
        }
    }

    private T GetOrCreate<T>(string kind, string? region, Func<string, T> create) where T : IDisposable
    {
        var resolved = RegionFor(region);
        return (T)_clients.GetOrAdd((kind, resolved), key => create(key.Region));
    }

    // With an endpoint override every service goes to that URL and signs for the region; without one the SDK's
    // regional endpoints apply. AWS_ENDPOINT_URL_<SERVICE> (the SDK's own convention) wins over the shared URL.
    private TConfig Configure<TConfig>(TConfig config, string region, string serviceEnvName) where TConfig : ClientConfig
    {
        var serviceEndpoint = Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL_" + serviceEnvName);
        var endpoint = _options.EndpointUrl is null && !string.IsNullOrEmpty(serviceEndpoint)
            ? AwsContextValidator.ValidateEndpointUrl(serviceEndpoint)
            : EndpointUrl;
        Transport.Apply(config);
        if (endpoint is not null)
        {
            config.ServiceURL = endpoint.ToString();
            config.AuthenticationRegion = region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }
        return config;
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values) client.Dispose();
        _clients.Clear();
    }
}
