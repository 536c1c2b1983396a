using System.Text.RegularExpressions;
using GuardDutyIR.Engine.Cases;
using GuardDutyIR.Engine.Cases.Report;
using Markdig;
using Markdig.Extensions.Tables;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// The case report's two renderings from a real case folder: hostile values stay text, no secret gets through, and
/// the timeline has one mark per event.
/// </summary>
public sealed class CaseReportTests : IDisposable
{
    private const string ScriptTitle = "<script>alert(1)</script>";
    private const string HostileKey = "uploads/\"><img src=x onerror=alert(2)>";
    private const string SessionToken = "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQDexampleexampleexample";
    private const string SecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    private readonly string _root = Directory.CreateTempSubdirectory("gdir-report-").FullName;
    private readonly CaseHandle _case;
    private static readonly DateTime Start = new(2026, 11, 5, 9, 0, 0, DateTimeKind.Utc);

    public CaseReportTests()
    {
        var store = new CaseStore(Path.Combine(_root, "cases"), Path.Combine(_root, "keys"));
        _case = store.Open("IR-7", create: true, "Exfiltration | `web` tier");
        Info = store.Describe(_case);
    }

    private GdCase Info { get; }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static GdFinding Finding() => new()
    {
        Id = "f00dfeed",
        Type = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        Severity = 8.9,
        Title = ScriptTitle,
        Description = "Backdoor:EC2/C&CActivity.B | `x`",
        InstanceId = "i-0123456789abcdef0",
        AccountId = "111122223333",
        Region = "us-east-1",
        Count = 3,
        FirstSeen = Start.AddMinutes(30),
        LastSeen = Start.AddMinutes(150),
    };

    /// <summary>A case with three changes (one failed), a skip, an artifact with a hostile name, 120 CloudTrail calls and an aggregate table.</summary>
    private CaseReport Report(int calls = 120)
    {
        var journal = _case.Journal;
        journal.Append(new JournalDraft(JournalEntryKinds.Case, "Start-GdCase", "Opened") { Target = "IR-7" });
        journal.Append(new JournalDraft(JournalEntryKinds.Change, "Set-InstanceQuarantine", "Quarantined")
        {
            Target = "i-0123456789abcdef0", Region = "us-east-1", RequestIds = new[] { "req-1", "req-2" },
            Parameters = new System.Text.Json.Nodes.JsonObject { ["Credential"] = "(given)", ["Note"] = "sessionToken=" + SessionToken },
        });
        journal.Append(new JournalDraft(JournalEntryKinds.Change, "New-ForensicSnapshot", "completed")
        {
            Target = "vol-0aaa", Region = "us-east-1", RequestIds = new[] { "req-3" },
            Result = CaseRecords.ToJson(new { SnapshotId = "snap-0123", VolumeId = "vol-0aaa", InstanceId = "i-0123456789abcdef0", State = "completed" }),
        });
        journal.Append(new JournalDraft(JournalEntryKinds.Change, "Set-GdFinding", "Failed") { Target = "f00dfeed", Detail = "AccessDenied: <b>no</b>" });
        journal.Append(new JournalDraft(JournalEntryKinds.Skip, "Set-InstanceQuarantine", "Quarantined") { Target = "i-0123456789abcdef0" });
        journal.Append(new JournalDraft(JournalEntryKinds.Artifact, "Save-InstanceEvidence", "Saved")
        {
            Target = "i-0123456789abcdef0",
            Artifacts = new[] { CaseRecords.Artifact(HostileKey, "evidence"u8) },
        });

        var builder = new CaseReportBuilder();
        builder.AddFinding(Finding());
        var columns = new[] { "eventtime", "eventsource", "eventname", "sourceipaddress", "key", "responseelements" };
        for (var i = 0; i < calls; i++)
        {
            builder.AddRow(null, columns, new object?[]
            {
                Start.AddSeconds(i * 47), i % 3 == 0 ? "s3.amazonaws.com" : i % 3 == 1 ? "iam.amazonaws.com" : "ec2.amazonaws.com",
                i % 5 == 0 ? "PutObject" : "ListBuckets", "198.51.100.7", i == 0 ? HostileKey : "a|b`c",
                i == 1 ? $"{{credentials={{accessKeyId=ASIAEXAMPLE, secretAccessKey={SecretKey}, sessionToken={SessionToken}}}}}" : null,
            });
        }
        builder.AddRow("Calls by name", new[] { "eventname", "total" }, new object?[] { "ListBuckets", 96L });
        builder.AddRow(null, new[] { "sessionToken", "note" }, new object?[] { SessionToken, "ok" });
        return builder.Build(_case, Info, null, Start.AddDays(27));
    }

