using System.Globalization;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Lab.Tests.TestSupport;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Lab.Tests.Models;

/// <summary>
/// Every paginated operation the Lab serves, called with the page sizes real clients send and walked to the end by
/// NextToken. Which operations page, their limit and token members and where the items are come from the AWS models
/// (paginators-1.json, or a NextToken in both input and output), so a new paginated operation is covered or fails here.
/// </summary>
public sealed class PaginationConformanceTests : IClassFixture<PaginationConformanceTests.PagingLab>
{
    private readonly PagingLab _fx;

    public PaginationConformanceTests(PagingLab fx) => _fx = fx;

    /// <summary>A Workshop Lab with enough of everything to need several pages at the smallest page sizes.</summary>
    public sealed class PagingLab : IAsyncLifetime
    {
        public LabHost Lab { get; private set; } = null!;
        /// <summary>Request members each operation needs besides its page size and token (model names).</summary>
        public Dictionary<string, Dictionary<string, JsonNode>> Inputs { get; } = new(StringComparer.Ordinal);

        public async Task InitializeAsync()
        {
            // Snapshots complete as they are made, so every listing is stable while it is walked.
            Lab = await TestLab.StartAsync("Workshop", configure: o => o with { SnapshotCompletionSeconds = 0 });
            var w = Lab.World;
            using var c = new RawAwsClient(Lab);

            // EC2 snapshots (none in the scenario): two crash-consistent sets.
            foreach (var instance in w.InstancesIn(w.AccountId).Take(3))
            {
                var (status, body, _) = await TestLab.PostFormAsync(Lab, "ec2", TestLab.Form(("Action", "CreateSnapshots"), ("Version", "2016-11-15"),
                    ("InstanceSpecification.InstanceId", instance.InstanceId)));
                Assert.True(status == 200, body);
            }

            // GuardDuty: sample findings, and a trusted IP list so ListIPSets has an item.
            var detector = Lab.GetService<GuardDuty.GuardDutyService>()!.DetectorOf(Lab.AccountId)!.Id;
            Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{detector}/findings/create", new JsonObject())).Status);
            var ipSet = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{detector}/ipset", new JsonObject
            {
                ["name"] = "trusted", ["format"] = "TXT", ["activate"] = true,
                ["location"] = $"https://s3.amazonaws.com/{w.ThreatListBucket}/{w.ThreatListKey}",
            });
            Assert.True(ipSet.Status == 200, ipSet.Body);
            Inputs["ListFindings"] = new() { ["DetectorId"] = detector };
            Inputs["ListThreatIntelSets"] = new() { ["DetectorId"] = detector };
            Inputs["ListIPSets"] = new() { ["DetectorId"] = detector };

            // SNS: more topics and subscriptions.
            var topic = Lab.GetService<SnsService>()!.ScenarioTopicArn!;
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(200, (await c.QueryAsync("sns", ("Action", "CreateTopic"), ("Version", "2010-03-31"), ("Name", $"paging-{i}"))).Status);
                Assert.Equal(200, (await c.QueryAsync("sns", ("Action", "Subscribe"), ("Version", "2010-03-31"), ("TopicArn", topic),
                    ("Protocol", "email"), ("Endpoint", $"ir-{i}@example.com"))).Status);
            }
            Inputs["ListSubscriptionsByTopic"] = new() { ["TopicArn"] = topic };

            // CloudTrail: LookupEvents narrowed to one event name with a handful of events; Lake queries to list and read.
            var name = Lab.GetService<CloudTrailService>()!.Database.Records
                .Where(e => e.ManagementEvent && e.AwsRegion == Lab.Region && (string?)e.Json["recipientAccountId"] == Lab.AccountId)
                .GroupBy(e => e.EventName).Where(g => g.Count() is >= 6 and <= 40).OrderBy(g => g.Key, StringComparer.Ordinal).First().Key;
            Inputs["LookupEvents"] = new() { ["LookupAttributes"] = new JsonArray(new JsonObject { ["AttributeKey"] = "EventName", ["AttributeValue"] = name }) };
            var eds = Lab.GetService<CloudTrailService>()!.EventDataStoreId!;
            string? lakeQuery = null;
            for (int i = 0; i < 4; i++)
            {
                var id = await Lake.StartAsync(c, $"SELECT eventID, eventName FROM {eds} WHERE eventName = '{name}'");
                await Lake.WaitAsync(c, id);
                lakeQuery ??= id;
            }
            Inputs["ListQueries"] = new() { ["EventDataStore"] = eds };
            Inputs["GetQueryResults@cloudtrail"] = new() { ["QueryId"] = lakeQuery! };

