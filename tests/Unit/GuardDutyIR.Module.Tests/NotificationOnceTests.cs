using System.Management.Automation;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// Send-GdNotification -OncePerFinding: an automation that sees the same finding twice (EventBridge delivers at least
/// once) sends the responders one message, remembered on the instance.
/// </summary>
public sealed class NotificationOnceTests : IDisposable
{
    private readonly LabSession _s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop });

    public void Dispose() => _s.Dispose();

    private string Topic => _s.Lab.GetService<SnsService>()!.ScenarioTopicArn!;
    private IReadOnlyList<SnsPublishedMessage> Messages => _s.Lab.GetService<SnsService>()!.Messages;
    private string FindingId => _s.Lab.GetService<GuardDutyService>()!.ScenarioFindingId!;
    private string InstanceId => _s.Lab.World.CompromisedInstanceId!;

    private static T Prop<T>(PSObject o, string name) => (T)(o.Properties[name].Value is PSObject p ? p.BaseObject : o.Properties[name].Value)!;

    [Fact]
    public void The_message_is_recorded_on_the_instance_and_a_repeat_writes_the_earlier_one_without_sending()
    {
        var first = _s.Run("Get-GdFinding -Id $args[0] | Send-GdNotification -TopicArn $args[1] -OncePerFinding", FindingId, Topic);
        Assert.Null(first.Terminating);
        Assert.Empty(first.Errors);
        var sent = Assert.Single(first.Output);
        Assert.False(Prop<bool>(sent, "AlreadySent"));
        var message = Assert.Single(Messages);
        Assert.Equal(message.MessageId, Prop<string>(sent, "MessageId"));
        var record = _s.Lab.Ec2.ResourceTags(InstanceId)["ir:notified:" + FindingId];
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ " + message.MessageId + "$", record);

        _s.Lab.Counters.Reset();
        var again = _s.Run("Get-GdFinding -Id $args[0] | Send-GdNotification -TopicArn $args[1] -OncePerFinding -Verbose", FindingId, Topic);
        Assert.Empty(again.Errors);
        var earlier = Assert.Single(again.Output);
        Assert.True(Prop<bool>(earlier, "AlreadySent"));
        Assert.Equal(message.MessageId, Prop<string>(earlier, "MessageId"));
        Assert.Equal(InstanceId, Prop<string>(earlier, "InstanceId"));
        Assert.Contains(again.Verbose, v => v.Message.Contains("not sending another"));
        Assert.Single(Messages);
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalMutating);

        // Without the switch nothing is remembered or skipped: the cmdlet sends as before.
        Assert.Empty(_s.Run("Get-GdFinding -Id $args[0] | Send-GdNotification -TopicArn $args[1]", FindingId, Topic).Errors);
        Assert.Equal(2, Messages.Count);
    }

    [Fact]
    public void When_the_record_cannot_be_read_or_written_the_message_is_still_sent_and_a_warning_says_so()
    {
        _s.Lab.Deny("ec2", "DescribeTags");
        _s.Lab.Deny("ec2", "CreateTags");
        var result = _s.Run("Get-GdFinding -Id $args[0] | Send-GdNotification -TopicArn $args[1] -OncePerFinding", FindingId, Topic);

        Assert.Empty(result.Errors);
        Assert.Single(Messages);
        Assert.False(Prop<bool>(Assert.Single(result.Output), "AlreadySent"));
        Assert.Contains(result.Warnings, w => w.Message.Contains("could not read whether"));
        Assert.Contains(result.Warnings, w => w.Message.Contains("not recorded on the instance"));
        Assert.DoesNotContain(_s.Lab.Ec2.ResourceTags(InstanceId).Keys, k => k.StartsWith("ir:notified:", StringComparison.Ordinal));
    }
}
