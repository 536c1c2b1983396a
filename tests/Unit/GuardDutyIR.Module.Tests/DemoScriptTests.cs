using System.Diagnostics;
using System.Text;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The README's main job, the demo host running examples/Demo.ps1, as a user runs it: it plays both workshop scenarios
/// to the end, and its output reads like a pwsh session. On a terminal progress is one status line drawn in place and
/// gone before the next output; into a file or a pipe there is no progress at all.
/// </summary>
public sealed class DemoScriptTests
{
    // Progress the demo is known to report: quarantine, snapshots, the guarded terminate and Lake queries.
    private static readonly string[] ProgressTexts = { "Quarantining instances", "Snapshots of i-", "Terminate i-", "QUEUED" };

    [Fact]
    public void Redirected_the_demo_plays_both_scenarios_and_shows_no_progress()
    {
        var (exitCode, output) = RunDemo(throughTerminal: false);

        Assert.True(exitCode == 0, output);
        Assert.Contains("== Scenario 2 on Athena over the CloudTrail table ==", output);
        // Scenario 2 ends as the issue's runbook does: credentials revoked, IMDSv2 required, evidence, then the terminate.
        Assert.Matches(@"RoleArn\s+: arn:aws:iam::\d{12}:role/GuardDuty-Example-EC2-Compromised\s+Status\s+: Revoked", output);
        Assert.Matches(@"HttpTokens\s+: required", output);
        Assert.Matches(@"== Scenario 2: New-ForensicSnapshot -Wait of i-[0-9a-f]+, then the guarded terminate ==", output);
        Assert.Matches(@"Action\s+: Terminate\s+PreviousState\s+: \w+\s+State\s+: terminated", output);
        // Scenario 1's automatic path: the rule's e-mail, and the handler's answer from the Runtime API.
        Assert.Contains("may be compromised and should be investigated", output);
        Assert.Matches(@"status\s+: Isolated", output);
        Assert.Contains("The Labs are stopped.", output);
        // It ends with the case: the report of both scenarios, the evidence bundle and both journals checked, and says where they are.
        var report = System.Text.RegularExpressions.Regex.Match(output, @"The report of both scenarios: (\S+\.html)").Groups[1].Value;
        try
        {
            Assert.True(File.Exists(report), output);
            var html = File.ReadAllText(report);
            Assert.Contains("GuardDuty workshop: scenarios 1 and 2", html);
            Assert.Contains("Calls of i-", html);                                   // scenario 2's CloudTrail calls
            Assert.Contains("Set-InstanceQuarantine", html);                         // scenario 1's containment
            Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
            Assert.Matches(@"Valid\s+: True\s+Files\s+: \d+", output);           // Test-GdCaseEvidence
            Assert.Matches(@"Valid\s+: True\s+Entries\s+: \d+\s+SignedEntries", output);   // Test-GdCaseJournal
            Assert.Matches(@"The handler's case report:\s+\S+GD-[0-9a-f]+-report\.html", output);
        }
        finally
        {
            RemoveDemoCase(output);
        }
        Assert.DoesNotContain('\r', output);
        foreach (var text in ProgressTexts) Assert.DoesNotContain(text, output);
    }

    [PseudoTerminalFact]
    public void On_a_terminal_progress_is_a_status_line_that_leaves_nothing_behind()
    {
        var (exitCode, raw) = RunDemo(throughTerminal: true);

        Assert.True(exitCode == 0, raw);
        // The status lines were drawn...
        Assert.Contains(ProgressTexts, t => raw.Contains("\r" + t, StringComparison.Ordinal));
        // ...and what stays on the screen, once each carriage return has overwritten its line, holds none of them.
        RemoveDemoCase(raw);
        var screen = Screen(raw);
        Assert.Contains("The Labs are stopped.", screen);
        foreach (var text in ProgressTexts) Assert.DoesNotContain(screen, line => line.Contains(text, StringComparison.Ordinal));
    }

    /// <summary>The demo keeps its case folder for the user to open; a test does not.</summary>
    private static void RemoveDemoCase(string output)
    {
        var folder = System.Text.RegularExpressions.Regex.Match(output, System.Text.RegularExpressions.Regex.Escape(Path.GetTempPath()) + @"GuardDutyIR-demo-case-\d+").Value;
        if (folder.Length > 0 && Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    private static (int ExitCode, string Output) RunDemo(bool throughTerminal)
    {
        var command = $"dotnet exec '{ModuleLayout.DemoHostDll}'";
        var start = throughTerminal
            ? new ProcessStartInfo("/usr/bin/script", new[] { "-qefc", command, "/dev/null" })
            : new ProcessStartInfo("dotnet", new[] { "exec", ModuleLayout.DemoHostDll });
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = throughTerminal;
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        start.Environment["TERM"] = "xterm";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("The demo did not finish within 3 minutes.");
        }
        return (process.ExitCode, output.Result + errors.Result);
    }

    // What a terminal shows: within a line, text after a carriage return overwrites the text before it.
    private static List<string> Screen(string raw)
    {
        var lines = new List<string>();
        foreach (var line in raw.Replace("\r\n", "\n").Split('\n'))
        {
            var cells = new StringBuilder();
            var column = 0;
            foreach (var c in line)
            {
                if (c == '\r') { column = 0; continue; }
                if (column < cells.Length) cells[column] = c; else cells.Append(c);
                column++;
            }
            lines.Add(cells.ToString().TrimEnd());
        }
        return lines;
    }
}

/// <summary>A test that needs util-linux's <c>script</c> to run a program on a pseudo-terminal; skipped, saying so, where it is missing.</summary>
public sealed class PseudoTerminalFactAttribute : FactAttribute
{
    public PseudoTerminalFactAttribute()
    {
        if (!File.Exists("/usr/bin/script")) Skip = "needs util-linux 'script' (/usr/bin/script) to give the demo a pseudo-terminal";
    }
}
