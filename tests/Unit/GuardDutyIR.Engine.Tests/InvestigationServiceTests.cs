using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Engine.Investigation;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// Invoke-LakeQuery's policy without PowerShell: which backend a request means, the template and its parameters, the
/// window a finding sets, the local files, and the LookupEvents fallback.
/// </summary>
public sealed class InvestigationServiceTests : IDisposable
{
    private const string Instance = "i-0123456789abcdef0";
    private const string Sql = "select eventname, count(*) as total from EDS_ID group by eventname";
    private readonly string _root = Directory.CreateTempSubdirectory("gdir-investigation-").FullName;
    private readonly WireStub _stub = new();

    public void Dispose()
    {
        _stub.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private AwsSession Session() => StubSessions.For(_stub);

    private static GuardDutyIRException Refused(InvestigationRequest request) =>
        Assert.Throws<GuardDutyIRException>(() => InvestigationService.Plan(request));

    /// <summary>Each place on its own, and nothing given: what the request means.</summary>
    public static TheoryData<string, InvestigationBackend> Places => new()
    {
        { "EventDataStore", InvestigationBackend.CloudTrailLake },
        { "Athena", InvestigationBackend.Athena },
        { "Path", InvestigationBackend.LocalFiles },
        { "S3Uri", InvestigationBackend.S3TrailLogs },
    };

    private InvestigationRequest At(string place, InvestigationRequest request) => place switch
    {
        "EventDataStore" => request with { EventDataStore = "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/0123abcd-0123-0123-0123-0123456789ab" },
        "Athena" => request with { Athena = true },
        "Path" => request with { Paths = new[] { _root } },
        "S3Uri" => request with { S3Uri = "s3://org-trail/AWSLogs/" },
        _ => request,
    };

    [Theory]
    [MemberData(nameof(Places))]
    public void The_backend_is_the_one_place_given(string place, InvestigationBackend backend)
    {
        TrailLogWriter.WriteInvestigation(_root, Instance);
        var request = At(place, new InvestigationRequest { Query = Sql });

        var plan = InvestigationService.Plan(request);

        Assert.Equal(backend, plan.Backend);
        Assert.Equal(Sql, plan.Sql);
        Assert.Equal(place == "Path", plan.Files.Count > 0);
        // Only local files need no AWS context at all.
        Assert.Equal(place != "Path", InvestigationService.UsesAws(request));
    }

    [Theory]
    [InlineData("EventDataStore", "Athena")]
    [InlineData("EventDataStore", "Path")]
    [InlineData("EventDataStore", "S3Uri")]
    [InlineData("Athena", "Path")]
    [InlineData("Athena", "S3Uri")]
    [InlineData("Path", "S3Uri")]
    public void Two_places_are_refused_before_the_query_is_looked_at(string one, string other)
    {
        // The query is not even a SELECT: the conflict is found first, by the check a command makes before its AWS context.
        var request = At(other, At(one, new InvestigationRequest { Query = "delete from EDS_ID" }));

        Assert.Equal("QueryBackendConflict", Assert.Throws<GuardDutyIRException>(() => InvestigationService.Check(request)).ErrorId);
        Assert.Equal("QueryBackendConflict", Refused(request).ErrorId);
    }

    [Fact]
    public void With_no_place_InstanceActivity_falls_back_to_LookupEvents_and_nothing_else_does()
    {
        var plan = InvestigationService.Plan(new InvestigationRequest { Template = "instanceactivity", InstanceId = Instance });
        Assert.Equal(InvestigationBackend.LookupEvents, plan.Backend);
        Assert.Equal(Instance, plan.InstanceId);
        Assert.True(InvestigationService.UsesAws(new InvestigationRequest { Template = "InstanceActivity", InstanceId = Instance }));

        foreach (var request in new[]
        {
            new InvestigationRequest { Template = "InstanceActivitySummary", InstanceId = Instance },
            new InvestigationRequest { Query = Sql },
        })
        {
            var e = Refused(request);
            Assert.Equal("NoQueryBackend", e.ErrorId);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        }
    }

    [Fact]
    public void The_query_is_checked_before_the_place_and_the_files()
    {
        // A request wrong in several ways reports its query first, as Invoke-LakeQuery always has.
        Assert.Equal("QueryNotSelect", Refused(new InvestigationRequest { Query = "delete from EDS_ID" }).ErrorId);
        Assert.Equal("QueryNotSelect", Refused(new InvestigationRequest { Query = "delete from EDS_ID", Paths = new[] { Path.Combine(_root, "none") } }).ErrorId);
        Assert.Equal("UnknownQueryTemplate", Refused(new InvestigationRequest { Template = "NoSuchTemplate" }).ErrorId);
        Assert.Equal("MissingTemplateParameter", Refused(new InvestigationRequest { Template = "InstanceActivity" }).ErrorId);
    }

    private static GdFinding Finding(string instance) => new()
    {
        InstanceId = instance,
        FirstSeen = new DateTime(2026, 11, 1, 9, 30, 0, DateTimeKind.Utc),
        LastSeen = new DateTime(2026, 11, 1, 9, 45, 0, DateTimeKind.Utc),
    };

    [Fact]
    public void A_finding_sets_the_instance_and_a_window_an_hour_wider_unless_the_request_says_otherwise()
    {
        var plan = InvestigationService.Plan(new InvestigationRequest { Template = "InstanceActivity", Finding = Finding(Instance), S3Uri = "s3://org-trail/" });
        Assert.Equal(new DateTime(2026, 11, 1, 8, 30, 0, DateTimeKind.Utc), plan.Since);
        Assert.Equal(new DateTime(2026, 11, 1, 10, 45, 0, DateTimeKind.Utc), plan.Until);
        Assert.Contains($"'%:{Instance}'", plan.Sql);
        Assert.Contains("eventtime >= timestamp '2026-11-01 08:30:00'", plan.Sql);

        var since = new DateTime(2026, 10, 1, 0, 0, 0, DateTimeKind.Utc);
        var given = InvestigationService.Plan(new InvestigationRequest { Template = "InstanceActivity", Finding = Finding(Instance), Since = since, S3Uri = "s3://org-trail/" });
        Assert.Equal(since, given.Since);
        Assert.Equal(plan.Until, given.Until);

        // A query (not a template) still takes the finding's window: it prunes the S3 download.
        Assert.Equal(plan.Since, InvestigationService.Plan(new InvestigationRequest { Query = Sql, Finding = Finding(Instance), S3Uri = "s3://org-trail/" }).Since);
    }

    [Fact]
    public void The_instance_comes_from_Parameter_then_InstanceId_then_the_finding()
    {
        const string Given = "i-0aaaaaaaaaaaaaaaa", Bound = "i-0bbbbbbbbbbbbbbbb", Found = "i-0cccccccccccccccc";
        string InstanceOf(InvestigationRequest request) => InvestigationService.Plan(request with { Template = "InstanceActivity" }).InstanceId!;

        Assert.Equal(Given, InstanceOf(new() { Parameters = new Dictionary<string, object?> { ["instanceid"] = Given }, InstanceId = Bound, Finding = Finding(Found) }));
        Assert.Equal(Bound, InstanceOf(new() { InstanceId = Bound, Finding = Finding(Found) }));
        Assert.Equal(Found, InstanceOf(new() { Finding = Finding(Found) }));

        // A template without an instance is not handed one: a piped finding does not make its parameters wrong.
        var plan = InvestigationService.Plan(new InvestigationRequest { Template = "IamChanges", InstanceId = Bound, Athena = true });
        Assert.DoesNotContain(Bound, plan.Sql);
        Assert.Equal("InvalidTemplateParameter", Refused(new InvestigationRequest
        {
            Template = "InstanceActivity", Parameters = new Dictionary<string, object?> { ["InstanceId"] = "i-1' or '1'='1" }, Athena = true,
        }).ErrorId);
    }

    [Fact]
    public void Local_files_are_found_once_in_folders_and_wildcards_and_a_missing_path_is_refused()
    {
        TrailLogWriter.WriteInvestigation(_root, Instance);
        var trail = Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories).Where(LocalTrailFiles.IsTrailFile).Order(StringComparer.Ordinal).ToList();
        File.WriteAllText(Path.Combine(_root, "README.txt"), "not a trail file");
        var one = trail[0];

        // The folder, a file inside it and a wildcard over it: every trail file once, in order; the text file is not one.
        var plan = InvestigationService.Plan(new InvestigationRequest
        {
            Query = Sql, Paths = new[] { _root, one, Path.Combine(Path.GetDirectoryName(one)!, "*" + Path.GetExtension(one)) },
        });
        Assert.Equal(trail, plan.Files);

        var missing = Path.Combine(_root, "no-such-folder");
        var e = Refused(new InvestigationRequest { Query = Sql, Paths = new[] { _root, missing } });
        Assert.Equal(("TrailPathNotFound", ErrorKind.ObjectNotFound, (object)missing), (e.ErrorId, e.Kind, e.Target));

        // Paths given that match nothing: no trail files, not "no place to query".
        Assert.Equal("NoTrailFiles", Refused(new InvestigationRequest { Query = Sql, Paths = Array.Empty<string>() }).ErrorId);
        Assert.Equal("NoTrailFiles", Refused(new InvestigationRequest { Query = Sql, Paths = new[] { Path.Combine(_root, "*.nothing") } }).ErrorId);
    }

