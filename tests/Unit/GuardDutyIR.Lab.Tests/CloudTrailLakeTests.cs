using System.Globalization;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

/// <summary>Helpers to run Lake queries over the wire.</summary>
internal static class Lake
{
    public static CloudTrailService Service(LabHost lab) => lab.GetService<CloudTrailService>()!;

    public static string Sql(LabHost lab, string template) =>
        template.Replace("EDS_ID", Service(lab).EventDataStoreId!, StringComparison.Ordinal)
                .Replace("<INSTANCE_ID>", lab.World.InvestigatedInstanceId!, StringComparison.Ordinal);

    public static async Task<string> StartAsync(RawAwsClient c, string sql)
    {
        var r = await c.CloudTrailAsync("StartQuery", new JsonObject { ["QueryStatement"] = sql });
        Assert.True(r.Status == 200, r.Body);
        return (string)r.Json["QueryId"]!;
    }

    public static async Task<JsonObject> WaitAsync(RawAwsClient c, string id) =>
        await Eventually.WaitAsync(async () =>
        {
            var d = await c.CloudTrailAsync("DescribeQuery", new JsonObject { ["QueryId"] = id });
            Assert.Equal(200, d.Status);
            return d.Json;
        }, d => (string)d["QueryStatus"]! is not ("QUEUED" or "RUNNING"), $"query {id} to finish");

    public static async Task<string> StatusAsync(RawAwsClient c, string id) =>
        (string)(await c.CloudTrailAsync("DescribeQuery", new JsonObject { ["QueryId"] = id })).Json["QueryStatus"]!;

    /// <summary>All rows of a finished query, each as (column, value) pairs in order, following NextToken.</summary>
    public static async Task<List<List<KeyValuePair<string, string>>>> RowsAsync(RawAwsClient c, string id, int? pageSize = null)
    {
        var rows = new List<List<KeyValuePair<string, string>>>();
        string? token = null;
        do
        {
            var body = new JsonObject { ["QueryId"] = id };
            if (pageSize is not null) body["MaxQueryResults"] = pageSize;
            if (token is not null) body["NextToken"] = token;
            var r = await c.CloudTrailAsync("GetQueryResults", body);
            Assert.True(r.Status == 200, r.Body);
            Assert.Equal("FINISHED", (string)r.Json["QueryStatus"]!);
            foreach (var row in r.Json["QueryResultRows"]!.AsArray())
                rows.Add(row!.AsArray().Select(cell =>
                {
                    var kv = cell!.AsObject().Single();
                    return new KeyValuePair<string, string>(kv.Key, (string)kv.Value!);
                }).ToList());
            token = (string?)r.Json["NextToken"];
        } while (token is not null);
        return rows;
    }

    public static async Task<List<List<KeyValuePair<string, string>>>> QueryAsync(RawAwsClient c, string sql)
    {
        var id = await StartAsync(c, sql);
        var d = await WaitAsync(c, id);
        Assert.True((string)d["QueryStatus"]! == "FINISHED", d.ToJsonString());
        return await RowsAsync(c, id);
    }

    public static string V(List<KeyValuePair<string, string>> row, string col) => row.Single(kv => kv.Key == col).Value;
}

public sealed class CloudTrailLakeTests : IClassFixture<SharedWorkshopLab>
{
    private readonly LabHost _lab;
    public CloudTrailLakeTests(SharedWorkshopLab shared) => _lab = shared.Lab;

    private RawAwsClient Client() => new(_lab);