    private static int Count(string text, string what) => Regex.Matches(text, Regex.Escape(what)).Count;

    [Fact]
    public void Hostile_values_are_encoded_in_the_HTML_and_the_page_has_no_script_and_no_outside_reference()
    {
        var html = HtmlReportWriter.Render(Report());
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<b>no</b>", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html);
        Assert.Contains("uploads/&quot;&gt;&lt;img src=x onerror=alert(2)&gt;", html);
        Assert.Contains("C&amp;CActivity.B", html);
        // Self-contained: nothing that names or loads another resource, and a policy that forbids loading one.
        foreach (var outside in new[] { "://", "url(", "@import", "<link", "<iframe", "<object", "<embed", " href=\"//", " src=" })
            Assert.DoesNotContain(outside, Regex.Replace(html, "&lt;.*?&gt;", ""), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">", html);
    }

    [Fact]
    public void The_timeline_has_one_mark_per_change_per_CloudTrail_call_and_per_sighting()
    {
        var report = Report();
        var html = HtmlReportWriter.Render(report);
        Assert.Equal(3, report.Journal.Count(e => e.Kind == JournalEntryKinds.Change));
        Assert.Equal(3, Count(html, "data-kind=\"action\""));
        Assert.Equal(1, Count(html, "data-kind=\"skip\""));
        Assert.Equal(120, Count(html, "data-kind=\"cloudtrail\""));
        Assert.Equal(2, Count(html, "data-kind=\"finding\""));
        Assert.Equal(1, Count(html, "class=\"mark failed\" data-kind=\"action\""));
        // The aggregate table (counts by name) is a table, not events.
        Assert.Single(report.CloudTrailTables);
        Assert.Contains("<h3>Calls by name <small>(1 row)</small></h3>", html);
        Assert.Contains("<h3>CloudTrail events <small>(120 rows)</small></h3>", html);
        // The snapshot the journal's result names.
        Assert.Equal("snap-0123", Assert.Single(report.Snapshots).SnapshotId);
    }

    [Fact]
    public void No_secret_reaches_either_file()
    {
        var report = Report();
        foreach (var text in new[] { HtmlReportWriter.Render(report), MarkdownReportWriter.Render(report) })
        {
            Assert.DoesNotContain(SessionToken, text);
            Assert.DoesNotContain(SessionToken[..20], text);
            Assert.DoesNotContain(SecretKey, text);
            Assert.DoesNotContain(SecretKey.Replace("/", "\\/"), text);
            Assert.Contains("ASIAEXAMPLE", text.Replace("\\", ""));
            Assert.Contains(ReportRedaction.Redacted, text);
        }
    }

