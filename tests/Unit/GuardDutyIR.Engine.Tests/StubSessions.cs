using System.Net;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>A session whose every client goes to a wire stub, signing with AWS's documented example keys in us-east-1.</summary>
internal static class StubSessions
{
    public static AwsSession For(WireStub stub, SessionDefaults? defaults = null)
    {
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
        return AwsSession.Resolve(new AwsContextOptions
        {
            Region = "us-east-1",
            EndpointUrl = stub.Url,
            Credential = new NetworkCredential("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        }, defaults);
    }
}
