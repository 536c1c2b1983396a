using System.Text;
using Markdig.Syntax;

namespace GuardDutyIR.HelpBuilder;

/// <summary>
/// Turns about_*.md into the plain-text about topic Get-Help reads (about_Name.help.txt). The layout is the
/// conventional one: TOPIC, the name, then SHORT DESCRIPTION whose first line (line 5 of the file) PowerShell
/// shows as the topic's synopsis, then the other sections with their text indented and wrapped.
/// </summary>
public static class AboutTopicWriter
{
    private const int Width = 80;
    private const string Indent = "    ";

    public static string Write(string path, string markdown, List<HelpError> errors)
    {
        var document = MarkdownHelp.Parse(markdown);
        var blocks = document.ToList();
        var name = Path.GetFileNameWithoutExtension(path);
        if (blocks.FirstOrDefault() is not HeadingBlock { Level: 1 } title || MarkdownHelp.InlineText(title.Inline).Trim() != name)
            errors.Add(new HelpError(path, 1, MarkdownHelp.ErrorCode + "020", null, $"an about topic starts with '# {name}'."));

        var shortDescription = new List<string>();
        var body = new StringBuilder();
        string? section = null;
        foreach (var block in blocks.Skip(1))
        {
            if (block is HeadingBlock heading)
            {
                var text = MarkdownHelp.InlineText(heading.Inline).Trim();
                if (heading.Level == 2)
                {
                    section = text.ToUpperInvariant();
                    if (section != "SHORT DESCRIPTION") body.Append('\n').Append(section).Append('\n');
                }
                else
                {
                    body.Append('\n').Append(Indent).Append(text).Append('\n')
                        .Append(Indent).Append(new string(heading.Level == 3 ? '=' : '-', text.Length)).Append('\n');
                }
                continue;
            }
            if (section is null)
            {
                errors.Add(new HelpError(path, block.Line + 1, MarkdownHelp.ErrorCode + "021", null, "text before the first '## SECTION' heading."));
                continue;
            }
            if (section == "SHORT DESCRIPTION")
            {
                shortDescription.AddRange(MarkdownHelp.Paragraphs(block));
                continue;
            }
            body.Append('\n');
            AppendBlock(body, block);
        }
        if (shortDescription.Count == 0)
            errors.Add(new HelpError(path, null, MarkdownHelp.ErrorCode + "022", null, "an about topic needs a '## SHORT DESCRIPTION' paragraph."));

        var topic = new StringBuilder();
        topic.Append("TOPIC\n").Append(Indent).Append(name).Append("\n\n");
        topic.Append("SHORT DESCRIPTION\n");
        // Not wrapped: PowerShell takes line 5 as the topic's synopsis.
        topic.Append(Indent).Append(string.Join(" ", shortDescription)).Append('\n');
        topic.Append(body);
        return topic.ToString().TrimEnd() + "\n";
    }

    private static void AppendBlock(StringBuilder text, Block block)
    {
        switch (block)
        {
            case FencedCodeBlock or CodeBlock:
                foreach (var line in MarkdownHelp.CodeText((LeafBlock)block).Split('\n'))
                    text.Append(line.Length == 0 ? "" : Indent + Indent + line).Append('\n');
                break;
            case ListBlock list:
                var number = int.TryParse(list.OrderedStart, out var start) ? start : 1;
                foreach (var item in list.OfType<ListItemBlock>())
                {
                    var bullet = list.IsOrdered ? $"{number++}{list.OrderedDelimiter} " : "- ";
                    var first = true;
                    foreach (var inner in item)
                    {
                        if (inner is FencedCodeBlock or CodeBlock) { AppendBlock(text, inner); continue; }
                        foreach (var paragraph in MarkdownHelp.Paragraphs(inner))
                        {
                            Wrap(text, paragraph, first ? Indent + bullet : Indent + new string(' ', bullet.Length), Indent + new string(' ', bullet.Length));
                            first = false;
                        }
                    }
                }
                break;
            default:
                foreach (var paragraph in MarkdownHelp.Paragraphs(block))
                    Wrap(text, paragraph, Indent, Indent);
                break;
        }
    }

    /// <summary>Word-wraps one paragraph at <see cref="Width"/> columns; hard line breaks are kept.</summary>
    public static void Wrap(StringBuilder text, string paragraph, string firstIndent, string indent)
    {
        var prefix = firstIndent;
        foreach (var hardLine in paragraph.Split('\n'))
        {
            var line = new StringBuilder(prefix);
            var empty = true;
            foreach (var word in hardLine.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!empty && line.Length + 1 + word.Length > Width)
                {
                    text.Append(line).Append('\n');
                    line.Clear().Append(indent);
                    empty = true;
                }
                if (!empty) line.Append(' ');
                line.Append(word);
                empty = false;
            }
            text.Append(line).Append('\n');
            prefix = indent;
        }
    }
}
