namespace GuardDutyIR.Engine.Context;

/// <summary>
/// The AWS common parameters of every cmdlet, as given (null = not given). Named as in AWS.Tools so splats carry over.
/// </summary>
public sealed class AwsContextOptions
{
    public string? Region { get; init; }
    public string? ProfileName { get; init; }
    public string? ProfileLocation { get; init; }
    /// <summary>
    /// Explicit credentials: an access key / secret pair (<see cref="System.Net.NetworkCredential"/> from a PSCredential),
    /// a dictionary with AccessKey/SecretKey/SessionToken, or an AWSCredentials object from any AWSSDK.Core
    /// (for example from AWS.Tools' Get-AWSCredential).
    /// </summary>
    public object? Credential { get; init; }
    public string? EndpointUrl { get; init; }
    public string? RoleArn { get; init; }
    public string? ExternalId { get; init; }
    public string? RoleSessionName { get; init; }
}
