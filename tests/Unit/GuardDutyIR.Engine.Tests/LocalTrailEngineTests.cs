using GuardDutyIR.Engine.Investigation;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>The workshop's SQL over local trail files through DuckDB, with the files' real-world variety.</summary>
[Collection(CpuSaturatingCollection.Name)]
public sealed class LocalTrailEngineTests : IDisposable
{
    private const string Instance = "i-0123456789abcdef0";
    private readonly string _root = Directory.CreateTempSubdirectory("gdir-trail-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void WriteScenario() => TrailLogWriter.WriteInvestigation(_root, Instance);

    private async Task<List<QueryRow>> Run(string template, params (string, object?)[] parameters)
    {
        var sql = QueryTemplates.Render(QueryTemplates.Get(template), parameters.ToDictionary(p => p.Item1, p => p.Item2), null, null);
        return await RunSql(sql, new List<QueryNotice>());
    }

    private async Task<List<QueryRow>> RunSql(string sql, List<QueryNotice> notices, bool raw = false)
    {
        var rows = new List<QueryRow>();
        await foreach (var row in LocalTrailEngine.RunAsync(sql, LocalTrailFiles.Resolve(new[] { _root }), raw, notices.Add, CancellationToken.None)) rows.Add(row);
        return rows;
    }

    [Fact]
    public async Task The_five_workshop_queries_answer_over_gz_and_plain_files_in_nested_folders()
    {
        WriteScenario();

        var q1 = await Run("InstancesListingBuckets");
        Assert.Equal(new[] { "principalid", "eventsource", "eventname", "total" }, q1[0].Columns);
        Assert.Equal(("AROAEXAMPLEROLEID:" + Instance, 3L), ((string)q1[0].Values[0]!, (long)q1[0].Values[3]!));
        Assert.Equal(2, q1.Count);

        var q2 = await Run("InstanceActivity", ("InstanceId", Instance));
        Assert.Equal(new Dictionary<string, long> { ["ListBuckets"] = 3, ["PutObject"] = 2, ["DescribeInstances"] = 1, ["DescribeSecurityGroups"] = 1, ["GetCallerIdentity"] = 1 },
            q2.ToDictionary(r => (string)r.Values[0]!, r => (long)r.Values[1]!));

        var q3 = await Run("InstanceReadOnlyCalls", ("InstanceId", Instance));
        Assert.Equal(6L, q3.Sum(r => (long)r.Values[3]!));

        var q4 = await Run("InstanceS3Uploads", ("InstanceId", Instance));
        Assert.Equal(new[] { ("loot", "a/secrets.txt"), ("loot", "b/db.dump") }, q4.Select(r => ((string)r.Values[3]!, (string)r.Values[4]!)).ToArray());
        Assert.IsType<DateTime>(q4[0].Values[5]);

        var q5 = await Run("InstanceActivitySummary", ("InstanceId", Instance));
        Assert.Contains(q5, r => (string)r.Values[0]! == "DescribeInstances" && (string)r.Values[3]! == "us-west-2");

        var exfil = await Run("InstanceCredentialExfiltration", ("InstanceId", Instance), ("KnownIp", "54.1.2.3"));
        Assert.Equal("45.9.9.9", Assert.Single(exfil).Values[0]);
    }

    [Fact]
    public async Task A_cache_entry_another_process_removes_before_it_is_opened_is_built_again()
    {
        WriteScenario();
        var removed = 0;
        // Only this test's query sees the hook (it flows with the async context).
        LocalTrailEngine.ParsedCache.BeforeAttach.Value = path =>
        {
            if (Interlocked.Increment(ref removed) == 1) File.Delete(path);
        };
        try
        {
            var rows = await Run("InstanceActivity", ("InstanceId", Instance));
            Assert.Equal(5, rows.Count);
            Assert.Equal(2, removed);
        }
        finally
        {
            LocalTrailEngine.ParsedCache.BeforeAttach.Value = null;
        }
    }

    [Fact]
    public async Task The_stolen_credential_templates_answer_locally()
    {
        WriteScenario();

        var elsewhere = await Run("InstanceCredentialsUsedElsewhere", ("InstanceId", Instance), ("InstanceIp", "54.1.2.3"));
        var call = Assert.Single(elsewhere);
        Assert.Equal(new[] { "eventtime", "sourceipaddress", "arn", "accesskeyid", "eventsource", "eventname", "awsregion", "errorcode", "useragent" }, call.Columns);
        Assert.Equal(("45.9.9.9", $"arn:aws:sts::123456789012:assumed-role/Role/{Instance}", "GetCallerIdentity"),
            ((string)call.Values[1]!, (string)call.Values[2]!, (string)call.Values[5]!));
        // Without the instance's own address every call of the session is listed, and nobody else's.
        Assert.Equal(8, (await Run("InstanceCredentialsUsedElsewhere", ("InstanceId", Instance))).Count);

        var objects = await Run("InstanceCredentialS3Objects", ("InstanceId", Instance));
        Assert.Equal(new[] { ("PutObject", "loot", "a/secrets.txt"), ("PutObject", "loot", "b/db.dump") },
            objects.Select(r => ((string)r.Values[1]!, (string)r.Values[2]!, (string)r.Values[3]!)).ToArray());
    }

    [Fact]
    public async Task The_workshop_sql_runs_verbatim_and_maps_come_back_as_dictionaries()
    {
        WriteScenario();
        var rows = await RunSql($"""
            select useridentity.principalid, eventname, eventsource, requestparameters
                from EDS_ID
                where useridentity.principalid like '%:{Instance}'
                and eventsource = 's3.amazonaws.com'
                and eventname = 'PutObject'
            """, new List<QueryNotice>());
        Assert.Equal(2, rows.Count);
        var map = Assert.IsAssignableFrom<System.Collections.IDictionary>(rows[1].Values[3]);
        Assert.Equal("b/db.dump", map["key"]);
        Assert.Equal("{\"n\":1}", map["nested"]);

        var raw = await RunSql("select count(*) as total, max(eventtime) as last, bool_or(readonly) as anyread from EDS_ID", new List<QueryNotice>(), raw: true);
        Assert.Equal(new object?[] { "11", "2026-11-02 10:00:00.000", "true" }, raw[0].Values);
    }

    [Fact]
    public async Task A_malformed_file_is_reported_and_skipped_and_the_rest_answers()
    {
        WriteScenario();
        File.WriteAllText(Path.Combine(_root, "broken.json"), "{\"Records\":[{\"eventVersion\":");
        var notices = new List<QueryNotice>();
        var rows = await RunSql("select count(*) from EDS_ID", notices);
        Assert.Equal(11L, rows.Single().Values[0]);
        var notice = Assert.Single(notices);
        Assert.Equal("TrailFileMalformed", notice.Id);
        Assert.EndsWith("broken.json", notice.Target);
    }

    [Fact]
    public async Task Records_without_a_principal_and_old_event_versions_are_kept()
    {
        WriteScenario();
        var rows = await RunSql("select eventversion, count(*) from EDS_ID where useridentity.principalid is null group by eventversion", new List<QueryNotice>());
        Assert.Equal("1.06", Assert.Single(rows).Values[0]);
        var versions = await RunSql("select distinct eventversion from EDS_ID order by 1", new List<QueryNotice>());
        Assert.Equal(new[] { "1.05", "1.06", "1.07", "1.08", "1.09", "1.10", "1.11" }, versions.Select(r => (string)r.Values[0]!).ToArray());
    }

    [Fact]
    public async Task Parsed_fields_are_reused_until_a_file_changes_and_skipped_files_are_reported_each_time()
    {
        WriteScenario();
        File.WriteAllText(Path.Combine(_root, "broken.json"), "{\"Records\":[{\"eventVersion\":");
        var first = new List<QueryNotice>();
        Assert.Equal(11L, (await RunSql("select count(*) from EDS_ID", first)).Single().Values[0]);
        var second = new List<QueryNotice>();
        Assert.Equal(11L, (await RunSql("select count(*) from EDS_ID", second)).Single().Values[0]);
        Assert.Equal(first.Select(n => n.Target), second.Select(n => n.Target));

        // A new record in one file: a different key, so the files are parsed again.
        TrailLogWriter.Write(Path.Combine(_root, "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/02/b.json"), new[]
        {
            TrailLogWriter.Record("1.08", "AIDAUSER", "iam.amazonaws.com", "CreateUser", false),
            TrailLogWriter.Record("1.08", "AIDAUSER", "iam.amazonaws.com", "DeleteUser", false),
        }, gzip: false);
        Assert.Equal(10L, (await RunSql("select count(*) from EDS_ID", new List<QueryNotice>())).Single().Values[0]);
    }

    [Fact]
    public async Task A_file_malformed_after_whole_batches_is_left_out_whole()
    {
        // More records than one batch holds, then garbage: the batches already loaded must go again.
        var good = Enumerable.Range(0, 3).Select(_ => TrailLogWriter.Record("1.08", "AIDAUSER", "iam.amazonaws.com", "ListRoles", true)).ToArray();
        TrailLogWriter.Write(Path.Combine(_root, "a.json"), good, gzip: false);
        var record = System.Text.Json.JsonSerializer.Serialize(TrailLogWriter.Record("1.08", "AIDAUSER", "s3.amazonaws.com", "GetObject", true));
        var count = TrailTableLoader.BatchRows * 2 + 5;
        File.WriteAllText(Path.Combine(_root, "b.json"), "{\"Records\":[" + string.Join(",", Enumerable.Repeat(record, count)) + ",{\"eventName\":");
        TrailLogWriter.Write(Path.Combine(_root, "c.json"), good, gzip: false);
        var notices = new List<QueryNotice>();

        var rows = await RunSql("select eventname, count(*) from EDS_ID group by eventname order by 1", notices);

        Assert.Equal(new[] { ("ListRoles", 6L) }, rows.Select(r => ((string)r.Values[0]!, (long)r.Values[1]!)).ToArray());
        Assert.EndsWith("b.json", Assert.Single(notices).Target);
    }

    [Fact]
    public async Task Rows_keep_the_order_of_the_files_and_of_their_records()
    {
        // Many files parsed side by side, each with enough records to be handed on in several batches.
        var expected = new List<string>();
        for (var f = 0; f < 6; f++)
        {
            var names = Enumerable.Range(0, f % 2 == 0 ? TrailTableLoader.BatchRows + 100 : 7).Select(i => $"Call{f}x{i}").ToList();
            TrailLogWriter.Write(Path.Combine(_root, $"f{f}.json.gz"), names.Select(n => TrailLogWriter.Record("1.08", "AIDAUSER", "iam.amazonaws.com", n, true)), gzip: true);
            expected.AddRange(names);
        }

        var rows = await RunSql("select eventname from EDS_ID", new List<QueryNotice>());

        Assert.Equal(expected, rows.Select(r => (string)r.Values[0]!));
    }

    [Fact]
    public async Task Struct_fields_parsed_alone_answer_as_the_whole_struct_does()
    {
        WriteScenario();
        var narrow = await RunSql("select useridentity.arn, useridentity.sessioncontext.sessionissuer.username, \"useridentity\".principalid from EDS_ID", new List<QueryNotice>());
        var whole = await RunSql("select useridentity from EDS_ID", new List<QueryNotice>());
        Assert.Equal(11, narrow.Count);
        Assert.Equal(whole.Select(r =>
            {
                var u = (IDictionary<string, object?>)r.Values[0]!;
                var issuer = ((IDictionary<string, object?>)((IDictionary<string, object?>)u["sessioncontext"]!)["sessionissuer"]!)["username"];
                return (u["arn"], issuer, u["principalid"]);
            }),
            narrow.Select(r => (r.Values[0], r.Values[1], r.Values[2])));
        Assert.Contains(narrow, r => (string?)r.Values[1] == "Role");
        // The fields not parsed are still in the struct, as NULL.
        var other = await RunSql("select useridentity.principalid, useridentity.invokedby from EDS_ID where useridentity.invokedby is null", new List<QueryNotice>());
        Assert.Equal(11, other.Count);
    }

    [Fact]
    public async Task Empty_escaped_and_non_ascii_text_survive_the_load()
    {
        File.WriteAllText(Path.Combine(_root, "t.json"),
            "{\"Records\":[{\"eventName\":\"\",\"eventSource\":\"a\\\"b\\u00e9\\n\",\"awsRegion\":\"\u65e5\u672c\",\"errorCode\":null,\"userAgent\":12.50," +
            "\"readOnly\":\"true\",\"eventTime\":\"2026-11-01T10:00:00.1234567Z\",\"requestParameters\":\"text\"}]}");

        var row = Assert.Single(await RunSql("select eventname, eventsource, awsregion, errorcode, useragent, readonly, eventtime, requestparameters from EDS_ID", new List<QueryNotice>()));

        Assert.Equal(new object?[] { "", "a\"b\u00e9\n", "\u65e5\u672c", null, "12.50", true, new DateTime(2026, 11, 1, 10, 0, 0, DateTimeKind.Utc).AddTicks(1234560), null }, row.Values);
    }

    [Fact]
    public async Task A_failing_query_says_why()
    {
        WriteScenario();
        var e = await Assert.ThrowsAsync<GuardDutyIRException>(() => RunSql("select nosuchcolumn from EDS_ID", new List<QueryNotice>()));
        Assert.Equal("QueryFailed", e.ErrorId);
        Assert.Contains("nosuchcolumn", e.Message);
    }

    [Fact]
    public void A_missing_native_library_is_named_as_what_it_is_wherever_the_loader_reports_it()
    {
        var missing = LocalTrailEngine.EngineMissing(new DllNotFoundException("Unable to load shared library 'duckdb'"));
        Assert.Equal("LocalQueryEngineUnavailable", missing!.ErrorId);
        Assert.Equal(ErrorKind.ResourceUnavailable, missing.Kind);
        Assert.IsType<DllNotFoundException>(missing.InnerException);
        // A static constructor that touched the library first wraps the loader's error.
        var wrapped = LocalTrailEngine.EngineMissing(new TypeInitializationException("DuckDB.NET.Native.NativeMethods", new DllNotFoundException("duckdb")));
        Assert.Equal("LocalQueryEngineUnavailable", wrapped!.ErrorId);
        Assert.Null(LocalTrailEngine.EngineMissing(new InvalidOperationException("something else")));
    }
}