    [Fact]
    public async Task WorkshopQueries_GiveExactlyTheTruth()
    {
        using var c = Client();
        var truth = Lake.Service(_lab).Truth!;
        var q = CloudTrailTruth.WorkshopQueries;

        // 1: the investigated instance lists buckets most, and other instances appear with their own counts.
        var r1 = await Lake.QueryAsync(c, Lake.Sql(_lab, q[0]));
        Assert.Equal(new[] { "principalid", "eventsource", "eventname", "total" }, r1[0].Select(kv => kv.Key));
        Assert.Equal(truth.InstancesThatListedBuckets.Select(t => $"{t.PrincipalId}|{t.EventSource}|{t.EventName}|{t.Total}"),
            r1.Select(r => $"{Lake.V(r, "principalid")}|{Lake.V(r, "eventsource")}|{Lake.V(r, "eventname")}|{Lake.V(r, "total")}"));
        Assert.Equal(_lab.World.InvestigatedPrincipalId, truth.TopPrincipalId);
        Assert.True(truth.InstancesThatListedBuckets.Count >= 3);

        // 2: everything it called (ties in total may come in any order, so compare as sets and check the ordering).
        var r2 = await Lake.QueryAsync(c, Lake.Sql(_lab, q[1]));
        AssertOrderedByTotal(r2);
        Assert.Equal(truth.EverythingCalled.Select(t => $"{t.EventName}|{t.Total}").Order(), r2.Select(r => $"{Lake.V(r, "eventname")}|{Lake.V(r, "total")}").Order());

        var r3 = await Lake.QueryAsync(c, Lake.Sql(_lab, q[2]));
        AssertOrderedByTotal(r3);
        Assert.Equal(truth.ReadOnlyCalls.Select(t => $"{t.PrincipalId}|{t.EventSource}|{t.EventName}|{t.Total}").Order(),
            r3.Select(r => $"{Lake.V(r, "principalid")}|{Lake.V(r, "eventsource")}|{Lake.V(r, "eventname")}|{Lake.V(r, "total")}").Order());
        // The SSM agent's instance-identity session matches '%:<INSTANCE_ID>' too, as it does on AWS.
        Assert.Contains(r3, r => Lake.V(r, "principalid").Contains(":aws:ec2-instance:", StringComparison.Ordinal));

        var r4 = await Lake.QueryAsync(c, Lake.Sql(_lab, q[3]));
        Assert.Equal(truth.PutObjects.Count, r4.Count);
        Assert.Equal(_lab.World.ExfilObjects.Count, r4.Count);
        foreach (var put in truth.PutObjects)
        {
            var rendered = "{" + string.Join(", ", put.RequestParameters.Select(kv => kv.Key + "=" + kv.Value)) + "}";
            Assert.Contains(r4, r => Lake.V(r, "requestparameters") == rendered && Lake.V(r, "principalid") == put.PrincipalId);
        }
        Assert.All(_lab.World.ExfilObjects, o => Assert.Contains(r4, r => Lake.V(r, "requestparameters").Contains("key=" + o.Key, StringComparison.Ordinal)));

        var r5 = await Lake.QueryAsync(c, Lake.Sql(_lab, q[4]));
        AssertOrderedByTotal(r5);
        Assert.Equal(new[] { "eventname", "total", "eventsource", "awsregion" }, r5[0].Select(kv => kv.Key));
        Assert.Equal(truth.Summary.Select(t => $"{t.EventName}|{t.Total}|{t.EventSource}|{t.AwsRegion}").Order(),
            r5.Select(r => $"{Lake.V(r, "eventname")}|{Lake.V(r, "total")}|{Lake.V(r, "eventsource")}|{Lake.V(r, "awsregion")}").Order());
        Assert.Contains(r5, r => Lake.V(r, "awsregion") == "us-west-2");
    }

    private static void AssertOrderedByTotal(List<List<KeyValuePair<string, string>>> rows)
    {
        var totals = rows.Select(r => long.Parse(Lake.V(r, "total"), CultureInfo.InvariantCulture)).ToList();
        Assert.NotEmpty(totals);
        Assert.Equal(totals.OrderByDescending(t => t), totals);
    }

