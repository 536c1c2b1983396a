using System.Net.Http;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

public sealed class GuardDutyTests : IClassFixture<SharedWorkshopLab>
{
    private readonly LabHost _lab;
    public GuardDutyTests(SharedWorkshopLab shared) => _lab = shared.Lab;

    private static string Det(LabHost lab) => lab.GetService<GuardDutyService>()!.DetectorOf(lab.AccountId)!.Id;

    internal static async Task<List<string>> ListAllAsync(RawAwsClient c, string detector, JsonObject? criteria, int pageSize = 50, JsonObject? sort = null)
    {
        var ids = new List<string>();
        string? token = null;
        do
        {
            var body = new JsonObject { ["maxResults"] = pageSize };
            if (criteria is not null) body["findingCriteria"] = new JsonObject { ["criterion"] = criteria.DeepClone() };
            if (sort is not null) body["sortCriteria"] = sort.DeepClone();
            if (token is not null) body["nextToken"] = token;
            var r = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{detector}/findings", body);
            Assert.True(r.Status == 200, r.Body);
            var page = r.Json["findingIds"]!.AsArray().Select(x => (string)x!).ToList();
            Assert.True(page.Count <= pageSize);
            ids.AddRange(page);
            token = (string?)r.Json["nextToken"];
        } while (token is not null);
        return ids;
    }

    private List<string> Expected(Func<JsonObject, bool> predicate) =>
        _lab.GetService<GuardDutyService>()!.FindingsOf(_lab.AccountId).Where(predicate).Select(f => (string)f["id"]!).Order().ToList();

    [Fact]
    public async Task Detector_ListAndGet()
    {
        using var c = new RawAwsClient(_lab);
        var list = await c.GuardDutyAsync(HttpMethod.Get, "/detector", query: "maxResults=50");
        Assert.Equal(Det(_lab), (string)list.Json["detectorIds"]![0]!);
        var get = await c.GuardDutyAsync(HttpMethod.Get, $"/detector/{Det(_lab)}");
        Assert.Equal("ENABLED", (string)get.Json["status"]!);
        Assert.Equal("FIFTEEN_MINUTES", (string)get.Json["findingPublishingFrequency"]!);

        var foreign = await c.GuardDutyAsync(HttpMethod.Get, "/detector/0123456789abcdef0123456789abcdef");
        Assert.Equal(400, foreign.Status);
        Assert.Equal("BadRequestException", foreign.Header("x-amzn-ErrorType"));
        Assert.Equal("InvalidInputException", (string)foreign.Json["__type"]!);
        Assert.Contains("not owned by the current account", (string)foreign.Json["message"]!, StringComparison.Ordinal);
        var badMax = await c.GuardDutyAsync(HttpMethod.Get, "/detector", query: "maxResults=51");
        Assert.Equal("BadRequestException", badMax.Header("x-amzn-ErrorType"));
    }

    [Fact]
    public async Task ScenarioFinding_IsTheMaliciousIpCallerOnTheThreatList()
    {
        using var c = new RawAwsClient(_lab);
        var w = _lab.World;
        var ids = await ListAllAsync(c, Det(_lab), new JsonObject { ["type"] = new JsonObject { ["eq"] = new JsonArray("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom") } });
        var get = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{Det(_lab)}/findings/get", new JsonObject { ["findingIds"] = new JsonArray(ids.Select(i => (JsonNode)i!).ToArray()) });
        var f = get.Json["findings"]!.AsArray().Single()!.AsObject();
        Assert.Equal("2.0", (string)f["schemaVersion"]!);
        Assert.Equal(5.0, (double)f["severity"]!);
        Assert.Equal(w.CompromisedInstanceId, (string)f["resource"]!["instanceDetails"]!["instanceId"]!);
        Assert.Equal("Instance", (string)f["resource"]!["resourceType"]!);
        var nca = f["service"]!["action"]!["networkConnectionAction"]!;
        Assert.Equal("OUTBOUND", (string)nca["connectionDirection"]!);
        Assert.Equal("ICMP", (string)nca["protocol"]!);
        Assert.Equal(w.MaliciousEip, (string)nca["remoteIpDetails"]!["ipAddressV4"]!);
        Assert.Equal(w.ThreatListName, (string)f["service"]!["additionalInfo"]!["threatListName"]!);
        Assert.Equal(w.ThreatListName, (string)JsonNode.Parse((string)f["service"]!["additionalInfo"]!["value"]!)!["threatListName"]!);
        Assert.Equal(w.ThreatListName, (string)f["service"]!["evidence"]!["threatIntelligenceDetails"]![0]!["threatListName"]!);
        Assert.Equal(2, f["resource"]!["instanceDetails"]!["networkInterfaces"]!.AsArray().Count);
        Assert.EndsWith("/finding/" + (string)f["id"]!, (string)f["arn"]!, StringComparison.Ordinal);

        // Same member-name set as the template (nulls aside, values and list lengths ignored).
        var template = Shape.Json(JsonNode.Parse(File.ReadAllText("/work/shared/aws-samples/guardduty-finding-MaliciousIPCaller.Custom.SYNTHESIZED.json")));
        Shape.AssertSame(template, Shape.Json(f));
        Shape.AssertSame(Shape.Json(JsonNode.Parse(File.ReadAllText("/work/shared/aws-samples/guardduty-GetFindings.json"))), Shape.Json(get.Json));
    }

