using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests;

/// <summary>Tests that change the process environment run alone, after the parallel ones.</summary>
[CollectionDefinition("ProcessEnvironment", DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection;

/// <summary>
/// Invoke-LakeQuery on a machine with no AWS configuration at all: no AWS_* variables, a home folder with no .aws,
/// no session defaults. Local files need nothing; S3 needs only credentials and finds the bucket's region itself.
/// </summary>
[Collection("ProcessEnvironment")]
public sealed class LakeQueryWithoutAwsConfigTests : IDisposable
{
    private const string Instance = "i-0123456789abcdef0";
    private readonly string _home = Directory.CreateTempSubdirectory("gdir-nohome-").FullName;
    private readonly string _root = Directory.CreateTempSubdirectory("gdir-noaws-").FullName;
    private readonly Dictionary<string, string?> _saved = new(StringComparer.Ordinal);

    public LakeQueryWithoutAwsConfigTests()
    {
        var names = Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(n => n.StartsWith("AWS_", StringComparison.OrdinalIgnoreCase))
            .Concat(new[] { "HOME", "USERPROFILE", "XDG_CACHE_HOME", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE" }).Distinct();
        foreach (var name in names)
        {
            _saved[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, null);
        }
        Environment.SetEnvironmentVariable("HOME", _home);
        Environment.SetEnvironmentVariable("USERPROFILE", _home);
        Environment.SetEnvironmentVariable("AWS_CONFIG_FILE", Path.Combine(_home, "no-such-config"));
        Environment.SetEnvironmentVariable("AWS_SHARED_CREDENTIALS_FILE", Path.Combine(_home, "no-such-credentials"));
        TrailLogWriter.WriteInvestigation(_root, Instance);
    }

    public void Dispose()
    {
        foreach (var (name, value) in _saved) Environment.SetEnvironmentVariable(name, value);
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_home, recursive: true);
    }

    /// <summary>A runspace with the module imported and nothing else: HostedPowerShell would set an AWS_* variable.</summary>
    private static HostedPowerShell NewHost()
    {
        var host = new HostedPowerShell();
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", null);
        return host;
    }

    [Fact]
    public void A_local_query_answers_with_no_credentials_region_or_config()
    {
        using var host = NewHost();
        Assert.DoesNotContain(Environment.GetEnvironmentVariables().Keys.Cast<string>(),
            n => n.StartsWith("AWS_", StringComparison.Ordinal) && n is not "AWS_CONFIG_FILE" and not "AWS_SHARED_CREDENTIALS_FILE");
        var result = host.Run("Invoke-LakeQuery -Template InstanceActivity -Parameter @{ InstanceId = $args[1] } -Path $args[0] -Verbose", _root, Instance);
        Assert.True(result.Terminating is null, result.Terminating?.Message);
        Assert.Empty(result.Errors);
        Assert.Equal(3L, result.Output.Single(o => (string)o.Properties["eventname"].Value == "ListBuckets").Properties["total"].Value);
        Assert.DoesNotContain(result.Verbose, v => v.Message.StartsWith("Credentials", StringComparison.Ordinal) || v.Message.StartsWith("Region", StringComparison.Ordinal));

        // The local cache went to the (empty) home folder's cache, owner-only.
        var cache = Path.Combine(_home, ".cache", "GuardDutyIR", "trail-cache");
        Assert.NotEmpty(Directory.GetFiles(cache));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(cache)!));
    }

    [Fact]
    public async Task S3_needs_only_credentials_and_finds_the_buckets_region()
    {
        // The bucket lives in eu-west-1; nothing names a region, so the query starts from us-east-1 as the AWS CLI does.
        var lab = await LabHost.StartAsync(new LabOptions { Scenario = "CloudTrailInvestigation", Seed = 33, Region = "eu-west-1" });
        try
        {
            using var host = NewHost();
            var bucket = lab.GetService<S3Service>()!.TrailBucket;
            var result = host.Run("Invoke-LakeQuery -Template InstancesListingBuckets -S3Uri $args[0] -CacheDirectory $args[1] -EndpointUrl $args[2] " +
                                  "-Credential @{ AccessKey = $args[3]; SecretKey = $args[4] }",
                $"s3://{bucket}/AWSLogs/", Path.Combine(_root, "s3"), lab.Endpoint, lab.AccessKeyId, lab.SecretAccessKey);
            Assert.True(result.Terminating is null, result.Terminating?.Message);
            Assert.Empty(result.Errors);
            Assert.NotEmpty(result.Output);
            var counters = lab.Counters.Snapshot();
            Assert.True(counters.CallsOf("s3", "ListObjectsV2") >= 1);
            Assert.True(counters.CallsOf("s3", "GetObject") >= 1);
        }
        finally
        {
            await lab.DisposeAsync();
        }
    }
}
