using System.Globalization;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

public sealed class AthenaTests : IClassFixture<SharedWorkshopLab>
{
    private readonly LabHost _lab;
    public AthenaTests(SharedWorkshopLab shared) => _lab = shared.Lab;

    private string Output => $"s3://{_lab.GetService<S3Service>()!.EvidenceBucket}/athena/";

    private async Task<(string Id, JsonObject Execution)> RunAsync(RawAwsClient c, string sql, bool expectSuccess = true)
    {
        var start = await c.AthenaAsync("StartQueryExecution", new JsonObject
        {
            ["QueryString"] = sql,
            ["QueryExecutionContext"] = new JsonObject { ["Database"] = "default", ["Catalog"] = "AwsDataCatalog" },
            ["ResultConfiguration"] = new JsonObject { ["OutputLocation"] = Output },
            ["WorkGroup"] = "primary",
        });
        Assert.True(start.Status == 200, start.Body);
        var id = (string)start.Json["QueryExecutionId"]!;
        var exec = await Eventually.WaitAsync(
            async () => (await c.AthenaAsync("GetQueryExecution", new JsonObject { ["QueryExecutionId"] = id })).Json["QueryExecution"]!.AsObject(),
            e => (string)e["Status"]!["State"]! is not ("QUEUED" or "RUNNING"), $"query {id} to finish");
        if (expectSuccess) Assert.True((string)exec["Status"]!["State"]! == "SUCCEEDED", exec.ToJsonString());
        return (id, exec);
    }

    /// <summary>Data rows (header row checked and dropped) as column→value maps.</summary>
    private static async Task<List<Dictionary<string, string?>>> RowsAsync(RawAwsClient c, string id, int? pageSize = null)
    {
        var rows = new List<Dictionary<string, string?>>();
        string[]? header = null;
        string? token = null;
        do
        {
            var body = new JsonObject { ["QueryExecutionId"] = id };
            if (pageSize is not null) body["MaxResults"] = pageSize;
            if (token is not null) body["NextToken"] = token;
            var r = await c.AthenaAsync("GetQueryResults", body);
            Assert.True(r.Status == 200, r.Body);
            var cols = r.Json["ResultSet"]!["ResultSetMetadata"]!["ColumnInfo"]!.AsArray().Select(ci => (string)ci!["Name"]!).ToArray();
            foreach (var row in r.Json["ResultSet"]!["Rows"]!.AsArray())
            {
                var values = row!["Data"]!.AsArray().Select(d => (string?)d!["VarCharValue"]).ToArray();
                if (header is null) { header = values!; Assert.Equal(cols, header); continue; }
                rows.Add(cols.Zip(values).ToDictionary(p => p.First, p => p.Second));
            }
            token = (string?)r.Json["NextToken"];
        } while (token is not null);
        return rows;
    }

    private string Sql(string template, bool athenaReadOnly = false)
    {
        var sql = template.Replace("EDS_ID", "cloudtrail_logs", StringComparison.Ordinal).Replace("<INSTANCE_ID>", _lab.World.InvestigatedInstanceId!, StringComparison.Ordinal);
        return athenaReadOnly ? sql.Replace("readonly=true", "readonly='true'", StringComparison.Ordinal) : sql;
    }

