using System.Management.Automation;
using System.Net;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests;

/// <summary>Send-GdNotification renders its templates from the piped object and publishes within SNS limits.</summary>
public sealed class SendGdNotificationTests : IDisposable
{
    private readonly WireStub _stub = new() { Default = StubResponse.FromSample("sns-Publish.xml") };
    private readonly HostedPowerShell _host = new();
    private static readonly string Event = File.ReadAllText(Path.Combine(TestPaths.Samples, "eventbridge-GuardDutyFinding-MaliciousIPCaller.Custom.SYNTHESIZED.json"));
    private const string Topic = "arn:aws:sns:eu-west-1:123456789012:ir-alerts";
    private const string Common = "-EndpointUrl $args[1] -Credential @{AccessKey='AKIDEXAMPLE'; SecretKey='s'}";

    public SendGdNotificationTests() => _host.Run("Set-GdDefault -Region us-east-1");

    public void Dispose()
    {
        _host.Dispose();
        _stub.Dispose();
    }

    private static Dictionary<string, string> Form(CapturedRequest request) =>
        request.BodyText.Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => WebUtility.UrlDecode(p[0]), p => WebUtility.UrlDecode(p[1]));

    [Fact]
    public void The_default_message_carries_what_the_workshop_email_carried()
    {
        var result = _host.Run($"$args[0] | ConvertFrom-GdFindingEvent | Send-GdNotification -TopicArn '{Topic}' {Common}", Event, _stub.Url);
        Assert.Null(result.Terminating);
        Assert.Empty(result.Errors);
        var sent = Assert.Single(result.Output);
        Assert.Equal("GuardDutyIR.GdNotification", sent.BaseObject.GetType().FullName);
        Assert.Equal("eu-west-1", sent.Properties["Region"].Value);

        var request = _stub.Single();
        Assert.Matches(@"Credential=AKIDEXAMPLE/\d{8}/eu-west-1/sns/", request.Header("Authorization"));
        var form = Form(request);
        Assert.Equal(Topic, form["TopicArn"]);
        Assert.Equal("GuardDuty Finding | Medium | UnauthorizedAccess:EC2/MaliciousIPCaller.Custom | i-0abc1234def567890", form["Subject"]);
        var message = form["Message"];
        Assert.Contains("The EC2 instance i-0abc1234def567890 may be compromised and should be investigated", message);
        Assert.Contains("198.51.100.7", message);
        Assert.Contains("Threat list:     ir-blocklist", message);
        Assert.Contains("https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=5ec7a3a0f1b2c3d4e5f6a7b8c9d0e1f2", message);
        Assert.Contains("none recorded by this pipeline", message);
    }

    [Fact]
    public void Templates_use_placeholders_like_an_input_transformer_and_PassThru_returns_the_input()
    {
        var result = _host.Run(
            "$args[0] | ConvertFrom-GdFindingEvent | Send-GdNotification -TopicArn '" + Topic + "' " + Common +
            " -Subject 'GuardDuty Remediation | ID: <Id>' -Message 'GuardDuty discovered an EC2 instance (Instance ID: <InstanceId>) communicating with <RemoteIpAddress> on <Detail.service.additionalInfo.threatListName>. Missing: [<NoSuchProperty>]' -PassThru",
            Event, _stub.Url);
        Assert.Empty(result.Errors);
        var passed = Assert.Single(result.Output);
        Assert.Equal("GuardDutyIR.GdFinding", passed.BaseObject.GetType().FullName);
        Assert.False(string.IsNullOrEmpty((string)passed.Properties["NotificationMessageId"].Value));
        var form = Form(_stub.Single());
        Assert.Equal("GuardDuty Remediation | ID: 5ec7a3a0f1b2c3d4e5f6a7b8c9d0e1f2", form["Subject"]);
        Assert.Equal("GuardDuty discovered an EC2 instance (Instance ID: i-0abc1234def567890) communicating with 198.51.100.7 on ir-blocklist. Missing: []", form["Message"]);
    }

    [Fact]
    public void Objects_from_later_steps_carry_the_finding_and_their_actions()
    {
        var result = _host.Run(
            "$f = $args[0] | ConvertFrom-GdFindingEvent; [pscustomobject]@{ Finding = $f; InstanceId = $f.InstanceId; Actions = @('Isolated eni-1 into sg-iso', 'Snapshot snap-1 completed') } | " +
            $"Send-GdNotification -TopicArn '{Topic}' {Common}", Event, _stub.Url);
        Assert.Empty(result.Errors);
        var message = Form(_stub.Single())["Message"];
        Assert.Contains("  - Isolated eni-1 into sg-iso\n  - Snapshot snap-1 completed", message);
        Assert.Contains("Type:            UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", message);
    }

    [Fact]
    public void Subjects_are_kept_to_one_short_line_and_long_messages_are_cut_to_256KB()
    {
        var result = _host.Run(
            $"$args[0] | ConvertFrom-GdFindingEvent | Send-GdNotification -TopicArn '{Topic}' {Common} -Subject (\"line one`nline two \" + ('x' * 200)) -Message ('é' * 200000)",
            Event, _stub.Url);
        Assert.Empty(result.Errors);
        var form = Form(_stub.Single());
        Assert.True(form["Subject"].Length < 100);
        Assert.DoesNotContain('\n', form["Subject"]);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(form["Message"]) <= 262_144);
        Assert.EndsWith("[message truncated to fit the SNS 256 KB limit]", form["Message"]);
    }

    [Fact]
    public void WhatIf_sends_nothing_and_a_bad_topic_ARN_stops_before_any_call()
    {
        var whatIf = _host.Run($"$args[0] | ConvertFrom-GdFindingEvent | Send-GdNotification -TopicArn '{Topic}' {Common} -WhatIf", Event, _stub.Url);
        Assert.Empty(whatIf.Output);
        Assert.Empty(_stub.Requests);

        var bad = _host.Run($"$args[0] | ConvertFrom-GdFindingEvent | Send-GdNotification -TopicArn 'arn:aws:sqs:us-east-1:123456789012:q' {Common}", Event, _stub.Url);
        Assert.NotNull(bad.Terminating);
        Assert.Equal("InvalidTopicArn", bad.Terminating!.ErrorRecord.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidArgument, bad.Terminating.ErrorRecord.CategoryInfo.Category);
        Assert.Empty(_stub.Requests);
    }

    [Fact]
    public void An_unknown_topic_is_a_per_item_error_and_the_pipeline_goes_on()
    {
        _stub.Default = null;
        _stub.Enqueue(new StubResponse(404, File.ReadAllText(Path.Combine(TestPaths.Samples, "sns-Error-NotFound.xml")), new() { ["Content-Type"] = "text/xml" }),
            StubResponse.FromSample("sns-Publish.xml"));
        var other = Event.Replace("i-0abc1234def567890", "i-0fed1234def567890", StringComparison.Ordinal).Replace("5ec7a3a0f1b2c3d4e5f6a7b8c9d0e1f2", "6ec7a3a0f1b2c3d4e5f6a7b8c9d0e1f2", StringComparison.Ordinal);
        var result = _host.Run($"$args[0], $args[2] | ConvertFrom-GdFindingEvent | Send-GdNotification -TopicArn '{Topic}' {Common}", Event, _stub.Url, other);
        Assert.Null(result.Terminating);
        var error = Assert.Single(result.Errors);
        Assert.Equal("SNS.NotFound", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Single(result.Output);
    }

    [Fact]
    public void A_part_of_the_finding_renders_as_JSON_not_as_a_type_name()
    {
        var result = _host.Run($"$args[0] | ConvertFrom-GdFindingEvent | Send-GdNotification -TopicArn '{Topic}' {Common} -Message 'Action: <Detail.service.action>'", Event, _stub.Url);

        Assert.Empty(result.Errors);
        var message = Form(_stub.Single())["Message"];
        Assert.DoesNotContain("System.Collections", message);
        var json = System.Text.Json.Nodes.JsonNode.Parse(message["Action: ".Length..])!;
        Assert.Equal("NETWORK_CONNECTION", (string?)json["actionType"]);
        Assert.Equal(443, (int?)json["networkConnectionAction"]!["remotePortDetails"]!["port"]);
    }

    [Theory]
    [InlineData("42")]
    [InlineData("'just text'")]
    [InlineData("@{ Note = 'no finding here' }")]
    public void Input_without_a_finding_or_an_instance_is_refused_and_nothing_is_sent(string input)
    {
        var result = _host.Run($"{input} | Send-GdNotification -TopicArn '{Topic}' {Common}", null, _stub.Url);

        var error = Assert.Single(result.Errors);
        Assert.Equal("NotificationInputUnrecognized", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.NotNull(error.TargetObject);
        Assert.Empty(result.Output);
        Assert.Empty(_stub.Requests);
    }
}
