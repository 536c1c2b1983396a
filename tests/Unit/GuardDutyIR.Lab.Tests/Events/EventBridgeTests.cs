using System.Net.Http;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Events;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests.Events;

/// <summary>The Lab's EventBridge on the wire: its nine operations with their answers and errors, and delivery.</summary>
public sealed class EventBridgeTests
{
    private const string MaliciousIp = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom";
    private const string WorkshopPattern = """{"source":["aws.guardduty"],"detail":{"type":["UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"]}}""";

    private static async Task<JsonObject> Ok(Task<RawResponse> call)
    {
        var r = await call;
        Assert.True(r.Status == 200, r.Body);
        Assert.Equal("application/x-amz-json-1.1", r.Header("Content-Type"));
        return r.Json;
    }

    private static async Task<JsonObject> Fails(Task<RawResponse> call, string type, string? message = null)
    {
        var r = await call;
        Assert.True(r.Status == 400, r.Body);
        Assert.Equal(type, (string?)r.Json["__type"]);
        if (message is not null) Assert.Equal(message, (string?)r.Json["Message"]);
        return r.Json;
    }

    private static JsonObject Target(string id, string arn, params (string Key, JsonNode Value)[] extra)
    {
        var t = new JsonObject { ["Id"] = id, ["Arn"] = arn };
        foreach (var (k, v) in extra) t[k] = v;
        return t;
    }

    private static string Topic(LabHost lab) => lab.GetService<SnsService>()!.ScenarioTopicArn!;

    private static string Detector(LabHost lab) => lab.GetService<GuardDutyService>()!.DetectorOf(lab.AccountId)!.Id;

    // ---------------------------------------------------------------- rules

