using System.Diagnostics;
using System.Management.Automation;
using System.Runtime.Loader;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests;

/// <summary>Credentials, region, endpoint and role resolution as a user meets them in a pipeline.</summary>
public sealed class AwsContextTests : IDisposable
{
    private readonly WireStub _stub = new() { Default = StubResponse.FromSample("sts-GetCallerIdentity.xml") };
    private readonly HostedPowerShell _host = new();
    private const string Keys = "@{AccessKey='AKIDEXAMPLE'; SecretKey='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'}";

    public void Dispose()
    {
        _host.Dispose();
        _stub.Dispose();
    }

    private static void AssertTerminating(ScriptResult result, string errorId, ErrorCategory category, object? target)
    {
        Assert.NotNull(result.Terminating);
        var record = result.Terminating!.ErrorRecord;
        Assert.Equal(errorId, record.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(category, record.CategoryInfo.Category);
        if (target is not null) Assert.Equal(target, record.TargetObject);
    }

    [Fact]
    public void Caller_identity_comes_back_as_our_own_type_with_the_request_signed()
    {
        var result = _host.Run($"Get-GdCallerIdentity -Region eu-west-1 -EndpointUrl $args[0] -Credential {Keys}", _stub.Url);
        Assert.Null(result.Terminating);
        var identity = Assert.Single(result.Output);
        Assert.Equal("GuardDutyIR.CallerIdentity", identity.BaseObject.GetType().FullName);
        Assert.Matches(@"^\d{12}$", (string)identity.Properties["Account"].Value);
        Assert.Equal("eu-west-1", identity.Properties["Region"].Value);
        Assert.Equal("the -Credential parameter", identity.Properties["CredentialSource"].Value);
        var request = _stub.Single();
        Assert.Contains("Action=GetCallerIdentity", request.BodyText);
        Assert.Matches(@"Credential=AKIDEXAMPLE/\d{8}/eu-west-1/sts/aws4_request", request.Header("Authorization"));
    }

    [Fact]
    public void A_PSCredential_works_as_Credential()
    {
        var result = _host.Run(
            "$secret = [System.Net.NetworkCredential]::new('', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY').SecurePassword;"
            + "Get-GdCallerIdentity -Region us-east-1 -EndpointUrl $args[0] -Credential ([pscredential]::new('AKIDPSCRED', $secret))", _stub.Url);
        Assert.Null(result.Terminating);
        Assert.Single(result.Output);
        Assert.Contains("Credential=AKIDPSCRED/", _stub.Single().Header("Authorization"));
    }

    [Theory]
    [InlineData("-Region 'us east 1'", "InvalidRegion", ErrorCategory.InvalidArgument, "us east 1")]
    [InlineData("-Region us-east-1 -EndpointUrl 'ftp://example.com'", "InvalidEndpointUrl", ErrorCategory.InvalidArgument, "ftp://example.com")]
    [InlineData("-Region us-east-1 -EndpointUrl 'not a url'", "InvalidEndpointUrl", ErrorCategory.InvalidArgument, "not a url")]
    [InlineData("-Region us-east-1 -RoleArn 'arn:aws:iam::123456789012:user/alice'", "InvalidRoleArn", ErrorCategory.InvalidArgument, "arn:aws:iam::123456789012:user/alice")]
    [InlineData("-Region us-east-1 -RoleArn 'arn:aws:iam::12345:role/x'", "InvalidRoleArn", ErrorCategory.InvalidArgument, "arn:aws:iam::12345:role/x")]
    [InlineData("-Region us-east-1 -ExternalId abc", "RoleArnRequired", ErrorCategory.InvalidArgument, "abc")]
    public void Bad_input_is_a_terminating_error_before_any_network_call(string parameters, string errorId, ErrorCategory category, string target)
    {
        var result = _host.Run($"Get-GdCallerIdentity {parameters} -Credential {Keys}");
        AssertTerminating(result, errorId, category, target);
        Assert.Empty(_stub.Requests);
    }

    [Fact]
    public void An_unknown_profile_is_a_terminating_error_naming_the_profile()
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, "[ir]\naws_access_key_id = AKIDFILE\naws_secret_access_key = secret\n");
        try
        {
            var result = _host.Run("Get-GdCallerIdentity -Region us-east-1 -EndpointUrl $args[0] -ProfileName nosuch -ProfileLocation $args[1]", _stub.Url, file);
            AssertTerminating(result, "ProfileNotFound", ErrorCategory.ObjectNotFound, "nosuch");
            Assert.Empty(_stub.Requests);

            var ok = _host.Run("Get-GdCallerIdentity -Region us-east-1 -EndpointUrl $args[0] -StoredCredentials ir -AWSProfilesLocation $args[1]", _stub.Url, file);
            Assert.Null(ok.Terminating);
            Assert.Contains("Credential=AKIDFILE/", _stub.Single().Header("Authorization"));
            Assert.StartsWith("profile 'ir'", (string)ok.Output[0].Properties["CredentialSource"].Value);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void No_credentials_anywhere_names_every_source_tried()
    {
        var empty = Path.GetTempFileName();
        try
        {
            // Only meaningful when this process has no keys in its environment (CI and developer machines here do not).
            if (Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") is { Length: > 0 }) return;
            var result = _host.Run("Get-GdCallerIdentity -Region us-east-1 -EndpointUrl $args[0] -ProfileLocation $args[1]", _stub.Url, empty);
            AssertTerminating(result, "NoCredentials", ErrorCategory.AuthenticationError, null);
            var message = result.Terminating!.Message;
            Assert.Contains("environment variables", message);
            Assert.Contains("profile 'default'", message);
            Assert.Contains("EC2 instance metadata", message);
            Assert.Empty(_stub.Requests);
        }
        finally
        {
            File.Delete(empty);
        }
    }

    [Fact]
    public void No_region_is_an_error_at_once_not_a_metadata_timeout()
    {
        if (Environment.GetEnvironmentVariable("AWS_REGION") is { Length: > 0 } || Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") is { Length: > 0 }) return;
        var empty = Path.GetTempFileName();
        try
        {
            var result = _host.Run($"Get-GdCallerIdentity -EndpointUrl $args[0] -ProfileLocation $args[1] -Credential {Keys} -Verbose", _stub.Url, empty);
            AssertTerminating(result, "NoRegion", ErrorCategory.InvalidArgument, null);
            Assert.Empty(_stub.Requests);
            // Off EC2 (or with AWS_EC2_METADATA_DISABLED) the metadata service is never asked, so nothing waits on it.
            Assert.DoesNotContain(result.Verbose, v => v.Message.Contains("instance metadata", StringComparison.OrdinalIgnoreCase));
        }
        finally
        {
            File.Delete(empty);
        }
    }

    [Fact]
    public void Session_defaults_supply_region_and_endpoint_and_bad_values_change_nothing()
    {
        var set = _host.Run("Set-GdDefault -Region ap-southeast-2 -EndpointUrl $args[0] -PassThru", _stub.Url);
        Assert.Null(set.Terminating);
        Assert.Equal("ap-southeast-2", set.Output.Single().Properties["Region"].Value);

        var bad = _host.Run("Set-GdDefault -Region 'nowhere' -EndpointUrl 'http://127.0.0.1:1/'");
        AssertTerminating(bad, "InvalidRegion", ErrorCategory.InvalidArgument, "nowhere");
        var whatIf = _host.Run("Set-GdDefault -Region us-west-2 -WhatIf");
        Assert.Null(whatIf.Terminating);

        var current = _host.Run("Get-GdDefault").Output.Single();
        Assert.Equal("ap-southeast-2", current.Properties["Region"].Value);
        Assert.Equal(_stub.Url, current.Properties["EndpointUrl"].Value);

        var identity = _host.Run($"Get-GdCallerIdentity -Credential {Keys}");
        Assert.Null(identity.Terminating);
        Assert.Equal("ap-southeast-2", identity.Output.Single().Properties["Region"].Value);
        Assert.Single(_stub.Requests);

        _host.Run("Clear-GdDefault");
        Assert.Empty(_host.Run("Get-GdDefault").Output);
    }

    [Fact]
    public void Session_defaults_belong_to_their_runspace()
    {
        _host.Run("Set-GdDefault -Region eu-north-1");
        using var other = new HostedPowerShell();
        Assert.Empty(other.Run("Get-GdDefault").Output);
        Assert.Equal("eu-north-1", _host.Run("Get-GdDefault").Output.Single().Properties["Region"].Value);
    }

    [Fact]
    public void Region_binds_by_property_name_from_the_pipeline()
    {
        var result = _host.Run($"[pscustomobject]@{{Region='ca-central-1'}}, [pscustomobject]@{{Region='sa-east-1'}} | Get-GdCallerIdentity -EndpointUrl $args[0] -Credential {Keys}", _stub.Url);
        Assert.Null(result.Terminating);
        Assert.Equal(new object[] { "ca-central-1", "sa-east-1" }, result.Output.Select(o => o.Properties["Region"].Value).ToArray());
        Assert.Equal(2, _stub.Requests.Count);
    }

    [Fact]
    public void Service_errors_keep_code_request_id_and_category()
    {
        _stub.Default = null;
        _stub.Enqueue(new StubResponse(403, File.ReadAllText(Path.Combine(TestPaths.Samples, "sts-Error-AccessDenied.xml")), new() { ["Content-Type"] = "text/xml" }));
        var result = _host.Run($"Get-GdCallerIdentity -Region us-east-1 -EndpointUrl $args[0] -Credential {Keys}", _stub.Url);
        AssertTerminating(result, "STS.AccessDenied", ErrorCategory.PermissionDenied, null);
        var recorded = result.Terminating!.ErrorRecord.Exception;
        // The service's answer itself, or the cause of "these credentials cannot be used" (a refused GetCallerIdentity).
        var inner = recorded.GetType().Name == "AwsServiceException" ? recorded : recorded.InnerException!;
        Assert.Equal("GuardDutyIR.AwsServiceException", inner.GetType().FullName);
        Assert.Equal(403, (int)inner.GetType().GetProperty("StatusCode")!.GetValue(inner)!);
        Assert.False(string.IsNullOrEmpty((string?)inner.GetType().GetProperty("RequestId")!.GetValue(inner)));
    }

    [Fact]
    public void Ctrl_C_stops_a_call_in_flight()
    {
        // The answer would come after 10 minutes: only a stop that cancels the call in flight ends the command.
        _stub.Default = StubResponse.FromSample("sts-GetCallerIdentity.xml") with { Delay = TimeSpan.FromMinutes(10) };

        var result = _host.RunAndStopWhen($"Get-GdCallerIdentity -Region us-east-1 -EndpointUrl '{_stub.Url}' -Credential {Keys}",
            stopWhen: () => !_stub.Requests.IsEmpty);

        Assert.IsType<PipelineStoppedException>(result.Terminating);
        Assert.Empty(result.Output);
        Assert.Single(_stub.Requests);
    }
}
