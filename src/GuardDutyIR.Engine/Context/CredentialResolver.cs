using System.Collections;
using System.Net;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;

namespace GuardDutyIR.Engine.Context;

/// <summary>Credentials and the words that say where they came from.</summary>
internal sealed record ResolvedCredentials(AWSCredentials Credentials, string Source);

/// <summary>
/// The SDK's standard credential chain, composed from AWSSDK.Core's own providers so that each step can be named in
/// an error and so that the instance metadata service is asked only on a machine that looks like EC2 (elsewhere it
/// costs a long wait and sends traffic off the machine).
/// </summary>
internal static class CredentialResolver
{
    public static ResolvedCredentials Resolve(AwsContextOptions options, SessionDefaults? defaults, Action<string>? verbose)
    {
        var tried = new List<string>();

        if (options.Credential is not null)
            return new ResolvedCredentials(FromObject(options.Credential), "the -Credential parameter");

        var store = new ProfileStore(options.ProfileLocation ?? defaults?.ProfileLocation);
        if (options.ProfileName is not null)
            return FromProfile(store, options.ProfileName, options.ProfileLocation, explicitProfile: true)!;

        if (defaults?.GetKeys() is { } keys)
            return new ResolvedCredentials(Keys(keys.AccessKeyId, keys.Secret, keys.Token), $"session defaults ({defaults.Source})");
        tried.Add("session defaults (Set-GdDefault / Start-GdLab)");

        if (defaults?.ProfileName is { } defaultProfile)
            return FromProfile(store, defaultProfile, defaults.ProfileLocation, explicitProfile: true)!;

        var accessKey = Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID");
        var secret = Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY");
        if (!string.IsNullOrEmpty(accessKey) && !string.IsNullOrEmpty(secret))
            return new ResolvedCredentials(Keys(accessKey, secret, Environment.GetEnvironmentVariable("AWS_SESSION_TOKEN")),
                "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
        tried.Add("environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");

        var profileName = Environment.GetEnvironmentVariable("AWS_PROFILE") is { Length: > 0 } envProfile ? envProfile : "default";
        if (FromProfile(store, profileName, options.ProfileLocation, explicitProfile: false) is { } fromProfile) return fromProfile;
        tried.Add($"profile '{profileName}' in the shared config and credentials files");

        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_WEB_IDENTITY_TOKEN_FILE"))
            && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_ROLE_ARN")))
            return new ResolvedCredentials(AssumeRoleWithWebIdentityCredentials.FromEnvironmentVariables(), "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)");
        tried.Add("web identity token (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)");

        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_FULL_URI")))
            return new ResolvedCredentials(new GenericContainerCredentials(), "container credentials endpoint");
        tried.Add("container credentials (AWS_CONTAINER_CREDENTIALS_*)");

        if (Ec2Environment.MetadataServiceAllowed())
        {
            verbose?.Invoke("Trying the EC2 instance metadata service for credentials.");
            return new ResolvedCredentials(new InstanceProfileAWSCredentials(), "EC2 instance profile (IMDS)");
        }
        tried.Add("EC2 instance metadata (not an EC2 machine, or AWS_EC2_METADATA_DISABLED)");

        throw new GuardDutyIRException("NoCredentials", ErrorKind.AuthenticationError,
            "No AWS credentials were found. Tried: " + string.Join("; ", tried)
            + ". Pass -ProfileName or -Credential, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run Set-GdDefault.");
    }

    private static ResolvedCredentials? FromProfile(ProfileStore store, string name, string? location, bool explicitProfile)
    {
        if (!store.TryGetProfile(name, out var profile))
        {
            if (!explicitProfile) return null;
            throw new GuardDutyIRException("ProfileNotFound", ErrorKind.ObjectNotFound,
                $"No AWS profile named '{name}' was found in {(location is null ? "the shared config and credentials files (~/.aws/config, ~/.aws/credentials)" : $"'{location}'")}.",
                name);
        }
        try
        {
            var credentials = ProfileStore.Guard(() => profile.GetAWSCredentials(store.Chain));
            return new ResolvedCredentials(credentials, $"profile '{name}'" + (profile.CredentialProfileStore is SharedCredentialsFile f ? $" in {f.FilePath}" : ""));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or AmazonClientException)
        {
            throw new GuardDutyIRException("ProfileInvalid", ErrorKind.InvalidData,
                $"The AWS profile '{name}' cannot supply credentials: {e.Message}", name, e);
        }
    }

    private static AWSCredentials Keys(string accessKey, string secret, string? token) =>
        string.IsNullOrEmpty(token) ? new BasicAWSCredentials(accessKey, secret) : new SessionAWSCredentials(accessKey, secret, token);

    /// <summary>
    /// Accepts what a PowerShell user may hand us: a PSCredential (as NetworkCredential), a hashtable, our own SDK's
    /// credentials, or AWS.Tools' AWSCredentials from another AWSSDK.Core (read through reflection, since that type
    /// lives in another load context).
    /// </summary>
    internal static AWSCredentials FromObject(object value)
    {
        switch (value)
        {
            case AWSCredentials own:
                return own;
            case NetworkCredential network when network.UserName.Length > 0 && network.Password.Length > 0:
                return new BasicAWSCredentials(network.UserName, network.Password);
            case IDictionary dictionary:
                {
                    string? Get(params string[] names) => names.Select(n => dictionary.Keys.Cast<object>()
                        .FirstOrDefault(k => string.Equals(k?.ToString(), n, StringComparison.OrdinalIgnoreCase)))
                        .Where(k => k is not null).Select(k => dictionary[k!]?.ToString()).FirstOrDefault();
                    var access = Get("AccessKey", "AccessKeyId");
                    var secret = Get("SecretKey", "SecretAccessKey");
                    if (!string.IsNullOrEmpty(access) && !string.IsNullOrEmpty(secret))
                        return Keys(access, secret, Get("SessionToken", "Token"));
                    break;
                }
            default:
                {
                    var immutable = value.GetType().GetMethod("GetCredentials", Type.EmptyTypes)?.Invoke(value, null) ?? value;
                    string? Prop(string name) => immutable.GetType().GetProperty(name)?.GetValue(immutable) as string;
                    var access = Prop("AccessKey");
                    var secret = Prop("SecretKey");
                    if (!string.IsNullOrEmpty(access) && !string.IsNullOrEmpty(secret)) return Keys(access, secret, Prop("Token"));
                    break;
                }
        }
        throw new GuardDutyIRException("InvalidCredential", ErrorKind.InvalidArgument,
            "-Credential takes a PSCredential (access key as user name, secret key as password), a hashtable with AccessKey and SecretKey, or an AWSCredentials object.",
            value.GetType().FullName);
    }
}
