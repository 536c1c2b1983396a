using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Engine.Tests;

/// <summary>One SQL text for Lake, Athena and DuckDB; templates whose parameters cannot change the query.</summary>
public sealed class QueryTranslationTests
{
    private const string Workshop4 = """
        select useridentity.principalid, eventname, eventsource, requestparameters
            from EDS_ID
            where useridentity.principalid like '%:i-0123456789abcdef0'
            and eventsource = 's3.amazonaws.com'
            and eventname = 'PutObject'
        """;

    [Fact]
    public void The_table_placeholder_is_resolved_per_backend_and_nothing_else_moves()
    {
        Assert.Contains("from 0123abcd-0123-0123-0123-0123456789ab\n", QueryTranslator.Translate(Workshop4, QueryBackend.Lake, "0123abcd-0123-0123-0123-0123456789ab"));
        Assert.Contains("from \"default\".\"cloudtrail_logs\"\n", QueryTranslator.Translate(Workshop4, QueryBackend.Athena, "\"default\".\"cloudtrail_logs\""));
        var local = QueryTranslator.Translate(Workshop4, QueryBackend.Local, "cloudtrail");
        Assert.Equal(Workshop4.Replace("EDS_ID", "cloudtrail"), local);
    }

    [Fact]
    public void An_event_data_store_id_or_arn_in_FROM_is_resolved_too()
    {
        const string sql = "select count(*) from 0123abcd-0123-0123-0123-0123456789ab where eventname = 'EDS_ID'";
        var athena = QueryTranslator.Translate(sql, QueryBackend.Athena, "cloudtrail_logs", new[] { "0123abcd-0123-0123-0123-0123456789ab" });
        Assert.Equal("select count(*) from cloudtrail_logs where eventname = 'EDS_ID'", athena);
    }

    [Fact]
    public void Athena_gets_string_readonly_json_extraction_and_parsed_times()
    {
        const string sql = "select element_at(requestparameters, 'bucketName') as bucket from EDS_ID where readonly=true and readonly <> false and eventtime >= timestamp '2026-11-01 00:00:00'";
        var athena = QueryTranslator.Translate(sql, QueryBackend.Athena, "cloudtrail_logs");
        Assert.Equal("select json_extract_scalar(requestparameters, '$.bucketName') as bucket from cloudtrail_logs where readonly='true' and readonly <> 'false' and from_iso8601_timestamp(eventtime) >= timestamp '2026-11-01 00:00:00'", athena);
    }

    [Fact]
    public void DuckDB_reads_map_elements_with_subscripts()
    {
        var local = QueryTranslator.Translate("select element_at(requestparameters, 'key') k, element_at(split(x, ','), 1) from EDS_ID", QueryBackend.Local, "cloudtrail");
        Assert.Equal("select (requestparameters)['key'] k, (split(x, ','))[1] from cloudtrail", local);
    }