    [Fact]
    public async Task Values_AreRenderedAsLakeStrings()
    {
        using var c = Client();
        var rows = await Lake.QueryAsync(c, $"SELECT eventTime, readOnly, useridentity.sessioncontext.ec2roledelivery AS delivery, count(*) OVER () AS n, " +
            $"element_at(requestParameters, 'bucketName') AS bucket, resources FROM {Lake.Service(_lab).EventDataStoreArn} " +
            $"WHERE eventname = 'PutObject' AND useridentity.principalid like '%:{_lab.World.InvestigatedInstanceId}' ORDER BY eventtime");
        Assert.NotEmpty(rows);
        var first = rows[0];
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$", Lake.V(first, "eventTime"));
        Assert.Equal("false", Lake.V(first, "readOnly"));
        Assert.Equal("2.0", Lake.V(first, "delivery"));
        Assert.Equal(rows.Count.ToString(CultureInfo.InvariantCulture), Lake.V(first, "n"));
        Assert.Equal(_lab.World.ExfilBucket, Lake.V(first, "bucket"));
        Assert.StartsWith("[{accountid=", Lake.V(first, "resources"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Timestamps_FilterAndUnaliasedColumnsAreNamedLikeTrino()
    {
        using var c = Client();
        var records = Lake.Service(_lab).Database.Records;
        var cut = records[records.Count / 2].EventTime;
        var expected = records.Count(r => r.EventTime > cut);
        var rows = await Lake.QueryAsync(c, $"select count(*) from {Lake.Service(_lab).EventDataStoreId} where eventtime > '{cut.UtcDateTime:yyyy-MM-dd HH:mm:ss}'");
        Assert.Equal("_col0", rows.Single().Single().Key);
        Assert.Equal(expected.ToString(CultureInfo.InvariantCulture), rows.Single().Single().Value);
    }

    [Fact]
    public async Task StartQuery_Errors()
    {
        using var c = Client();
        var eds = Lake.Service(_lab).EventDataStoreId!;
        var bad = await c.CloudTrailAsync("StartQuery", new JsonObject { ["QueryStatement"] = $"DELETE FROM {eds}" });
        Assert.Equal(400, bad.Status);
        Assert.Equal("InvalidQueryStatementException", (string)bad.Json["__type"]!);
        Assert.NotNull(bad.Json["Message"]);

        var two = await c.CloudTrailAsync("StartQuery", new JsonObject { ["QueryStatement"] = $"SELECT 1 FROM {eds}; DROP TABLE x" });
        Assert.Equal("InvalidQueryStatementException", (string)two.Json["__type"]!);

        var file = await c.CloudTrailAsync("StartQuery", new JsonObject { ["QueryStatement"] = "SELECT * FROM read_csv('/etc/passwd')" });
        Assert.Equal("InvalidQueryStatementException", (string)file.Json["__type"]!);

        var missing = await c.CloudTrailAsync("StartQuery", new JsonObject { ["QueryStatement"] = "SELECT * FROM 00000000-1111-2222-3333-444444444444" });
        Assert.Equal("EventDataStoreNotFoundException", (string)missing.Json["__type"]!);

        // Syntax errors surface as a FAILED query with an ErrorMessage.
        var id = await Lake.StartAsync(c, $"SELECT eventname FROM {eds} WHERE nosuchcolumn = 1");
        var d = await Lake.WaitAsync(c, id);
        Assert.Equal("FAILED", (string)d["QueryStatus"]!);
        Assert.Contains("nosuchcolumn", (string)d["ErrorMessage"]!, StringComparison.OrdinalIgnoreCase);
        var res = await c.CloudTrailAsync("GetQueryResults", new JsonObject { ["QueryId"] = id });
        Assert.Equal("FAILED", (string)res.Json["QueryStatus"]!);

        var unknown = await c.CloudTrailAsync("DescribeQuery", new JsonObject { ["QueryId"] = Guid.NewGuid().ToString() });
        Assert.Equal("QueryIdNotFoundException", (string)unknown.Json["__type"]!);
    }

    [Fact]
    public async Task EventDataStores_ListAndGet_OnlyForTheOwner()
    {
        using var c = Client();
        var svc = Lake.Service(_lab);
        var list = await c.CloudTrailAsync("ListEventDataStores");
        var store = list.Json["EventDataStores"]!.AsArray().Single()!;
        Assert.Equal(svc.EventDataStoreArn, (string)store["EventDataStoreArn"]!);
        Assert.Equal($"arn:aws:cloudtrail:{_lab.Region}:{_lab.AccountId}:eventdatastore/{svc.EventDataStoreId}", svc.EventDataStoreArn);
        Assert.Equal(CloudTrailService.EventDataStoreName, (string)store["Name"]!);

        var byId = await c.CloudTrailAsync("GetEventDataStore", new JsonObject { ["EventDataStore"] = svc.EventDataStoreId });
        Assert.Equal("ENABLED", (string)byId.Json["Status"]!);
        Assert.IsAssignableFrom<double>(byId.Json["CreatedTimestamp"]!.GetValue<double>());

        using var member = new RawAwsClient(_lab, _lab.Credentials.Member.AccessKeyId, _lab.Credentials.Member.SecretAccessKey);
        Assert.Empty((await member.CloudTrailAsync("ListEventDataStores")).Json["EventDataStores"]!.AsArray());
        var denied = await member.CloudTrailAsync("GetEventDataStore", new JsonObject { ["EventDataStore"] = svc.EventDataStoreArn });
        Assert.Equal("EventDataStoreNotFoundException", (string)denied.Json["__type"]!);
    }

    [Fact]
    public async Task LookupEvents_ByUsername_PagesNewestFirst_AndChecksTokens()
    {
        using var c = Client();
        var inst = _lab.World.InvestigatedInstanceId!;
        var expected = Lake.Service(_lab).Database.Records
            .Where(r => r.ManagementEvent && r.AwsRegion == _lab.Region && r.Username == inst)
            .OrderByDescending(r => r.EventTime).ToList();
        Assert.True(expected.Count > 5);
        var attrs = new JsonArray(new JsonObject { ["AttributeKey"] = "Username", ["AttributeValue"] = inst });
        var seen = new List<string>();
        string? token = null;
        do
        {
            var body = new JsonObject { ["LookupAttributes"] = attrs.DeepClone(), ["MaxResults"] = 4 };
            if (token is not null) body["NextToken"] = token;
            var r = await c.CloudTrailAsync("LookupEvents", body);
            Assert.Equal(200, r.Status);
            foreach (var e in r.Json["Events"]!.AsArray())
            {
                Assert.Equal(inst, (string)e!["Username"]!);
                var ct = JsonNode.Parse((string)e["CloudTrailEvent"]!)!;
                Assert.Equal((string)e["EventId"]!, (string)ct["eventID"]!);
                Assert.True((bool)ct["managementEvent"]!);
                Assert.Contains((string)e["ReadOnly"]!, new[] { "true", "false" });
                seen.Add((string)e["EventId"]!);
            }
            token = (string?)r.Json["NextToken"];
            if (token is not null)
            {
                // The token is only valid with the same parameters.
                var other = await c.CloudTrailAsync("LookupEvents", new JsonObject { ["NextToken"] = token, ["MaxResults"] = 4 });
                Assert.Equal("InvalidNextTokenException", (string)other.Json["__type"]!);
            }
        } while (token is not null);
        Assert.Equal(expected.Select(e => e.EventId), seen);

        var twoAttrs = await c.CloudTrailAsync("LookupEvents", new JsonObject
        {
            ["LookupAttributes"] = new JsonArray(new JsonObject { ["AttributeKey"] = "EventName", ["AttributeValue"] = "ListBuckets" }, new JsonObject { ["AttributeKey"] = "ReadOnly", ["AttributeValue"] = "true" }),
        });
        Assert.Equal("InvalidLookupAttributesException", (string)twoAttrs.Json["__type"]!);
        var tooMany = await c.CloudTrailAsync("LookupEvents", new JsonObject { ["MaxResults"] = 51 });
        Assert.Equal("InvalidMaxResultsException", (string)tooMany.Json["__type"]!);

        var first = expected[^1];
        var window = await c.CloudTrailAsync("LookupEvents", new JsonObject
        {
            ["LookupAttributes"] = new JsonArray(new JsonObject { ["AttributeKey"] = "EventId", ["AttributeValue"] = first.EventId }),
            ["StartTime"] = first.EventTime.ToUnixTimeSeconds() - 1,
            ["EndTime"] = first.EventTime.ToUnixTimeSeconds() + 1,
        });
        Assert.Equal(first.EventId, (string)window.Json["Events"]![0]!["EventId"]!);
        Assert.Equal((double)first.EventTime.ToUnixTimeSeconds(), window.Json["Events"]![0]!["EventTime"]!.GetValue<double>());
    }

    [Fact]
    public async Task Templates_HaveTheSameMemberNames()
    {
        using var c = Client();
        var samples = "/work/shared/aws-samples/";
        var eds = Lake.Service(_lab).EventDataStoreId!;
        var list = await c.CloudTrailAsync("ListEventDataStores");
        // The Lab also sends the deprecated list members AWS still returns; the template's names must all be present.
        Assert.Superset(Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "cloudtrail-ListEventDataStores.json"))), Shape.Json(list.Json));

        var start = await c.CloudTrailAsync("StartQuery", new JsonObject { ["QueryStatement"] = $"SELECT eventID, eventTime, eventName FROM {eds} LIMIT 2" });
        Shape.AssertSame(Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "cloudtrail-StartQuery.json"))), Shape.Json(start.Json));
        var id = (string)start.Json["QueryId"]!;
        await Lake.WaitAsync(c, id);
        var describe = await c.CloudTrailAsync("DescribeQuery", new JsonObject { ["QueryId"] = id });
        var describeShape = Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "cloudtrail-DescribeQuery.json")));
        describeShape.ExceptWith(new[] { "DeliveryS3Uri", "DeliveryStatus" }); // only present when the query asked for S3 delivery
        Assert.Equal(describeShape, Shape.Json(describe.Json));
        var results = await c.CloudTrailAsync("GetQueryResults", new JsonObject { ["QueryId"] = id });
        Shape.AssertSame(Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "cloudtrail-GetQueryResults.json"))), Shape.Json(results.Json));

        var lookup = await c.CloudTrailAsync("LookupEvents", new JsonObject
        {
            ["LookupAttributes"] = new JsonArray(new JsonObject { ["AttributeKey"] = "Username", ["AttributeValue"] = _lab.World.InvestigatedInstanceId }),
            ["MaxResults"] = 50,
        });
        var lookupShape = Shape.Json(lookup.Json);
        var templateLookup = Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "cloudtrail-LookupEvents.json")));
        Assert.Subset(lookupShape, templateLookup.Where(p => p != "NextToken").ToHashSet());

        var slow = await TestLab.StartAsync("CloudTrailInvestigation", seed: 5);
        await using (slow)
        {
            Lake.Service(slow).QueryDelay = TimeSpan.FromSeconds(5);
            using var sc = new RawAwsClient(slow);
            var qid = await Lake.StartAsync(sc, $"SELECT 1 FROM {Lake.Service(slow).EventDataStoreId}");
            var cancel = await sc.CloudTrailAsync("CancelQuery", new JsonObject { ["QueryId"] = qid });
            Shape.AssertSame(Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "cloudtrail-CancelQuery.json"))), Shape.Json(cancel.Json));
        }
    }
}

