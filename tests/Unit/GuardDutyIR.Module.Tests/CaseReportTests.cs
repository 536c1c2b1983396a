using System.Management.Automation;
using System.Text.Json;
using System.Text.RegularExpressions;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;
using Microsoft.Playwright;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// Export-GdCaseReport at the end of a real case against the Lab (a finding, the instance's CloudTrail calls,
/// quarantine and snapshots), and its HTML opened in headless Chromium as a reader opens it: no console error, no
/// request but the file itself, one timeline mark per change and per CloudTrail call. The screenshot and the report
/// are kept in TestResults/CaseReport/.
/// </summary>
public sealed class CaseReportTests : IDisposable
{
    private const string CaseId = "IR-report";
    // If this were not encoded, Chromium would fetch the image (a request) and run the handler (a console error).
    private const string HostileNote = "<img src=\"http://127.0.0.1:9/x.png\" onerror=\"console.error('xss')\"><script>console.error('xss')</script>";

    public static string ArtifactFolder => Path.Combine(TestPaths.RepoRoot, "TestResults", "CaseReport");

    static CaseReportTests() => Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");

    private readonly LabSession _s = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, Seed = 21, SnapshotCompletionSeconds = 1, InstanceTransitionSeconds = 0.5 });
    private readonly string _root = Directory.CreateTempSubdirectory("gdir-casereport-").FullName;

    public void Dispose()
    {
        _s.Run("if (Get-GdCase -Active) { Stop-GdCase }");
        _s.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private sealed record Scenario(string Html, string Markdown, string JournalPath, int CloudTrailRows, string SessionToken);

    /// <summary>The responder's session: open a case, find, investigate, contain, snapshot, report.</summary>
    private Scenario RunCase()
    {
        var instanceId = _s.Lab.World.InvestigatedInstanceId!;
        var eds = _s.Lab.GetService<CloudTrailService>()!.EventDataStoreArn;
        var result = _s.Run("""
            param($root, $keys, $id, $eds, $note)
            $case = Start-GdCase -CaseId IR-report -Title 'Instance credentials used from outside AWS' -CaseRoot (Join-Path $root cases) -KeyRoot (Join-Path $root keys)
            $findings = @(Get-GdFinding -InstanceId $id)
            $calls = @(Invoke-LakeQuery -EventDataStore $eds -Query "select eventtime, eventsource, eventname, sourceipaddress, errorcode, useridentity.arn from EDS_ID where useridentity.principalid like '%:$id' order by eventtime")
            $handedOut = @(Invoke-LakeQuery -EventDataStore $eds -Query "select eventtime, eventsource, eventname, responseelements from EDS_ID where eventname = 'AssumeRole'")
            # The rest of the account's activity, for the wider picture (other columns, so a table of its own).
            $account = @(Invoke-LakeQuery -EventDataStore $eds -Query "select eventtime, useridentity.type, useridentity.arn, eventsource, eventname, awsregion, sourceipaddress from EDS_ID where useridentity.principalid not like '%:$id' and eventname <> 'AssumeRole' order by eventtime")
            $byName = @(Invoke-LakeQuery -EventDataStore $eds -Template InstanceActivity -Parameter @{ InstanceId = $id })
            $quarantine = @(Set-InstanceQuarantine -InstanceId $id -ConversionWaitSeconds 0)
            $snapshots = @($quarantine | New-ForensicSnapshot -Wait)
            $files = @(@($findings) + $calls + $handedOut + $account + $byName + $quarantine + $snapshots + [pscustomobject]@{ note = $note } | Export-GdCaseReport)
            [pscustomobject]@{
                Files = $files.FullName
                Journal = $case.JournalPath
                Findings = $findings.Count
                CloudTrailRows = $calls.Count + $handedOut.Count + $account.Count
                Quarantined = $quarantine.Status -join ','
                Snapshots = $snapshots.Count
                ResponseElements = ($handedOut.responseelements | ForEach-Object { "$_" }) -join "`n"
            }
            """, _root, _root, instanceId, eds, HostileNote);
        Assert.True(result.Terminating is null && result.Errors.Count == 0, result.Terminating?.Message + string.Join("\n", result.Errors));
        var o = Assert.Single(result.Output);
        string P(string name) => o.Properties[name].Value?.ToString() ?? "";
        var files = ((System.Collections.IEnumerable)(o.Properties["Files"].Value is PSObject w ? w.BaseObject : o.Properties["Files"].Value)).Cast<object>().Select(f => f.ToString()!).ToList();
        Assert.Equal(new[] { "IR-report-report.html", "IR-report-report.md" }, files.Select(Path.GetFileName));
        Assert.True(int.Parse(P("Findings")) >= 1, "the Lab has a finding for the instance");
        Assert.Equal("Quarantined", P("Quarantined"));
        Assert.True(int.Parse(P("Snapshots")) >= 1);
        var token = Regex.Match(P("ResponseElements"), "IQoJb3JpZ2lu[A-Za-z0-9+/=]+").Value;
        Assert.True(token.Length > 20, "the AssumeRole event hands out a session token: " + P("ResponseElements"));
        return new Scenario(files[0], files[1], P("Journal"), int.Parse(P("CloudTrailRows")), token);
    }

    [Fact]
    public async Task The_HTML_report_opens_offline_in_Chromium_with_one_mark_per_action_and_per_CloudTrail_call()
    {
        Browser.Executable();
        var scenario = RunCase();
        var journal = File.ReadAllLines(scenario.JournalPath).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var changes = journal.Count(e => e.GetProperty("kind").GetString() == "Change");
        Assert.True(changes >= 1, "Set-InstanceQuarantine journals its change");
        Assert.True(scenario.CloudTrailRows >= 100, $"{scenario.CloudTrailRows} CloudTrail rows");

        // The report is journaled, with the SHA-256 of both files as written.
        var last = journal[^1];
        Assert.Equal("Export-GdCaseReport", last.GetProperty("action").GetString());
        Assert.Equal(new[] { Sha256(scenario.Html), Sha256(scenario.Markdown) },
            last.GetProperty("artifacts").EnumerateArray().Select(a => a.GetProperty("sha256").GetString()));

        // No secret: not the Lab's secret key that signed every call, not the session token CloudTrail recorded.
        foreach (var file in new[] { scenario.Html, scenario.Markdown })
        {
            var text = File.ReadAllText(file);
            Assert.DoesNotContain(_s.Lab.SecretAccessKey, text);
            Assert.DoesNotContain(scenario.SessionToken, text);
            Assert.DoesNotContain(scenario.SessionToken[..16], text);
        }

        Directory.CreateDirectory(ArtifactFolder);
        File.Copy(scenario.Html, Path.Combine(ArtifactFolder, "report.html"), overwrite: true);
        File.Copy(scenario.Markdown, Path.Combine(ArtifactFolder, "report.md"), overwrite: true);

        var page = await Browser.OpenAsync(scenario.Html);
        try
        {
            await page.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ArtifactFolder, "report.png"), FullPage = true });
            // What a reader sees first, without scrolling.
            await page.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ArtifactFolder, "report-top.png") });
            var marks = page.Page.Locator("svg.tl-chart .mark");
            var actions = await marks.And(page.Page.Locator("[data-kind=action]")).CountAsync();
            var calls = await marks.And(page.Page.Locator("[data-kind=cloudtrail]")).CountAsync();
            File.WriteAllText(Path.Combine(ArtifactFolder, "marks.txt"),
                $"action marks: {actions} (journal Change entries: {changes})\ncloudtrail marks: {calls} (CloudTrail rows piped in: {scenario.CloudTrailRows})\n" +
                $"finding marks: {await marks.And(page.Page.Locator("[data-kind=finding]")).CountAsync()}\nhtml bytes: {new FileInfo(scenario.Html).Length}\n" +
                $"markdown bytes: {new FileInfo(scenario.Markdown).Length}\n");
            Assert.Equal(changes, actions);
            Assert.Equal(scenario.CloudTrailRows, calls);
            Assert.Empty(page.ConsoleErrors);
            Assert.Equal(new[] { new Uri(scenario.Html).AbsoluteUri }, page.Requests);
            Assert.True(await page.Page.GetByText("<img src=\"http://127.0.0.1:9/x.png\"", new() { Exact = false }).CountAsync() >= 1, "the hostile note is shown as text");

            // The CSS-only zoom: the 4x button widens the chart (the marks spread, the frame scrolls).
            var chart = page.Page.Locator("svg.tl-chart");
            var before = (await chart.BoundingBoxAsync())!.Width;
            await page.Page.Locator("#timeline").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(ArtifactFolder, "timeline.png") });
            await page.Page.Locator("label[for=tl-z4]").ClickAsync();
            var after = (await chart.BoundingBoxAsync())!.Width;
            Assert.True(after >= 3.9 * before, $"zoom 4x: {before} px -> {after} px");
            await page.Page.Locator("#timeline").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(ArtifactFolder, "timeline-4x.png") });

            // Nothing the zoom did either.
            Assert.Empty(page.ConsoleErrors);
            Assert.Equal(new[] { new Uri(scenario.Html).AbsoluteUri }, page.Requests);
        }
        finally
        {
            await page.DisposeAsync();
        }
    }

    [Fact]
    public void Without_a_case_it_stops_and_for_an_unknown_case_it_writes_nothing()
    {
        var none = _s.Run("Get-GdFinding | Export-GdCaseReport");
        Assert.Equal("NoActiveCase,GuardDutyIR.Commands.ExportGdCaseReportCommand", none.SingleError().FullyQualifiedErrorId);

        var unknown = _s.Run("Export-GdCaseReport -CaseId IR-none -CaseRoot $args[0] -KeyRoot $args[1] -Path $args[2]",
            Path.Combine(_root, "cases"), Path.Combine(_root, "keys"), Path.Combine(_root, "out"));
        Assert.Equal("CaseNotFound,GuardDutyIR.Commands.ExportGdCaseReportCommand", unknown.SingleError().FullyQualifiedErrorId);
        Assert.Equal("IR-none", unknown.SingleError().TargetObject);
        Assert.Empty(unknown.Output);
        Assert.False(Directory.Exists(Path.Combine(_root, "out")));
    }

    private static string Sha256(string file) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file))).ToLowerInvariant();
}