    [Theory]
    [InlineData("delete from EDS_ID")]
    [InlineData("select 1; drop table x")]
    [InlineData("select * from read_json('/etc/passwd')")]
    [InlineData("COPY (select 1) TO '/tmp/x'")]
    [InlineData("")]
    [InlineData("select 'unterminated from EDS_ID")]
    public void Anything_but_one_select_is_refused(string sql)
    {
        var e = Assert.Throws<GuardDutyIRException>(() => QueryTranslator.Translate(sql, QueryBackend.Local, "cloudtrail"));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    // The early, readable refusal: quoted function names, query() and a file name as a table are caught by the text
    // checks too (the engine refuses them on its own: LocalEngineSandboxTests).
    [Theory]
    [InlineData("select * from \"read_text\"('/etc/passwd')", "QueryFileAccess")]
    [InlineData("select * from \"READ_CSV\" ('/etc/passwd')", "QueryFileAccess")]
    [InlineData("select * from query('select * from read_csv(''/etc/passwd'')')", "QueryFileAccess")]
    [InlineData("select * from '/etc/passwd'", "QueryFileAccess")]
    [InlineData("select * from EDS_ID join 'https://example.com/x.csv' on true", "QueryFileAccess")]
    [InlineData("select * from read_csv_auto('/etc/passwd')", "QueryFileAccess")]
    [InlineData("select * from sniff_csv('/etc/passwd')", "QueryFileAccess")]
    [InlineData("select * from glob('/*')", "QueryFileAccess")]
    [InlineData("select 1; select 2", "QueryMultipleStatements")]
    [InlineData("pragma database_list", "QueryNotSelect")]
    public void File_readers_under_any_spelling_are_refused_early(string sql, string errorId)
    {
        var e = Assert.Throws<GuardDutyIRException>(() => QueryTranslator.Validate(sql));
        Assert.Equal(errorId, e.ErrorId);
    }

    [Theory]
    [InlineData("select eventname as query, 'glob' as glob from EDS_ID where eventsource in ('a', 'b')")]
    [InlineData("select count(*) as read_text from EDS_ID t1 join EDS_ID t2 on t1.eventid = t2.eventid")]
    public void Columns_and_literals_named_like_readers_are_fine(string sql) => QueryTranslator.Validate(sql);

    [Fact]
    public void Literals_and_comments_are_never_rewritten()
    {
        const string sql = "select 'readonly=true element_at(a,b) from EDS_ID' -- from EDS_ID\nfrom EDS_ID";
        Assert.Equal("select 'readonly=true element_at(a,b) from EDS_ID' -- from EDS_ID\nfrom t", QueryTranslator.Translate(sql, QueryBackend.Athena, "t"));
    }

    [Fact]
    public void Workshop_templates_render_the_workshop_sql_with_the_instance_embedded()
    {
        var sql = QueryTemplates.Render(QueryTemplates.Get("InstanceReadOnlyCalls"), new Dictionary<string, object?> { ["InstanceId"] = "i-0123456789abcdef0" },
            new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc), null);
        Assert.Contains("where useridentity.principalid like '%:i-0123456789abcdef0'", sql);
        Assert.Contains("and readonly=true", sql);
        Assert.Contains("and eventtime >= timestamp '2026-11-01 00:00:00'", sql);
        Assert.Equal(11, QueryTemplates.All.Count);
    }

    // Each value tries to break out of its literal, comment out the rest, or widen a LIKE.
    public static IEnumerable<object[]> Injections() => new[]
    {
        new object[] { "InstanceActivity", "InstanceId", "i-0123456789abcdef0' or '1'='1" },
        new object[] { "InstanceActivity", "InstanceId", "i-0123456789abcdef0'; drop table x; --" },
        new object[] { "InstanceActivity", "InstanceId", "%" },
        new object[] { "InstanceActivity", "InstanceId", "i-%" },
        new object[] { "InstanceActivity", "InstanceId", "i-0123456789abcdef0 --" },
        new object[] { "InstanceActivity", "InstanceId", "I-0123456789ABCDEF0" },
        new object[] { "InstanceActivity", "InstanceId", "i-0123456789abcdef0\n or 1=1" },
        new object[] { "InstanceActivity", "InstanceId", "i-0123456789abcdef0/*" },
        new object[] { "InstanceActivity", "InstanceId", "" },
        new object[] { "InstanceActivity", "InstanceId", new object[] { "i-0123456789abcdef0", "i-00000000" } },
        new object[] { "InstanceCredentialExfiltration", "KnownIp", "1.2.3.4') or ('1'='1" },
        new object[] { "InstanceCredentialExfiltration", "KnownIp", new object[] { "1.2.3.4", "5.6.7.8'--" } },
        new object[] { "InstanceCredentialExfiltration", "KnownIp", "1.2.3" },
        new object[] { "InstanceCredentialExfiltration", "KnownIp", "localhost" },
        new object[] { "InstanceS3Uploads", "InstanceId", "i-abc\u0000" },
        new object[] { "InstanceCredentialsUsedElsewhere", "InstanceIp", "10.0.0.1' or 'a'='a" },
        new object[] { "InstanceCredentialsUsedElsewhere", "InstanceId", "i-0123456789abcdef0%" },
        new object[] { "InstanceCredentialS3Objects", "InstanceId", "i-0123456789abcdef0' --" },
        new object[] { "InstanceS3Uploads", "Bucket", "anything" },
    };