    [Theory]
    [InlineData("greaterThanOrEqual", 9.0, "Critical", new[] { 9.0 })]
    [InlineData("gte", 7.0, "High", new[] { 7.0, 8.9 })]
    [InlineData("greaterThanOrEqual", 4.0, "Medium", new[] { 4.0, 5.0, 6.9 })]
    [InlineData("greaterThanOrEqual", 1.0, "Low", new[] { 2.0, 3.9 })]
    public async Task SeverityBands_AndTheirEdgeValues(string op, double lower, string band, double[] mustContain)
    {
        using var c = new RawAwsClient(_lab);
        // Bands (GuardDuty docs): Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0; the next band's floor is the exclusive upper bound.
        double upper = band switch { "Low" => 4, "Medium" => 7, "High" => 9, _ => 10.1 };
        var criteria = new JsonObject { ["severity"] = new JsonObject { [op] = lower, ["lessThan"] = upper } };
        var ids = await ListAllAsync(c, Det(_lab), criteria);
        var all = _lab.GetService<GuardDutyService>()!.FindingsOf(_lab.AccountId).ToDictionary(f => (string)f["id"]!);
        var got = ids.Select(i => (double)all[i]["severity"]!).ToList();
        Assert.Equal(all.Values.Where(f => (double)f["severity"]! >= lower && (double)f["severity"]! < upper).Select(f => (string)f["id"]!).Order(), ids.Order());
        Assert.All(mustContain, s => Assert.Contains(s, got));
        Assert.All(got, s => Assert.InRange(s, lower, upper - 0.05));
    }

