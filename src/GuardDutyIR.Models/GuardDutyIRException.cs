namespace GuardDutyIR;

/// <summary>
/// A failure the engine reports to the cmdlets: a stable PascalCase <see cref="ErrorId"/>, its kind and the
/// resource it concerns. Cmdlets turn it into an ErrorRecord without guessing.
/// </summary>
public class GuardDutyIRException : Exception
{
    public GuardDutyIRException(string errorId, ErrorKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    /// <summary>Stable identifier, e.g. "InvalidRegion", "ProfileNotFound".</summary>
    public string ErrorId { get; }
    public ErrorKind Kind { get; }
    /// <summary>The resource or value the error is about (an instance ID, a region string, a profile name).</summary>
    public object? Target { get; }
}

/// <summary>
/// An error answered by an AWS service, whatever the protocol: the service's error code, message, HTTP status
/// and request ID. Raised by every engine call to AWS (own clients and the official SDK clients alike).
/// </summary>
public sealed class AwsServiceException : GuardDutyIRException
{
    public AwsServiceException(string service, string operation, string errorCode, string message, int statusCode,
        string? requestId, object? target = null, Exception? inner = null)
        : base(ToErrorId(service, errorCode), Classify(errorCode, statusCode),
            $"{service} {operation} failed: {errorCode}: {message}" + (requestId is null ? "" : $" (request ID {requestId})"),
            target, inner)
    {
        Service = service;
        Operation = operation;
        ErrorCode = errorCode;
        ServiceMessage = message;
        StatusCode = statusCode;
        RequestId = requestId;
    }

    public string Service { get; }
    public string Operation { get; }
    /// <summary>The AWS error code, e.g. "InvalidInstanceID.NotFound", "BadRequestException".</summary>
    public string ErrorCode { get; }
    /// <summary>The message as the service sent it.</summary>
    public string ServiceMessage { get; }
    public int StatusCode { get; }
    public string? RequestId { get; }

    /// <summary>True when the service refused for rate reasons (after the SDK's own retries gave up).</summary>
    public bool IsThrottling => IsThrottlingCode(ErrorCode, StatusCode);

    public static bool IsThrottlingCode(string code, int status) =>
        status == 429 || code.Contains("Throttl", StringComparison.OrdinalIgnoreCase)
        || code.Contains("TooManyRequests", StringComparison.OrdinalIgnoreCase)
        || code is "RequestLimitExceeded" or "SlowDown" or "PriorRequestNotComplete" or "RequestThrottled";

    // One place maps AWS error codes to kinds; ErrorRecord categories follow from it.
    public static ErrorKind Classify(string code, int status)
    {
        if (IsThrottlingCode(code, status) || code == "LimitExceeded") return ErrorKind.LimitsExceeded;
        if (code.Contains("NotFound", StringComparison.OrdinalIgnoreCase) || code is "NoSuchBucket" or "NoSuchKey" or "ResourceNotFoundException" or "NoSuchEntity")
            return ErrorKind.ObjectNotFound;
        if (code is "UnauthorizedOperation" or "AccessDenied" or "AccessDeniedException" or "AuthorizationError" or "Forbidden")
            return ErrorKind.PermissionDenied;
        if (code is "AuthFailure" or "InvalidClientTokenId" or "UnrecognizedClientException" or "SignatureDoesNotMatch"
            or "InvalidSignatureException" or "ExpiredToken" or "ExpiredTokenException" or "InvalidAccessKeyId")
            return ErrorKind.AuthenticationError;
        if (code is "IncorrectInstanceState" or "OperationNotPermitted" or "DependencyViolation" or "InactiveQueryException"
            or "ConflictException" or "IncorrectState" or "UnmodifiableEntity" or "DeleteConflict")
            return ErrorKind.InvalidOperation;
        if (code.Contains("Duplicate", StringComparison.OrdinalIgnoreCase) || code.Contains("AlreadyExists", StringComparison.OrdinalIgnoreCase))
            return ErrorKind.ResourceExists;
        if (code.StartsWith("Invalid", StringComparison.Ordinal) || code is "BadRequestException" or "MissingParameter"
            or "ValidationException" or "ValidationError" or "InvalidParameter" or "ParameterValueInvalid" or "MalformedPolicyDocument")
            return ErrorKind.InvalidArgument;
        if (status >= 500) return ErrorKind.ResourceUnavailable;
        return ErrorKind.NotSpecified;
    }

    // "InvalidInstanceID.NotFound" from EC2 becomes "Ec2.InvalidInstanceID.NotFound": stable, and says which service.
    private static string ToErrorId(string service, string code) => $"{service}.{code}";
}

/// <summary>
/// The credentials of the command could not be obtained (STS AssumeRole refused, a profile that cannot supply keys):
/// no call of the command can succeed, so cmdlets stop rather than report the same failure for every resource. The
/// ErrorId and kind are those of the underlying failure.
/// </summary>
public sealed class CredentialsUnavailableException : GuardDutyIRException
{
    public CredentialsUnavailableException(GuardDutyIRException cause)
        : base(cause.ErrorId, cause.Kind, cause.Message, cause.Target, cause)
    {
    }
}
