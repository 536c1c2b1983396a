using System.Net.Http;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

/// <summary>
/// The detector keeps each listing (criterion and sort) and each finding's JSON between calls. Every test here reads
/// first, so both are kept, then changes a finding and reads again: a listing or answer kept past the change fails it.
/// </summary>
public sealed class GuardDutyListingCacheTests
{
    private static readonly JsonObject Unarchived = new() { ["service.archived"] = new JsonObject { ["equals"] = new JsonArray("false") } };
    private static readonly JsonObject ArchivedOnly = new() { ["service.archived"] = new JsonObject { ["equals"] = new JsonArray("true") } };
    private static readonly JsonObject NewestFirst = new() { ["attributeName"] = "updatedAt", ["orderBy"] = "DESC" };
    private static readonly JsonObject HighestFirst = new() { ["attributeName"] = "severity", ["orderBy"] = "DESC" };

    private static Task<LabHost> Scale(int seed) => TestLab.StartAsync("Scale", seed, o => o with { Instances = 20, Findings = 150 });

    private static GuardDutyDetector Detector(LabHost lab) => lab.GetService<GuardDutyService>()!.DetectorOf(lab.AccountId)!;

    private static async Task<JsonObject> Get(RawAwsClient c, string det, string id)
    {
        var r = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/get", new JsonObject { ["findingIds"] = new JsonArray(id) });
        Assert.True(r.Status == 200, r.Body);
        return r.Json["findings"]!.AsArray().Single()!.AsObject();
    }

    private static Task<List<string>> List(RawAwsClient c, string det, JsonObject? criteria, JsonObject? sort = null) =>
        GuardDutyTests.ListAllAsync(c, det, criteria, pageSize: 20, sort: sort);

    [Fact]
    public async Task Archiving_a_finding_moves_it_between_the_kept_listings_and_changes_its_kept_json()
    {
        await using var lab = await Scale(41);
        using var c = new RawAwsClient(lab);
        var det = Detector(lab).Id;
        var unarchived = await List(c, det, Unarchived);
        var archivedBefore = await List(c, det, ArchivedOnly);
        var id = unarchived[^1];
        var before = await Get(c, det, id);
        Assert.False((bool)before["service"]!["archived"]!);

        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/archive", new JsonObject { ["findingIds"] = new JsonArray(id) })).Status);

        Assert.DoesNotContain(id, await List(c, det, Unarchived));
        Assert.Equal(archivedBefore.Append(id).Order(StringComparer.Ordinal), (await List(c, det, ArchivedOnly)).Order(StringComparer.Ordinal));
        var after = await Get(c, det, id);
        Assert.True((bool)after["service"]!["archived"]!);
        Assert.NotEqual((string)before["updatedAt"]!, (string)after["updatedAt"]!);

        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/unarchive", new JsonObject { ["findingIds"] = new JsonArray(id) })).Status);
        Assert.Contains(id, await List(c, det, Unarchived));
        Assert.False((bool)(await Get(c, det, id))["service"]!["archived"]!);
    }

    [Fact]
    public async Task Feedback_shows_in_the_kept_json_and_in_a_listing_by_feedback()
    {
        await using var lab = await Scale(42);
        using var c = new RawAwsClient(lab);
        var det = Detector(lab).Id;
        var useful = new JsonObject { ["service.userFeedback"] = new JsonObject { ["equals"] = new JsonArray("USEFUL") } };
        Assert.Empty(await List(c, det, useful));
        var id = (await List(c, det, null))[7];
        Assert.Null((await Get(c, det, id))["service"]!["userFeedback"]);

        var fb = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/feedback", new JsonObject { ["findingIds"] = new JsonArray(id), ["feedback"] = "USEFUL" });
        Assert.Equal(200, fb.Status);

        Assert.Equal("USEFUL", (string?)(await Get(c, det, id))["service"]!["userFeedback"]);
        Assert.Equal(new[] { id }, await List(c, det, useful));
    }

    [Fact]
    public async Task A_repeated_occurrence_comes_first_by_updatedAt_and_its_kept_json_counts_it()
    {
        await using var lab = await Scale(43);
        using var c = new RawAwsClient(lab);
        var gd = lab.GetService<GuardDutyService>()!;
        var det = Detector(lab).Id;
        var newest = await List(c, det, null, NewestFirst);
        var oldest = newest[^1];
        var count = (int)(await Get(c, det, oldest))["service"]!["count"]!;

        Assert.NotNull(gd.RecordOccurrence(lab.AccountId, oldest));

        Assert.Equal(oldest, (await List(c, det, null, NewestFirst))[0]);
        Assert.Equal(count + 1, (int)(await Get(c, det, oldest))["service"]!["count"]!);
    }

