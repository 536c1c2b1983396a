using Amazon.EC2;
using Amazon.Runtime;
using Amazon.Runtime.Internal;

namespace GuardDutyIR.Engine.Aws;

/// <summary>
/// The EC2 client of bulk containment: many attempts for what a busy account answers (RequestLimitExceeded, 5xx), so
/// one noisy minute does not leave an instance half-isolated, but only the SDK's usual few for a network that is not
/// there (refused, reset, no answer in time), so an unreachable endpoint is reported in seconds, not minutes.
/// </summary>
internal sealed class PatientEc2Client(AWSCredentials credentials, AmazonEC2Config config) : AmazonEC2Client(credentials, config)
{
    /// <summary>Retries after a transport failure: the standard retry mode's default of three attempts.</summary>
    public const int TransportRetries = 2;

    protected override void CustomizeRuntimePipeline(RuntimePipeline pipeline)
    {
        base.CustomizeRuntimePipeline(pipeline);
        pipeline.ReplaceHandler<RetryHandler>(new RetryHandler(new Policy(Config)));
    }

    private sealed class Policy(IClientConfig config) : StandardRetryPolicy(config)
    {
        public override bool RetryForException(IExecutionContext executionContext, Exception exception) =>
            base.RetryForException(executionContext, exception) && WithinTransportBudget(executionContext, exception);

        public override async Task<bool> RetryForExceptionAsync(IExecutionContext executionContext, Exception exception) =>
            await base.RetryForExceptionAsync(executionContext, exception).ConfigureAwait(false) && WithinTransportBudget(executionContext, exception);

        private static bool WithinTransportBudget(IExecutionContext executionContext, Exception exception) =>
            exception is AmazonServiceException { StatusCode: not 0 } || executionContext.RequestContext.Retries < TransportRetries;
    }
}