    [Theory]
    [MemberData(nameof(Injections))]
    public void Injection_attempts_through_template_parameters_are_rejected(string template, string parameter, object value)
    {
        var parameters = new Dictionary<string, object?> { [parameter] = value };
        if (parameter != "InstanceId") parameters["InstanceId"] = "i-0123456789abcdef0";
        var e = Assert.Throws<GuardDutyIRException>(() => QueryTemplates.Render(QueryTemplates.Get(template), parameters, null, null));
        Assert.True(e.ErrorId is "InvalidTemplateParameter" or "UnknownTemplateParameter", e.ErrorId);
    }

    [Fact]
    public void A_valid_ip_list_becomes_literals_and_a_missing_instance_is_named()
    {
        var sql = QueryTemplates.Render(QueryTemplates.Get("InstanceCredentialExfiltration"),
            new Dictionary<string, object?> { ["InstanceId"] = "i-0123456789abcdef0", ["KnownIp"] = new object[] { "203.0.113.9", "2001:db8::1" } }, null, null);
        Assert.Contains("and sourceipaddress not in ('203.0.113.9', '2001:db8::1')", sql);
        var e = Assert.Throws<GuardDutyIRException>(() => QueryTemplates.Render(QueryTemplates.Get("InstanceActivity"), new Dictionary<string, object?>(), null, null));
        Assert.Equal("MissingTemplateParameter", e.ErrorId);
        var w = Assert.Throws<GuardDutyIRException>(() => QueryTemplates.Render(QueryTemplates.Get("NetworkChanges"), new Dictionary<string, object?>(), DateTime.UtcNow, DateTime.UtcNow.AddDays(-1)));
        Assert.Equal("InvalidTimeWindow", w.ErrorId);
    }

    [Fact]
    public void The_stolen_credential_templates_embed_the_instance_and_translate_for_every_backend()
    {
        var elsewhere = QueryTemplates.Render(QueryTemplates.Get("InstanceCredentialsUsedElsewhere"),
            new Dictionary<string, object?> { ["InstanceId"] = "i-0123456789abcdef0", ["InstanceIp"] = new object[] { "10.0.1.5", "54.1.2.3" } },
            new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc), null);
        Assert.Contains("where (useridentity.principalid like '%:i-0123456789abcdef0' or useridentity.arn like '%/i-0123456789abcdef0')", elsewhere);
        Assert.Contains("and sourceipaddress not in ('10.0.1.5', '54.1.2.3')", elsewhere);
        Assert.DoesNotContain("{", elsewhere);
        var without = QueryTemplates.Render(QueryTemplates.Get("InstanceCredentialsUsedElsewhere"), new Dictionary<string, object?> { ["InstanceId"] = "i-0123456789abcdef0" }, null, null);
        Assert.DoesNotContain("not in", without);

        var s3 = QueryTemplates.Render(QueryTemplates.Get("InstanceCredentialS3Objects"), new Dictionary<string, object?> { ["InstanceId"] = "i-0123456789abcdef0" }, null, null);
        Assert.Contains("eventname in ('GetObject', 'PutObject'", s3);

        foreach (var sql in new[] { elsewhere, s3 })
        {
            Assert.Contains("from eds-1\n", QueryTranslator.Translate(sql, QueryBackend.Lake, "eds-1"));
            var athena = QueryTranslator.Translate(sql, QueryBackend.Athena, "cloudtrail_logs");
            Assert.Contains("from cloudtrail_logs\n", athena);
            Assert.DoesNotContain("element_at", athena);
            var local = QueryTranslator.Translate(sql, QueryBackend.Local, "cloudtrail");
            Assert.DoesNotContain("element_at", local);
        }
        Assert.Contains("from_iso8601_timestamp(eventtime) >= timestamp '2026-11-01 00:00:00'", QueryTranslator.Translate(elsewhere, QueryBackend.Athena, "t"));
        Assert.Contains("json_extract_scalar(requestparameters, '$.bucketName') as bucket", QueryTranslator.Translate(s3, QueryBackend.Athena, "t"));
        Assert.Contains("(requestparameters)['key'] as key", QueryTranslator.Translate(s3, QueryBackend.Local, "t"));
    }
}
