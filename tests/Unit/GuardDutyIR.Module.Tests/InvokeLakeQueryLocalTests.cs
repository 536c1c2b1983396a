using System.Management.Automation;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests;

/// <summary>Invoke-LakeQuery -Path in the hosted engine: the workshop queries over local trail files.</summary>
[Collection(CpuSaturatingCollection.Name)]
public sealed class InvokeLakeQueryLocalTests : IDisposable
{
    private const string Instance = "i-0123456789abcdef0";
    private readonly string _root = Directory.CreateTempSubdirectory("gdir-lake-").FullName;
    private readonly HostedPowerShell _host = new();
    private const string Keys = "-Region us-east-1 -Credential @{AccessKey='AKIDEXAMPLE'; SecretKey='s'}";

    public InvokeLakeQueryLocalTests() => TrailLogWriter.WriteInvestigation(_root, Instance);

    public void Dispose()
    {
        _host.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void A_template_runs_over_a_folder_and_rows_are_typed_objects_in_column_order()
    {
        var result = _host.Run($"Invoke-LakeQuery -Template InstanceActivitySummary -Parameter @{{ InstanceId = '{Instance}' }} -Path $args[0] {Keys}", _root);
        Assert.Null(result.Terminating);
        Assert.Empty(result.Errors);
        var first = result.Output[0];
        Assert.Equal(new[] { "eventname", "total", "eventsource", "awsregion" }, first.Properties.Select(p => p.Name).ToArray());
        Assert.IsType<long>(first.Properties["total"].Value);
        Assert.Equal("ListBuckets", first.Properties["eventname"].Value);
        Assert.Equal(3L, first.Properties["total"].Value);
        Assert.Contains("GuardDutyIR.LakeQueryRow", first.TypeNames);
    }

    [Fact]
    public void A_piped_finding_selects_the_instance_and_the_time_window()
    {
        var finding = File.ReadAllText(Path.Combine(TestPaths.Samples, "guardduty-finding-MaliciousIPCaller.Custom.SYNTHESIZED.json"))
            .Replace("i-0abc1234def567890", Instance)
            .Replace("2024-05-01T12:05:00.000Z", "2026-11-01T09:30:00.000Z")
            .Replace("2024-05-01T12:09:00.000Z", "2026-11-01T09:45:00.000Z");
        var result = _host.Run($"$args[0] | ConvertFrom-GdFindingEvent | Invoke-LakeQuery -Template InstanceS3Uploads -Path $args[1] {Keys}", finding, _root);
        Assert.Empty(result.Errors);
        Assert.Equal(new[] { "a/secrets.txt", "b/db.dump" }, result.Output.Select(o => (string)o.Properties["key"].Value).ToArray());
        Assert.IsType<DateTime>(result.Output[0].Properties["eventtime"].Value);

        // The same finding seen a day later: its window (an hour either side) holds none of these events.
        var later = finding.Replace("2026-11-01T09:30", "2026-11-05T09:30").Replace("2026-11-01T09:45", "2026-11-05T09:45");
        Assert.Empty(_host.Run($"$args[0] | ConvertFrom-GdFindingEvent | Invoke-LakeQuery -Template InstanceS3Uploads -Path $args[1] {Keys}", later, _root).Output);
    }

    [Fact]
    public void Raw_gives_the_text_and_a_malformed_file_is_a_warning()
    {
        File.WriteAllText(Path.Combine(_root, "broken.json"), "{\"Records\":[");
        var result = _host.Run($"Invoke-LakeQuery -Query 'select count(*) as total from EDS_ID' -Path $args[0] -Raw {Keys}", _root);
        Assert.Empty(result.Errors);
        Assert.Equal("11", result.Output.Single().Properties["total"].Value);
        Assert.Contains(result.Warnings, w => w.Message.Contains("broken.json"));
    }

    [Theory]
    [InlineData("-Query 'delete from EDS_ID' -Path .", "QueryNotSelect")]
    [InlineData("-Template NoSuchTemplate -Path .", "UnknownQueryTemplate")]
    [InlineData("-Template InstanceActivity -Parameter @{ InstanceId = 'i-1'' or ''1''=''1' } -Path .", "InvalidTemplateParameter")]
    [InlineData("-Query 'select 1' -Path . -Athena", "QueryBackendConflict")]
    [InlineData("-Query 'select 1'", "NoQueryBackend")]
    [InlineData("-Query 'select 1' -Path /nonexistent/trail", "TrailPathNotFound")]
    [InlineData("-Query 'select 1' -S3Uri 'https://bucket/x'", "InvalidS3Uri")]
    public void Bad_requests_stop_with_a_stable_error(string parameters, string errorId)
    {
        var result = _host.Run($"Invoke-LakeQuery {parameters} {Keys}");
        Assert.NotNull(result.Terminating);
        Assert.Equal(errorId, result.Terminating!.ErrorRecord.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains(result.Terminating.ErrorRecord.CategoryInfo.Category, new[] { ErrorCategory.InvalidArgument, ErrorCategory.ObjectNotFound });
    }

    [Fact]
    public void An_endless_trail_file_stops_at_TimeoutSec_with_a_timeout_error()
    {
        var endless = Path.Combine(_root, "endless", "endless.json.gz");
        TrailLogWriter.WriteEndlessGzip(endless, endlessRecord: false);
        // The file never ends: only -TimeoutSec ends the command (the guard keeps a broken build from hanging the suite).
        var result = _host.RunWithin(TimeSpan.FromMinutes(2), "Invoke-LakeQuery -Template InstancesListingBuckets -Path $args[0] -TimeoutSec 2", endless);
        var error = result.SingleError();
        Assert.Equal("QueryTimedOut", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.OperationTimeout, error.CategoryInfo.Category);
    }

    [Fact]
    public void Templates_are_listed_with_their_parameters()
    {
        var templates = _host.Run("Get-LakeQueryTemplate").Output;
        Assert.Equal(11, templates.Count);
        var exfil = templates.Single(t => (string)t.Properties["Name"].Value == "InstanceCredentialExfiltration");
        Assert.Equal(new[] { "InstanceId", "[KnownIp]" }, (string[])exfil.Properties["Parameters"].Value);
        var elsewhere = templates.Single(t => (string)t.Properties["Name"].Value == "InstanceCredentialsUsedElsewhere");
        Assert.Equal(new[] { "InstanceId", "[InstanceIp]" }, (string[])elsewhere.Properties["Parameters"].Value);
    }
}