    [Fact]
    public async Task Criteria_Operators_OnManyFields()
    {
        using var c = new RawAwsClient(_lab);
        var det = Det(_lab);
        var w = _lab.World;
        async Task Check(JsonObject criteria, Func<JsonObject, bool> predicate) =>
            Assert.Equal(Expected(predicate), (await ListAllAsync(c, det, criteria)).Order().ToList());

        string Inst(JsonObject f) => (string?)f["resource"]?["instanceDetails"]?["instanceId"] ?? "";
        bool Archived(JsonObject f) => (bool)f["service"]!["archived"]!;
        await Check(new JsonObject { ["service.archived"] = new JsonObject { ["equals"] = new JsonArray("false") } }, f => !Archived(f));
        await Check(new JsonObject { ["service.archived"] = new JsonObject { ["eq"] = new JsonArray("true") } }, Archived);
        await Check(new JsonObject(), _ => true);
        await Check(new JsonObject { ["resource.instanceDetails.instanceId"] = new JsonObject { ["equals"] = new JsonArray(w.CompromisedInstanceId, w.BastionInstanceId) } },
            f => Inst(f) == w.CompromisedInstanceId || Inst(f) == w.BastionInstanceId);
        await Check(new JsonObject { ["resource.instanceDetails.instanceId"] = new JsonObject { ["notEquals"] = new JsonArray(w.BastionInstanceId) } }, f => Inst(f) != w.BastionInstanceId);
        await Check(new JsonObject { ["type"] = new JsonObject { ["neq"] = new JsonArray("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom") } }, f => (string)f["type"]! != "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom");
        await Check(new JsonObject { ["service.additionalInfo.threatListName"] = new JsonObject { ["equals"] = new JsonArray(w.ThreatListName) } }, f => (string?)f["service"]!["additionalInfo"]!["threatListName"] == w.ThreatListName);
        await Check(new JsonObject { ["service.action.networkConnectionAction.remoteIpDetails.ipAddressV4"] = new JsonObject { ["eq"] = new JsonArray(w.MaliciousEip) } },
            f => (string?)f["service"]!["action"]!["networkConnectionAction"]?["remoteIpDetails"]?["ipAddressV4"] == w.MaliciousEip);
        await Check(new JsonObject { ["service.action.actionType"] = new JsonObject { ["equals"] = new JsonArray("DNS_REQUEST") } }, f => (string)f["service"]!["action"]!["actionType"]! == "DNS_REQUEST");
        await Check(new JsonObject { ["service.action.networkConnectionAction.connectionDirection"] = new JsonObject { ["equals"] = new JsonArray("INBOUND") } },
            f => (string?)f["service"]!["action"]!["networkConnectionAction"]?["connectionDirection"] == "INBOUND");
        var vpc = w.CompromisedInstance!.VpcId;
        await Check(new JsonObject { ["resource.instanceDetails.networkInterfaces.vpcId"] = new JsonObject { ["equals"] = new JsonArray(vpc) } },
            f => f["resource"]!["instanceDetails"]!["networkInterfaces"]!.AsArray().Any(n => (string)n!["vpcId"]! == vpc));
        await Check(new JsonObject { ["accountId"] = new JsonObject { ["equals"] = new JsonArray(_lab.AccountId) }, ["region"] = new JsonObject { ["equals"] = new JsonArray(_lab.Region) } }, _ => true);
        var cut = w.BaseTime.AddHours(-24).ToUnixTimeMilliseconds();
        await Check(new JsonObject { ["updatedAt"] = new JsonObject { ["greaterThan"] = cut } }, f => DateTimeOffset.Parse((string)f["updatedAt"]!).ToUnixTimeMilliseconds() > cut);
        await Check(new JsonObject { ["createdAt"] = new JsonObject { ["lte"] = 0 } }, _ => false);
        await Check(new JsonObject { ["severity"] = new JsonObject { ["gte"] = 4, ["lt"] = 7 } }, f => (double)f["severity"]! is >= 4 and < 7);
        await Check(new JsonObject { ["id"] = new JsonObject { ["equals"] = new JsonArray(Expected(_ => true)[0]) } }, f => (string)f["id"]! == Expected(_ => true)[0]);
        string Type(JsonObject f) => (string)f["type"]!;
        await Check(new JsonObject { ["type"] = new JsonObject { ["matches"] = new JsonArray("Recon:*", "*Brute?orce") } },
            f => Type(f).StartsWith("Recon:", StringComparison.Ordinal) || Type(f).EndsWith("BruteForce", StringComparison.Ordinal));
        await Check(new JsonObject { ["type"] = new JsonObject { ["notMatches"] = new JsonArray("*.Custom") } }, f => !Type(f).EndsWith(".Custom", StringComparison.Ordinal));
        await Check(new JsonObject { ["service.count"] = new JsonObject { ["gte"] = 2 }, ["severity"] = new JsonObject { ["lt"] = 5 } },
            f => (int)f["service"]!["count"]! >= 2 && (double)f["severity"]! < 5);

        var bad = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings", new JsonObject { ["findingCriteria"] = new JsonObject { ["criterion"] = new JsonObject { ["nosuch.field"] = new JsonObject { ["eq"] = new JsonArray("x") } } } });
        Assert.Equal("BadRequestException", bad.Header("x-amzn-ErrorType"));
        var badOp = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings", new JsonObject { ["findingCriteria"] = new JsonObject { ["criterion"] = new JsonObject { ["severity"] = new JsonObject { ["between"] = 3 } } } });
        Assert.Equal(400, badOp.Status);

        var sorted = await ListAllAsync(c, det, null, sort: new JsonObject { ["attributeName"] = "severity", ["orderBy"] = "DESC" });
        var all = _lab.GetService<GuardDutyService>()!.FindingsOf(_lab.AccountId).ToDictionary(f => (string)f["id"]!);
        var sev = sorted.Select(i => (double)all[i]["severity"]!).ToList();
        Assert.Equal(sev.OrderByDescending(x => x), sev);
        // Counts are whole numbers in the stored findings; they sort and compare as numbers all the same.
        var byCount = await ListAllAsync(c, det, null, sort: new JsonObject { ["attributeName"] = "service.count", ["orderBy"] = "ASC" });
        var counts = byCount.Select(i => (int)all[i]["service"]!["count"]!).ToList();
        Assert.Equal(counts.Order(), counts);
        Assert.Equal(all.Count, counts.Count);
        await Check(new JsonObject { ["service.count"] = new JsonObject { ["equals"] = new JsonArray(counts[^1].ToString(System.Globalization.CultureInfo.InvariantCulture)) } },
            f => (int)f["service"]!["count"]! == counts[^1]);
    }

