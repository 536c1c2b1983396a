using System.Management.Automation;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>Workshop scenario 1 from the responder's side, against the Lab: findings, threat lists, notification.</summary>
public sealed class GuardDutyLabTests : IDisposable
{
    private readonly LabSession _s = LabSession.Start(new LabOptions { Scenario = "CompromisedInstance", Seed = 21, AdditionalGuardDutyRegions = new[] { "eu-west-3" } });

    public void Dispose() => _s.Dispose();

    private GuardDutyService GuardDuty => _s.Lab.GetService<GuardDutyService>()!;

    /// <summary>The Lab's own findings of the main account, read directly (not through the module).</summary>
    private List<(string Id, string Type, double Severity, bool Archived, bool Sample, string? Instance)> Truth() =>
        GuardDuty.FindingsOf(_s.Lab.AccountId).Select(f => (
            f["id"]!.GetValue<string>(),
            f["type"]!.GetValue<string>(),
            f["severity"]!.GetValue<double>(),
            f["service"]?["archived"]?.GetValue<bool>() ?? false,
            f["service"]?["additionalInfo"]?["sample"] is JsonValue v && (v.GetValueKind() == System.Text.Json.JsonValueKind.True || v.ToString() == "true"),
            f["resource"]?["instanceDetails"]?["instanceId"]?.GetValue<string>())).ToList();

    private static string[] Ids(ScriptResult r) => r.Output.Select(o => (string)o.Properties["Id"].Value).OrderBy(x => x, StringComparer.Ordinal).ToArray();

    private static string[] Sorted(IEnumerable<string> ids) => ids.OrderBy(x => x, StringComparer.Ordinal).ToArray();

    [Fact]
    public void The_workshop_finding_and_the_defaults_leave_out_archived_and_sample_findings()
    {
        var truth = Truth();
        var all = _s.Run("Get-GdFinding");
        Assert.Null(all.Terminating);
        Assert.Empty(all.Errors);
        Assert.Equal(Sorted(truth.Where(f => !f.Archived && !f.Sample).Select(f => f.Id)), Ids(all));
        Assert.Contains(truth, f => f.Archived);
        Assert.Contains(truth, f => f.Sample);

        var workshop = _s.Run("Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom'").Output.Single();
        Assert.Equal(_s.Lab.World.CompromisedInstanceId, workshop.Properties["InstanceId"].Value);
        Assert.Equal(_s.Lab.World.MaliciousEip, workshop.Properties["RemoteIpAddress"].Value);
        Assert.Equal("Example-Threat-List", workshop.Properties["ThreatListName"].Value);
        Assert.Equal("OUTBOUND", workshop.Properties["Direction"].Value);

        Assert.Equal(Sorted(truth.Where(f => f.Archived).Select(f => f.Id)), Ids(_s.Run("Get-GdFinding -Archived")));
        Assert.Equal(Sorted(truth.Where(f => !f.Sample).Select(f => f.Id)), Ids(_s.Run("Get-GdFinding -IncludeArchived")));
        Assert.Equal(Sorted(truth.Where(f => !f.Archived).Select(f => f.Id)), Ids(_s.Run("Get-GdFinding -IncludeSample")));
    }

    [Theory]
    [InlineData("Low", 1.0)]
    [InlineData("Medium", 4.0)]
    [InlineData("High", 7.0)]
    [InlineData("Critical", 9.0)]
    [InlineData("3.9", 3.9)]
    [InlineData("6.9", 6.9)]
    [InlineData("8.9", 8.9)]
    public void Every_severity_band_edge_is_respected(string minSeverity, double floor)
    {
        var expected = Sorted(Truth().Where(f => !f.Archived && !f.Sample && f.Severity >= floor).Select(f => f.Id));
        var result = _s.Run($"Get-GdFinding -MinSeverity {minSeverity} -IncludeArchived:$false");
        Assert.Equal(expected, Ids(result));
        // The scenario holds the band edges themselves, so each floor really separates findings.
        Assert.Contains(Truth(), f => Math.Abs(f.Severity - floor) < 0.001 || floor == 1.0);
    }