/// <summary>
/// Debian's headless Chromium driven through Playwright's bundled driver, with every console error and every request
/// recorded; a request for anything but a file is aborted, so a faulty report can never reach the network.
/// </summary>
internal sealed class Browser : IAsyncDisposable
{
    public const string DefaultPath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private Browser(IPlaywright playwright, IBrowser browser, IPage page)
    {
        _playwright = playwright;
        _browser = browser;
        Page = page;
    }

    public IPage Page { get; }
    public List<string> ConsoleErrors { get; } = new();
    public List<string> Requests { get; } = new();

    /// <summary>The Chromium to drive: CHROMIUM_PATH, else Debian's. Missing is a failure that says how to install it, never a skip.</summary>
    public static string Executable()
    {
        var path = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } configured ? configured : DefaultPath;
        Assert.True(File.Exists(path),
            $"Chromium is not at {path}: install Debian's chromium package (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH. This test opens the case report in it.");
        return path;
    }

    public static async Task<Browser> OpenAsync(string file)
    {
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Executable(), Headless = true });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var opened = new Browser(playwright, browser, page);
        page.Console += (_, message) => { if (message.Type == "error") opened.ConsoleErrors.Add(message.Text); };
        page.PageError += (_, error) => opened.ConsoleErrors.Add("page error: " + error);
        page.Request += (_, request) => opened.Requests.Add(request.Url);
        await page.RouteAsync("**/*", route => route.Request.Url.StartsWith("file:", StringComparison.Ordinal) ? route.ContinueAsync() : route.AbortAsync());
        await page.GotoAsync(new Uri(file).AbsoluteUri, new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        return opened;
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