    [Fact]
    public async Task GetFindings_Limits_AndUnknownIdsAreAbsent()
    {
        using var c = new RawAwsClient(_lab);
        var det = Det(_lab);
        var tooMany = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/get",
            new JsonObject { ["findingIds"] = new JsonArray(Enumerable.Range(0, 51).Select(i => (JsonNode)("id" + i)).ToArray()) });
        Assert.Equal(400, tooMany.Status);
        Assert.Equal("BadRequestException", tooMany.Header("x-amzn-ErrorType"));
        var some = Expected(_ => true).Take(2).ToList();
        var r = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/get",
            new JsonObject { ["findingIds"] = new JsonArray((JsonNode)some[0], "ffffffffffffffffffffffffffffffff", some[1]) });
        Assert.Equal(some, r.Json["findings"]!.AsArray().Select(f => (string)f!["id"]!));
        var badToken = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings", new JsonObject { ["nextToken"] = "garbage" });
        Assert.Equal("BadRequestException", badToken.Header("x-amzn-ErrorType"));
    }

    [Fact]
    public async Task Templates_ListOperations()
    {
        using var c = new RawAwsClient(_lab);
        var det = Det(_lab);
        var samples = "/work/shared/aws-samples/";
        Shape.AssertSame(Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "guardduty-ListDetectors.json"))), Shape.Json((await c.GuardDutyAsync(HttpMethod.Get, "/detector")).Json));
        Shape.AssertSame(Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "guardduty-ListFindings.json"))),
            Shape.Json((await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings", new JsonObject { ["maxResults"] = 2 })).Json));
        var tis = await c.GuardDutyAsync(HttpMethod.Get, $"/detector/{det}/threatintelset");
        Shape.AssertSame(Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "guardduty-ListThreatIntelSets.json"))), Shape.Json(tis.Json));
        var tisId = (string)tis.Json["threatIntelSetIds"]![0]!;
        var got = await c.GuardDutyAsync(HttpMethod.Get, $"/detector/{det}/threatintelset/{tisId}");
        // tags is a map: its keys are data, not member names.
        static SortedSet<string> NoMapKeys(SortedSet<string> s) => new(s.Where(p => !p.StartsWith("tags.", StringComparison.Ordinal)), StringComparer.Ordinal);
        Shape.AssertSame(NoMapKeys(Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "guardduty-GetThreatIntelSet.json")))), NoMapKeys(Shape.Json(got.Json)));
        Assert.Equal(_lab.World.ThreatListName, (string)got.Json["name"]!);
        Assert.Equal("ACTIVE", (string)got.Json["status"]!);
        Assert.Equal("TXT", (string)got.Json["format"]!);
        Shape.AssertSame(Shape.Json(JsonNode.Parse(File.ReadAllText(samples + "guardduty-ListIPSets.json"))), Shape.Json((await c.GuardDutyAsync(HttpMethod.Get, $"/detector/{det}/ipset")).Json));
        // The threat list object the set points at holds the malicious EIP.
        var s3 = _lab.GetService<S3Service>()!.Store;
        Assert.True(S3Store.TryParseLocation((string)got.Json["location"]!, out var b, out var k));
        Assert.Contains(_lab.World.MaliciousEip!, System.Text.Encoding.UTF8.GetString(s3.Get(b, k)!.Content), StringComparison.Ordinal);
    }
}

