namespace GuardDutyIR.HelpBuilder.Tests;

/// <summary>The Markdown layout: what each section becomes, and the mistakes the reader reports.</summary>
public sealed class MarkdownTests
{
    private const string Sample = """
        # Get-Thing

        ## SYNOPSIS

        Gets `things`, see [the docs](https://example.com/docs).

        ## DESCRIPTION

        First paragraph
        on two lines.

        - one
        - two

        ## EXAMPLES

        ### Example 1: Pipe it

        ```powershell
        Get-Thing |
            Format-List
        ```

        Shows things.

        ```text
        Name : a
        ```

        ## PARAMETERS

        ### -Name

        The name.

        ## INPUTS

        ### System.String

        Names.

        ## OUTPUTS

        ### Thing

        A thing.

        ## NOTES

        Careful.

        ## RELATED LINKS

        - [Online](https://example.com/thing)
        - about_Thing
        """;

    [Fact]
    public void Sections_become_help_fields()
    {
        var doc = MarkdownHelp.ReadCmdlet("Get-Thing.md", Sample);
        Assert.Empty(doc.Problems);
        Assert.Equal("Get-Thing", doc.Title);
        Assert.Equal("Gets things, see the docs (https://example.com/docs).", Assert.Single(doc.Synopsis));
        Assert.Equal(new[] { "First paragraph on two lines.", "- one", "- two" }, doc.Description);
        var example = Assert.Single(doc.Examples);
        Assert.Equal("Example 1: Pipe it", example.Title);
        Assert.Equal("Get-Thing |\n    Format-List", example.Code);
        Assert.Equal(new[] { "Shows things.", "Name : a" }, example.Remarks);
        var parameter = Assert.Single(doc.Parameters);
        Assert.Equal("Name", parameter.Name);
        Assert.Equal("The name.", Assert.Single(parameter.Paragraphs));
        Assert.Equal("System.String", Assert.Single(doc.Inputs).Name);
        Assert.Equal("Thing", Assert.Single(doc.Outputs).Name);
        Assert.Equal("Careful.", Assert.Single(doc.Notes));
        Assert.Equal(new[] { new LinkDoc("Online", "https://example.com/thing"), new LinkDoc("about_Thing", null) }, doc.RelatedLinks);
    }

    [Theory]
    [InlineData("## PARAMETER\n\n### -Name\n\nx\n", "GDHELP011")]                                  // misspelt section
    [InlineData("## PARAMETERS\n\n### Name\n\nx\n", "GDHELP012")]                                  // heading without the dash
    [InlineData("## PARAMETERS\n\nloose text\n", "GDHELP014")]                                      // text outside an entry
    [InlineData("## PARAMETERS\n\n### -Name\n\n```yaml\nType: String\n```\n", "GDHELP015")]      // platyPS metadata block
    [InlineData("## NOTES\n\n### Sub\n\nx\n", "GDHELP013")]                                        // level 3 where none belongs
    public void Layout_mistakes_are_reported_with_their_line(string tail, string code)
    {
        var doc = MarkdownHelp.ReadCmdlet("Get-Thing.md", "# Get-Thing\n\n## SYNOPSIS\n\nS.\n\n" + tail);
        var problem = Assert.Single(doc.Problems);
        Assert.Equal(code, problem.Code);
        Assert.NotNull(problem.Line);
    }

    [Fact]
    public void About_topic_has_the_layout_Get_Help_reads()
    {
        var errors = new List<HelpError>();
        var text = AboutTopicWriter.Write("/x/about_Thing.md", """
            # about_Thing

            ## SHORT DESCRIPTION

            What things are, in one line that is long enough to need wrapping if it were wrapped, which it is not.

            ## LONG DESCRIPTION

            A paragraph that is long enough to be wrapped at eighty columns by the writer, so that it reads well in a console.

            ### Sub topic

            ```powershell
            Get-Thing | Set-Thing
            ```

            1. first
            2. second
            """, errors);
        Assert.Empty(errors);
        var lines = text.Split('\n');
        Assert.Equal("TOPIC", lines[0]);
        Assert.Equal("    about_Thing", lines[1]);
        Assert.Equal("SHORT DESCRIPTION", lines[3]);
        Assert.StartsWith("    What things are", lines[4]);   // PowerShell shows line 5 as the synopsis
        Assert.Contains("LONG DESCRIPTION", lines);
        Assert.All(lines, l => Assert.True(l.Length <= 80 || l.StartsWith("    What things", StringComparison.Ordinal), l));
        Assert.Contains("        Get-Thing | Set-Thing", lines);
        Assert.Contains("    1. first", lines);
        Assert.Contains("    Sub topic", lines);
    }

    [Fact]
    public void About_topic_without_short_description_or_title_is_an_error()
    {
        var errors = new List<HelpError>();
        AboutTopicWriter.Write("/x/about_Thing.md", "# about_Other\n\n## LONG DESCRIPTION\n\nText.\n", errors);
        Assert.Equal(new[] { "GDHELP020", "GDHELP022" }, errors.Select(e => e.Code));
    }
    [Theory]
    [InlineData("</para> </summary>")]
    [InlineData("[Cmdlet(VerbsCommon.Set, \"InstanceQuarantine\", SupportsShouldProcess = true)]")]
    [InlineData("[OutputType(typeof(QuarantineResult))]")]
    [InlineData("public sealed class SetInstanceQuarantineCommand : GdAwsCmdlet")]
    [InlineData("internal static partial class Helpers")]
    [InlineData("public string InstanceId { get; set; } = \"\";")]
    [InlineData("/// <summary>The instance.</summary>")]
    [InlineData("<see cref=\"GdFinding\"/>")]
    public void Source_code_and_doc_comment_markup_are_recognised(string text)
    {
        Assert.NotNull(SourceLeak.Find("The instance. " + text + " Binds by property name."));
    }

    [Theory]
    [InlineData("Default: `GuardDuty Finding | <SeverityLabel> | <Type> | <InstanceId>`.")]
    [InlineData("The template's parameters as a hashtable, such as `@{ InstanceId = 'i-0abc...'; KnownIp = '203.0.113.9' }`.")]
    [InlineData("OUTPUTS describes the types of [OutputType]; a `[string[]]` parameter takes several.")]
    [InlineData("Checks the public and private addresses of the class of instances that are set; get the rest from Get-GdFinding.")]
    [InlineData("Files (Kind, Path, Length, Sha256), Missing. See https://docs.aws.amazon.com/guardduty/latest/ug/findings.html.")]
    public void Help_prose_is_not_mistaken_for_source_code(string text)
    {
        Assert.Null(SourceLeak.Find(text));
    }
}
