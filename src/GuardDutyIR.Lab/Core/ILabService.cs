namespace GuardDutyIR.Lab.Core;

/// <summary>
/// One emulated AWS service. The server has already verified the SigV4 signature, so a service
/// only sees requests that real AWS would have authenticated.
/// </summary>
public interface ILabService
{
    /// <summary>The SigV4 signing name this service answers to (credential scope), e.g. "ec2", "guardduty", "sts".</summary>
    string SigningName { get; }

    /// <summary>Handles one request and returns the full wire response (status, headers, body).</summary>
    Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken);
}