            // Athena: one finished query over the trail table.
            var start = await c.AthenaAsync("StartQueryExecution", new JsonObject
            {
                ["QueryString"] = $"SELECT eventid, eventname FROM cloudtrail_logs WHERE eventname = '{name}'",
                ["ResultConfiguration"] = new JsonObject { ["OutputLocation"] = $"s3://{Lab.GetService<S3Service>()!.EvidenceBucket}/paging/" },
            });
            Assert.True(start.Status == 200, start.Body);
            var qid = (string)start.Json["QueryExecutionId"]!;
            var state = await Eventually.WaitAsync(async () => (string?)(await c.AthenaAsync("GetQueryExecution", new JsonObject { ["QueryExecutionId"] = qid })).Json["QueryExecution"]!["Status"]!["State"],
                state => state is not ("QUEUED" or "RUNNING"), "the Athena query to finish");
            Assert.Equal("SUCCEEDED", state);
            Inputs["GetQueryResults@athena"] = new() { ["QueryExecutionId"] = qid };

            // EventBridge: rules on the default bus, and a rule with several targets.
            for (int i = 0; i < 3; i++)
            {
                var rule = await c.EventsAsync("PutRule", new JsonObject { ["Name"] = $"paging-{i}", ["EventPattern"] = """{"source":["aws.guardduty"]}""" });
                Assert.True(rule.Status == 200, rule.Body);
            }
            var targets = await c.EventsAsync("PutTargets", new JsonObject
            {
                ["Rule"] = "paging-0",
                ["Targets"] = new JsonArray(Enumerable.Range(0, 3).Select(i => (JsonNode)new JsonObject { ["Id"] = $"t{i}", ["Arn"] = topic }).ToArray()),
            });
            Assert.True(targets.Status == 200, targets.Body);
            Inputs["ListTargetsByRule"] = new() { ["Rule"] = "paging-0" };