/// <summary>Lake behaviour that needs its own Lab (state changes, knobs, big result sets).</summary>
public sealed class CloudTrailLakeStateTests
{
    [Fact]
    public async Task CancelQuery_StopsARunningQuery_AndRejectsFinishedOnes()
    {
        // On the test's clock a query leaves QUEUED when the clock has moved past the queue time, and stays RUNNING
        // (QueryDelay) until it moves on again.
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync("CloudTrailInvestigation", seed: 9, o => o with { Clock = clock });
        Lake.Service(lab).QueryDelay = TimeSpan.FromSeconds(10);
        using var c = new RawAwsClient(lab);
        var eds = Lake.Service(lab).EventDataStoreId!;
        var id = await Lake.StartAsync(c, $"SELECT eventname FROM {eds}");
        Assert.Equal("QUEUED", await Lake.StatusAsync(c, id));
        var queueTime = TrailQueryRunner.DefaultQueueTime;
        Assert.Equal("RUNNING", await Eventually.WaitAsync(async () => { clock.Advance(queueTime); return await Lake.StatusAsync(c, id); },
            s => s != "QUEUED", "the query to start running"));
        var pending = await c.CloudTrailAsync("GetQueryResults", new JsonObject { ["QueryId"] = id });
        Assert.Equal("RUNNING", (string)pending.Json["QueryStatus"]!);
        Assert.Empty(pending.Json["QueryResultRows"]!.AsArray());

        var cancel = await c.CloudTrailAsync("CancelQuery", new JsonObject { ["QueryId"] = id });
        Assert.Equal("CANCELLED", (string)cancel.Json["QueryStatus"]!);
        Assert.Equal("CANCELLED", (string)(await c.CloudTrailAsync("DescribeQuery", new JsonObject { ["QueryId"] = id })).Json["QueryStatus"]!);
        var again = await c.CloudTrailAsync("CancelQuery", new JsonObject { ["QueryId"] = id });
        Assert.Equal(400, again.Status);
        Assert.Equal("InactiveQueryException", (string)again.Json["__type"]!);

        // Ten queued/running queries per account at most.
        var ids = new List<string>();
        for (int i = 0; i < 10; i++) ids.Add(await Lake.StartAsync(c, $"SELECT {i} FROM {eds}"));
        var eleventh = await c.CloudTrailAsync("StartQuery", new JsonObject { ["QueryStatement"] = $"SELECT 11 FROM {eds}" });
        Assert.Equal("MaxConcurrentQueriesException", (string)eleventh.Json["__type"]!);
        foreach (var q in ids) await c.CloudTrailAsync("CancelQuery", new JsonObject { ["QueryId"] = q });
        Lake.Service(lab).QueryDelay = TimeSpan.Zero;
        var ok = await Lake.StartAsync(c, $"SELECT 12 FROM {eds}");
        Assert.Equal("FINISHED", await Eventually.WaitAsync(async () => { clock.Advance(queueTime); return await Lake.StatusAsync(c, ok); },
            s => s is not ("QUEUED" or "RUNNING"), "the query to finish"));
    }