    [Theory]
    [InlineData("+1")]
    [InlineData("-1")]
    [InlineData("+7")]
    [InlineData("7e0")]
    [InlineData("10.5")]
    [InlineData("NaN")]
    [InlineData("Severe")]
    public void Anything_but_a_band_name_or_a_number_from_0_to_10_is_refused_before_any_call(string minSeverity)
    {
        _s.Lab.Counters.Reset();

        var error = _s.Run("Get-GdFinding -MinSeverity $args[0]", minSeverity).SingleError();

        Assert.Equal("InvalidMinSeverity", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(minSeverity, error.TargetObject);
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalCalls);
    }

    [Theory]
    [InlineData("Get-GdThreatList -Name 'a['", "a[")]
    [InlineData("Get-LakeQueryTemplate -Name 'x['", "x[")]
    [InlineData("Get-LakeEventDataStore -Name 'y['", "y[")]
    [InlineData("Get-GdFinding -Type 'Recon:EC2/['", "Recon:EC2/[")]
    [InlineData("Get-GdFinding -Type 'Recon:[z-a]*'", "Recon:[z-a]*")]
    public void A_malformed_wildcard_is_InvalidWildcard_before_any_call(string command, string pattern)
    {
        _s.Lab.Counters.Reset();

        var error = _s.Run(command).SingleError();

        Assert.Equal("InvalidWildcard", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(pattern, error.TargetObject);
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalCalls);
    }

    [Fact]
    public void A_literal_bracket_is_written_as_a_set()
    {
        Assert.Empty(_s.Run("Get-GdFinding -Type 'Recon:EC2/[[]*'").Errors);
    }

    [Fact]
    public void Types_exact_and_wildcard_instance_and_time_filters()
    {
        var truth = Truth().Where(f => !f.Archived && !f.Sample).ToList();
        Assert.Equal(Sorted(truth.Where(f => f.Type.StartsWith("Backdoor:", StringComparison.Ordinal)).Select(f => f.Id)), Ids(_s.Run("Get-GdFinding -Type 'Backdoor:*'")));
        Assert.Equal(Sorted(truth.Where(f => f.Type is "Recon:EC2/PortProbeUnprotectedPort" or "Backdoor:EC2/C&CActivity.B").Select(f => f.Id)),
            Ids(_s.Run("Get-GdFinding -Type 'Recon:EC2/PortProbeUnprotectedPort', 'Backdoor:EC2/C&CActivity.B'")));
        var instance = _s.Lab.World.CompromisedInstanceId!;
        Assert.Equal(Sorted(truth.Where(f => f.Instance == instance).Select(f => f.Id)), Ids(_s.Run("Get-GdFinding -InstanceId $args[0]", instance)));
        Assert.Empty(_s.Run("Get-GdFinding -Since '2001-01-01' -Until '2001-01-02'").Output);
        Assert.Equal(truth.Count, _s.Run("Get-GdFinding -Since '2001-01-01'").Output.Count);
        var one = truth[0].Id;
        Assert.Equal(new[] { one }, Ids(_s.Run("Get-GdFinding -Id $args[0]", one)));
    }