public sealed class GuardDutyStateTests
{
    private static string Det(LabHost lab) => lab.GetService<GuardDutyService>()!.DetectorOf(lab.AccountId)!.Id;

    [Fact]
    public async Task Archive_Feedback_AndSamples()
    {
        await using var lab = await TestLab.StartAsync("CompromisedInstance", seed: 31);
        using var c = new RawAwsClient(lab);
        var det = Det(lab);
        var gd = lab.GetService<GuardDutyService>()!;
        var id = gd.ScenarioFindingId!;
        var unarchived = new JsonObject { ["service.archived"] = new JsonObject { ["equals"] = new JsonArray("false") } };
        Assert.Contains(id, await GuardDutyTests.ListAllAsync(c, det, unarchived));
        var archive = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/archive", new JsonObject { ["findingIds"] = new JsonArray(id) });
        Shape.AssertSame(Shape.Json(JsonNode.Parse(File.ReadAllText("/work/shared/aws-samples/guardduty-EmptyOk.json"))), Shape.Json(archive.Json));
        Assert.DoesNotContain(id, await GuardDutyTests.ListAllAsync(c, det, unarchived));
        await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/unarchive", new JsonObject { ["findingIds"] = new JsonArray(id) });
        Assert.Contains(id, await GuardDutyTests.ListAllAsync(c, det, unarchived));

        var fb = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/feedback", new JsonObject { ["findingIds"] = new JsonArray(id), ["feedback"] = "USEFUL", ["comments"] = "confirmed" });
        Assert.Equal(200, fb.Status);
        Assert.Equal("USEFUL", (string)gd.FindingsOf(lab.AccountId).Single(f => (string)f["id"]! == id)["service"]!["userFeedback"]!);
        var badFb = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/feedback", new JsonObject { ["findingIds"] = new JsonArray(id), ["feedback"] = "MEH" });
        Assert.Equal(400, badFb.Status);

        var before = gd.FindingsOf(lab.AccountId).Count;
        var create = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/create", new JsonObject { ["findingTypes"] = new JsonArray("Recon:EC2/PortProbeUnprotectedPort", "Backdoor:EC2/C&CActivity.B") });
        Assert.Equal(200, create.Status);
        var samples = await GuardDutyTests.ListAllAsync(c, det, new JsonObject { ["service.additionalInfo.sample"] = new JsonObject { ["equals"] = new JsonArray("true") } });
        Assert.Equal(gd.FindingsOf(lab.AccountId).Count(f => f["service"]!["additionalInfo"]!["sample"] is not null), samples.Count);
        Assert.Equal(before + 2, gd.FindingsOf(lab.AccountId).Count);
        var sample = gd.FindingsOf(lab.AccountId).First(f => (string)f["type"]! == "Backdoor:EC2/C&CActivity.B" && f["service"]!["additionalInfo"]!["sample"] is not null);
        Assert.Equal("i-99999999", (string)sample["resource"]!["instanceDetails"]!["instanceId"]!);
        Assert.StartsWith("[SAMPLE]", (string)sample["title"]!, StringComparison.Ordinal);
        Assert.StartsWith("GeneratedFinding", (string)sample["resource"]!["instanceDetails"]!["networkInterfaces"]![0]!["vpcId"]!, StringComparison.Ordinal);
        var invalid = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/create", new JsonObject { ["findingTypes"] = new JsonArray("not a type") });
        Assert.Equal("BadRequestException", invalid.Header("x-amzn-ErrorType"));
    }

