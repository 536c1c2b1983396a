using System.Management.Automation;
using System.Net;
using System.Net.Sockets;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// An endpoint that cannot be reached, as cmdlets report it: ErrorId ConnectionError, category ConnectionError, the
/// endpoint as target, never a .NET exception type as ErrorId, whatever client (ours or AWSSDK's) made the call.
/// </summary>
public sealed class TransportErrorTests : IDisposable
{
    private readonly HostedPowerShell _host = new();

    public void Dispose() => _host.Dispose();

    private static string ClosedEndpoint()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return $"http://127.0.0.1:{port}";
    }

    [Theory]
    [InlineData("Get-GdCallerIdentity")]
    [InlineData("Get-GdFinding")]
    [InlineData("Get-LakeEventDataStore")]
    [InlineData("Test-InstanceQuarantine -InstanceId i-0123456789abcdef0")]
    [InlineData("Set-InstanceQuarantine -InstanceId i-0123456789abcdef0 -Confirm:$false")]
    [InlineData("New-ForensicSnapshot -InstanceId i-0123456789abcdef0 -Confirm:$false")]
    [InlineData("Invoke-LakeQuery -Template InstancesListingBuckets -Athena -OutputLocation s3://athena-results-bucket/out/")]
    [InlineData("Invoke-LakeQuery -Template InstancesListingBuckets -S3Uri s3://trail-bucket/AWSLogs/")]
    [InlineData("Get-GdResponseRule")]
    [InlineData("Revoke-InstanceRoleSession -InstanceId i-0123456789abcdef0 -Force")]
    [InlineData("Get-InstanceExposure -InstanceId i-0123456789abcdef0")]
    [InlineData("[pscustomobject]@{ InstanceId = 'i-0123456789abcdef0' } | Send-GdNotification -TopicArn arn:aws:sns:us-east-1:123456789012:t -Subject s -Message m -Confirm:$false")]
    public void An_unreachable_endpoint_is_a_ConnectionError_naming_it(string command)
    {
        var endpoint = ClosedEndpoint();

        var result = _host.Run(
            "$PSDefaultParameterValues = @{ '*:EndpointUrl' = $args[0]; '*:Region' = 'us-east-1'; '*:Credential' = @{ AccessKey = 'AKIDEXAMPLE'; SecretKey = 'example' } }; "
            + command + "; $PSDefaultParameterValues.Clear()", endpoint);

        var error = result.SingleError();
        Assert.Equal("ConnectionError", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        Assert.Equal(endpoint, error.TargetObject);
    }
}