    [Fact]
    public void Results_are_sorted_by_severity_and_detectors_fan_out_over_regions()
    {
        var severities = _s.Run("Get-GdFinding").Output.Select(o => (double)o.Properties["Severity"].Value).ToList();
        Assert.Equal(severities.OrderByDescending(x => x), severities);

        var detectors = _s.Run("Get-GdDetector -Region $args[0], 'eu-west-3'", _s.Lab.Region);
        Assert.Empty(detectors.Errors);
        var detector = Assert.Single(detectors.Output);
        Assert.Equal(GuardDuty.DetectorOf(_s.Lab.AccountId)!.Id, detector.Properties["DetectorId"].Value);

        // A region without a detector is one non-terminating error; the Lab's region still answers.
        var multi = _s.Run("Get-GdFinding -Region 'eu-west-3', $args[0] -MinSeverity High", _s.Lab.Region);
        Assert.Equal("DetectorNotFound", Assert.Single(multi.Errors).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal("eu-west-3", multi.Errors[0].TargetObject);
        Assert.NotEmpty(multi.Output);
        Assert.NotEmpty(_s.Run("Get-GdDetector | Get-GdFinding -MinSeverity High").Output);
    }

    [Fact]
    public void Archive_unarchive_feedback_and_sample_findings_change_the_Lab()
    {
        var target = _s.Run("Get-GdFinding -MinSeverity Critical").Output.First();
        var id = (string)target.Properties["Id"].Value;
        var archived = _s.Run("Get-GdFinding -Id $args[0] | Set-GdFinding -Archive -PassThru", id);
        Assert.Empty(archived.Errors);
        Assert.True((bool)archived.Output.Single().Properties["Archived"].Value);
        Assert.DoesNotContain(id, Ids(_s.Run("Get-GdFinding")));
        _s.Run("Set-GdFinding -FindingId $args[0] -Unarchive", id);
        Assert.Contains(id, Ids(_s.Run("Get-GdFinding")));

        _s.Run("Get-GdFinding -Id $args[0] | Set-GdFinding -Feedback Useful -Comment 'IR-42 confirmed'", id);
        var stored = GuardDuty.FindingsOf(_s.Lab.AccountId).Single(f => f["id"]!.GetValue<string>() == id);
        Assert.Equal("USEFUL", stored["service"]!["userFeedback"]!.GetValue<string>());

        var whatIf = _s.Run("Set-GdFinding -FindingId $args[0] -Archive -WhatIf", id);
        Assert.Contains(id, Ids(_s.Run("Get-GdFinding")));
        Assert.Empty(whatIf.Errors);

        var samples = _s.Run("New-GdSampleFinding -Type 'Backdoor:EC2/Spambot' -PassThru");
        Assert.Empty(samples.Errors);
        Assert.All(samples.Output, o => Assert.True((bool)o.Properties["IsSample"].Value));
        Assert.Contains(samples.Output, o => (string)o.Properties["Type"].Value == "Backdoor:EC2/Spambot");
    }

    [Fact]
    public void Threat_lists_are_read_created_extended_deactivated_and_removed()
    {
        var lists = _s.Run("Get-GdThreatList");
        var workshop = lists.Output.Single(o => (string)o.Properties["Name"].Value == "Example-Threat-List");
        Assert.Equal("ACTIVE", workshop.Properties["Status"].Value);
        Assert.Equal("Threat", workshop.Properties["ListType"].Value.ToString());

        var bucket = _s.Lab.GetService<S3Service>()!.EvidenceBucket!;
        var created = _s.Run("'203.0.113.7', '198.51.100.0/24', '10.0.0.5' | New-GdThreatList -Name 'IR-42-sources' -Bucket $args[0]", bucket);
        Assert.Empty(created.Errors);
        Assert.Contains(created.Warnings, w => w.Message.Contains("10.0.0.5"));
        var list = created.Output.Single();
        Assert.Equal("ACTIVE", list.Properties["Status"].Value);
        Assert.Equal(3, list.Properties["EntryCount"].Value);
        var listId = (string)list.Properties["ListId"].Value;

        var added = _s.Run("Get-GdThreatList -Name 'IR-42-*' | Add-GdThreatListEntry -Entry '203.0.113.9', '203.0.113.7'");
        Assert.Empty(added.Errors);
        Assert.Equal(4, added.Output.Single().Properties["EntryCount"].Value);
        var content = System.Text.Encoding.UTF8.GetString(_s.Lab.GetService<S3Service>()!.Store.Get(bucket, "guardduty/threat-lists/IR-42-sources.txt")!.Content);
        Assert.Equal(new[] { "10.0.0.5", "198.51.100.0/24", "203.0.113.7", "203.0.113.9" }, content.Split('\n', StringSplitOptions.RemoveEmptyEntries).OrderBy(x => x, StringComparer.Ordinal).ToArray());

        Assert.Equal("INACTIVE", _s.Run("Set-GdThreatList -ListId $args[0] -ListType Threat -Deactivate", listId).Output.Single().Properties["Status"].Value);
        var bad = _s.Run("New-GdThreatList -Name bad -Entry '203.0.113.300' -Bucket $args[0]", bucket);
        Assert.Equal("InvalidThreatListEntry", bad.Terminating!.ErrorRecord.FullyQualifiedErrorId.Split(',')[0]);

        _s.Run("Remove-GdThreatList -ListId $args[0] -ListType Threat -Force", listId);
        Assert.DoesNotContain(_s.Run("Get-GdThreatList").Output, o => (string)o.Properties["ListId"].Value == listId);
    }

    [Fact]
    public void A_member_account_is_told_that_only_the_administrator_manages_lists()
    {
        // The member has a bucket of its own, so the upload succeeds and GuardDuty's refusal is what is tested.
        var bucket = "member-threat-lists";
        _s.Lab.GetService<S3Service>()!.Store.EnsureBucket(bucket, _s.Lab.MemberAccountId, _s.Lab.Region, DateTimeOffset.UtcNow);
        var result = _s.Run("New-GdThreatList -Name member-list -Entry '203.0.113.7' -Bucket $args[0] -RoleArn $args[1] -ExternalId $args[2]", bucket,
            $"arn:aws:iam::{_s.Lab.MemberAccountId}:role/{LabCredentialStore.ResponderRoleName}", LabCredentialStore.ResponderExternalId);
        Assert.NotNull(result.Terminating);
        Assert.Equal("ThreatListRequiresAdministrator", result.Terminating!.ErrorRecord.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.PermissionDenied, result.Terminating.ErrorRecord.CategoryInfo.Category);
        // The file was uploaded before GuardDuty refused the list; a failed command leaves nothing behind.
        Assert.Null(_s.Lab.GetService<S3Service>()!.Store.Get(bucket, "guardduty/threat-lists/member-list.txt"));
        Assert.Contains("was removed again", result.Terminating.Message);
    }

    [Theory]
    [InlineData("-Key '../other/list.txt'", "InvalidS3Key")]
    [InlineData("-Key 'lists/./a.txt'", "InvalidS3Key")]
    [InlineData("-Key '/abs.txt'", "InvalidS3Key")]
    [InlineData("-Key ('a' * 1025)", "InvalidS3Key")]
    [InlineData("-Bucket 'Not_A_Bucket'", "InvalidBucketName")]
    [InlineData("-Name ('x' * 301)", "InvalidThreatListName")]
    [InlineData("-Name \"bad`nname\"", "InvalidThreatListName")]
    public void A_bad_name_key_or_bucket_is_refused_before_any_call(string parameters, string errorId)
    {
        var bucket = _s.Lab.GetService<S3Service>()!.EvidenceBucket!;
        _s.Lab.Counters.Reset();

        var result = _s.Run($"$splat = @{{ Name = 'ok-list'; Entry = '203.0.113.7'; Bucket = $args[0] }}; New-GdThreatList @splat {parameters}", bucket);

        var error = result.SingleError();
        Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalCalls);
    }