    [Fact]
    public async Task WorkshopQueries_OnCloudTrailLogs_GiveTheTruth_WithTheReadOnlyDialectChange()
    {
        using var c = new RawAwsClient(_lab);
        var truth = _lab.GetService<CloudTrailService>()!.Truth!;
        var q = CloudTrailTruth.WorkshopQueries;

        var (id1, _) = await RunAsync(c, Sql(q[0]));
        var r1 = await RowsAsync(c, id1);
        Assert.Equal(truth.InstancesThatListedBuckets.Select(t => $"{t.PrincipalId}|{t.Total}"), r1.Select(r => $"{r["principalid"]}|{r["total"]}"));

        var (id2, _) = await RunAsync(c, Sql(q[1]));
        Assert.Equal(truth.EverythingCalled.Select(t => $"{t.EventName}|{t.Total}").Order(), (await RowsAsync(c, id2)).Select(r => $"{r["eventname"]}|{r["total"]}").Order());

        // readonly is a STRING in Athena's table: the workshop's readonly=true fails exactly as on Athena.
        var (_, failed) = await RunAsync(c, Sql(q[2]), expectSuccess: false);
        Assert.Equal("FAILED", (string)failed["Status"]!["State"]!);
        Assert.StartsWith("TYPE_MISMATCH", (string)failed["Status"]!["StateChangeReason"]!, StringComparison.Ordinal);
        var (id3, _) = await RunAsync(c, Sql(q[2], athenaReadOnly: true));
        Assert.Equal(truth.ReadOnlyCalls.Select(t => $"{t.PrincipalId}|{t.EventSource}|{t.EventName}|{t.Total}").Order(),
            (await RowsAsync(c, id3)).Select(r => $"{r["principalid"]}|{r["eventsource"]}|{r["eventname"]}|{r["total"]}").Order());

        // requestparameters is the raw JSON text here (Lake renders a map as {k=v}); json_extract_scalar reads it.
        var (id4, _) = await RunAsync(c, Sql(q[3]));
        var r4 = await RowsAsync(c, id4);
        Assert.Equal(truth.PutObjects.Count, r4.Count);
        foreach (var row in r4)
        {
            var json = JsonNode.Parse(row["requestparameters"]!)!;
            Assert.Contains(truth.PutObjects, p => p.RequestParameters["key"] == (string)json["key"]!);
        }
        var (id4b, _) = await RunAsync(c, $"select json_extract_scalar(requestparameters, '$.key') as k from cloudtrail_logs where eventname = 'PutObject' and useridentity.principalid like '%:{_lab.World.InvestigatedInstanceId}'");
        Assert.Equal(truth.PutObjects.Select(p => p.RequestParameters["key"]).Order(), (await RowsAsync(c, id4b)).Select(r => r["k"]!).Order());

        var (id5, _) = await RunAsync(c, Sql(q[4]));
        Assert.Equal(truth.Summary.Select(t => $"{t.EventName}|{t.Total}|{t.EventSource}|{t.AwsRegion}").Order(),
            (await RowsAsync(c, id5)).Select(r => $"{r["eventname"]}|{r["total"]}|{r["eventsource"]}|{r["awsregion"]}").Order());
    }

    [Fact]
    public async Task Results_HaveHeaderRowMetadataAndPaging_AndCsvInS3()
    {
        using var c = new RawAwsClient(_lab);
        var (id, exec) = await RunAsync(c, "SELECT eventid, eventtime, readonly, eventName FROM \"default\".\"cloudtrail_logs\" ORDER BY eventid");
        Assert.Equal(Output + id + ".csv", (string)exec["ResultConfiguration"]!["OutputLocation"]!);
        Assert.True((long)exec["Statistics"]!["DataScannedInBytes"]! > 0);
        var first = await c.AthenaAsync("GetQueryResults", new JsonObject { ["QueryExecutionId"] = id, ["MaxResults"] = 10 });
        var rows = first.Json["ResultSet"]!["Rows"]!.AsArray();
        Assert.Equal(10, rows.Count);
        Assert.Equal(new[] { "eventid", "eventtime", "readonly", "eventname" }, rows[0]!["Data"]!.AsArray().Select(d => (string)d!["VarCharValue"]!));
        var info = first.Json["ResultSet"]!["ResultSetMetadata"]!["ColumnInfo"]!.AsArray();
        Assert.All(info, ci => Assert.Equal("varchar", (string)ci!["Type"]!));
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", (string)rows[1]!["Data"]![1]!["VarCharValue"]!);
        Assert.Contains((string)rows[1]!["Data"]![2]!["VarCharValue"]!, new[] { "true", "false" });

        var all = await RowsAsync(c, id, 7);
        Assert.Equal(_lab.GetService<CloudTrailService>()!.Database.Count, all.Count);
        var csvKey = $"athena/{id}.csv";
        var csv = System.Text.Encoding.UTF8.GetString(_lab.GetService<S3Service>()!.Store.Get(_lab.GetService<S3Service>()!.EvidenceBucket!, csvKey)!.Content);
        Assert.StartsWith("\"eventid\",\"eventtime\",\"readonly\",\"eventname\"\n", csv, StringComparison.Ordinal);
        Assert.Equal(all.Count + 1, csv.Count(ch => ch == '\n'));

        var counted = await RunAsync(c, "select count(*) from cloudtrail_logs");
        var cnt = await c.AthenaAsync("GetQueryResults", new JsonObject { ["QueryExecutionId"] = counted.Id });
        Assert.Equal("bigint", (string)cnt.Json["ResultSet"]!["ResultSetMetadata"]!["ColumnInfo"]![0]!["Type"]!);
        Assert.Equal("_col0", (string)cnt.Json["ResultSet"]!["Rows"]![0]!["Data"]![0]!["VarCharValue"]!);
    }

