using System.Management.Automation;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The workshop's rule made, read, tested and removed through the module against the Lab's EventBridge, and proven by
/// what EventBridge then does with a finding: the e-mail text on the topic.
/// </summary>
public sealed class ResponseRuleTests : IDisposable
{
    private readonly LabSession _s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, Seed = 5 });

    public void Dispose() => _s.Dispose();

    private string Topic => _s.Lab.GetService<SnsService>()!.ScenarioTopicArn!;
    private string Function => _s.Lab.Facts["RemediationFunctionArn"]!;
    private const string Workshop = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom";

    private ScriptResult Create() => _s.Run("New-GdResponseRule -TopicArn $args[0] -FunctionArn $args[1]", Topic, Function);

    [Fact]
    public void The_workshop_rule_is_created_with_its_pattern_and_both_targets_and_read_back()
    {
        var created = Create();

        Assert.Empty(created.Errors);
        var rule = Assert.Single(created.Output);
        Assert.Equal("GuardDuty-Event-EC2-MaliciousIPCaller", rule.Properties["Name"].Value);
        Assert.Equal("ENABLED", rule.Properties["State"].Value);
        Assert.Equal(2, ((System.Collections.ICollection)rule.Properties["RequestIds"].Value).Count);
        var read = _s.Run("Get-GdResponseRule").Output.Single();
        Assert.Contains("\"aws.guardduty\"", (string)read.Properties["EventPattern"].Value);
        var targets = _s.Run("(Get-GdResponseRule).Targets | Sort-Object Id").Output;
        Assert.Equal(new[] { "email", "isolate" }, targets.Select(t => (string)t.Properties["Id"].Value));
        Assert.Equal("SnsTopic", targets[0].Properties["Kind"].Value.ToString());
        Assert.Equal("LambdaFunction", targets[1].Properties["Kind"].Value.ToString());
        Assert.Contains("may be compromised and should be investigated", (string)targets[0].Properties["InputTemplate"].Value);
    }

    [Fact]
    public void A_matching_finding_fires_the_rule_and_the_topic_gets_the_workshop_email()
    {
        Create();
        var sns = _s.Lab.GetService<SnsService>()!;
        var before = sns.Messages.Count;

        var sample = _s.Run($"New-GdSampleFinding -Type '{Workshop}' -PassThru").Output.Single();

        var id = (string)sample.Properties["Id"].Value;
        var instance = (string)sample.Properties["InstanceId"].Value;
        var email = Assert.Single(sns.Messages.Skip(before), m => m.Message.Contains(id, StringComparison.Ordinal));
        Assert.Equal($"GuardDuty Finding | ID: {id}: The EC2 instance {instance} may be compromised and should be investigated", email.Message);
        Assert.Contains(_s.Lab.Lambda.Invocations, i => i.Payload.Contains(id, StringComparison.Ordinal));
    }

    [Fact]
    public void A_piped_finding_names_the_rules_it_fires_and_Test_says_why_not_for_others()
    {
        Create();

        var fired = _s.Run($"Get-GdFinding -Type '{Workshop}' | Get-GdResponseRule").Output;
        var notFired = _s.Run("Get-GdFinding -Type 'UnauthorizedAccess:EC2/SSHBruteForce' | Get-GdResponseRule").Output;
        var tests = _s.Run("Get-GdFinding -MinSeverity Low | Test-GdResponseRule -Name GuardDuty-Event-EC2-MaliciousIPCaller").Output;

        Assert.Equal("GuardDuty-Event-EC2-MaliciousIPCaller", Assert.Single(fired).Properties["Name"].Value);
        Assert.Empty(notFired);
        Assert.True(tests.Count > 2);
        Assert.All(tests, t => Assert.Equal((string)t.Properties["FindingType"].Value == Workshop, (bool)t.Properties["Matches"].Value));
    }

    [Fact]
    public void WhatIf_removes_nothing_and_Remove_takes_the_targets_then_the_rule()
    {
        Create();

        _s.Run("Get-GdResponseRule | Remove-GdResponseRule -WhatIf");
        Assert.Single(_s.Run("Get-GdResponseRule").Output);
        var removed = _s.Run("Get-GdResponseRule | Remove-GdResponseRule -Force -PassThru");

        Assert.Empty(removed.Errors);
        Assert.Equal("DELETED", removed.Output.Single().Properties["State"].Value);
        Assert.Equal(2, ((System.Collections.ICollection)removed.Output.Single().Properties["RequestIds"].Value).Count);
        Assert.Empty(_s.Run("Get-GdResponseRule").Output);
        Assert.Equal(1, _s.Lab.Counters.Snapshot().MutatingOf("events", "DeleteRule"));
    }

    [Theory]
    [InlineData("New-GdResponseRule", "ResponseRuleNeedsTarget")]
    [InlineData("New-GdResponseRule -Name 'bad name' -TopicArn $args[0]", "InvalidRuleName")]
    [InlineData("New-GdResponseRule -TopicArn 'arn:aws:sqs:us-east-1:123456789012:q'", "InvalidArn")]
    [InlineData("New-GdResponseRule -TopicArn $args[0] -FindingType 'Recon:*/x'", "InvalidFindingType")]
    [InlineData("New-GdResponseRule -TopicArn $args[0] -MinSeverity 11", "InvalidMinSeverity")]
    [InlineData("Remove-GdResponseRule -Name 'x y' -Force", "InvalidRuleName")]
    public void Bad_input_is_refused_before_any_call(string command, string errorId)
    {
        _s.Lab.Counters.Reset();

        var error = _s.Run(command, Topic).SingleError();

        Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(0, _s.Lab.Counters.Snapshot().TotalCalls);
    }
}
