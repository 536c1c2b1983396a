using System.Collections;
using System.Net;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>Tests that change process environment variables run one at a time.</summary>
[CollectionDefinition("Environment", DisableParallelization = true)]
public sealed class EnvironmentCollection;

/// <summary>Credential, region and role resolution, without PowerShell.</summary>
[Collection("Environment")]
public sealed class AwsSessionTests : IDisposable
{
    private readonly WireStub _stub = new();
    private readonly Dictionary<string, string?> _savedEnvironment = new();

    public AwsSessionTests() => SetEnv("AWS_EC2_METADATA_DISABLED", "true");

    private void SetEnv(string name, string? value)
    {
        if (!_savedEnvironment.ContainsKey(name)) _savedEnvironment[name] = Environment.GetEnvironmentVariable(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    public void Dispose()
    {
        foreach (var (name, value) in _savedEnvironment) Environment.SetEnvironmentVariable(name, value);
        Amazon.Runtime.Internal.FallbackInternalConfigurationFactory.Reset();
        _stub.Dispose();
    }

    private static string EmptyProfileFile()
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, "");
        return file;
    }

    [Fact]
    public async Task Environment_keys_and_region_are_used_when_nothing_is_given()
    {
        SetEnv("AWS_ACCESS_KEY_ID", "AKIDENV");
        SetEnv("AWS_SECRET_ACCESS_KEY", "secretenv");
        SetEnv("AWS_SESSION_TOKEN", null);
        SetEnv("AWS_REGION", "eu-central-1");
        _stub.Default = StubResponse.FromSample("sts-GetCallerIdentity.xml");
        using var session = AwsSession.Resolve(new AwsContextOptions { EndpointUrl = _stub.Url, ProfileLocation = EmptyProfileFile() }, null);

        Assert.Equal("eu-central-1", session.DefaultRegion);
        Assert.Equal("environment variable AWS_REGION", session.RegionSource);
        Assert.StartsWith("environment variables", session.CredentialSource);
        await session.GetCallerIdentityAsync(null, CancellationToken.None);
        Assert.Contains("Credential=AKIDENV/", _stub.Single().Header("Authorization"));
    }

    [Fact]
    public void Profile_region_is_read_from_the_shared_files()
    {
        SetEnv("AWS_REGION", null);
        SetEnv("AWS_DEFAULT_REGION", null);
        var file = Path.GetTempFileName();
        File.WriteAllText(file, "[ir]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\nregion = ap-northeast-1\n");
        using var session = AwsSession.Resolve(new AwsContextOptions { ProfileName = "ir", ProfileLocation = file }, null);
        Assert.Equal("ap-northeast-1", session.DefaultRegion);
        Assert.Equal("profile 'ir'", session.RegionSource);
    }

    [Fact]
    public void AWS_Tools_credential_objects_from_another_SDK_are_read_by_reflection()
    {
        // Shaped like AWS.Tools' Amazon.Runtime.AWSCredentials: GetCredentials() returning AccessKey/SecretKey/Token.
        var foreign = new ForeignCredentials();
        using var session = AwsSession.Resolve(new AwsContextOptions { Region = "us-east-1", Credential = foreign }, null);
        var keys = session.Credentials.GetCredentials();
        Assert.Equal("AKIDFOREIGN", keys.AccessKey);
        Assert.Equal("foreign-token", keys.Token);
    }

    [Fact]
    public void Hashtables_and_network_credentials_are_accepted_and_junk_is_refused()
    {
        using var a = AwsSession.Resolve(new AwsContextOptions { Region = "us-east-1", Credential = new Hashtable { ["accesskey"] = "AKIDHASH", ["SecretKey"] = "s" } }, null);
        Assert.Equal("AKIDHASH", a.Credentials.GetCredentials().AccessKey);
        using var b = AwsSession.Resolve(new AwsContextOptions { Region = "us-east-1", Credential = new NetworkCredential("AKIDNET", "s") }, null);
        Assert.Equal("AKIDNET", b.Credentials.GetCredentials().AccessKey);
        var error = Assert.Throws<GuardDutyIRException>(() => AwsSession.Resolve(new AwsContextOptions { Region = "us-east-1", Credential = 42 }, null));
        Assert.Equal("InvalidCredential", error.ErrorId);
    }