    [Fact]
    public async Task A_query_runs_for_QueryDelay_on_the_Labs_clock_and_reports_that_time()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync("CloudTrailInvestigation", seed: 10, o => o with { Clock = clock });
        Lake.Service(lab).QueryDelay = TimeSpan.FromSeconds(2);
        using var c = new RawAwsClient(lab);
        var id = await Lake.StartAsync(c, $"SELECT eventname FROM {Lake.Service(lab).EventDataStoreId}");
        // The clock moves once, by the queue time, and then stands still until the run's own wait has started.
        await clock.WaitStartedAsync(TrailQueryRunner.DefaultQueueTime, TimeSpan.FromSeconds(20));
        clock.Advance(TrailQueryRunner.DefaultQueueTime);
        Assert.Equal("RUNNING", await Eventually.WaitAsync(() => Lake.StatusAsync(c, id), s => s != "QUEUED", "the query to start running"));
        // The engine's own work takes no time on the Lab's clock, so the whole QueryDelay is still to run.
        await clock.WaitStartedAsync(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(20));
        clock.Advance(TimeSpan.FromSeconds(1.9));
        Assert.Equal("RUNNING", await Lake.StatusAsync(c, id));
        clock.Advance(TimeSpan.FromSeconds(0.1));
        var done = await Lake.WaitAsync(c, id);
        Assert.Equal("FINISHED", (string)done["QueryStatus"]!);
        Assert.Equal(2000, (long)done["QueryStatistics"]!["ExecutionTimeInMillis"]!);
    }

    [Fact]
    public async Task GetQueryResults_PagesOverThousandsOfRows()
    {
        await using var lab = await TestLab.StartAsync("CloudTrailInvestigation", seed: 11);
        var svc = Lake.Service(lab);
        svc.AddBulkEvents(6000);
        var total = svc.Database.Count;
        Assert.True(total > 6000);
        using var c = new RawAwsClient(lab);
        var id = await Lake.StartAsync(c, $"SELECT eventid, eventtime FROM {svc.EventDataStoreId} ORDER BY eventtime, eventid");
        await Lake.WaitAsync(c, id);

        var first = await c.CloudTrailAsync("GetQueryResults", new JsonObject { ["QueryId"] = id, ["MaxQueryResults"] = 1000 });
        Assert.Equal(1000, (int)first.Json["QueryStatistics"]!["ResultsCount"]!);
        Assert.Equal(total, (int)first.Json["QueryStatistics"]!["TotalResultsCount"]!);
        var badSize = await c.CloudTrailAsync("GetQueryResults", new JsonObject { ["QueryId"] = id, ["MaxQueryResults"] = 1001 });
        Assert.Equal("InvalidMaxResultsException", (string)badSize.Json["__type"]!);
        var badToken = await c.CloudTrailAsync("GetQueryResults", new JsonObject { ["QueryId"] = id, ["NextToken"] = "bm90LWEtdG9rZW4=" });
        Assert.Equal("InvalidNextTokenException", (string)badToken.Json["__type"]!);

        var rows = await Lake.RowsAsync(c, id, 1000);
        Assert.Equal(total, rows.Count);
        Assert.Equal(svc.Database.Records.Select(r => r.EventId).Order(StringComparer.Ordinal), rows.Select(r => Lake.V(r, "eventid")).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task DeliveryS3Uri_WritesTheResultAsCsv()
    {
        await using var lab = await TestLab.StartAsync("CloudTrailInvestigation", seed: 12);
        var s3 = lab.GetService<GuardDutyIR.Lab.S3.S3Service>()!;
        using var c = new RawAwsClient(lab);
        var missing = await c.CloudTrailAsync("StartQuery", new JsonObject { ["QueryStatement"] = $"SELECT 1 FROM {Lake.Service(lab).EventDataStoreId}", ["DeliveryS3Uri"] = "s3://no-such-bucket-here/x" });
        Assert.Equal("S3BucketDoesNotExistException", (string)missing.Json["__type"]!);
        var start = await c.CloudTrailAsync("StartQuery", new JsonObject
        {
            ["QueryStatement"] = $"SELECT eventname, count(*) AS total FROM {Lake.Service(lab).EventDataStoreId} GROUP BY eventname ORDER BY total DESC, eventname",
            ["DeliveryS3Uri"] = $"s3://{s3.EvidenceBucket}/lake",
        });
        var id = (string)start.Json["QueryId"]!;
        var d = await Lake.WaitAsync(c, id);
        Assert.Equal("SUCCESS", (string)d["DeliveryStatus"]!);
        var csv = System.Text.Encoding.UTF8.GetString(s3.Store.Get(s3.EvidenceBucket!, $"lake/{id}/result_1.csv")!.Content);
        Assert.StartsWith("eventname,total\n", csv, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LookupEvents_IsThrottledAtTwoPerSecond_WhenTheLabThrottles()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync("CloudTrailInvestigation", seed: 13, o => o with { Throttling = true, Clock = clock });
        using var c = new RawAwsClient(lab);
        async Task<string> Lookup()
        {
            var r = await c.CloudTrailAsync("LookupEvents", new JsonObject { ["MaxResults"] = 1 });
            return r.Status == 200 ? "OK" : (string)r.Json["__type"]!;
        }
        var codes = new List<string>();
        for (int i = 0; i < 4; i++) codes.Add(await Lookup());
        Assert.Equal(new[] { "OK", "OK", "ThrottlingException", "ThrottlingException" }, codes);
        // Two a second: half a second later one more passes.
        clock.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal("OK", await Lookup());
        Assert.Equal("ThrottlingException", await Lookup());
        lab.Throttle.Enabled = false;
        Assert.Equal(200, (await c.CloudTrailAsync("LookupEvents", new JsonObject { ["MaxResults"] = 1 })).Status);
    }
}