    [Fact]
    public void A_name_with_path_characters_makes_a_key_inside_the_list_prefix()
    {
        var store = _s.Lab.GetService<S3Service>()!.Store;
        var bucket = _s.Lab.GetService<S3Service>()!.EvidenceBucket!;

        var created = _s.Run("New-GdThreatList -Name '../../evil list' -Entry '203.0.113.7' -Bucket $args[0]", bucket);

        Assert.Null(created.Terminating);
        Assert.Equal("../../evil list", created.Output.Single().Properties["Name"].Value);
        Assert.NotNull(store.Get(bucket, "guardduty/threat-lists/evil-list.txt"));
    }

    [Fact]
    public void An_existing_list_file_is_not_overwritten()
    {
        var bucket = _s.Lab.GetService<S3Service>()!.EvidenceBucket!;
        Assert.Null(_s.Run("New-GdThreatList -Name first -Entry '203.0.113.7' -Bucket $args[0] -Key shared/list.txt", bucket).Terminating);
        _s.Lab.Counters.Reset();

        var second = _s.Run("New-GdThreatList -Name second -Entry '198.51.100.1' -Bucket $args[0] -Key shared/list.txt", bucket);

        Assert.Equal("ThreatListFileExists", second.SingleError().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.ResourceExists, second.SingleError().CategoryInfo.Category);
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalMutating);
        var content = System.Text.Encoding.UTF8.GetString(_s.Lab.GetService<S3Service>()!.Store.Get(bucket, "shared/list.txt")!.Content);
        Assert.Equal("203.0.113.7", content.Trim());
    }

    [Fact]
    public void The_finding_is_sent_to_the_scenario_topic()
    {
        var sns = _s.Lab.GetService<SnsService>()!;
        var result = _s.Run("Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom' | Send-GdNotification -TopicArn $args[0]", sns.ScenarioTopicArn);
        Assert.Empty(result.Errors);
        var message = sns.Messages.Single();
        Assert.Contains(_s.Lab.World.CompromisedInstanceId!, message.Subject);
        Assert.Contains(_s.Lab.World.MaliciousEip!, message.Message);
        Assert.Equal(result.Output.Single().Properties["MessageId"].Value, message.MessageId);
    }
}

