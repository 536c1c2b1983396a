using Amazon.EC2.Model;
using GuardDutyIR.Engine.Containment;
using Microsoft.Extensions.Time.Testing;

namespace GuardDutyIR.Engine.Tests;

/// <summary>The step log every containment operation records into, and the planner that needs no AWS at all.</summary>
public sealed class StepLogAndPlannerTests
{
    private static readonly StepText Text = new("enabled stop protection", "enable stop protection");

    [Fact]
    public async Task Steps_actions_and_request_IDs_all_come_from_the_log()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 8, 15, 0, TimeSpan.Zero));
        var log = new StepLog(time);
        var done = await log.RunAsync("EnableStopProtection", "i-1", Text, _ => Task.FromResult(new StepOutcome(StepStatus.Done, "req-1")), CancellationToken.None);
        var failed = await log.RunAsync("EnableStopProtection", "i-2", Text,
            _ => throw new GuardDutyIRException("UnauthorizedOperation", ErrorKind.PermissionDenied, "not allowed", "i-2"), CancellationToken.None);
        var allowed = await log.RunAsync("EnableStopProtection", "i-3", Text, _ => Task.FromResult(new StepOutcome(StepStatus.DryRunAllowed, "req-3")), CancellationToken.None);
        log.Skip("RecordOriginalState", "i-1", "the original state was recorded by an earlier run");

        Assert.Equal(("enabled stop protection", StepStatus.Done, (string?)null), (done.Detail, done.Status, done.Error));
        Assert.Equal(("failed to enable stop protection", StepStatus.Failed, "not allowed"), (failed.Detail, failed.Status, failed.Error));
        Assert.Equal("would enable stop protection", allowed.Detail);
        Assert.Equal(new[] { "i-1", "i-2", "i-3", "i-1" }, log.Steps.Select(s => s.Target));
        Assert.Equal(new[] { "enabled stop protection" }, log.Actions);
        Assert.Equal(new[] { "req-1", "req-3" }, log.RequestIds);
        Assert.Equal(new[] { "req-1" }, done.RequestIds);
        Assert.All(log.Steps, s => Assert.Equal(time.GetUtcNow().UtcDateTime, s.Time));
        Assert.True(log.Any(StepStatus.Failed));
    }

    [Fact]
    public async Task An_expected_answer_is_the_steps_outcome_and_a_failure_can_end_the_operation()
    {
        var log = new StepLog();
        var raced = new AwsServiceException("EC2", "RevokeSecurityGroupEgress", "InvalidPermission.NotFound", "gone", 400, "req-9", "sg-1");
        var skipped = await log.RunAsync("RevokeSecurityGroupEgress", "sg-1", new StepText("revoked 1 rule", "revoke 1 rule"), _ => throw raced, CancellationToken.None,
            expected: (e, text) => new StepOutcome(StepStatus.Skipped, e.RequestId, Detail: "did not " + text.Planned));
        Assert.Equal((StepStatus.Skipped, "did not revoke 1 rule"), (skipped.Status, skipped.Detail));
        Assert.Equal(new[] { "req-9" }, skipped.RequestIds);

        var error = new GuardDutyIRException("InstanceNotFound", ErrorKind.ObjectNotFound, "no such instance", "i-1");
        var thrown = await Assert.ThrowsAsync<GuardDutyIRException>(() => log.RunAsync("StopInstance", "i-1", new StepText("stopped the instance", "stop the instance"),
            _ => throw error, CancellationToken.None, throwOnFailure: true));
        Assert.Same(error, thrown);
        Assert.Equal(StepStatus.Failed, log.Steps[^1].Status);
    }

    [Fact]
    public void The_planner_decides_from_what_was_read_without_any_call()
    {
        static InstanceNetworkInterface Eni(string id, int device, string group) => new()
        {
            NetworkInterfaceId = id, VpcId = "vpc-1", Attachment = new InstanceNetworkInterfaceAttachment { DeviceIndex = device },
            Groups = new List<GroupIdentifier> { new() { GroupId = group } },
        };
        var facts = new InstanceFacts
        {
            Instance = new Instance
            {
                InstanceId = "i-0123456789abcdef0", State = new InstanceState { Name = "running" },
                NetworkInterfaces = new List<InstanceNetworkInterface> { Eni("eni-2", 1, "sg-iso"), Eni("eni-1", 0, "sg-web") },
            },
            Tags = new Dictionary<string, string>(),
            DisableApiTermination = true,
        };
        var stray = new SecurityGroupRule { SecurityGroupRuleId = "sgr-1", IsEgress = true, IpProtocol = "-1", CidrIpv4 = "203.0.113.0/24" };
        var now = new DateTime(2026, 11, 23, 8, 15, 0, DateTimeKind.Utc);

        var plan = QuarantinePlanner.Plan(facts, new Dictionary<string, VpcIsolation> { ["vpc-1"] = new("sg-iso", new[] { stray }) },
            new QuarantineRequest(facts.InstanceId, "us-east-1", "IR-40"), new QuarantineOptions(), now);

        Assert.Equal(new[] { "eni-1" }, plan.MoveEnis.Select(e => e.NetworkInterfaceId));
        Assert.False(plan.SetTermination);
        Assert.True(plan.SetStop);
        Assert.Equal(now, plan.Record.RecordedAt);
        Assert.Equal("IR-40", plan.StartTags[QuarantineTags.Case]);
        Assert.Equal(new[] { "sg-web" }, plan.Record.NetworkInterfaceGroups["eni-1"]);
        var lines = plan.Describe(new QuarantineOptions(), "us-east-1").Split('\n');
        Assert.Contains(lines, l => l.Contains("revoke the 1 rule(s)") && l.Contains("sgr-1"));
        Assert.Contains(lines, l => l.StartsWith("  - eni-1 (device 0, vpc-1): [sg-web] -> GuardDutyIR-Conversion", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("eni-2"));
    }
}
