namespace GuardDutyIR;

/// <summary>Who the resolved credentials are (STS GetCallerIdentity) and where they were found.</summary>
public sealed class CallerIdentity
{
    public CallerIdentity(string account, string arn, string userId, string region, string credentialSource, string? endpointUrl)
    {
        Account = account;
        AccountId = account;
        Arn = arn;
        UserId = userId;
        Region = region;
        CredentialSource = credentialSource;
        EndpointUrl = endpointUrl;
    }

    public string Account { get; }
    /// <summary>Same as Account, named so it binds to -AccountId parameters.</summary>
    public string AccountId { get; }
    public string Arn { get; }
    public string UserId { get; }
    public string Region { get; }
    /// <summary>Which source supplied the credentials, e.g. "Profile 'ir' in ~/.aws/credentials", "Environment variables".</summary>
    public string CredentialSource { get; }
    public string? EndpointUrl { get; }
}

/// <summary>The session defaults later cmdlets use when a parameter is not given.</summary>
public sealed class SessionDefaults
{
    public string? Region { get; set; }
    public string? ProfileName { get; set; }
    public string? ProfileLocation { get; set; }
    public string? EndpointUrl { get; set; }
    /// <summary>A role every later cmdlet assumes (STS AssumeRole) unless it is given its own -RoleArn.</summary>
    public string? RoleArn { get; set; }
    public string? ExternalId { get; set; }
    public string? RoleSessionName { get; set; }
    /// <summary>Seconds to wait for a connection to an endpoint (default 10).</summary>
    public double? ConnectTimeoutSec { get; set; }
    /// <summary>Seconds to wait for an answer to one request (default 60).</summary>
    public double? RequestTimeoutSec { get; set; }
    /// <summary>Explicit keys, e.g. set by Start-GdLab; never displayed.</summary>
    public string? AccessKeyId { get; set; }
    internal string? SecretAccessKey { get; set; }
    internal string? SessionToken { get; set; }
    /// <summary>Where these defaults came from ("Set-GdDefault", "Start-GdLab").</summary>
    public string? Source { get; set; }

    public SessionDefaults Clone() => (SessionDefaults)MemberwiseClone();

    public void SetKeys(string accessKeyId, string secretAccessKey, string? sessionToken)
    {
        AccessKeyId = accessKeyId;
        SecretAccessKey = secretAccessKey;
        SessionToken = sessionToken;
    }

    public void ClearKeys()
    {
        AccessKeyId = null;
        SecretAccessKey = null;
        SessionToken = null;
    }

    public (string AccessKeyId, string Secret, string? Token)? GetKeys() =>
        AccessKeyId is not null && SecretAccessKey is not null ? (AccessKeyId, SecretAccessKey, SessionToken) : null;
}