    [Fact]
    public async Task Errors_FailedQueries_AndStop()
    {
        using var c = new RawAwsClient(_lab);
        var noOutput = await c.AthenaAsync("StartQueryExecution", new JsonObject { ["QueryString"] = "select 1" });
        Assert.Equal(400, noOutput.Status);
        Assert.Equal("InvalidRequestException", (string)noOutput.Json["__type"]!);

        var (badId, bad) = await RunAsync(c, "selec eventname from cloudtrail_logs", expectSuccess: false);
        Assert.Equal("FAILED", (string)bad["Status"]!["State"]!);
        Assert.NotNull(bad["Status"]!["AthenaError"]);
        var res = await c.AthenaAsync("GetQueryResults", new JsonObject { ["QueryExecutionId"] = badId });
        Assert.Equal("InvalidRequestException", (string)res.Json["__type"]!);

        var (_, noTable) = await RunAsync(c, "select * from default.nosuchtable", expectSuccess: false);
        Assert.StartsWith("TABLE_NOT_FOUND", (string)noTable["Status"]!["StateChangeReason"]!, StringComparison.Ordinal);

        var unknown = await c.AthenaAsync("GetQueryExecution", new JsonObject { ["QueryExecutionId"] = Guid.NewGuid().ToString() });
        Assert.Equal("InvalidRequestException", (string)unknown.Json["__type"]!);
    }

    [Fact]
    public async Task StopQueryExecution_CancelsARunningQuery()
    {
        // On the test's clock the query runs once the clock passes the queue time, and stays RUNNING (QueryDelay) after.
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync("CloudTrailInvestigation", seed: 21, o => o with { Clock = clock });
        lab.GetService<GuardDutyIR.Lab.Athena.AthenaService>()!.QueryDelay = TimeSpan.FromSeconds(10);
        using var c = new RawAwsClient(lab);
        var start = await c.AthenaAsync("StartQueryExecution", new JsonObject
        {
            ["QueryString"] = "select eventname from cloudtrail_logs",
            ["ResultConfiguration"] = new JsonObject { ["OutputLocation"] = $"s3://{lab.GetService<S3Service>()!.EvidenceBucket}/q/" },
            ["ClientRequestToken"] = "token-1-0123456789abcdef0123456789",
        });
        var id = (string)start.Json["QueryExecutionId"]!;
        var again = await c.AthenaAsync("StartQueryExecution", new JsonObject
        {
            ["QueryString"] = "select eventname from cloudtrail_logs",
            ["ResultConfiguration"] = new JsonObject { ["OutputLocation"] = $"s3://{lab.GetService<S3Service>()!.EvidenceBucket}/q/" },
            ["ClientRequestToken"] = "token-1-0123456789abcdef0123456789",
        });
        Assert.Equal(id, (string)again.Json["QueryExecutionId"]!);
        Assert.Equal("RUNNING", await Eventually.WaitAsync(async () =>
        {
            clock.Advance(TrailQueryRunner.DefaultQueueTime);
            return (string)(await c.AthenaAsync("GetQueryExecution", new JsonObject { ["QueryExecutionId"] = id })).Json["QueryExecution"]!["Status"]!["State"]!;
        }, s => s != "QUEUED", "the query to start running"));
        var notYet = await c.AthenaAsync("GetQueryResults", new JsonObject { ["QueryExecutionId"] = id });
        Assert.Equal("Query has not yet finished. Current state: RUNNING", (string)notYet.Json["Message"]!);
        Assert.Equal(200, (await c.AthenaAsync("StopQueryExecution", new JsonObject { ["QueryExecutionId"] = id })).Status);
        var g = await c.AthenaAsync("GetQueryExecution", new JsonObject { ["QueryExecutionId"] = id });
        Assert.Equal("CANCELLED", (string)g.Json["QueryExecution"]!["Status"]!["State"]!);
        Assert.Equal(200, (await c.AthenaAsync("StopQueryExecution", new JsonObject { ["QueryExecutionId"] = id })).Status);
    }
}