    [Fact]
    public async Task A_severity_changed_through_the_detector_moves_the_finding_between_severity_listings()
    {
        await using var lab = await Scale(44);
        using var c = new RawAwsClient(lab);
        var detector = Detector(lab);
        var det = detector.Id;
        var critical = new JsonObject { ["severity"] = new JsonObject { ["greaterThanOrEqual"] = 9 } };
        var low = new JsonObject { ["severity"] = new JsonObject { ["lessThan"] = 2 } };
        var lows = await List(c, det, low);
        Assert.NotEmpty(lows);
        var criticals = await List(c, det, critical);
        var highestFirst = await List(c, det, null, HighestFirst);
        var id = lows[0];
        Assert.InRange((double)(await Get(c, det, id))["severity"]!, 1.0, 1.95);

        lock (detector) Assert.True(detector.Update(id, f => f["severity"] = 9.95));

        Assert.DoesNotContain(id, await List(c, det, low));
        Assert.Contains(id, await List(c, det, critical));
        Assert.Equal(criticals.Count + 1, (await List(c, det, critical)).Count);
        Assert.Equal(id, (await List(c, det, null, HighestFirst))[0]);
        Assert.NotEqual(id, highestFirst[0]);
        Assert.Equal(9.95, (double)(await Get(c, det, id))["severity"]!);
    }

    [Fact]
    public async Task A_finding_added_or_replaced_is_listed_and_answered_as_it_now_is()
    {
        await using var lab = await Scale(45);
        using var c = new RawAwsClient(lab);
        var gd = lab.GetService<GuardDutyService>()!;
        var det = Detector(lab).Id;
        var all = await List(c, det, null);
        var id = all[3];
        var before = await Get(c, det, id);

        var replaced = (JsonObject)before.DeepClone();
        replaced["title"] = "replaced";
        replaced["createdAt"] = "2099-01-01T00:00:00.000Z";
        gd.AddFinding(lab.AccountId, replaced);
        var added = (JsonObject)before.DeepClone();
        added["id"] = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
        added["createdAt"] = "2098-01-01T00:00:00.000Z";
        gd.AddFinding(lab.AccountId, added);

        // Newest createdAt first when no sort is given.
        var after = await List(c, det, null);
        Assert.Equal(all.Count + 1, after.Count);
        Assert.Equal(new[] { id, "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0" }, after.Take(2));
        Assert.Equal("replaced", (string)(await Get(c, det, id))["title"]!);
    }

    [Fact]
    public async Task Samples_generated_again_count_again_in_the_kept_json()
    {
        await using var lab = await Scale(46);
        using var c = new RawAwsClient(lab);
        var det = Detector(lab).Id;
        var sampleCriterion = new JsonObject { ["service.additionalInfo.sample"] = new JsonObject { ["equals"] = new JsonArray("true") } };
        var create = new JsonObject { ["findingTypes"] = new JsonArray("Recon:EC2/PortProbeUnprotectedPort") };
        Assert.Empty(await List(c, det, sampleCriterion));
        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/create", (JsonObject)create.DeepClone())).Status);
        var sample = Assert.Single(await List(c, det, sampleCriterion));
        Assert.Equal(1, (int)(await Get(c, det, sample))["service"]!["count"]!);

        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/create", (JsonObject)create.DeepClone())).Status);

        Assert.Equal(2, (int)(await Get(c, det, sample))["service"]!["count"]!);
    }

    [Fact]
    public async Task A_change_between_pages_shifts_the_next_page_as_it_did_without_kept_listings()
    {
        await using var lab = await Scale(47);
        using var c = new RawAwsClient(lab);
        var det = Detector(lab).Id;
        var expected = await List(c, det, Unarchived);
        var first = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings",
            new JsonObject { ["maxResults"] = 20, ["findingCriteria"] = new JsonObject { ["criterion"] = Unarchived.DeepClone() } });
        var firstPage = first.Json["findingIds"]!.AsArray().Select(x => (string)x!).ToList();
        Assert.Equal(expected.Take(20), firstPage);

        // One of the first page is archived: the listing is one shorter, so the next page starts one later in it.
        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings/archive", new JsonObject { ["findingIds"] = new JsonArray(firstPage[0]) })).Status);
        var second = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{det}/findings", new JsonObject
        {
            ["maxResults"] = 20, ["findingCriteria"] = new JsonObject { ["criterion"] = Unarchived.DeepClone() }, ["nextToken"] = (string)first.Json["nextToken"]!,
        });
        Assert.Equal(expected.Skip(21).Take(20), second.Json["findingIds"]!.AsArray().Select(x => (string)x!));
    }
}
