using System.Text;

namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>Writes a case report as its two files, and records them as case artifacts.</summary>
public static class CaseReportFiles
{
    public const string ReportFolder = "report";

    public sealed record Written(string HtmlPath, string MarkdownPath, CaseArtifact Html, CaseArtifact Markdown);

    /// <summary>The report's folder when none is given: report/ in the case folder.</summary>
    public static string DefaultFolder(CaseHandle handle) => Path.Combine(handle.Folder, ReportFolder);

    /// <summary>
    /// Writes &lt;case&gt;-report.html and &lt;case&gt;-report.md (the case ID as its folder name spells it) into the
    /// folder, each written aside and moved over the old one, so a reader never sees half a report.
    /// </summary>
    public static Written Write(CaseHandle handle, CaseReport report, string folder, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(folder);
        var name = CaseFolders.FolderName(report.CaseId) + "-report";
        var html = Path.Combine(folder, name + ".html");
        var markdown = Path.Combine(folder, name + ".md");
        // A stop between the renderings writes nothing more; each file that is written is moved into place whole.
        var htmlText = HtmlReportWriter.Render(report);
        cancellationToken.ThrowIfCancellationRequested();
        Replace(html, htmlText);
        var markdownText = MarkdownReportWriter.Render(report);
        cancellationToken.ThrowIfCancellationRequested();
        Replace(markdown, markdownText);
        return new Written(html, markdown, CaseRecords.FileArtifact(Path.GetFileName(html), html, Relative(handle, html)),
            CaseRecords.FileArtifact(Path.GetFileName(markdown), markdown, Relative(handle, markdown)));
    }

    // Recorded relative to the case folder when the report is inside it (then a copy of the case still finds it).
    private static string? Relative(CaseHandle handle, string file)
    {
        var relative = Path.GetRelativePath(handle.Folder, file);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? file : relative.Replace('\\', '/');
    }

    private static void Replace(string path, string text)
    {
        AsideFiles.Write(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text), overwrite: true);
    }
}
