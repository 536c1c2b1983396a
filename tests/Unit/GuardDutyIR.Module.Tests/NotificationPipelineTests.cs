using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The documented runbooks end in Send-GdNotification: one message per instance that names the finding and tells every
/// step done to it, whatever the cmdlets in between wrote.
/// </summary>
public sealed class NotificationPipelineTests : IDisposable
{
    private readonly LabSession _s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, SnapshotCompletionSeconds = 0.5 });

    static NotificationPipelineTests() => Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");

    public void Dispose() => _s.Dispose();

    private string Topic => _s.Lab.GetService<SnsService>()!.ScenarioTopicArn!;
    private IReadOnlyList<SnsPublishedMessage> Messages => _s.Lab.GetService<SnsService>()!.Messages;
    private string FindingId => _s.Lab.GetService<GuardDutyIR.Lab.GuardDuty.GuardDutyService>()!.ScenarioFindingId!;
    private string InstanceId => _s.Lab.World.CompromisedInstanceId!;

    [Fact]
    public void Quarantine_then_snapshots_make_one_message_with_the_finding_the_isolation_and_every_snapshot()
    {
        var result = _s.Run("Get-GdFinding -Id $args[0] | Set-InstanceQuarantine -CaseId IR-7 -ConversionWaitSeconds 0 | " +
            "New-ForensicSnapshot -Wait -PollIntervalSeconds 0.2 | Send-GdNotification -TopicArn $args[1]", FindingId, Topic);

        Assert.Null(result.Terminating);
        Assert.Empty(result.Errors);
        var message = Assert.Single(Messages);
        Assert.Contains(FindingId, message.Message);
        Assert.Contains("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", message.Subject ?? "");
        Assert.Contains(InstanceId, message.Subject ?? "");
        var volumes = _s.Lab.World.Instance(InstanceId).Volumes;
        Assert.True(volumes.Count > 1, "the scenario's instance has several volumes, so one message per volume would show");
        foreach (var volume in volumes) Assert.Contains($"of {volume.VolumeId}", message.Message);
        Assert.Contains("GuardDutyIR-Isolation", message.Message);
        Assert.DoesNotContain("none recorded by this pipeline", message.Message);
    }

    [Fact]
    public void A_finding_piped_into_New_ForensicSnapshot_stays_in_the_message()
    {
        var result = _s.Run("Get-GdFinding -Id $args[0] | New-ForensicSnapshot -CaseId IR-8 | Send-GdNotification -TopicArn $args[1]", FindingId, Topic);

        Assert.Empty(result.Errors);
        var message = Assert.Single(Messages);
        Assert.StartsWith("GuardDuty Finding | Medium | UnauthorizedAccess:EC2/MaliciousIPCaller.Custom | " + InstanceId, message.Subject ?? "");
        Assert.Contains("ID: " + FindingId, message.Message);
    }

    [Fact]
    public void PassThru_writes_every_object_on_with_its_instance_message_ID()
    {
        var result = _s.Run("Get-GdFinding -Id $args[0] | New-ForensicSnapshot -CaseId IR-9 | Send-GdNotification -TopicArn $args[1] -PassThru", FindingId, Topic);

        Assert.Empty(result.Errors);
        var id = Assert.Single(Messages).MessageId;
        Assert.True(result.Output.Count > 1);
        Assert.All(result.Output, o => Assert.Equal(id, o.Properties["NotificationMessageId"].Value));
    }
}
