using System.Text;
using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace GuardDutyIR.HelpBuilder;

/// <summary>Reads the platyPS-like Markdown help layout into <see cref="CmdletDoc"/>.</summary>
public static class MarkdownHelp
{
    public const string ErrorCode = "GDHELP";

    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().Build();

    private static readonly HashSet<string> KnownSections = new(StringComparer.Ordinal)
    {
        "SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS",
    };

    public static MarkdownDocument Parse(string text) => Markdown.Parse(text, Pipeline);

    /// <summary>Reads one cmdlet's help file.</summary>
    public static CmdletDoc ReadCmdlet(string path) => ReadCmdlet(path, File.ReadAllText(path));

    public static CmdletDoc ReadCmdlet(string path, string text)
    {
        var doc = new CmdletDoc { Path = path };
        string? section = null;
        SectionItem? item = null;
        ExampleDoc? example = null;
        var skipping = false;   // after a reported heading, its content would only repeat the same problem

        void Problem(Block block, string code, string message) =>
            doc.Problems.Add(new HelpError(path, block.Line + 1, code, doc.Title, message));

        foreach (var block in Parse(text))
        {
            if (block is HeadingBlock heading)
            {
                var title = InlineText(heading.Inline).Trim();
                var problems = doc.Problems.Count;
                switch (heading.Level)
                {
                    case 1:
                        if (doc.Title is not null) Problem(block, ErrorCode + "010", $"a second level-1 heading '# {title}': one cmdlet per file.");
                        doc.Title = title;
                        section = null;
                        break;
                    case 2:
                        section = title.ToUpperInvariant();
                        item = null;
                        example = null;
                        if (!KnownSections.Contains(section))
                        {
                            Problem(block, ErrorCode + "011", $"unknown section '## {title}'. Sections are: {string.Join(", ", KnownSections)}.");
                            section = "?";
                        }
                        break;
                    case 3:
                        item = null;
                        example = null;
                        switch (section)
                        {
                            case "EXAMPLES":
                                example = new ExampleDoc { Title = title, Line = block.Line + 1 };
                                doc.Examples.Add(example);
                                break;
                            case "PARAMETERS":
                                if (title.Equals("CommonParameters", StringComparison.OrdinalIgnoreCase)) break;
                                if (!title.StartsWith('-') || title.Length < 2 || title.Contains(' '))
                                {
                                    Problem(block, ErrorCode + "012", $"parameter heading '### {title}' must be '### -Name'.");
                                    break;
                                }
                                item = new SectionItem(title[1..], new List<string>(), block.Line + 1);
                                doc.Parameters.Add(item);
                                break;
                            case "INPUTS":
                                item = new SectionItem(title, new List<string>(), block.Line + 1);
                                doc.Inputs.Add(item);
                                break;
                            case "OUTPUTS":
                                item = new SectionItem(title, new List<string>(), block.Line + 1);
                                doc.Outputs.Add(item);
                                break;
                            case "?":
                                break;   // inside an unknown section, already reported
                            default:
                                Problem(block, ErrorCode + "013", $"'### {title}' is not allowed in {(section is null ? "the title" : "## " + section)}.");
                                break;
                        }
                        break;
                    default:
                        Problem(block, ErrorCode + "013", $"level-{heading.Level} heading '{title}' is not part of the help layout.");
                        break;
                }
                skipping = doc.Problems.Count > problems;
                continue;
            }
            if (skipping) continue;

            switch (section)
            {
                case null:
                    Problem(block, ErrorCode + "014", "text before the first '## SECTION' heading.");
                    break;
                case "SYNTAX":
                case "?":
                    break;   // SYNTAX is generated from the assembly; an unknown section was reported at its heading
                case "SYNOPSIS":
                    doc.Synopsis.AddRange(Paragraphs(block));
                    break;
                case "DESCRIPTION":
                    doc.Description.AddRange(Paragraphs(block));
                    break;
                case "NOTES":
                    doc.Notes.AddRange(Paragraphs(block));
                    break;
                case "EXAMPLES":
                    if (example is null) Problem(block, ErrorCode + "014", "text under '## EXAMPLES' before the first '### Example' heading.");
                    else if (example.Code is null && block is FencedCodeBlock code) example.Code = CodeText(code);
                    else example.Remarks.AddRange(Paragraphs(block));
                    break;
                case "PARAMETERS":
                    if (item is null) Problem(block, ErrorCode + "014", "text under '## PARAMETERS' outside a '### -Name' entry.");
                    else if (block is FencedCodeBlock { Info: "yaml" or "yml" })
                        Problem(block, ErrorCode + "015", $"-{item.Name}: type, position, pipeline input and aliases come from the assembly; remove the yaml block.");
                    else item.Paragraphs.AddRange(Paragraphs(block));
                    break;
                case "INPUTS":
                case "OUTPUTS":
                    if (item is null) Problem(block, ErrorCode + "014", $"text under '## {section}' outside a '### TypeName' entry.");
                    else item.Paragraphs.AddRange(Paragraphs(block));
                    break;
                case "RELATED LINKS":
                    doc.RelatedLinks.AddRange(Links(block));
                    break;
            }
        }
        return doc;
    }

    /// <summary>Reads a file of '### -Name' parameter descriptions (the AWS common parameters).</summary>
    public static CmdletDoc ReadParameterFile(string path) => ReadParameterFile(path, File.ReadAllText(path));

    public static CmdletDoc ReadParameterFile(string path, string text) => ReadCmdlet(path, text);

    /// <summary>A block as help paragraphs: a paragraph, each list item, a code block (lines kept).</summary>
    public static IEnumerable<string> Paragraphs(Block block)
    {
        switch (block)
        {
            case ParagraphBlock paragraph:
                yield return InlineText(paragraph.Inline).Trim();
                break;
            case FencedCodeBlock or CodeBlock:
                yield return CodeText((LeafBlock)block);
                break;
            case ListBlock list:
                var number = int.TryParse(list.OrderedStart, out var start) ? start : 1;
                foreach (var child in list.OfType<ListItemBlock>())
                {
                    var bullet = list.IsOrdered ? $"{number++}{list.OrderedDelimiter} " : "- ";
                    var inner = child.SelectMany(Paragraphs).ToList();
                    if (inner.Count == 0) continue;
                    yield return bullet + string.Join(" ", inner);
                }
                break;
            case QuoteBlock quote:
                foreach (var p in quote.SelectMany(Paragraphs)) yield return p;
                break;
            case ContainerBlock container:
                foreach (var p in container.SelectMany(Paragraphs)) yield return p;
                break;
            case LeafBlock leaf when leaf.Lines.Count > 0:
                yield return leaf.Lines.ToString().Trim();
                break;
        }
    }

    public static string CodeText(LeafBlock code) => code.Lines.ToString().TrimEnd().Replace("\r\n", "\n");

    private static IEnumerable<LinkDoc> Links(Block block)
    {
        if (block is ListBlock list)
        {
            foreach (var listItem in list.OfType<ListItemBlock>())
                foreach (var inner in listItem)
                    foreach (var link in Links(inner)) yield return link;
        }
        else if (block is ParagraphBlock { Inline: { } inline })
        {
            var links = inline.Descendants<LinkInline>().Where(l => !l.IsImage).ToList();
            if (links.Count == 1 && InlineText(inline).Trim() == InlineText(links[0]).Trim())
                yield return new LinkDoc(string.Concat(links[0].Select(InlineText)).Trim(), links[0].Url);
            else
                yield return new LinkDoc(InlineText(inline).Trim(), null);
        }
    }

    /// <summary>Inline Markdown as plain text: code spans lose their backticks, links keep their address.</summary>
    public static string InlineText(Inline? inline)
    {
        var text = new StringBuilder();
        Append(text, inline);
        return text.ToString();
    }

    private static void Append(StringBuilder text, Inline? inline)
    {
        switch (inline)
        {
            case null:
                return;
            case LiteralInline literal:
                text.Append(literal.Content.ToString());
                return;
            case CodeInline code:
                text.Append(code.Content);
                return;
            case LineBreakInline lineBreak:
                text.Append(lineBreak.IsHard ? "\n" : " ");
                return;
            case HtmlEntityInline entity:
                text.Append(entity.Transcoded.ToString());
                return;
            case AutolinkInline autolink:
                text.Append(autolink.Url);
                return;
            case HtmlInline html:
                text.Append(html.Tag);
                return;
            case LinkInline { IsImage: true }:
                return;
            case LinkInline link:
                var start = text.Length;
                foreach (var child in link) Append(text, child);
                var label = text.ToString(start, text.Length - start);
                if (!string.IsNullOrEmpty(link.Url) && !link.Url.StartsWith('#') && label != link.Url) text.Append(" (").Append(link.Url).Append(')');
                return;
            case ContainerInline container:
                foreach (var child in container) Append(text, child);
                return;
            default:
                text.Append(inline.ToString());
                return;
        }
    }
}