/// <summary>Paging through more findings than four pages of 50 hold.</summary>
public sealed class GuardDutyPagingTests : IDisposable
{
    private readonly LabSession _s = LabSession.Start(new LabOptions { Scenario = "Scale", Instances = 30, Vpcs = 2, Findings = 260, Seed = 5 });

    public void Dispose() => _s.Dispose();

    [Fact]
    public void Every_finding_of_many_pages_arrives_once()
    {
        var expected = _s.Lab.GetService<GuardDutyService>()!.FindingsOf(_s.Lab.AccountId).Count;
        Assert.True(expected > 200);
        _s.Lab.Counters.Reset();
        var result = _s.Run("Get-GdFinding -IncludeArchived -IncludeSample");
        Assert.Empty(result.Errors);
        Assert.Equal(expected, result.Output.Select(o => (string)o.Properties["Id"].Value).Distinct().Count());
        // One chain would take (expected + 49) / 50 pages. The bands: the first page unpartitioned, then every severity
        // band from the first page's last severity down (an empty band is one empty page, with no GetFindings), then one
        // page of the last pass for findings changed meanwhile (none here: nothing more to get).
        var severities = _s.Lab.GetService<GuardDutyService>()!.FindingsOf(_s.Lab.AccountId)
            .Select(f => f["severity"]!.GetValue<double>()).OrderByDescending(x => x).ToList();
        var edge = severities[49];
        var bands = Enumerable.Range(0, 10).Where(i => i == 0 || i <= edge)
            .Select(i => severities.Count(s => (i == 0 || s >= i) && (i == 9 || s < i + 1))).ToList();
        var counters = _s.Lab.Counters.Snapshot();
        Assert.Equal(1 + bands.Sum(n => Math.Max(1, (n + 49) / 50)) + 1, counters.CallsOf("guardduty", "ListFindings"));
        Assert.Equal(1 + bands.Sum(n => (n + 49) / 50), counters.CallsOf("guardduty", "GetFindings"));
        // The order is still the sort order, highest severity first.
        var order = result.Output.Select(o => (double)o.Properties["Severity"].Value).ToList();
        Assert.Equal(order.OrderByDescending(x => x), order);
    }
}