    [Fact]
    public void A_bad_S3Uri_or_cache_folder_is_refused_by_the_check_before_any_AWS_context()
    {
        var file = Path.Combine(_root, "a-file");
        File.WriteAllText(file, "x");
        Assert.Equal("InvalidS3Uri", Assert.Throws<GuardDutyIRException>(() => InvestigationService.Check(new InvestigationRequest { S3Uri = "https://bucket/x" })).ErrorId);
        var e = Assert.Throws<GuardDutyIRException>(() => InvestigationService.Check(new InvestigationRequest { S3Uri = "s3://trail/", CacheDirectory = file }));
        Assert.Equal(("InvalidCacheDirectory", (object)file), (e.ErrorId, e.Target));
    }

    [Fact]
    public async Task Local_files_run_without_any_AWS_session()
    {
        TrailLogWriter.WriteInvestigation(_root, Instance);
        var notices = new List<QueryNotice>();
        var run = new InvestigationService(session: null).Start(new InvestigationRequest { Template = "InstanceActivity", InstanceId = Instance, Paths = new[] { _root } },
            _ => { }, notices.Add);

        var rows = new List<QueryRow>();
        await foreach (var row in run.Rows) rows.Add(row);
        Assert.Equal(3L, rows.Single(r => (string)r.Values[0]! == "ListBuckets").Values[1]);
        Assert.Equal(run.Plan.Sql, run.Target);

        // Anything else needs the session it was not given.
        Assert.Throws<InvalidOperationException>(() => new InvestigationService(session: null).Start(new InvestigationRequest { Query = Sql, Athena = true }, _ => { }, _ => { }));
    }

