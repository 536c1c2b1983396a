using Amazon.Runtime;
using Amazon.SecurityToken;
using Amazon.SecurityToken.Model;
using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Engine.Context;

/// <summary>What -RoleArn (or Set-GdDefault -RoleArn) asks for: the role, its external ID and the session name.</summary>
public sealed record RoleRequest(string RoleArn, string? ExternalId, string? SessionName)
{
    public string EffectiveSessionName { get; } = SessionName ?? $"GuardDutyIR-{DateTime.UtcNow:yyyyMMddTHHmmss}";
}

/// <summary>
/// The credentials of an assumed role, used by every client of a session (EC2, S3, STS and our own clients alike), so
/// that no service can act with the caller's own keys by forgetting to assume. AWSSDK.Core's RefreshingAWSCredentials
/// does the locking and asks again before the keys expire (a bulk run or a long wait can outlive a one-hour session).
/// The STS client is made with the base credentials and the session's endpoint, so the Lab and custom endpoints work.
/// </summary>
internal sealed class AssumedRoleCredentials : RefreshingAWSCredentials
{
    private readonly Func<IAmazonSecurityTokenService> _sts;
    private readonly RoleRequest _role;

    public AssumedRoleCredentials(Func<IAmazonSecurityTokenService> sts, RoleRequest role)
    {
        _sts = sts;
        _role = role;
        // Refresh five minutes before expiry, as the SDK's own AssumeRoleAWSCredentials does.
        PreemptExpiryTime = TimeSpan.FromMinutes(5);
    }

    public RoleRequest Role => _role;

    /// <summary>The identity of the last assumed session (for CallerIdentity and the case journal).</summary>
    public string? AssumedRoleUserArn { get; private set; }

    protected override CredentialsRefreshState GenerateNewCredentials() =>
        GenerateNewCredentialsAsync().GetAwaiter().GetResult();

    protected override async Task<CredentialsRefreshState> GenerateNewCredentialsAsync()
    {
        try
        {
            var response = await _sts().AssumeRoleAsync(new AssumeRoleRequest
            {
                RoleArn = _role.RoleArn,
                RoleSessionName = _role.EffectiveSessionName,
                ExternalId = _role.ExternalId,
            }).ConfigureAwait(false);
            var c = response.Credentials;
            AssumedRoleUserArn = response.AssumedRoleUser?.Arn;
            // STS has just issued these keys, so an expiry that already lies in the past says this machine's clock is
            // wrong (the SDK corrects signing for clock skew); count the shortest session AssumeRole grants instead.
            var expires = c.Expiration is { } e && e.ToUniversalTime() > DateTime.UtcNow + PreemptExpiryTime
                ? e.ToUniversalTime() : DateTime.UtcNow.AddMinutes(15);
            return new CredentialsRefreshState(new ImmutableCredentials(c.AccessKeyId, c.SecretAccessKey, c.SessionToken), expires);
        }
        catch (AmazonServiceException e)
        {
            throw new CredentialsUnavailableException(AwsErrors.Translate(e, "STS", "AssumeRole", _role.RoleArn));
        }
    }
}
