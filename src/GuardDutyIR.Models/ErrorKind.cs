namespace GuardDutyIR;

/// <summary>
/// What kind of failure an engine error is. Mirrors the PowerShell ErrorCategory names the cmdlets map
/// it to, so the engine can classify failures without referencing PowerShell.
/// </summary>
public enum ErrorKind
{
    NotSpecified,
    InvalidArgument,
    InvalidData,
    ObjectNotFound,
    PermissionDenied,
    AuthenticationError,
    SecurityError,
    LimitsExceeded,
    ResourceUnavailable,
    InvalidOperation,
    ConnectionError,
    OperationTimeout,
    OperationStopped,
    ResourceExists,
}
