using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>One code example as a reader sees it: its file, its number there, and the text of its code block.</summary>
public sealed record HelpExample(string File, int Number, string Title, string Language, string Code, int Line)
{
    public string Key => Keys(File, Number);
    public static string Keys(string file, int number) => $"{file}#{number}";
    public bool IsPowerShell => Language.Equals("powershell", StringComparison.OrdinalIgnoreCase);
    public override string ToString() => $"{File} example {Number} ({Title}, line {Line})";
}

/// <summary>
/// The code examples of the documentation, read with Markdig (the help builder's Markdown reader; here the signed
/// build that PowerShell's ConvertFrom-Markdown brings): every example of module/help/&lt;cmdlet&gt;.md (the first code block under
/// each '### Example' heading of '## EXAMPLES', as the help builder reads it into the MAML that Get-Help shows),
/// and every fenced block with a language in the about topics and README.md (untagged blocks there are text, such
/// as the folder layout).
/// </summary>
public static class HelpExamples
{
    public static string HelpDirectory => Path.Combine(TestPaths.RepoRoot, "module", "help");
    public static string Readme => Path.Combine(TestPaths.RepoRoot, "README.md");

    private static readonly Lazy<IReadOnlyList<HelpExample>> Cached = new(Read);

    public static IReadOnlyList<HelpExample> All => Cached.Value;

    public static HelpExample Get(string file, int number) =>
        All.SingleOrDefault(e => e.File == file && e.Number == number)
        ?? throw new InvalidOperationException($"{file} has no example {number}");

    private static IReadOnlyList<HelpExample> Read()
    {
        var examples = new List<HelpExample>();
        foreach (var path in Directory.GetFiles(HelpDirectory, "*.md").OrderBy(p => p, StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            if (name.StartsWith('_')) continue;   // shared parameter descriptions, no examples
            examples.AddRange(name.StartsWith("about_", StringComparison.OrdinalIgnoreCase) ? EveryBlock(path) : CmdletExamples(path));
        }
        examples.AddRange(EveryBlock(Readme));
        return examples;
    }

    private static MarkdownDocument Parse(string path) => Markdown.Parse(File.ReadAllText(path), new MarkdownPipelineBuilder().Build());

    private static string CodeOf(FencedCodeBlock block) => block.Lines.ToString().TrimEnd().Replace("\r\n", "\n");

    private static string TextOf(HeadingBlock heading) =>
        string.Concat(heading.Inline?.Descendants<LiteralInline>().Select(l => l.Content.ToString()) ?? Array.Empty<string>()).Trim();

    private static IEnumerable<HelpExample> CmdletExamples(string path)
    {
        var file = Path.GetFileName(path);
        var inExamples = false;
        string? title = null;
        int line = 0, number = 0;
        var taken = false;
        foreach (var block in Parse(path))
        {
            if (block is HeadingBlock { Level: 2 } section)
            {
                inExamples = TextOf(section).Equals("EXAMPLES", StringComparison.OrdinalIgnoreCase);
                title = null;
            }
            else if (inExamples && block is HeadingBlock { Level: 3 } heading)
            {
                title = TextOf(heading);
                line = heading.Line + 1;
                number++;
                taken = false;
            }
            else if (inExamples && title is not null && !taken && block is FencedCodeBlock code)
            {
                taken = true;
                yield return new HelpExample(file, number, title, code.Info ?? "", CodeOf(code), line);
            }
        }
    }

    private static IEnumerable<HelpExample> EveryBlock(string path)
    {
        var file = Path.GetFileName(path);
        var number = 0;
        string title = "";
        foreach (var block in Parse(path).Descendants())
        {
            if (block is HeadingBlock heading) title = TextOf(heading);
            else if (block is FencedCodeBlock code && !string.IsNullOrEmpty(code.Info))
                yield return new HelpExample(file, ++number, title, code.Info!, CodeOf(code), code.Line + 1);
        }
    }
}