    [Fact]
    public void Markdown_cells_keep_their_table_and_hostile_values_stay_text()
    {
        var markdown = MarkdownReportWriter.Render(Report());
        var pipeline = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();
        var document = Markdig.Markdown.Parse(markdown, pipeline);
        var tables = document.Descendants<Table>().ToList();
        Assert.True(tables.Count >= 6, $"{tables.Count} tables");
        foreach (var table in tables)
        {
            var width = ((TableRow)table[0]).Count;
            Assert.All(table.Cast<TableRow>(), row => Assert.Equal(width, row.Count));
        }
        Assert.Empty(document.Descendants<HtmlInline>());
        Assert.Empty(document.Descendants<HtmlBlock>());
        Assert.Empty(document.Descendants<CodeInline>());
        var rendered = Markdig.Markdown.ToHtml(markdown, pipeline);
        Assert.DoesNotContain("<script", rendered, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", rendered, StringComparison.OrdinalIgnoreCase);
        // The values read as they were: escapes are undone by any Markdown reader.
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", rendered);
        Assert.Contains("a|b`c", System.Net.WebUtility.HtmlDecode(rendered));
        Assert.Contains(">Exfiltration | `web` tier</h1>", System.Net.WebUtility.HtmlDecode(rendered));
    }

    [Fact]
    public void Rows_of_one_query_that_leave_out_null_cells_form_one_table_and_the_next_query_its_own()
    {
        // CloudTrail Lake leaves a row's null cells out: the second row has an error code, the others have none.
        var builder = new CaseReportBuilder();
        builder.AddRow(null, new[] { "eventtime", "eventname", "arn" }, new object?[] { Start, "ListBuckets", "arn:1" });
        builder.AddRow(null, new[] { "eventtime", "eventname", "errorcode", "arn" }, new object?[] { Start, "ListUsers", "AccessDenied", "arn:2" });
        builder.AddRow(null, new[] { "eventtime", "eventname" }, new object?[] { Start, "GetCallerIdentity" });
        builder.AddRow(null, new[] { "eventtime", "eventname", "responseelements" }, new object?[] { Start, "AssumeRole", "{}" });
        builder.AddRow(null, new[] { "eventtime", "eventname", "arn" }, new object?[] { Start, "ListRoles", "arn:3" });
        var tables = builder.Build(_case, Info, null, Start).Tables;
        Assert.Equal(2, tables.Count);
        Assert.Equal(new[] { "eventtime", "eventname", "errorcode", "arn" }, tables[0].Columns);
        Assert.Equal(new object?[] { Start, "ListBuckets", null, "arn:1" }, tables[0].Rows[0]);
        Assert.Equal(new object?[] { Start, "ListUsers", "AccessDenied", "arn:2" }, tables[0].Rows[1]);
        Assert.Equal(new object?[] { Start, "GetCallerIdentity", null, null }, tables[0].Rows[2]);
        // A later row of the first query's exact shape goes back to its table.
        Assert.Equal(new object?[] { Start, "ListRoles", null, "arn:3" }, tables[0].Rows[3]);
        Assert.Equal("CloudTrail events (2)", tables[1].Name);
    }

    [Fact]
    public void A_long_idle_gap_is_cut_out_of_the_axis_so_each_burst_keeps_its_width()
    {
        // Three hours of calls, then the containment three weeks later.
        var burst = Enumerable.Range(0, 100).Select(i => Start.AddMinutes(i * 1.8));
        var later = Start.AddDays(21);
        var axis = TimeAxis.For(burst.Append(later).Append(later.AddSeconds(40)));
        var gap = Assert.Single(axis.Breaks);
        Assert.True(gap.Gap > TimeSpan.FromDays(20));
        Assert.Equal(2, axis.Segments.Count);
        Assert.True(axis.X(Start.AddMinutes(178)) - axis.X(Start) > 70, "the burst spans most of the width");
        Assert.True(axis.X(later.AddSeconds(40)) - axis.X(later) > 3, "the later events stay apart");
        Assert.True(axis.X(Start.AddMinutes(178)) < gap.X0 && gap.X1 <= axis.X(later));
        // Gaps that are not long compared to the rest stay on the axis.
        Assert.Empty(TimeAxis.For(burst).Breaks);
        // Times no incident has (a row can claim any) neither break the axis nor its ticks.
        var extreme = TimeAxis.For(new[] { DateTime.MinValue, DateTime.MaxValue, Start });
        Assert.NotEmpty(extreme.Ticks(1100));
        Assert.InRange(extreme.X(DateTime.MaxValue), TimeAxis.Left, TimeAxis.Right);
    }

    [Fact]
    public void Control_characters_and_markup_in_a_value_become_safe_text()
    {
        Assert.Equal("a\uFFFDb &lt;i&gt; &quot;q&quot; &#39;s&#39; &amp;", ReportText.Html("a\u0001b <i> \"q\" 's' &"));
        Assert.Equal(@"a\|b \`c\` \<i\> \[l\](u) x y", ReportText.Markdown("a|b `c` <i> [l](u) x\ny"));
    }
}
