using System.Diagnostics;
using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Engine.Findings;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.GuardDuty;

namespace GuardDutyIR.Engine.Tests;

/// <summary>Severity bands read side by side against the Lab: the same findings in the same order, once each, whatever changes meanwhile.</summary>
public sealed class PartitionedFindingReadTests
{
    private static AwsSession Session(LabHost lab) => AwsSession.Resolve(new AwsContextOptions
    {
        Region = lab.Region,
        EndpointUrl = lab.Endpoint,
        Credential = new Dictionary<string, string> { ["AccessKey"] = lab.AccessKeyId, ["SecretKey"] = lab.SecretAccessKey },
    }, null);

    private static Task<LabHost> Scale(int findings) =>
        LabHost.StartAsync(new LabOptions { Scenario = "Scale", Instances = 30, Vpcs = 2, Findings = findings, Seed = 11 });

    private static async Task<List<GdFinding>> ReadAll(FindingService service, string region, FindingQuery query, Func<int, Task>? afterBatch = null,
        CancellationToken token = default)
    {
        var found = new List<GdFinding>();
        await foreach (var f in service.GetFindingsAsync(region, query, token))
        {
            found.Add(f);
            if (afterBatch is not null) await afterBatch(found.Count);
        }
        return found;
    }

    [Fact]
    public async Task Bands_return_what_one_chain_returns_in_the_same_order_with_the_users_filters()
    {
        await using var lab = await Scale(700);
        using var session = Session(lab);
        var service = new FindingService(session);
        var instance = lab.World.Instances[0].InstanceId;
        var queries = new Func<bool, FindingQuery>[]
        {
            p => new FindingQuery { IncludeSample = true, Archived = ArchivedFilter.Include, Partitioned = p },
            p => new FindingQuery { MinSeverity = 6.5, Partitioned = p },
            p => new FindingQuery { MinSeverity = 3, Ascending = true, Archived = ArchivedFilter.Only, Partitioned = p },
            p => new FindingQuery { Types = new[] { "Recon:EC2/PortProbeUnprotectedPort", "Backdoor:EC2/C&CActivity.B" }, Partitioned = p },
            p => new FindingQuery { Types = new[] { "UnauthorizedAccess:EC2/*" }, MinSeverity = 2, Partitioned = p },
            p => new FindingQuery { InstanceIds = new[] { instance }, Partitioned = p },
        };
        foreach (var query in queries)
        {
            var chain = await ReadAll(service, lab.Region, query(false));
            lab.Counters.Reset();
            var bands = await ReadAll(service, lab.Region, query(true));
            Assert.Equal(chain.Select(f => f.Id), bands.Select(f => f.Id));
            if (chain.Count > 50)
                Assert.True(lab.Counters.Snapshot().CallsOf("guardduty", "ListFindings") > (chain.Count + 49) / 50, "several bands were listed");
        }
        // The first query is every finding; the severity filter is the user's, kept inside each band.
        var all = GuardDutyFindings(lab);
        Assert.Equal(all.Count, (await ReadAll(service, lab.Region, queries[0](true))).Count);
        Assert.Equal(all.Count(f => f.Severity >= 6.5 && !f.Archived && !f.Sample), (await ReadAll(service, lab.Region, queries[1](true))).Count);
    }

    private static List<(string Id, double Severity, bool Archived, bool Sample)> GuardDutyFindings(LabHost lab) =>
        lab.GetService<GuardDutyService>()!.FindingsOf(lab.AccountId).Select(f => (
            (string)f["id"]!, (double)f["severity"]!, (bool?)f["service"]?["archived"] ?? false,
            f["service"]?["additionalInfo"]?["sample"] is JsonValue v && v.ToString() == "true")).ToList();

    [Fact]
    public async Task Findings_that_move_between_bands_while_the_read_runs_arrive_once_each()
    {
        await using var lab = await Scale(400);
        using var session = Session(lab);
        var service = new FindingService(session);
        var gd = lab.GetService<GuardDutyService>()!;
        var detector = gd.DetectorOf(lab.AccountId)!;
        var query = new FindingQuery { IncludeSample = true, Archived = ArchivedFilter.Include };
        string? movedUp = null, movedDown = null;

        var found = await ReadAll(service, lab.Region, query, async count =>
        {
            if (count != 1) return;
            // The first page has been handed over; no band has been listed yet. One finding of the lowest band is raised
            // above the first page (into a band the read skips), one of the first page is lowered into the last band.
            // GuardDuty stamps updatedAt on any change to a finding.
            lock (detector)
            {
                var now = FindingFactory.Iso(detector.Findings.Max(f => DateTimeOffset.Parse((string)f["updatedAt"]!, System.Globalization.CultureInfo.InvariantCulture)).AddMinutes(1));
                var lowest = detector.Findings.OrderBy(f => (double)f["severity"]!).First();
                var highest = detector.Findings.OrderByDescending(f => (double)f["severity"]!).First();
                movedUp = (string)lowest["id"]!;
                movedDown = (string)highest["id"]!;
                detector.Update(movedUp, f => { f["severity"] = 9.9; f["updatedAt"] = now; });
                detector.Update(movedDown, f => { f["severity"] = 1.0; f["updatedAt"] = now; });
            }
            await Task.CompletedTask;
        });

        var ids = found.Select(f => f.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(gd.FindingsOf(lab.AccountId).Select(f => (string)f["id"]!).OrderBy(x => x, StringComparer.Ordinal), ids.OrderBy(x => x, StringComparer.Ordinal));
        Assert.Contains(movedUp!, ids);
        Assert.Contains(movedDown!, ids);
    }

    [Fact]
    public async Task Stopping_the_read_stops_every_chain_within_a_second()
    {
        await using var lab = await Scale(600);
        using var session = Session(lab);
        var service = new FindingService(session);
        await service.ResolveDetectorAsync(lab.Region, null, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var query = new FindingQuery { IncludeSample = true, Archived = ArchivedFilter.Include };
        var watch = new Stopwatch();
        var read = ReadAll(service, lab.Region, query, count =>
        {
            if (count == 1)
            {
                // The first page is in; the bands start when the next batch is asked for, each call held 3 s by the Lab.
                lab.Faults.LatencyMs = 3000;
                _ = Task.Delay(500).ContinueWith(_ => { watch.Start(); cts.Cancel(); }, TaskScheduler.Default);
            }
            return Task.CompletedTask;
        }, cts.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
        Assert.InRange(watch.Elapsed.TotalSeconds, 0, 1);
    }
}
