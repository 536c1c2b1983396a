using System.Text.RegularExpressions;

namespace GuardDutyIR.HelpBuilder;

/// <summary>
/// Recognises C# source and XML documentation markup pasted into help prose. Help descriptions were once produced by
/// scraping the cmdlets' doc comments, and a scrape that ran past a property's &lt;summary&gt; put the class
/// declaration into -InstanceId's description; Get-Help shows such text verbatim, so the build refuses it.
/// </summary>
public static partial class SourceLeak
{
    // Each alternative is something no help paragraph says in prose: an XML closing tag or doc-comment tag, a
    // triple-slash comment, a C# type declaration, an auto-property body, or a cmdlet attribute written as C#.
    [GeneratedRegex(
        @"</[A-Za-z]|<(summary|para|param|returns|remarks|see|inheritdoc|value|example|code)\b|///"
        + @"|\b(public|internal|private|protected)\s+((sealed|abstract|static|partial|readonly)\s+)*(class|record|struct|interface|enum)\b"
        + @"|\{\s*get\s*;|\bset\s*;\s*\}|\[(Cmdlet|OutputType|Parameter|Alias|ValidateSet|ValidateRange)\s*\(\s*(Verbs\w*\.|typeof\b|Mandatory\s*=|Position\s*=|ValueFromPipeline\w*\s*=)",
        RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    /// <summary>The first code-like fragment of <paramref name="text"/>, or null when it reads as prose.</summary>
    public static string? Find(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var match = Pattern().Match(text);
        if (!match.Success) return null;
        // Enough of the surroundings to find it in the file.
        var start = Math.Max(0, match.Index - 20);
        var end = Math.Min(text.Length, match.Index + match.Length + 30);
        return text[start..end].ReplaceLineEndings(" ").Trim();
    }
}
