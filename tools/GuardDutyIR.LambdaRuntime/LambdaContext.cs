namespace GuardDutyIR.LambdaRuntime;

/// <summary>
/// What a PowerShell handler receives as $LambdaContext: the members AWS's PowerShell runtime documents for its context
/// object (https://docs.aws.amazon.com/lambda/latest/dg/powershell-context.html), filled from the function's environment
/// and the invocation's Runtime API headers.
/// </summary>
public sealed class LambdaContext
{
    private readonly long _deadlineMs;
    private readonly TimeProvider _clock;

    public LambdaContext(string functionName, string functionVersion, string invokedFunctionArn, int memoryLimitInMB, string awsRequestId,
        string logGroupName, string logStreamName, string? identity, string? clientContext, long deadlineMs, TimeProvider? clock = null)
    {
        FunctionName = functionName;
        FunctionVersion = functionVersion;
        InvokedFunctionArn = invokedFunctionArn;
        MemoryLimitInMB = memoryLimitInMB;
        AwsRequestId = awsRequestId;
        LogGroupName = logGroupName;
        LogStreamName = logStreamName;
        Identity = identity;
        ClientContext = clientContext;
        _deadlineMs = deadlineMs;
        _clock = clock ?? TimeProvider.System;
    }

    public string FunctionName { get; }
    public string FunctionVersion { get; }
    public string InvokedFunctionArn { get; }
    public int MemoryLimitInMB { get; }
    public string AwsRequestId { get; }
    public string LogGroupName { get; }
    public string LogStreamName { get; }
    public string? Identity { get; }
    public string? ClientContext { get; }

    /// <summary>Time left before the invocation's deadline (Lambda-Runtime-Deadline-Ms), never negative.</summary>
    public TimeSpan RemainingTime => TimeSpan.FromMilliseconds(Math.Max(0, _deadlineMs - _clock.GetUtcNow().ToUnixTimeMilliseconds()));

    // The runtime names the method this way (after the Node.js context); handlers written for it call it so.
#pragma warning disable IDE1006
    public double getRemainingTimeInMillis() => RemainingTime.TotalMilliseconds;
#pragma warning restore IDE1006
}