    [Fact]
    public async Task Rules_are_put_described_listed_replaced_and_deleted()
    {
        await using var lab = await TestLab.StartAsync("Empty");
        using var c = new RawAwsClient(lab);
        var put = await Ok(c.EventsAsync("PutRule", new JsonObject
        {
            ["Name"] = "gd-malicious-ip", ["EventPattern"] = WorkshopPattern, ["Description"] = "the workshop's rule",
        }));
        var arn = $"arn:aws:events:{lab.Region}:{lab.AccountId}:rule/gd-malicious-ip";
        Assert.Equal(arn, (string?)put["RuleArn"]);

        var described = await Ok(c.EventsAsync("DescribeRule", new JsonObject { ["Name"] = "gd-malicious-ip" }));
        Assert.Equal("gd-malicious-ip", (string?)described["Name"]);
        Assert.Equal(arn, (string?)described["Arn"]);
        Assert.Equal(WorkshopPattern, (string?)described["EventPattern"]);
        Assert.Equal("ENABLED", (string?)described["State"]);
        Assert.Equal("the workshop's rule", (string?)described["Description"]);
        Assert.Equal("default", (string?)described["EventBusName"]);
        Assert.Equal(lab.AccountId, (string?)described["CreatedBy"]);

        // PutRule replaces a rule: what it omits is gone.
        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "gd-malicious-ip", ["EventPattern"] = WorkshopPattern, ["State"] = "DISABLED" }));
        described = await Ok(c.EventsAsync("DescribeRule", new JsonObject { ["Name"] = "gd-malicious-ip", ["EventBusName"] = $"arn:aws:events:{lab.Region}:{lab.AccountId}:event-bus/default" }));
        Assert.Equal("DISABLED", (string?)described["State"]);
        Assert.Null(described["Description"]);

        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "gd-nightly", ["ScheduleExpression"] = "rate(1 day)" }));
        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "other", ["ScheduleExpression"] = "cron(0 20 * * ? *)" }));

        var prefixed = await Ok(c.EventsAsync("ListRules", new JsonObject { ["NamePrefix"] = "gd-" }));
        Assert.Equal(new[] { "gd-malicious-ip", "gd-nightly" }, prefixed["Rules"]!.AsArray().Select(x => (string?)x!["Name"]));
        Assert.Equal("rate(1 day)", (string?)prefixed["Rules"]![1]!["ScheduleExpression"]);
        Assert.Null(prefixed["NextToken"]);

        var first = await Ok(c.EventsAsync("ListRules", new JsonObject { ["Limit"] = 2 }));
        Assert.Equal(2, first["Rules"]!.AsArray().Count);
        var second = await Ok(c.EventsAsync("ListRules", new JsonObject { ["Limit"] = 2, ["NextToken"] = (string)first["NextToken"]! }));
        Assert.Equal("other", (string?)Assert.Single(second["Rules"]!.AsArray())!["Name"]);
        await Fails(c.EventsAsync("ListRules", new JsonObject { ["NextToken"] = "bogus" }), "ValidationException");

        await Ok(c.EventsAsync("DeleteRule", new JsonObject { ["Name"] = "gd-malicious-ip" }));
        await Fails(c.EventsAsync("DescribeRule", new JsonObject { ["Name"] = "gd-malicious-ip" }), "ResourceNotFoundException",
            "Rule gd-malicious-ip does not exist on EventBus default.");
        // Deleting a rule that is not there succeeds.
        await Ok(c.EventsAsync("DeleteRule", new JsonObject { ["Name"] = "gd-malicious-ip" }));
    }

    public static IEnumerable<object[]> RefusedRules() => new[]
    {
        new object[] { new JsonObject { ["Name"] = "r" }, "ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified." },
        new object[] { new JsonObject { ["Name"] = "r", ["EventPattern"] = """{"source":"aws.ec2"}""" }, "InvalidEventPatternException", "Event pattern is not valid. Reason: \"source\" must be an object or an array" },
        new object[] { new JsonObject { ["Name"] = "r", ["EventPattern"] = """{"a":[{"wildcard":"x**"}]}""" }, "InvalidEventPatternException", "Event pattern is not valid. Reason: Consecutive wildcard characters at pos 2" },
        new object[] { new JsonObject { ["Name"] = "bad name", ["EventPattern"] = WorkshopPattern }, "ValidationException", "1 validation error detected: Value 'bad name' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+" },
        new object[] { new JsonObject { ["EventPattern"] = WorkshopPattern }, "ValidationException", "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null" },
        new object[] { new JsonObject { ["Name"] = "r", ["EventPattern"] = WorkshopPattern, ["State"] = "ON" }, "ValidationException", null! },
        new object[] { new JsonObject { ["Name"] = "r", ["ScheduleExpression"] = "rate(1 minutes)" }, "ValidationException", "Parameter ScheduleExpression is not valid." },
        new object[] { new JsonObject { ["Name"] = "r", ["ScheduleExpression"] = "cron(0 20 * * *)" }, "ValidationException", "Parameter ScheduleExpression is not valid." },
        new object[] { new JsonObject { ["Name"] = "r", ["EventPattern"] = WorkshopPattern, ["EventBusName"] = "orders" }, "ResourceNotFoundException", "Event bus orders does not exist." },
        new object[] { new JsonObject { ["Name"] = "r", ["EventPattern"] = 5 }, "SerializationException", null! },
    };

    [Theory]
    [MemberData(nameof(RefusedRules))]
    public async Task PutRule_refuses_what_EventBridge_refuses(JsonObject body, string type, string? message)
    {
        await using var lab = await TestLab.StartAsync("Empty");
        using var c = new RawAwsClient(lab);
        await Fails(c.EventsAsync("PutRule", body), type, message);
        Assert.Empty(lab.GetService<EventBridgeService>()!.RulesOf(lab.AccountId));
        Assert.Equal(0, lab.Counters.Snapshot().MutatingOf("events", "PutRule"));
    }

    [Fact]
    public async Task A_bus_holds_three_hundred_rules()
    {
        await using var lab = await TestLab.StartAsync("Empty");
        using var c = new RawAwsClient(lab);
        for (int i = 0; i < EventBridgeService.MaxRulesPerBus; i++)
            await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = $"r{i:000}", ["EventPattern"] = WorkshopPattern }));
        await Fails(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "one-more", ["EventPattern"] = WorkshopPattern }),
            "LimitExceededException", "The requested resource exceeds the maximum number allowed.");
        // Replacing an existing rule is not a new one.
        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "r000", ["EventPattern"] = WorkshopPattern, ["State"] = "DISABLED" }));
    }

    // ---------------------------------------------------------------- targets

    [Fact]
    public async Task Targets_are_put_listed_replaced_and_removed()
    {
        await using var lab = await TestLab.StartAsync("CompromisedInstance");
        using var c = new RawAwsClient(lab);
        var missing = new JsonObject { ["Rule"] = "gd", ["Targets"] = new JsonArray(Target("sns", Topic(lab))) };
        await Fails(c.EventsAsync("PutTargets", missing), "ResourceNotFoundException", "Rule gd does not exist on EventBus default.");

        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "gd", ["EventPattern"] = WorkshopPattern }));
        var transformer = new JsonObject
        {
            ["InputPathsMap"] = new JsonObject(WorkshopEmail.Paths.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["InputTemplate"] = WorkshopEmail.Template,
        };
        var put = await Ok(c.EventsAsync("PutTargets", new JsonObject
        {
            ["Rule"] = "gd",
            ["Targets"] = new JsonArray(
                Target("email", Topic(lab), ("InputTransformer", transformer)),
                Target("remediate", lab.Facts["RemediationFunctionArn"]),
                Target("bad-arn", "not-an-arn")),
        }));
        Assert.Equal(1, (int?)put["FailedEntryCount"]);
        var failed = Assert.Single(put["FailedEntries"]!.AsArray())!;
        Assert.Equal("bad-arn", (string?)failed["TargetId"]);
        Assert.Equal("ValidationException", (string?)failed["ErrorCode"]);
        Assert.Equal("Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format.", (string?)failed["ErrorMessage"]);

        var listed = await Ok(c.EventsAsync("ListTargetsByRule", new JsonObject { ["Rule"] = "gd" }));
        var targets = listed["Targets"]!.AsArray();
        Assert.Equal(new[] { "email", "remediate" }, targets.Select(t => (string?)t!["Id"]));
        Assert.True(JsonNode.DeepEquals(transformer, targets[0]!["InputTransformer"]));

        // The same Id replaces its target.
        await Ok(c.EventsAsync("PutTargets", new JsonObject { ["Rule"] = "gd", ["Targets"] = new JsonArray(Target("email", Topic(lab), ("Input", "\"constant\""))) }));
        var paged = await Ok(c.EventsAsync("ListTargetsByRule", new JsonObject { ["Rule"] = "gd", ["Limit"] = 1 }));
        Assert.Equal("\"constant\"", (string?)Assert.Single(paged["Targets"]!.AsArray())!["Input"]);
        Assert.NotNull(paged["NextToken"]);

        await Fails(c.EventsAsync("DeleteRule", new JsonObject { ["Name"] = "gd" }), "ValidationException", "Rule can't be deleted since it has targets.");
        var removed = await Ok(c.EventsAsync("RemoveTargets", new JsonObject { ["Rule"] = "gd", ["Ids"] = new JsonArray("email", "remediate", "nope") }));
        Assert.Equal(1, (int?)removed["FailedEntryCount"]);
        Assert.Equal("ResourceNotFoundException", (string?)removed["FailedEntries"]![0]!["ErrorCode"]);
        Assert.Equal("Rule 'gd' does not have a target with the Id 'nope'.", (string?)removed["FailedEntries"]![0]!["ErrorMessage"]);
        Assert.Empty((await Ok(c.EventsAsync("ListTargetsByRule", new JsonObject { ["Rule"] = "gd" })))["Targets"]!.AsArray());
        await Ok(c.EventsAsync("DeleteRule", new JsonObject { ["Name"] = "gd" }));
    }

    [Fact]
    public async Task A_rule_takes_five_targets()
    {
        await using var lab = await TestLab.StartAsync("CompromisedInstance");
        using var c = new RawAwsClient(lab);
        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "gd", ["EventPattern"] = WorkshopPattern }));
        JsonArray Targets(int from, int count) => new(Enumerable.Range(from, count).Select(i => (JsonNode)Target($"t{i}", Topic(lab))).ToArray());
        await Fails(c.EventsAsync("PutTargets", new JsonObject { ["Rule"] = "gd", ["Targets"] = Targets(0, 6) }),
            "LimitExceededException", "The requested resource exceeds the maximum number allowed.");
        await Ok(c.EventsAsync("PutTargets", new JsonObject { ["Rule"] = "gd", ["Targets"] = Targets(0, 5) }));
        await Fails(c.EventsAsync("PutTargets", new JsonObject { ["Rule"] = "gd", ["Targets"] = Targets(5, 1) }), "LimitExceededException");
        // Updating one of the five is allowed.
        await Ok(c.EventsAsync("PutTargets", new JsonObject { ["Rule"] = "gd", ["Targets"] = Targets(4, 1) }));
        Assert.Equal(5, (await Ok(c.EventsAsync("ListTargetsByRule", new JsonObject { ["Rule"] = "gd" })))["Targets"]!.AsArray().Count);
    }

    public static IEnumerable<object[]> RefusedTargets() => new[]
    {
        new object[] { Target("t1", "arn:aws:sns:us-east-1:111122223333:x", ("Input", "{}"), ("InputPath", "$.detail")), "Only one of Input, InputPath, or InputTransformer must be provided for target t1." },
        new object[] { Target("t1", "arn:aws:sns:us-east-1:111122223333:x", ("Input", "not json")), "Parameter Input is not valid. Reason: Input for target t1 is not valid JSON text." },
        new object[] { Target("t1", "arn:aws:sns:us-east-1:111122223333:x", ("InputPath", "detail")), "Parameter InputPath is not valid. Reason: detail for target t1 is not a valid JSON path." },
        new object[] { Target("t1", "arn:aws:sns:us-east-1:111122223333:x", ("InputTransformer", new JsonObject { ["InputPathsMap"] = new JsonObject { ["a"] = "$.a" }, ["InputTemplate"] = "\"<a> <notdefinedkey>\"" })), "InputTemplate for target t1 contains invalid placeholder notdefinedkey." },
        new object[] { Target("t1", "arn:aws:sns:us-east-1:111122223333:x", ("InputTransformer", new JsonObject { ["InputTemplate"] = "\"<aws.events.event.json>\"" })), "InputTemplate for target t1 contains placeholder aws.events.event.json valid only for JSON template." },
        new object[] { Target("t 1", "arn:aws:sns:us-east-1:111122223333:x"), "1 validation error detected: Value 't 1' at 'targets.1.member.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+" },
    };

    [Theory]
    [MemberData(nameof(RefusedTargets))]
    public async Task PutTargets_refuses_what_EventBridge_refuses(JsonObject target, string message)
    {
        await using var lab = await TestLab.StartAsync("Empty");
        using var c = new RawAwsClient(lab);
        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "r", ["EventPattern"] = WorkshopPattern }));
        await Fails(c.EventsAsync("PutTargets", new JsonObject { ["Rule"] = "r", ["Targets"] = new JsonArray(target) }), "ValidationException", message);
        Assert.Empty((await Ok(c.EventsAsync("ListTargetsByRule", new JsonObject { ["Rule"] = "r" })))["Targets"]!.AsArray());
    }

    // ---------------------------------------------------------------- TestEventPattern and PutEvents

    [Fact]
    public async Task TestEventPattern_answers_with_the_matcher_and_refuses_bad_input()
    {
        await using var lab = await TestLab.StartAsync("Empty");
        using var c = new RawAwsClient(lab);
        const string evt = """{"id":"1","account":"123456789012","source":"aws.guardduty","time":"2024-05-01T12:12:14Z","region":"us-east-1","resources":[],"detail-type":"GuardDuty Finding","detail":{"type":"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"}}""";
        Assert.True((bool)(await Ok(c.EventsAsync("TestEventPattern", new JsonObject { ["EventPattern"] = WorkshopPattern, ["Event"] = evt })))["Result"]!);
        Assert.False((bool)(await Ok(c.EventsAsync("TestEventPattern", new JsonObject { ["EventPattern"] = WorkshopPattern, ["Event"] = evt.Replace("MaliciousIPCaller", "TorClient") })))["Result"]!);
        await Fails(c.EventsAsync("TestEventPattern", new JsonObject { ["EventPattern"] = "{\"source\":[]}", ["Event"] = evt }),
            "InvalidEventPatternException", "Event pattern is not valid. Reason: Empty arrays are not allowed");
        await Fails(c.EventsAsync("TestEventPattern", new JsonObject { ["EventPattern"] = WorkshopPattern, ["Event"] = """{"source":"aws.guardduty"}""" }),
            "ValidationException", "Parameter Event is not valid.");
        await Fails(c.EventsAsync("TestEventPattern", new JsonObject { ["EventPattern"] = WorkshopPattern, ["Event"] = "not json" }),
            "ValidationException", "Parameter Event is not valid.");
        await Fails(c.EventsAsync("TestEventPattern", new JsonObject { ["EventPattern"] = WorkshopPattern }), "ValidationException",
            "1 validation error detected: Value null at 'event' failed to satisfy constraint: Member must not be null");
    }

    [Fact]
    public async Task PutEvents_answers_each_entry_and_delivers_to_enabled_matching_rules_only()
    {
        await using var lab = await TestLab.StartAsync("CompromisedInstance");
        using var c = new RawAwsClient(lab);
        var eb = lab.GetService<EventBridgeService>()!;
        var sns = lab.GetService<SnsService>()!;
        const string orders = """{"source":["com.example.orders"],"detail-type":["Order Placed"],"detail":{"total":[{"numeric":[">",100]}]}}""";
        foreach (var (name, state) in new[] { ("big-orders", "ENABLED"), ("big-orders-off", "DISABLED") })
        {
            await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = name, ["EventPattern"] = orders, ["State"] = state }));
            await Ok(c.EventsAsync("PutTargets", new JsonObject { ["Rule"] = name, ["Targets"] = new JsonArray(Target("detail", Topic(lab), ("InputPath", "$.detail"))) }));
        }
        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "small-orders", ["EventPattern"] = """{"detail":{"total":[{"numeric":["<=",100]}]}}""" }));
        await Ok(c.EventsAsync("PutTargets", new JsonObject { ["Rule"] = "small-orders", ["Targets"] = new JsonArray(Target("constant", Topic(lab), ("Input", """{"small":true}"""))) }));

        JsonObject Entry(string? source, string? detailType, string? detail)
        {
            var e = new JsonObject();
            if (source is not null) e["Source"] = source;
            if (detailType is not null) e["DetailType"] = detailType;
            if (detail is not null) e["Detail"] = detail;
            return e;
        }
        var result = await Ok(c.EventsAsync("PutEvents", new JsonObject
        {
            ["Entries"] = new JsonArray(
                Entry("com.example.orders", "Order Placed", """{"total":250,"id":"o-1"}"""),
                Entry("com.example.orders", "Order Placed", null),
                Entry("com.example.orders", "Order Placed", "[1,2]"),
                Entry("aws.guardduty", "GuardDuty Finding", "{}"),
                Entry("com.example.orders", "Order Placed", """{"total":20}""")),
        }));
        Assert.Equal(3, (int?)result["FailedEntryCount"]);
        var entries = result["Entries"]!.AsArray();
        Assert.True(Guid.TryParse((string?)entries[0]!["EventId"], out _));
        Assert.Equal(("InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."), ((string?)entries[1]!["ErrorCode"], (string?)entries[1]!["ErrorMessage"]));
        Assert.Equal(("MalformedDetail", "Detail is malformed."), ((string?)entries[2]!["ErrorCode"], (string?)entries[2]!["ErrorMessage"]));
        Assert.Equal("NotAuthorizedForSourceException", (string?)entries[3]!["ErrorCode"]);
        Assert.NotNull(entries[4]!["EventId"]);

        // The big order reached the enabled rule's topic as its detail (InputPath), the small one the constant; the
        // disabled rule delivered nothing.
        Assert.Equal(new[] { """{"total":250,"id":"o-1"}""", """{"small":true}""" }, sns.Messages.Select(m => m.Message));
        var deliveries = eb.Deliveries;
        Assert.Equal(new[] { "big-orders", "small-orders" }, deliveries.Select(d => d.RuleName));
        Assert.All(deliveries, d => Assert.Equal("Delivered", d.Outcome));
        Assert.Equal((string?)entries[0]!["EventId"], deliveries[0].EventId);
        Assert.Equal(sns.Messages[0].MessageId, deliveries[0].Detail);

        // What the bus received, in EventBridge's envelope.
        var evt = JsonNode.Parse(eb.EventsOf(lab.AccountId).Single(e => e.Id == (string?)entries[0]!["EventId"]).Json)!;
        Assert.Equal("0", (string?)evt["version"]);
        Assert.Equal("Order Placed", (string?)evt["detail-type"]);
        Assert.Equal(lab.AccountId, (string?)evt["account"]);
        Assert.Equal(lab.Region, (string?)evt["region"]);
        Assert.Empty(evt["resources"]!.AsArray());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", (string?)evt["time"]);
    }

    [Fact]
    public async Task PutEvents_refuses_more_entries_or_bytes_than_EventBridge_takes()
    {
        await using var lab = await TestLab.StartAsync("Empty");
        using var c = new RawAwsClient(lab);
        JsonObject Entry(int size) => new() { ["Source"] = "com.example", ["DetailType"] = "t", ["Detail"] = $"{{\"x\":\"{new string('a', size)}\"}}" };
        var eleven = new JsonArray(Enumerable.Range(0, 11).Select(_ => (JsonNode)Entry(1)).ToArray());
        var tooMany = await Fails(c.EventsAsync("PutEvents", new JsonObject { ["Entries"] = eleven }), "ValidationException");
        Assert.EndsWith("failed to satisfy constraint: Member must have length less than or equal to 10", (string?)tooMany["Message"]);
        var big = new JsonArray(Enumerable.Range(0, 2).Select(_ => (JsonNode)Entry(140 * 1024)).ToArray());
        await Fails(c.EventsAsync("PutEvents", new JsonObject { ["Entries"] = big }), "ValidationException", "Total size of the entries in the request is over the limit.");
        Assert.Empty(lab.GetService<EventBridgeService>()!.EventsOf(lab.AccountId));
    }

    // ---------------------------------------------------------------- GuardDuty → EventBridge → SNS

    [Fact]
    public async Task A_GuardDuty_finding_reaches_the_topic_as_the_workshop_email()
    {
        await using var lab = await TestLab.StartAsync("Workshop");
        using var c = new RawAwsClient(lab);
        var eb = lab.GetService<EventBridgeService>()!;
        var sns = lab.GetService<SnsService>()!;
        var guardDuty = lab.GetService<GuardDutyService>()!;

        // The scenario's own findings were published when the Lab made them; no rule existed to receive them.
        var seeded = eb.EventsOf(lab.AccountId).Single(e => (string?)JsonNode.Parse(e.Json)!["detail"]!["id"] == guardDuty.ScenarioFindingId);
        Assert.Empty(seeded.MatchedRules);
        Assert.Empty(sns.Messages);
        // Each account's findings go to its own default bus.
        var memberEvent = Assert.Single(eb.EventsOf(lab.MemberAccountId));
        Assert.Equal(lab.MemberAccountId, (string?)JsonNode.Parse(memberEvent.Json)!["account"]);

        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "GuardDuty-Event-EC2-MaliciousIPCaller", ["EventPattern"] = WorkshopPattern }));
        await Ok(c.EventsAsync("PutTargets", new JsonObject
        {
            ["Rule"] = "GuardDuty-Event-EC2-MaliciousIPCaller",
            ["Targets"] = new JsonArray(Target("Email", Topic(lab), ("InputTransformer", new JsonObject
            {
                ["InputPathsMap"] = new JsonObject(WorkshopEmail.Paths.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
                ["InputTemplate"] = WorkshopEmail.Template,
            }))),
        }));

        var create = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{Detector(lab)}/findings/create", new JsonObject { ["findingTypes"] = new JsonArray(MaliciousIp, "Recon:EC2/Portscan") });
        Assert.Equal(200, create.Status);
        var sample = guardDuty.FindingsOf(lab.AccountId).Single(f => (string?)f["type"] == MaliciousIp && (bool?)f["service"]!["additionalInfo"]?["sample"] == true);
        var id = (string)sample["id"]!;
        var instance = (string)sample["resource"]!["instanceDetails"]!["instanceId"]!;
        var message = Assert.Single(sns.Messages);
        Assert.Equal($"\"GuardDuty Finding | ID: {id}: The EC2 instance {instance} may be compromised and should be investigated\"", message.Message);
        Assert.Equal(Topic(lab), message.TopicArn);

        // The event is GuardDuty's envelope around the finding exactly as GetFindings returns it.
        var delivered = Assert.Single(eb.Deliveries);
        var evt = JsonNode.Parse(eb.EventsOf(lab.AccountId).Single(e => e.Id == delivered.EventId).Json)!;
        Assert.Equal("GuardDuty Finding", (string?)evt["detail-type"]);
        Assert.Equal("aws.guardduty", (string?)evt["source"]);
        Assert.Equal("0", (string?)evt["version"]);
        Assert.Empty(evt["resources"]!.AsArray());
        var got = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{Detector(lab)}/findings/get", new JsonObject { ["findingIds"] = new JsonArray(id) });
        Assert.True(JsonNode.DeepEquals(got.Json["findings"]![0], evt["detail"]));
        // The Portscan sample went onto the bus too, and matched nothing.
        Assert.Contains(eb.EventsOf(lab.AccountId), e => (string?)JsonNode.Parse(e.Json)!["detail"]!["type"] == "Recon:EC2/Portscan" && e.MatchedRules.Count == 0);

        // A further occurrence is published again; archiving is not.
        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{Detector(lab)}/findings/create", new JsonObject { ["findingTypes"] = new JsonArray(MaliciousIp) })).Status);
        Assert.Equal(2, sns.Messages.Count);
        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{Detector(lab)}/findings/archive", new JsonObject { ["findingIds"] = new JsonArray(id) })).Status);
        Assert.Equal(2, sns.Messages.Count);

        // A disabled rule delivers nothing.
        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "GuardDuty-Event-EC2-MaliciousIPCaller", ["EventPattern"] = WorkshopPattern, ["State"] = "DISABLED" }));
        guardDuty.AddFinding(lab.AccountId, (JsonObject)sample.DeepClone());
        Assert.Equal(2, sns.Messages.Count);

        using var http = new HttpClient();
        var admin = JsonNode.Parse(await http.GetStringAsync(lab.Endpoint + "/_lab/events/deliveries?rule=GuardDuty-Event-EC2-MaliciousIPCaller"))!.AsArray();
        Assert.Equal(2, admin.Count);
        Assert.Equal("Email", (string?)admin[0]!["targetId"]);
        Assert.Equal(message.Message, (string?)admin[0]!["input"]);
    }

    // ---------------------------------------------------------------- faults, throttling, denial

    [Fact]
    public async Task Denial_names_the_rule_and_faults_answer_in_json_like_other_json_services()
    {
        await using var lab = await TestLab.StartAsync("Empty");
        using var c = new RawAwsClient(lab);
        lab.Deny("events", "PutRule");
        var denied = await Fails(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "r", ["EventPattern"] = WorkshopPattern }), "AccessDeniedException");
        Assert.Contains($"is not authorized to perform: events:PutRule on resource: arn:aws:events:{lab.Region}:{lab.AccountId}:rule/r because", (string?)denied["Message"], StringComparison.Ordinal);
        Assert.Empty(lab.GetService<EventBridgeService>()!.RulesOf(lab.AccountId));
        lab.Allow("events", "PutRule");

        lab.Faults.Services = new[] { "events" };
        lab.Faults.ErrorRate = 1;
        var fault = await c.EventsAsync("ListRules");
        Assert.Contains(fault.Status, new[] { 500, 503 });
        Assert.Contains((string?)fault.Json["__type"], new[] { "InternalFailure", "ServiceUnavailableException" });
        Assert.Equal(200, (await c.QueryAsync("sns", ("Action", "ListTopics"), ("Version", "2010-03-31"))).Status);
        lab.Faults.ErrorRate = 0;

        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "r", ["EventPattern"] = WorkshopPattern }));
        await Ok(c.EventsAsync("DescribeRule", new JsonObject { ["Name"] = "r" }));
        var counters = lab.Counters.Snapshot();
        Assert.Equal(1, counters.MutatingOf("events", "PutRule"));
        Assert.Equal(0, counters.MutatingOf("events", "DescribeRule"));
    }

    [Fact]
    public async Task EventBridge_is_throttled_at_its_quotas()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync("Empty", configure: o => o with { Throttling = true, Clock = clock });
        using var c = new RawAwsClient(lab);
        // Every API but PutEvents: 50 requests per second; the clock stands still, so nothing refills.
        for (int i = 0; i < 50; i++) await Ok(c.EventsAsync("ListRules"));
        await Fails(c.EventsAsync("ListRules"), "ThrottlingException", "Rate exceeded");
        // Each operation has its own bucket; PutEvents has a larger one.
        await Ok(c.EventsAsync("PutRule", new JsonObject { ["Name"] = "r", ["EventPattern"] = WorkshopPattern }));
        await Ok(c.EventsAsync("PutEvents", new JsonObject { ["Entries"] = new JsonArray(new JsonObject { ["Source"] = "s", ["DetailType"] = "t", ["Detail"] = "{}" }) }));
        clock.Advance(TimeSpan.FromSeconds(1));
        await Ok(c.EventsAsync("ListRules"));
        Assert.Equal(1, lab.Counters.Snapshot().ThrottledOf("events", "ListRules"));
    }
}
