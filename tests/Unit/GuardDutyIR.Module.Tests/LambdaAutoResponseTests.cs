using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Lambda;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The Lambda handler (module/lambda) as Lambda runs it: the function package and the layer the build made, unpacked,
/// a runtime loop in its own process taking invocations from the Lab's Runtime API, and the Lab's GuardDuty, EventBridge,
/// EC2 and SNS answering. Each test starts one runtime (one execution environment).
/// </summary>
public sealed class LambdaAutoResponseTests : IAsyncLifetime
{
    private const string RuleName = "GuardDuty-Event-EC2-MaliciousIPCaller";
    private static readonly string Pattern = $$$"""{"source":["aws.guardduty"],"detail-type":["GuardDuty Finding"],"detail":{"type":["{{{LabEvents.MaliciousIpCaller}}}"]}}""";

    private LabHost _lab = null!;

    public async Task InitializeAsync() =>
        _lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Workshop, SnapshotCompletionSeconds = 1, InstanceTransitionSeconds = 0.2 });

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private LambdaFunction Function => _lab.Lambda.Find(_lab.Facts["RemediationFunctionArn"])!;
    private string Topic => _lab.GetService<SnsService>()!.ScenarioTopicArn!;
    private IReadOnlyList<SnsPublishedMessage> Messages => _lab.GetService<SnsService>()!.Messages.Where(m => m.TopicArn == Topic).ToList();
    private string InstanceId => _lab.World.CompromisedInstanceId!;

    private Dictionary<string, string> Settings(bool dryRun = false) => new()
    {
        ["GUARDDUTYIR_MIN_SEVERITY"] = "Medium",
        ["GUARDDUTYIR_FINDING_TYPES"] = "UnauthorizedAccess:EC2/*, Recon:EC2/*",
        ["GUARDDUTYIR_TOPIC_ARN"] = Topic,
        ["GUARDDUTYIR_DRY_RUN"] = dryRun ? "true" : "false",
    };

    private static JsonObject Succeeded(LambdaInvocation invocation, LambdaRuntimeProcess runtime)
    {
        Assert.True(invocation.Status == LambdaInvocationStatus.Succeeded, $"{invocation.Status}: {invocation.ErrorType} {invocation.Error}\n{runtime.Log}");
        return (JsonObject)JsonNode.Parse(invocation.Response!)!;
    }

    private static JsonObject Action(JsonObject result, string step) =>
        Assert.Single(result["actions"]!.AsArray().OfType<JsonObject>(), a => (string?)a["step"] == step);

    private string IsolationGroupOf(string vpcId) => Assert.Single(_lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"), g => g.VpcId == vpcId).GroupId;

    [Fact]
    public void A_Lab_finding_goes_through_the_rule_to_the_handler_which_isolates_every_ENI_and_a_repeated_delivery_changes_nothing()
    {
        using var runtime = LambdaRuntimeProcess.Start(_lab, Function, Settings());
        var ruleArn = LabEvents.PutLambdaRule(_lab, RuleName, Pattern, Function.Arn);
        var instance = _lab.World.Instance(InstanceId);
        Assert.True(instance.NetworkInterfaces.Count > 1, "the scenario's instance has several ENIs, so a primary-only isolation would show");
        Assert.All(instance.NetworkInterfaces, e => Assert.DoesNotContain(_lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"), g => _lab.Ec2.GroupsOf(e.NetworkInterfaceId).Contains(g.GroupId)));

        // GuardDuty publishes the finding; the rule matches it and queues the invocation the runtime takes.
        var finding = LabEvents.PublishScenarioFinding(_lab);
        var findingId = (string)finding["id"]!;
        var invocation = Assert.Single(_lab.Lambda.Invocations, i => i.Source == ruleArn);
        runtime.WaitFor(invocation);

        var result = Succeeded(invocation, runtime);
        Assert.Equal("Isolated", (string?)result["status"]);
        Assert.Equal("Isolate", (string?)result["decision"]);
        Assert.Equal(findingId, (string?)result["findingId"]);
        Assert.Equal(InstanceId, (string?)result["instanceId"]);
        Assert.Equal("GD-" + findingId, (string?)result["caseId"]);
        Assert.Equal(invocation.RequestId, (string?)result["requestId"]);
        var delivery = Assert.Single(_lab.GetService<GuardDutyIR.Lab.Events.EventBridgeService>()!.Deliveries, d => d.RuleArn == ruleArn);
        Assert.Equal(delivery.EventId, (string?)result["eventId"]);
        Assert.Empty(result["errors"]!.AsArray());

        // Every ENI, not only the primary one, is on its VPC's isolation group alone.
        var iso = IsolationGroupOf(instance.VpcId);
        foreach (var eni in instance.NetworkInterfaces) Assert.Equal(new[] { iso }, _lab.Ec2.GroupsOf(eni.NetworkInterfaceId));
        var quarantine = Action(result, "Quarantine");
        Assert.Equal("Quarantined", (string?)quarantine["status"]);
        Assert.NotEmpty(quarantine["requestIds"]!.AsArray());
        Assert.All(quarantine["networkInterfaces"]!.AsArray(), e => Assert.Equal(iso, (string?)Assert.Single(e!["groups"]!.AsArray())));

        var snapshot = Action(result, "Snapshot");
        Assert.Equal("Started", (string?)snapshot["status"]);
        var snapshotIds = snapshot["snapshots"]!.AsArray().Select(s => (string)s!["snapshotId"]!).OrderBy(s => s).ToList();
        Assert.Equal(instance.Volumes.Count, snapshotIds.Count);
        Assert.NotEmpty(snapshot["requestIds"]!.AsArray());

        var notify = Action(result, "Notify");
        Assert.Equal("Sent", (string?)notify["status"]);
        var message = Assert.Single(Messages);
        Assert.Equal(message.MessageId, (string?)notify["messageId"]);
        Assert.Contains(findingId, message.Message);
        Assert.Contains("GuardDutyIR-Isolation", message.Message);
        Assert.EndsWith(" " + message.MessageId, _lab.Ec2.ResourceTags(InstanceId)["ir:notified:" + findingId]);

        // EventBridge delivers at least once: the same event again re-checks and changes nothing.
        _lab.Counters.Reset();
        var again = _lab.Lambda.QueueInvocation(Function.Arn, invocation.Payload, invocation.Source, out var error)!;
        Assert.Null(error);
        runtime.WaitFor(again);
        var repeat = Succeeded(again, runtime);
        Assert.Equal("AlreadyIsolated", (string?)repeat["status"]);
        Assert.Equal("NothingToChange", (string?)repeat["reason"]);
        Assert.Equal("Quarantined", (string?)Action(repeat, "Quarantine")["status"]);
        Assert.Empty(Action(repeat, "Quarantine")["requestIds"]!.AsArray());
        var reused = Action(repeat, "Snapshot");
        Assert.Equal("AlreadyTaken", (string?)reused["status"]);
        Assert.Equal(snapshotIds, reused["snapshots"]!.AsArray().Select(s => (string)s!["snapshotId"]!).OrderBy(s => s).ToList());
        Assert.Equal("AlreadySent", (string?)Action(repeat, "Notify")["status"]);
        Assert.Equal(message.MessageId, (string?)Action(repeat, "Notify")["messageId"]);
        Assert.Single(Messages);
        var counters = _lab.Counters.Snapshot();
        Assert.True(counters.TotalMutating == 0, "a repeat made changes: " + string.Join(", ", counters.Mutating.Select(m => $"{m.Key}={m.Value}")));
        foreach (var eni in instance.NetworkInterfaces) Assert.Equal(new[] { iso }, _lab.Ec2.GroupsOf(eni.NetworkInterfaceId));
    }

    [Fact]
    public void With_a_case_bucket_the_journal_ends_each_invocation_in_S3_even_where_only_the_temporary_folder_is_writable()
    {
        var tmp = Directory.CreateTempSubdirectory("gdir-lambda-tmp-").FullName;
        try
        {
            // As in Lambda: the home folder cannot be written (here it is a file), the temporary folder can.
            var home = Path.Combine(tmp, "home");
            File.WriteAllText(home, "");
            var s3 = _lab.GetService<GuardDutyIR.Lab.S3.S3Service>()!.Store;
            s3.EnsureBucket("ir-case-journals", _lab.AccountId, _lab.Region, DateTimeOffset.UtcNow);
            var settings = Settings();
            settings["GUARDDUTYIR_CASE_BUCKET"] = "s3://ir-case-journals/lambda/";
            settings["HOME"] = home;
            settings["TMPDIR"] = tmp;
            // PowerShell itself needs its XDG folders; the handler's choice of folder follows $HOME alone.
            foreach (var xdg in new[] { "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME" })
                settings[xdg] = Directory.CreateDirectory(Path.Combine(tmp, "xdg", xdg)).FullName;
            using var runtime = LambdaRuntimeProcess.Start(_lab, Function, settings);
            var invocation = _lab.Lambda.QueueInvocation(Function.Arn, LabEvents.ScenarioFindingEvent(_lab).ToJsonString(), "lab", out _)!;
            runtime.WaitFor(invocation);

            var result = Succeeded(invocation, runtime);
            Assert.Equal("Isolated", (string?)result["status"]);
            var caseId = (string)result["caseId"]!;
            var copy = Action(result, "CopyJournal");
            Assert.Equal("Copied", (string?)copy["status"]);
            Assert.Equal("s3://ir-case-journals/lambda/", (string?)copy["s3Uri"]);
            Assert.NotEmpty(copy["requestIds"]!.AsArray());
            Assert.Equal($"lambda/{caseId}/journal.head.json", (string?)copy["objects"]!.AsArray()[^1]!["key"]);
            // The journal and its key were kept under the temporary folder.
            var keys = Path.Combine(tmp, "GuardDutyIR", "case-keys");
            Assert.True(File.Exists(Path.Combine(tmp, "GuardDutyIR", "cases", caseId, "journal.jsonl")), runtime.Log);
            Assert.NotEmpty(Directory.GetFiles(keys));

            // The copy in S3, downloaded, is an intact journal of the quarantine, signed with the case's key.
            var download = Path.Combine(tmp, "download");
            Directory.CreateDirectory(download);
            foreach (var name in new[] { "case.json", "journal.jsonl", "journal.head.json" })
            {
                var stored = s3.Get("ir-case-journals", $"lambda/{caseId}/{name}")!;
                Assert.Equal(Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(stored.Content)), stored.ChecksumSha256);
                File.WriteAllBytes(Path.Combine(download, name), stored.Content);
            }
            Assert.Contains("\"action\":\"Set-InstanceQuarantine\"", File.ReadAllText(Path.Combine(download, "journal.jsonl")));
            using var host = new HostedPowerShell();
            var check = host.Run("Test-GdCaseJournal -Path $args[0] -KeyRoot $args[1]", download, keys);
            Assert.Null(check.Terminating);
            Assert.True((bool)Assert.Single(check.Output).Properties["Valid"].Value, check.Output[0].ToString());
        }
        finally
        {
            try { Directory.Delete(tmp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    [Fact]
    public void Bad_input_gets_a_clear_result_and_changes_nothing()
    {
        using var runtime = LambdaRuntimeProcess.Start(_lab, Function, Settings());
        var terminated = _lab.World.MaliciousInstanceId!;
        LabEvents.TerminateInstance(_lab, terminated);
        var scenarioEvent = LabEvents.ScenarioFindingEvent(_lab);
        JsonObject Variant(Action<JsonObject> change)
        {
            var e = (JsonObject)scenarioEvent.DeepClone();
            e["id"] = Guid.NewGuid().ToString();
            change((JsonObject)e["detail"]!);
            return e;
        }
        var cases = new (string Name, JsonNode Event, string Status, string Reason, bool CallsAws)[]
        {
            ("an EC2 event", new JsonObject
            {
                ["version"] = "0", ["id"] = Guid.NewGuid().ToString(), ["detail-type"] = "EC2 Instance State-change Notification", ["source"] = "aws.ec2",
                ["account"] = _lab.AccountId, ["region"] = _lab.Region, ["time"] = "2026-01-01T00:00:00Z",
                ["detail"] = new JsonObject { ["instance-id"] = InstanceId, ["state"] = "running" },
            }, "Rejected", "NotAGuardDutyEvent", false),
            ("an object that is no event", new JsonObject { ["hello"] = "world" }, "Rejected", "NotAGuardDutyFinding", false),
            ("a finding about an access key", Variant(d => d["resource"] = new JsonObject
            {
                ["resourceType"] = "AccessKey",
                ["accessKeyDetails"] = new JsonObject { ["accessKeyId"] = "AKIAIOSFODNN7EXAMPLE", ["userName"] = "alice", ["userType"] = "IAMUser" },
            }), "Ignored", "NoInstance", false),
            ("a sample finding", Variant(d => ((JsonObject)d["service"]!)["additionalInfo"] = new JsonObject { ["sample"] = true }), "Ignored", "SampleFinding", false),
            ("an archived finding", Variant(d => d["service"]!["archived"] = true), "Ignored", "ArchivedFinding", false),
            ("a low-severity finding", Variant(d => d["severity"] = 2), "Ignored", "BelowSeverityThreshold", false),
            ("a type not configured", Variant(d => d["type"] = "CryptoCurrency:EC2/BitcoinTool.B!DNS"), "Ignored", "FindingTypeNotConfigured", false),
            ("another account's finding", Variant(d => d["accountId"] = _lab.MemberAccountId), "Ignored", "OtherAccount", false),
            ("a terminated instance", Variant(d => d["resource"]!["instanceDetails"]!["instanceId"] = terminated), "Ignored", "InstanceTerminated", true),
        };
        foreach (var c in cases)
        {
            _lab.Counters.Reset();
            var invocation = _lab.Lambda.QueueInvocation(Function.Arn, c.Event.ToJsonString(), "lab", out _)!;
            runtime.WaitFor(invocation);
            var result = Succeeded(invocation, runtime);
            Assert.True((c.Status, c.Reason) == ((string?)result["status"], (string?)result["reason"]), $"{c.Name}: {result.ToJsonString()}");
            Assert.False(string.IsNullOrEmpty((string?)result["decisionReason"]), c.Name);
            var counters = _lab.Counters.Snapshot();
            Assert.True(counters.TotalMutating == 0, $"{c.Name} changed something: " + string.Join(", ", counters.Mutating.Keys));
            // What the policy or the parser refuses is refused before any AWS call.
            if (!c.CallsAws) Assert.True(counters.TotalCalls == 0, $"{c.Name} called AWS: " + string.Join(", ", counters.Calls.Keys));
        }
        Assert.Empty(Messages);

        // An instance that does not exist is a failure Lambda should count and retry; the responders hear of it, and
        // nothing in EC2 changed.
        _lab.Counters.Reset();
        var missing = _lab.Lambda.QueueInvocation(Function.Arn, Variant(d => d["resource"]!["instanceDetails"]!["instanceId"] = "i-0123456789abcdef0").ToJsonString(), "lab", out _)!;
        runtime.WaitFor(missing);
        Assert.Equal(LambdaInvocationStatus.Failed, missing.Status);
        Assert.EndsWith(".GdAutoResponseFailed", missing.ErrorType);
        var failure = (JsonObject)JsonNode.Parse((string)JsonNode.Parse(missing.Error!)!["errorMessage"]!)!;
        Assert.Equal(("Failed", "InstanceNotFound"), ((string?)failure["status"], (string?)failure["reason"]));
        Assert.Equal("InstanceNotFound", (string?)failure["errors"]![0]!["errorId"]);
        Assert.DoesNotContain(_lab.Counters.Snapshot().Mutating.Keys, k => k.StartsWith("ec2:", StringComparison.Ordinal));
        Assert.Contains("i-0123456789abcdef0", Assert.Single(Messages).Message);
    }

    [Fact]
    public void A_snapshot_that_fails_is_raised_for_a_retry_which_finishes_only_what_is_missing()
    {
        using var runtime = LambdaRuntimeProcess.Start(_lab, Function, Settings());
        _lab.Deny("ec2", "CreateSnapshots");
        var payload = LabEvents.ScenarioFindingEvent(_lab).ToJsonString();
        var first = _lab.Lambda.QueueInvocation(Function.Arn, payload, "lab", out _)!;
        runtime.WaitFor(first);

        Assert.Equal(LambdaInvocationStatus.Failed, first.Status);
        var result = (JsonObject)JsonNode.Parse((string)JsonNode.Parse(first.Error!)!["errorMessage"]!)!;
        Assert.Equal(("Isolated", "SnapshotFailed"), ((string?)result["status"], (string?)result["reason"]));
        Assert.Equal("Failed", (string?)Action(result, "Snapshot")["status"]);
        Assert.Equal("Sent", (string?)Action(result, "Notify")["status"]);
        var instance = _lab.World.Instance(InstanceId);
        var iso = IsolationGroupOf(instance.VpcId);
        foreach (var eni in instance.NetworkInterfaces) Assert.Equal(new[] { iso }, _lab.Ec2.GroupsOf(eni.NetworkInterfaceId));

        // Lambda's retry of the event: the snapshots are taken, nothing else is done again.
        _lab.Allow("ec2", "CreateSnapshots");
        _lab.Counters.Reset();
        var retry = _lab.Lambda.QueueInvocation(Function.Arn, payload, "lab", out _)!;
        runtime.WaitFor(retry);
        var retried = Succeeded(retry, runtime);
        Assert.Equal("AlreadyIsolated", (string?)retried["status"]);
        Assert.Equal("Started", (string?)Action(retried, "Snapshot")["status"]);
        Assert.Equal("AlreadySent", (string?)Action(retried, "Notify")["status"]);
        Assert.Single(Messages);
        Assert.All(_lab.Counters.Snapshot().Mutating.Keys, k => Assert.Contains(k, new[] { "ec2:CreateSnapshots", "ec2:CreateTags" }));
    }

    [Fact]
    public void A_dry_run_asks_EC2_and_changes_nothing()
    {
        using var runtime = LambdaRuntimeProcess.Start(_lab, Function, Settings(dryRun: true));
        var instance = _lab.World.Instance(InstanceId);
        var before = instance.NetworkInterfaces.ToDictionary(e => e.NetworkInterfaceId, e => _lab.Ec2.GroupsOf(e.NetworkInterfaceId));
        _lab.Counters.Reset();
        var invocation = _lab.Lambda.QueueInvocation(Function.Arn, LabEvents.ScenarioFindingEvent(_lab).ToJsonString(), "lab", out _)!;
        runtime.WaitFor(invocation);

        var result = Succeeded(invocation, runtime);
        Assert.Equal(("DryRun", "WouldBeAllowed"), ((string?)result["status"], (string?)result["reason"]));
        Assert.True((bool)result["dryRun"]!);
        Assert.Equal("DryRun", (string?)Action(result, "Quarantine")["status"]);
        Assert.Equal("Skipped", (string?)Action(result, "Snapshot")["status"]);
        Assert.Equal("Skipped", (string?)Action(result, "Notify")["status"]);
        var counters = _lab.Counters.Snapshot();
        Assert.Equal(0, counters.TotalMutating);
        Assert.True(counters.CallsOf("ec2", "ModifyNetworkInterfaceAttribute") > 0, "the dry run asked EC2 about the ENI changes");
        foreach (var (eni, groups) in before) Assert.Equal(groups, _lab.Ec2.GroupsOf(eni));
        Assert.Empty(Messages);
    }

    [Fact]
    public void A_malformed_setting_stops_the_runtime_at_init_and_is_reported_to_the_Runtime_API()
    {
        var settings = Settings();
        settings["GUARDDUTYIR_MIN_SEVERITY"] = "Severe";
        using var runtime = LambdaRuntimeProcess.Start(_lab, Function, settings);
        Assert.True(runtime.WaitForExit(TimeSpan.FromSeconds(90)), "the runtime did not stop:\n" + runtime.Log);
        Assert.NotEqual(0, runtime.ExitCode);
        var initError = JsonNode.Parse(Assert.Single(Function.InitErrors).Body)!;
        Assert.Contains("GUARDDUTYIR_MIN_SEVERITY is 'Severe'", (string?)initError["errorMessage"]);
        Assert.Equal(0, _lab.Counters.Snapshot().TotalCalls);
    }
}