            // IAM: the compromised instance role has two inline and two attached policies and one instance profile.
            foreach (var op in new[] { "ListRolePolicies", "ListAttachedRolePolicies", "ListInstanceProfilesForRole" })
                Inputs[op] = new() { ["RoleName"] = w.InvestigatedRoleName! };
        }

        public async Task DisposeAsync() => await Lab.DisposeAsync();
    }

    /// <summary>One paginated operation as its model describes it.</summary>
    public sealed record Paged(string Service, string Operation, string Protocol, string? LimitKey, string InputToken, string OutputToken, string ResultKey,
        long? Min, long? Max)
    {
        public override string ToString() => $"{Service}:{Operation}";
    }

    private static string ModelDir(string service) => Path.Combine(TestPaths.Shared, "aws-models", service);

    private static JsonObject Model(string service) => JsonNode.Parse(File.ReadAllText(Path.Combine(ModelDir(service), "service-2.json")))!.AsObject();

    /// <summary>
    /// The paginated operations the Lab serves (the operations of its model table, which ServiceModelAgreementTests
    /// holds equal to what the services answer): in paginators-1.json, or with a NextToken in both input and output.
    /// </summary>
    public static IEnumerable<object[]> PagedOperations()
    {
        foreach (var (service, served) in ServiceModel.All.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var model = Model(service);
            var shapes = model["shapes"]!.AsObject();
            var paginatorsFile = Path.Combine(ModelDir(service), "paginators-1.json");
            var paginators = File.Exists(paginatorsFile) ? JsonNode.Parse(File.ReadAllText(paginatorsFile))!["pagination"]!.AsObject() : new JsonObject();
            foreach (var op in served.Operations.OrderBy(o => o, StringComparer.Ordinal))
            {
                var o = model["operations"]![op]!;
                var input = o["input"] is { } i ? shapes[(string)i["shape"]!]!.AsObject() : null;
                var output = o["output"] is { } x ? shapes[(string)x["shape"]!]!.AsObject() : null;
                string? limit;
                string inToken, outToken, result;
                if (paginators[op] is JsonObject p)
                {
                    limit = (string?)p["limit_key"];
                    inToken = (string)p["input_token"]!;
                    outToken = (string)p["output_token"]!;
                    result = (string)p["result_key"]!;
                }
                else
                {
                    if (input?["members"]?["NextToken"] is null || output?["members"]?["NextToken"] is null) continue;
                    inToken = outToken = "NextToken";
                    limit = new[] { "MaxResults", "MaxQueryResults", "MaxRecords", "Limit" }.FirstOrDefault(m => input["members"]![m] is not null);
                    result = output["members"]!.AsObject().Single(m => (string)shapes[(string)m.Value!["shape"]!]!["type"]! == "list").Key;
                }
                long? min = null, max = null;
                if (limit is not null)
                {
                    var limitShape = shapes[(string)input!["members"]![limit]!["shape"]!]!;
                    min = (long?)limitShape["min"];
                    max = (long?)limitShape["max"];
                }
                yield return new object[] { new Paged(service, op, served.Protocol, limit, inToken, outToken, result, min, max) };
            }
        }
    }

    /// <summary>
    /// The page sizes clients send: none (SDK paginators and AWS.Tools by default, the AWS CLI for most operations),
    /// the model's maximum (SDK paginators and this module ask for the largest page), 1000 (the AWS CLI's page for EC2
    /// describe-volumes and describe-snapshots, and the largest EC2 page), and the smallest the model allows (or 5 on
    /// EC2, 1 elsewhere, where it sets none) to force many pages.
    /// </summary>
    private static IEnumerable<long?> ClientPageSizes(Paged p)
    {
        if (p.LimitKey is null) { yield return null; yield break; }
        var sizes = new SortedSet<long> { p.Max ?? 1000, p.Min is { } m && m > 0 ? m : p.Protocol == "ec2" ? 5 : 1 };
        if (p.Protocol == "ec2" || p.Max is null) sizes.Add(1000);
        if (p.Max is { } max) sizes.RemoveWhere(s => s > max);
        yield return null;
        foreach (var s in sizes) yield return s;
    }

    [Theory]
    [MemberData(nameof(PagedOperations))]
    public async Task EveryPagedOperation_TakesTheClientsPageSizes_AndReturnsEveryItemOnce(Paged op)
    {
        var inputs = _fx.Inputs.TryGetValue(op.Operation + "@" + op.Service, out var specific) ? specific
            : _fx.Inputs.TryGetValue(op.Operation, out var general) ? general : new();
        var reference = await WalkAsync(op, null, inputs);
        // A listing this test cannot see paging in would prove nothing; every operation has at least one item here.
        Assert.True(reference.Items.Count > 0, $"{op}: no items to page through");
        foreach (var size in ClientPageSizes(op))
        {
            var walk = await WalkAsync(op, size, inputs);
            Assert.True(walk.Items.Count == walk.Items.Distinct(StringComparer.Ordinal).Count(), $"{op} size {size}: an item came twice");
            Assert.Equal(reference.Items.Order(StringComparer.Ordinal), walk.Items.Order(StringComparer.Ordinal));
            if (size is { } s)
            {
                Assert.All(walk.PageSizes, n => Assert.True(n <= s, $"{op}: a page of {n} items for a page size of {s}"));
                if (reference.Items.Count > s) Assert.True(walk.PageSizes.Count > 1, $"{op} size {s}: {reference.Items.Count} items in one page");
            }
        }
    }

    [Fact]
    public void TheIssuesCase_IsAmongTheCases()
    {
        // DescribeVolumes with the AWS CLI's default page (MaxResults 1000) is the request issue 9 item 19 reports refused.
        var volumes = PagedOperations().Select(o => (Paged)o[0]).Single(p => p.Service == "ec2" && p.Operation == "DescribeVolumes");
        Assert.Contains(1000L, ClientPageSizes(volumes));
        Assert.Null(volumes.Max);
    }

    private sealed record Walk(List<string> Items, List<int> PageSizes);

    /// <summary>Calls the operation page after page, following its output token, and collects the items.</summary>
    private async Task<Walk> WalkAsync(Paged op, long? size, Dictionary<string, JsonNode> inputs)
    {
        var items = new List<string>();
        var pages = new List<int>();
        string? token = null;
        using var c = new RawAwsClient(_fx.Lab);
        for (int guard = 0; ; guard++)
        {
            Assert.True(guard < 400, $"{op}: the token never ran out");
            var page = await CallAsync(c, op, size, token, inputs);
            items.AddRange(page.Items);
            pages.Add(page.Items.Count);
            token = page.Next;
            if (string.IsNullOrEmpty(token)) break;
        }
        return new Walk(items, pages);
    }

    private async Task<(List<string> Items, string? Next)> CallAsync(RawAwsClient c, Paged op, long? size, string? token, Dictionary<string, JsonNode> inputs)
    {
        var model = Model(op.Service);
        var input = model["shapes"]![(string)model["operations"]![op.Operation]!["input"]!["shape"]!]!["members"]!.AsObject();
        string Wire(string member) => (string?)input[member]!["locationName"] ?? member;
        string Sz() => size!.Value.ToString(CultureInfo.InvariantCulture);
        switch (op.Protocol)
        {
            case "ec2":
            {
                var form = new List<(string, string)> { ("Action", op.Operation), ("Version", "2016-11-15") };
                if (size is not null) form.Add(("MaxResults", Sz()));
                if (token is not null) form.Add(("NextToken", token));
                var (status, body, _) = await TestLab.PostFormAsync(_fx.Lab, "ec2", TestLab.Form(form.ToArray()));
                Assert.True(status == 200, $"{op} size {size}: {body}");
                var root = XDocument.Parse(body).Root!;
                var outputMembers = model["shapes"]![(string)model["operations"]![op.Operation]!["output"]!["shape"]!]!["members"]!;
                var listName = (string)outputMembers[op.ResultKey]!["locationName"]!;
                var list = root.Elements().Single(e => e.Name.LocalName == listName).Elements();
                // DescribeInstances pages over instances; a reservation can be split across pages, so count instances.
                if (op.Operation == "DescribeInstances")
                    list = list.SelectMany(r => r.Elements().Single(e => e.Name.LocalName == "instancesSet").Elements());
                var next = root.Elements().SingleOrDefault(e => e.Name.LocalName == "nextToken")?.Value;
                return (list.Select(e => e.ToString(SaveOptions.DisableFormatting)).ToList(), next);
            }
            case "query":
            {
                var version = (string)model["metadata"]!["apiVersion"]!;
                var form = new List<(string, string)> { ("Action", op.Operation), ("Version", version) };
                foreach (var (k, v) in inputs) form.Add((k, (string)v!));
                if (size is not null) form.Add((op.LimitKey!, Sz()));
                if (token is not null) form.Add((op.InputToken, token));
                var r = await c.QueryAsync(op.Service, form.ToArray());
                Assert.True(r.Status == 200, $"{op} size {size}: {r.Body}");
                var result = XDocument.Parse(r.Body).Root!.Elements().Single(e => e.Name.LocalName == op.Operation + "Result");
                var list = result.Elements().Single(e => e.Name.LocalName == op.ResultKey).Elements();
                var next = result.Elements().SingleOrDefault(e => e.Name.LocalName == op.OutputToken)?.Value;
                return (list.Select(e => e.ToString(SaveOptions.DisableFormatting)).ToList(), next);
            }
            case "json":
            {
                var body = new JsonObject();
                foreach (var (k, v) in inputs) body[k] = v.DeepClone();
                if (size is not null) body[op.LimitKey!] = size.Value;
                if (token is not null) body[op.InputToken] = token;
                var r = await c.Json11Async(op.Service, (string)model["metadata"]!["targetPrefix"]! + "." + op.Operation, body);
                Assert.True(r.Status == 200, $"{op} size {size}: {r.Body}");
                JsonNode? list = r.Json;
                foreach (var part in op.ResultKey.Split('.')) list = list![part];
                return (list!.AsArray().Select(e => e!.ToJsonString()).ToList(), (string?)r.Json[op.OutputToken]);
            }
            case "rest-json":
            {
                var http = model["operations"]![op.Operation]!["http"]!;
                var path = (string)http["requestUri"]!;
                foreach (var (k, v) in inputs) path = path.Replace("{" + k + "}", Uri.EscapeDataString((string)v!), StringComparison.Ordinal);
                var query = new List<string>();
                var body = new JsonObject();
                void Put(string member, JsonNode value)
                {
                    if ((string?)input[member]!["location"] == "querystring") query.Add(Wire(member) + "=" + value.ToString());
                    else body[Wire(member)] = value;
                }
                if (size is not null) Put(op.LimitKey!, size.Value);
                if (token is not null) Put(op.InputToken, token);
                var method = new HttpMethod((string)http["method"]!);
                var r = await c.GuardDutyAsync(method, path, method == HttpMethod.Get ? null : body, string.Join("&", query));
                Assert.True(r.Status == 200, $"{op} size {size}: {r.Body}");
                var output = model["shapes"]![(string)model["operations"]![op.Operation]!["output"]!["shape"]!]!["members"]!;
                var list = r.Json[(string)output[op.ResultKey]!["locationName"]!]!.AsArray();
                return (list.Select(e => e!.ToJsonString()).ToList(), (string?)r.Json[(string)output[op.OutputToken]!["locationName"]!]);
            }
            default:
                throw new InvalidOperationException(op.Protocol);
        }
    }
}
