using System.Text.RegularExpressions;

namespace GuardDutyIR.Engine.Context;

/// <summary>Checks the common parameters before any network call, with one stable ErrorId per mistake.</summary>
public static partial class AwsContextValidator
{
    [GeneratedRegex(@"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\z")]
    private static partial Regex RegionPattern();

    [GeneratedRegex(@"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}\z")]
    private static partial Regex RoleArnPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_+=,.@-]{2,64}\z")]
    private static partial Regex SessionNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9_+=,.@:/-]{2,1224}\z")]
    private static partial Regex ExternalIdPattern();

    public static bool IsValidRegion(string region) => RegionPattern().IsMatch(region);

    public static string ValidateRegion(string region)
    {
        var trimmed = region.Trim();
        if (!IsValidRegion(trimmed))
            throw new GuardDutyIRException("InvalidRegion", ErrorKind.InvalidArgument,
                $"'{region}' is not an AWS Region name. Use a name such as us-east-1 or eu-west-2.", region);
        return trimmed;
    }

    public static Uri ValidateEndpointUrl(string endpointUrl)
    {
        if (!Uri.TryCreate(endpointUrl, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || string.IsNullOrEmpty(uri.Host))
            throw new GuardDutyIRException("InvalidEndpointUrl", ErrorKind.InvalidArgument,
                $"'{endpointUrl}' is not an http or https URL. EndpointUrl takes a URL such as https://ec2.us-east-1.amazonaws.com or http://127.0.0.1:4566.",
                endpointUrl);
        return uri;
    }

    public static void ValidateRole(string roleArn, string? externalId, string? sessionName)
    {
        if (!RoleArnPattern().IsMatch(roleArn))
            throw new GuardDutyIRException("InvalidRoleArn", ErrorKind.InvalidArgument,
                $"'{roleArn}' is not an IAM role ARN. RoleArn takes arn:aws:iam::<12-digit account>:role/<name>.", roleArn);
        if (externalId is not null && !ExternalIdPattern().IsMatch(externalId))
            throw new GuardDutyIRException("InvalidExternalId", ErrorKind.InvalidArgument,
                "ExternalId must be 2 to 1224 characters of letters, digits and +=,.@:/-.", externalId);
        if (sessionName is not null && !SessionNamePattern().IsMatch(sessionName))
            throw new GuardDutyIRException("InvalidRoleSessionName", ErrorKind.InvalidArgument,
                "RoleSessionName must be 2 to 64 characters of letters, digits and +=,.@-.", sessionName);
    }

    public static void Validate(AwsContextOptions options)
    {
        if (options.Region is not null) ValidateRegion(options.Region);
        if (options.EndpointUrl is not null) ValidateEndpointUrl(options.EndpointUrl);
        if (options.RoleArn is not null) ValidateRole(options.RoleArn, options.ExternalId, options.RoleSessionName);
        else if (options.ExternalId is not null || options.RoleSessionName is not null)
            throw new GuardDutyIRException("RoleArnRequired", ErrorKind.InvalidArgument,
                "ExternalId and RoleSessionName apply only with RoleArn.", options.ExternalId ?? options.RoleSessionName);
        if (options.ProfileLocation is not null && !File.Exists(options.ProfileLocation))
            throw new GuardDutyIRException("ProfileLocationNotFound", ErrorKind.ObjectNotFound,
                $"The credentials file '{options.ProfileLocation}' does not exist.", options.ProfileLocation);
    }
}