    [Fact]
    public async Task RoleArn_assumes_the_role_once_and_signs_later_calls_with_its_keys()
    {
        _stub.Enqueue(StubResponse.FromSample("sts-AssumeRole.xml"), StubResponse.FromSample("sts-GetCallerIdentity.xml"));
        using var session = AwsSession.Resolve(new AwsContextOptions
        {
            Region = "us-east-1",
            EndpointUrl = _stub.Url,
            Credential = new NetworkCredential("AKIDBASE", "s"),
            RoleArn = "arn:aws:iam::111122223333:role/IncidentResponder",
            ExternalId = "case-42",
            RoleSessionName = "ir-case-42",
        }, null);

        var identity = await session.GetCallerIdentityAsync(null, CancellationToken.None);

        var requests = _stub.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.Contains("Action=AssumeRole", requests[0].BodyText);
        Assert.Contains("RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FIncidentResponder", requests[0].BodyText);
        Assert.Contains("ExternalId=case-42", requests[0].BodyText);
        Assert.Contains("RoleSessionName=ir-case-42", requests[0].BodyText);
        Assert.Contains("Credential=AKIDBASE/", requests[0].Header("Authorization"));
        Assert.Contains("Credential=ASIAIOSFODNN7EXAMPLE/", requests[1].Header("Authorization"));
        Assert.False(string.IsNullOrEmpty(requests[1].Header("X-Amz-Security-Token")));
        Assert.StartsWith("role arn:aws:iam::111122223333:role/IncidentResponder assumed", identity.CredentialSource);
    }

    [Fact]
    public async Task AWS_MAX_ATTEMPTS_bounds_the_sdk_retries_of_our_own_clients()
    {
        SetEnv("AWS_MAX_ATTEMPTS", "1");
        // AWSSDK.Core reads AWS_MAX_ATTEMPTS once per process (as a real shell sets it before starting pwsh).
        Amazon.Runtime.Internal.FallbackInternalConfigurationFactory.Reset();
        _stub.Default = new StubResponse(503, "{\"__type\":\"ServiceUnavailableException\",\"Message\":\"busy\"}");
        using var session = AwsSession.Resolve(new AwsContextOptions
        {
            Region = "us-east-1", EndpointUrl = _stub.Url, Credential = new NetworkCredential("AKID", "s"),
        }, null);

        var error = await Assert.ThrowsAsync<AwsServiceException>(() => session.Athena().GetQueryExecutionAsync("q"));

        Assert.Equal(503, error.StatusCode);
        Assert.Single(_stub.Requests);
    }

    [Theory]
    [InlineData("us-east-1", true)]
    [InlineData("us-gov-west-1", true)]
    [InlineData("cn-north-1", true)]
    [InlineData("ap-southeast-5", true)]
    [InlineData("US-EAST-1", false)]
    [InlineData("us-east", false)]
    [InlineData("useast1", false)]
    [InlineData("us-east-1; rm -rf", false)]
    public void Region_names_are_checked(string region, bool valid) =>
        Assert.Equal(valid, AwsContextValidator.IsValidRegion(region));

    private sealed class ForeignCredentials
    {
        public object GetCredentials() => new { AccessKey = "AKIDFOREIGN", SecretKey = "s", Token = "foreign-token" };
    }

    private const string LeakedSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYLEAKEDKEY";

    private static string MalformedCredentialsFile()
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, $"[ir]\naws_access_key_id = AKIDLEAK\naws_secret_access_key = x\n{LeakedSecret}\n[other]\nregion = us-east-1\n");
        return file;
    }

    private static void AssertProfileInvalid(GuardDutyIRException error, string file)
    {
        Assert.Equal("ProfileInvalid", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Equal($"{file}:4", error.Target);
        Assert.Contains("Line 4", error.Message, StringComparison.Ordinal);
        for (Exception? e = error; e is not null; e = e.InnerException)
            Assert.DoesNotContain(LeakedSecret, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_credentials_file_named_by_ProfileLocation_is_ProfileInvalid_without_its_content()
    {
        var file = MalformedCredentialsFile();

        var error = Assert.Throws<GuardDutyIRException>(() =>
            AwsSession.Resolve(new AwsContextOptions { Region = "us-east-1", ProfileName = "ir", ProfileLocation = file }, null));

        AssertProfileInvalid(error, file);
    }
}
