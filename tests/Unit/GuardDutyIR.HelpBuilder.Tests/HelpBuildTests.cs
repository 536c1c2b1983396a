using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace GuardDutyIR.HelpBuilder.Tests;

/// <summary>
/// The builder against the real cmdlet assembly: the repository's help builds, and each way the help can disagree
/// with the code or fall short fails with an error that names the file and the cmdlet, and writes nothing.
/// </summary>
public sealed class HelpBuildTests : IDisposable
{
    private readonly HelpSources _sources = new();

    public void Dispose() => _sources.Dispose();

    private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    private HelpError SingleError(HelpBuildResult result, string code)
    {
        Assert.False(result.Succeeded);
        Assert.Empty(result.Written);
        Assert.False(Directory.Exists(_sources.OutDir) && Directory.EnumerateFiles(_sources.OutDir).Any(), "nothing is written when the help has errors");
        return Assert.Single(result.Errors, e => e.Code == code);
    }

    private static string ReplaceSection(string markdown, string section, string replacement) =>
        Regex.Replace(markdown, $@"^## {section}\s*\n[\s\S]*?(?=^## )", replacement, RegexOptions.Multiline);

    [Fact]
    public void The_repository_help_builds_into_MAML_with_every_cmdlet_and_the_about_topic()
    {
        var result = _sources.Build();
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));

        var maml = XDocument.Load(Path.Combine(_sources.OutDir, "GuardDutyIR.Cmdlets.dll-Help.xml"));
        Assert.Equal("helpItems", maml.Root!.Name.LocalName);
        Assert.Equal("maml", maml.Root.Attribute("schema")?.Value);
        var names = maml.Root.Elements(Command + "command").Select(c => c.Element(Command + "details")!.Element(Command + "name")!.Value).ToList();
        var cmdlets = CmdletReader.Read(HelpSources.CmdletAssembly, HelpSources.References);
        Assert.Equal(cmdlets.Select(c => c.Name).OrderBy(n => n, StringComparer.OrdinalIgnoreCase), names);
        Assert.Equal(cmdlets.Count, result.CmdletCount);

        var about = File.ReadAllText(Path.Combine(_sources.OutDir, "about_GuardDutyIR.help.txt"));
        Assert.Contains("Set-InstanceQuarantine", about);
    }

    [Fact]
    public void Syntax_and_parameter_metadata_come_from_the_assembly()
    {
        Assert.True(_sources.Build().Succeeded);
        var maml = XDocument.Load(Path.Combine(_sources.OutDir, "GuardDutyIR.Cmdlets.dll-Help.xml"));
        XElement CommandOf(string name) => maml.Root!.Elements(Command + "command").Single(c => c.Element(Command + "details")!.Element(Command + "name")!.Value == name);
        XElement ParameterOf(XElement command, string name) =>
            command.Element(Command + "parameters")!.Elements(Command + "parameter").Single(p => p.Element(Maml + "name")!.Value == name);

        var identity = CommandOf("Get-GdCallerIdentity");
        var region = ParameterOf(identity, "Region");
        Assert.Equal("True (ByPropertyName)", region.Attribute("pipelineInput")!.Value);
        Assert.Equal("System.String", region.Element(Dev + "type")!.Element(Maml + "name")!.Value);
        Assert.Contains("session defaults", region.Element(Maml + "description")!.Value);   // merged from _AwsCommonParameters.md
        Assert.Equal("StoredCredentials, AWSProfileName", ParameterOf(identity, "ProfileName").Attribute("aliases")!.Value);

        // A cmdlet's own description of a common parameter wins over the shared one.
        var setDefault = CommandOf("Set-GdDefault");
        Assert.Contains("default AWS Region", ParameterOf(setDefault, "Region").Element(Maml + "description")!.Value);
        var passThru = ParameterOf(setDefault, "PassThru");
        Assert.Null(passThru.Element(Command + "parameterValue"));   // a switch shows as [-PassThru]
        Assert.Equal("wi", ParameterOf(setDefault, "WhatIf").Attribute("aliases")!.Value);

        // Parameter sets: one syntax item each, the default set first, a mandatory parameter marked so in its set.
        var finding = CommandOf("Get-GdFinding");
        var syntax = finding.Element(Command + "syntax")!.Elements(Command + "syntaxItem").ToList();
        Assert.Equal(2, syntax.Count);
        Assert.DoesNotContain(syntax[0].Elements(Command + "parameter"), p => p.Element(Maml + "name")!.Value == "Id");
        var id = syntax[1].Elements(Command + "parameter").First();
        Assert.Equal("Id", id.Element(Maml + "name")!.Value);
        Assert.Equal("true", id.Attribute("required")!.Value);
        Assert.Equal("String[]", id.Element(Command + "parameterValue")!.Value);
        Assert.Equal("true", ParameterOf(finding, "Type").Attribute("globbing")!.Value);
        Assert.Equal("GuardDutyIR.GdFinding", finding.Element(Command + "returnValues")!.Element(Command + "returnValue")!.Element(Dev + "type")!.Element(Maml + "name")!.Value);
    }

    [Fact]
    public void A_cmdlet_without_a_help_file_fails_naming_the_cmdlet_and_the_expected_file()
    {
        File.Delete(_sources.PathOf("Get-GdDefault.md"));
        var error = SingleError(_sources.Build(), "GDHELP001");
        Assert.Equal("Get-GdDefault", error.Cmdlet);
        Assert.Equal(_sources.PathOf("Get-GdDefault.md"), error.File);
        Assert.Contains("Get-GdDefault.md", error.ToString());
    }

    [Fact]
    public void An_undescribed_parameter_fails_naming_the_parameter()
    {
        _sources.Edit("Set-GdDefault.md", md => Regex.Replace(md, @"### -PassThru\s*\n[\s\S]*?(?=^##)", "", RegexOptions.Multiline));
        var error = SingleError(_sources.Build(), "GDHELP003");
        Assert.Equal("Set-GdDefault", error.Cmdlet);
        Assert.Equal(_sources.PathOf("Set-GdDefault.md"), error.File);
        Assert.Contains("-PassThru", error.Message);
    }

    [Fact]
    public void A_parameter_heading_without_text_counts_as_undescribed()
    {
        _sources.Edit("Set-GdDefault.md", md => Regex.Replace(md, @"(### -PassThru\s*\n)[\s\S]*?(?=^##)", "$1\n", RegexOptions.Multiline));
        var error = SingleError(_sources.Build(), "GDHELP003");
        Assert.NotNull(error.Line);
    }

    [Fact]
    public void A_missing_AWS_common_parameter_description_fails_for_every_cmdlet_that_has_it()
    {
        _sources.Edit("_AwsCommonParameters.md", md => Regex.Replace(md, @"### -RoleSessionName\s*\n[\s\S]*$", ""));
        var result = _sources.Build();
        Assert.False(result.Succeeded);
        var failing = result.Errors.Where(e => e.Code == "GDHELP003" && e.Message.Contains("-RoleSessionName")).Select(e => e.Cmdlet).ToList();
        var expected = CmdletReader.Read(HelpSources.CmdletAssembly, HelpSources.References)
            .Where(c => c.Parameters.Any(p => p.Name == "RoleSessionName"))
            .Where(c => c.Name != "Set-GdDefault")   // stores a role for later commands and describes its own -RoleSessionName
            .Select(c => c.Name).ToList();
        Assert.Contains("Get-GdCallerIdentity", expected);
        Assert.Equal(expected, failing.Select(c => c!).ToList());
    }

    [Fact]
    public void Describing_a_parameter_the_cmdlet_lacks_fails()
    {
        _sources.Edit("Get-GdCallerIdentity.md", md => md.Replace("## INPUTS", "## PARAMETERS\n\n### -InstanceId\n\nThe instance.\n\n## INPUTS"));
        var error = SingleError(_sources.Build(), "GDHELP004");
        Assert.Equal("Get-GdCallerIdentity", error.Cmdlet);
        Assert.Equal(_sources.PathOf("Get-GdCallerIdentity.md"), error.File);
        Assert.Contains("-InstanceId", error.Message);
        Assert.NotNull(error.Line);
    }

    [Fact]
    public void WhatIf_may_be_described_only_by_a_cmdlet_that_supports_it()
    {
        _sources.Edit("Get-GdDefault.md", md => md.Replace("## INPUTS", "## PARAMETERS\n\n### -WhatIf\n\nShows what would happen.\n\n## INPUTS"));
        Assert.Equal("Get-GdDefault", SingleError(_sources.Build(), "GDHELP004").Cmdlet);
    }

    // What the doc-comment scrape put into -InstanceId of seven cmdlets (issue 9, item 21).
    private const string LeakedSource = """
        <para type="synopsis">Re-describes quarantined instances.</para> </summary>
        [Cmdlet(VerbsDiagnostic.Test, "InstanceQuarantine")]
        [OutputType(typeof(QuarantineTestResult))]
        public sealed class TestInstanceQuarantineCommand : GdAwsCmdlet
        { <summary>The instance; binds by property name.
        """;

    [Fact]
    public void Source_code_in_a_parameter_description_fails_naming_the_cmdlet_and_the_parameter()
    {
        _sources.Edit("Set-GdDefault.md", md => Regex.Replace(md, @"(### -PassThru\s*\n)", "$1\n" + LeakedSource + "\n", RegexOptions.Multiline));
        var error = SingleError(_sources.Build(), "GDHELP017");
        Assert.Equal("Set-GdDefault", error.Cmdlet);
        Assert.Equal(_sources.PathOf("Set-GdDefault.md"), error.File);
        Assert.Contains("-PassThru", error.Message);
        Assert.NotNull(error.Line);
    }

    [Fact]
    public void Source_code_in_a_shared_AWS_parameter_description_fails_in_the_shared_file()
    {
        _sources.Edit("_AwsCommonParameters.md", md => md.Replace("### -RoleSessionName\n\n",
            "### -RoleSessionName\n\n/// <summary>The session name.</summary>\npublic string RoleSessionName { get; set; }\n\n"));
        var error = SingleError(_sources.Build(), "GDHELP017");
        Assert.Equal(_sources.PathOf("_AwsCommonParameters.md"), error.File);
        Assert.Contains("-RoleSessionName", error.Message);
    }

    [Theory]
    [InlineData("SYNOPSIS", "Gets things. </para>")]
    [InlineData("DESCRIPTION", "public abstract class CompromisedInstanceShutdownCommand : GdAwsCmdlet")]
    [InlineData("NOTES", "[Parameter(Mandatory = true, Position = 0)] public string InstanceId { get; set; }")]
    public void Source_code_in_any_section_of_a_cmdlet_fails(string section, string leak)
    {
        _sources.Edit("Get-GdDefault.md", md => md.Replace($"## {section}\n\n", $"## {section}\n\n{leak}\n\n"));
        var error = SingleError(_sources.Build(), "GDHELP017");
        Assert.Equal("Get-GdDefault", error.Cmdlet);
        Assert.Contains(section, error.Message);
    }

    [Fact]
    public void Help_without_a_pipeline_example_fails()
    {
        _sources.Edit("Clear-GdDefault.md", md => ReplaceSection(md, "EXAMPLES",
            "## EXAMPLES\n\n### Example 1: Clear\n\n```powershell\nClear-GdDefault\n```\n\n"));
        var error = SingleError(_sources.Build(), "GDHELP005");
        Assert.Equal("Clear-GdDefault", error.Cmdlet);
        Assert.Equal(_sources.PathOf("Clear-GdDefault.md"), error.File);
        Assert.Contains("'|'", error.Message);
    }

    [Fact]
    public void A_pipe_in_the_remarks_does_not_count_as_a_pipeline_example()
    {
        _sources.Edit("Clear-GdDefault.md", md => ReplaceSection(md, "EXAMPLES",
            "## EXAMPLES\n\n### Example 1: Clear\n\n```powershell\nClear-GdDefault\n```\n\nThen `Get-GdDefault | Format-List` shows nothing.\n\n"));
        SingleError(_sources.Build(), "GDHELP005");
    }

    [Fact]
    public void Missing_synopsis_and_description_fail()
    {
        _sources.Edit("Get-GdDefault.md", md => ReplaceSection(ReplaceSection(md, "SYNOPSIS", "## SYNOPSIS\n\n"), "DESCRIPTION", "## DESCRIPTION\n\n"));
        var result = _sources.Build();
        SingleError(result, "GDHELP006");
        SingleError(result, "GDHELP007");
    }

    [Fact]
    public void A_help_file_for_a_cmdlet_that_does_not_exist_fails()
    {
        File.WriteAllText(_sources.PathOf("Get-GdNothing.md"), File.ReadAllText(_sources.PathOf("Get-GdDefault.md")).Replace("Get-GdDefault", "Get-GdNothing"));
        var error = SingleError(_sources.Build(), "GDHELP002");
        Assert.Equal(_sources.PathOf("Get-GdNothing.md"), error.File);
    }

    [Fact]
    public void An_output_type_the_cmdlet_does_not_declare_fails()
    {
        _sources.Edit("Get-GdDefault.md", md => md.Replace("### GuardDutyIR.SessionDefaults", "### GuardDutyIR.CallerIdentity"));
        Assert.Contains("SessionDefaults", SingleError(_sources.Build(), "GDHELP009").Message);
    }

    [Fact]
    public void Every_problem_is_reported_in_one_run()
    {
        File.Delete(_sources.PathOf("Get-GdDefault.md"));
        _sources.Edit("Get-GdCallerIdentity.md", md => md.Replace("## INPUTS", "## PARAMETERS\n\n### -Bogus\n\nNo such thing.\n\n## INPUTS"));
        _sources.Edit("Clear-GdDefault.md", md => ReplaceSection(md, "EXAMPLES", "## EXAMPLES\n\n### Example 1\n\n```powershell\nClear-GdDefault\n```\n\n"));
        var codes = _sources.Build().Errors.Select(e => e.Code).OrderBy(c => c).ToList();
        Assert.Equal(new[] { "GDHELP001", "GDHELP004", "GDHELP005" }, codes);
    }

    [Fact]
    public void A_second_build_rewrites_nothing()
    {
        Assert.True(_sources.Build().Succeeded);
        var maml = Path.Combine(_sources.OutDir, "GuardDutyIR.Cmdlets.dll-Help.xml");
        var stamp = File.GetLastWriteTimeUtc(maml);
        var again = _sources.Build();
        Assert.True(again.Succeeded);
        Assert.Empty(again.Written);
        Assert.Equal(2, again.Unchanged.Count);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(maml));
    }

    [Fact]
    public void The_command_line_exits_non_zero_with_MSBuild_errors_naming_file_and_cmdlet()
    {
        File.Delete(_sources.PathOf("Get-GdDefault.md"));
        var builder = typeof(HelpBuild).Assembly.Location;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            ArgumentList = { "exec", builder, "--assembly", HelpSources.CmdletAssembly, "--help", _sources.HelpDir, "--out", _sources.OutDir },
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Equal(1, process.ExitCode);
        // MSBuild's canonical error format, so the Exec task shows it as a build error in the right file.
        Assert.Matches(@"(?m)^.*Get-GdDefault\.md: error GDHELP001: Get-GdDefault: no help file", stderr);
    }

    [Fact]
    public void The_command_line_rejects_bad_arguments()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, ArgumentList = { "exec", typeof(HelpBuild).Assembly.Location, "--assembly" } };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("GDHELP000", stderr);
    }
}