    [Fact]
    public void A_bad_region_is_refused_when_the_run_starts_before_any_call()
    {
        using var session = Session();
        var e = Assert.Throws<GuardDutyIRException>(() =>
            new InvestigationService(session).Start(new InvestigationRequest { Query = Sql, Athena = true, Region = "not a region" }, _ => { }, _ => { }));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Empty(_stub.Requests);
    }

    private static StubResponse LookupPage(string? next, params string[] names) => new(200, new JsonObject
    {
        ["Events"] = new JsonArray(names.Select(n => (JsonNode)new JsonObject { ["EventName"] = n, ["Username"] = Instance }).ToArray()),
        ["NextToken"] = next,
    }.ToJsonString(), new() { ["Content-Type"] = "application/x-amz-json-1.1" });

    [Fact]
    public async Task The_LookupEvents_fallback_says_so_and_counts_every_page_by_event_name()
    {
        _stub.Enqueue(LookupPage("page-2", "ListBuckets", "PutObject"), LookupPage(null, "ListBuckets"));
        using var session = Session();
        var notices = new List<QueryNotice>();

        var run = new InvestigationService(session).Start(new InvestigationRequest { Template = "InstanceActivity", Finding = Finding(Instance) }, _ => { }, notices.Add);
        // Said before anything is asked, so the user knows why it is slow.
        Assert.Equal("LookupEventsFallback", Assert.Single(notices).Id);
        Assert.Contains("LookupEvents", notices[0].Message);
        Assert.Empty(_stub.Requests);

        var rows = new List<QueryRow>();
        await foreach (var row in run.Rows) rows.Add(row);
        Assert.Equal(new[] { ("ListBuckets", 2L), ("PutObject", 1L) }, rows.Select(r => ((string)r.Values[0]!, (long)r.Values[1]!)).ToArray());
        var requests = _stub.Requests.ToList();
        Assert.Equal(2, requests.Count);
        Assert.All(requests, r => Assert.Equal("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", r.Header("X-Amz-Target")));
        var body = JsonNode.Parse(requests[0].BodyText)!;
        Assert.Equal("Username", (string)body["LookupAttributes"]![0]!["AttributeKey"]!);
        Assert.Equal(Instance, (string)body["LookupAttributes"]![0]!["AttributeValue"]!);
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 8, 30, 0, TimeSpan.Zero).ToUnixTimeSeconds(), (long)body["StartTime"]!);
    }

    [Fact]
    public async Task TimeoutSec_ends_the_LookupEvents_fallback_too()
    {
        // LookupEvents pages at two requests a second; an account's 90 days can take minutes, and -TimeoutSec bounds them.
        _stub.Default = LookupPage(null, "ListBuckets") with { Delay = TimeSpan.FromSeconds(15) };
        using var session = Session();
        var run = new InvestigationService(session).Start(
            new InvestigationRequest { Template = "InstanceActivity", InstanceId = Instance, Timeout = TimeSpan.FromSeconds(1) }, _ => { }, _ => { });

        // Each page would answer after 15 s and with data: only the timeout makes this throw.
        var e = await Assert.ThrowsAsync<GuardDutyIRException>(async () => { await foreach (var _ in run.Rows) { } });
        Assert.Equal(("QueryTimedOut", ErrorKind.OperationTimeout), (e.ErrorId, e.Kind));
    }
}