    [Fact]
    public async Task ThreatIntelSets_AndIpSets_Crud_Validation_AndMemberDenied()
    {
        await using var lab = await TestLab.StartAsync("CompromisedInstance", seed: 32);
        using var c = new RawAwsClient(lab);
        var det = Det(lab);
        var s3 = lab.GetService<S3Service>()!.Store;
        var bucket = lab.World.ThreatListBucket!;
        s3.Put(bucket, new S3StoredObject("lists/extra.txt", "203.0.113.7\n"u8.ToArray(), "text/plain", DateTimeOffset.UtcNow));

        JsonObject Body(string name, string location, string? token = null) => new()
        {
            ["name"] = name, ["format"] = "TXT", ["location"] = location, ["activate"] = true, ["clientToken"] = token, ["tags"] = new JsonObject { ["case"] = "IR-42" },
        };
        var created = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/threatintelset", Body("extra", $"https://s3.amazonaws.com/{bucket}/lists/extra.txt", "tok-1"));
        Assert.True(created.Status == 200, created.Body);
        Shape.AssertSame(Shape.Json(JsonNode.Parse(File.ReadAllText("/work/shared/aws-samples/guardduty-CreateThreatIntelSet.json"))), Shape.Json(created.Json));
        var id = (string)created.Json["threatIntelSetId"]!;
        var again = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/threatintelset", Body("extra", $"https://s3.amazonaws.com/{bucket}/lists/extra.txt", "tok-1"));
        Assert.Equal(id, (string)again.Json["threatIntelSetId"]!);
        var got = await c.GuardDutyAsync(HttpMethod.Get, $"/detector/{det}/threatintelset/{id}");
        Assert.Equal("ACTIVE", (string)got.Json["status"]!);
        Assert.Equal("IR-42", (string)got.Json["tags"]!["case"]!);

        var missing = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/threatintelset", Body("nope", $"s3://{bucket}/lists/missing.txt"));
        Assert.Equal("BadRequestException", missing.Header("x-amzn-ErrorType"));
        var badLoc = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/threatintelset", Body("nope", "ftp://example/x"));
        Assert.Equal("BadRequestException", badLoc.Header("x-amzn-ErrorType"));
        var badFormat = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/threatintelset", new JsonObject { ["name"] = "x", ["format"] = "CSV", ["location"] = $"s3://{bucket}/lists/extra.txt", ["activate"] = true });
        Assert.Equal(400, badFormat.Status);

        var update = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/threatintelset/{id}", new JsonObject { ["activate"] = false, ["name"] = "extra-2" });
        Assert.Equal(200, update.Status);
        got = await c.GuardDutyAsync(HttpMethod.Get, $"/detector/{det}/threatintelset/{id}");
        Assert.Equal("INACTIVE", (string)got.Json["status"]!);
        Assert.Equal("extra-2", (string)got.Json["name"]!);

        // The member account (through an assumed cross-account role) may not manage lists.
        var sts = TestLab.Sts(lab);
        var assumed = await sts.AssumeRoleAsync(new Amazon.SecurityToken.Model.AssumeRoleRequest
        {
            RoleArn = $"arn:aws:iam::{lab.MemberAccountId}:role/{LabCredentialStore.AuditorRoleName}", RoleSessionName = "ir-test",
        });
        using var member = new RawAwsClient(lab, assumed.Credentials.AccessKeyId, assumed.Credentials.SecretAccessKey, assumed.Credentials.SessionToken);
        var memberDet = lab.GetService<GuardDutyService>()!.DetectorOf(lab.MemberAccountId)!.Id;
        var denied = await member.GuardDutyAsync(HttpMethod.Post, $"/detector/{memberDet}/threatintelset", Body("m", $"s3://{bucket}/lists/extra.txt"));
        Assert.Equal(403, denied.Status);
        Assert.Equal("AccessDeniedException", denied.Header("x-amzn-ErrorType"));
        var notOwned = await member.GuardDutyAsync(HttpMethod.Get, $"/detector/{det}/threatintelset");
        Assert.Equal("BadRequestException", notOwned.Header("x-amzn-ErrorType"));

        var ip = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/ipset", Body("trusted", $"s3://{bucket}/lists/extra.txt"));
        var ipId = (string)ip.Json["ipSetId"]!;
        Assert.Equal(new[] { ipId }, (await c.GuardDutyAsync(HttpMethod.Get, $"/detector/{det}/ipset")).Json["ipSetIds"]!.AsArray().Select(x => (string)x!));
        var second = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/ipset", Body("trusted2", $"s3://{bucket}/lists/extra.txt"));
        Assert.Equal(400, second.Status);
        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Delete, $"/detector/{det}/ipset/{ipId}")).Status);
        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Delete, $"/detector/{det}/threatintelset/{id}")).Status);
        var gone = await c.GuardDutyAsync(HttpMethod.Get, $"/detector/{det}/threatintelset/{id}");
        Assert.Equal("BadRequestException", gone.Header("x-amzn-ErrorType"));
    }

    [Fact]
    public async Task Pagination_OverHundredsOfFindings_IsCompleteAndDisjoint()
    {
        await using var lab = await TestLab.StartAsync("Scale", seed: 33, o => o with { Instances = 30, Findings = 260 });
        using var c = new RawAwsClient(lab);
        var det = Det(lab);
        var ids = await GuardDutyTests.ListAllAsync(c, det, null, pageSize: 50);
        Assert.Equal(260, ids.Count);
        Assert.Equal(260, ids.Distinct().Count());
        var high = await GuardDutyTests.ListAllAsync(c, det, new JsonObject { ["severity"] = new JsonObject { ["greaterThanOrEqual"] = 7 } }, pageSize: 17);
        Assert.Equal(lab.GetService<GuardDutyService>()!.FindingsOf(lab.AccountId).Count(f => (double)f["severity"]! >= 7), high.Count);
        foreach (var chunk in ids.Chunk(50))
        {
            var got = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/get", new JsonObject { ["findingIds"] = new JsonArray(chunk.Select(i => (JsonNode)i!).ToArray()) });
            Assert.Equal(chunk.Length, got.Json["findings"]!.AsArray().Count);
        }
    }

    [Fact]
    public async Task Severity_bands_in_one_condition_partition_the_findings_and_keep_the_sort_order()
    {
        await using var lab = await TestLab.StartAsync("Scale", seed: 34, o => o with { Instances = 30, Findings = 300 });
        using var c = new RawAwsClient(lab);
        var det = Det(lab);
        var findings = lab.GetService<GuardDutyService>()!.FindingsOf(lab.AccountId);
        var bySeverity = new JsonObject { ["attributeName"] = "severity", ["orderBy"] = "DESC" };
        var whole = await GuardDutyTests.ListAllAsync(c, det, null, pageSize: 50, sort: bySeverity);
        // Highest severity first, ties by ID: GuardDuty documents no tie order, the Lab keeps one so pages are stable.
        var expected = findings.OrderByDescending(f => (double)f["severity"]!).ThenBy(f => (string)f["id"]!, StringComparer.Ordinal).Select(f => (string)f["id"]!).ToList();
        Assert.Equal(expected, whole);

        // greaterThanOrEqual and lessThan in the one Condition of the field: both bounds apply.
        var concatenated = new List<string>();
        for (var from = 9; from >= 0; from--)
        {
            var condition = new JsonObject();
            if (from > 0) condition["greaterThanOrEqual"] = from;
            if (from < 9) condition["lessThan"] = from + 1;
            var band = await GuardDutyTests.ListAllAsync(c, det, new JsonObject { ["severity"] = condition }, pageSize: 50, sort: bySeverity);
            Assert.All(band, id => Assert.InRange((double)findings.Single(f => (string)f["id"]! == id)["severity"]!, from == 0 ? double.MinValue : from, from == 9 ? double.MaxValue : from + 1 - 1e-9));
            concatenated.AddRange(band);
        }
        Assert.Equal(whole, concatenated);

        // Strings order ordinally and a finding without the attribute comes last ascending, first descending.
        var byType = await GuardDutyTests.ListAllAsync(c, det, null, pageSize: 50, sort: new JsonObject { ["attributeName"] = "type", ["orderBy"] = "ASC" });
        Assert.Equal(findings.OrderBy(f => (string)f["type"]!, StringComparer.Ordinal).ThenBy(f => (string)f["id"]!, StringComparer.Ordinal).Select(f => (string)f["id"]!), byType);
        var byMissing = await GuardDutyTests.ListAllAsync(c, det, null, pageSize: 50, sort: new JsonObject { ["attributeName"] = "service.additionalInfo.threatListName", ["orderBy"] = "ASC" });
        var named = findings.Where(f => f["service"]?["additionalInfo"]?["threatListName"] is not null).Select(f => (string)f["id"]!).ToHashSet();
        Assert.NotEmpty(named);
        Assert.True(byMissing.Take(named.Count).All(named.Contains), "findings with the attribute come first ascending");
    }
}
