using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace GuardDutyIR.Demo;

/// <summary>
/// A small console host: enough of PSHost for Out-Default to format tables and lists to the console and for
/// Write-Progress, warnings and verbose messages to show, as they would in pwsh.
/// </summary>
internal sealed class ConsoleHost : PSHost
{
    private readonly ConsoleUserInterface _ui = new();
    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override string Name => "GuardDutyIR.Demo";
    public override PSHostUserInterface UI => _ui;
    public override Version Version => new(1, 0);
    public int ExitCode { get; private set; }
    public override void EnterNestedPrompt() => throw new NotSupportedException("Nested prompts are not available in the demo host.");
    public override void ExitNestedPrompt() => throw new NotSupportedException("Nested prompts are not available in the demo host.");
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
    public override void SetShouldExit(int exitCode) => ExitCode = exitCode;
}

internal sealed class ConsoleUserInterface : PSHostUserInterface
{
    private readonly ConsoleRawUserInterface _raw = new();
    private readonly ProgressLine _progress = new(Console.Out, showProgress: !Console.IsOutputRedirected, TerminalWidth());

    private static int TerminalWidth()
    {
        try { return Console.WindowWidth > 0 ? Console.WindowWidth : 120; }
        catch (IOException) { return 120; }
    }
    public override PSHostRawUserInterface RawUI => _raw;

    // Table headers carry ANSI styling; a file or CI log gets the text without the escape codes.
    private static readonly System.Text.RegularExpressions.Regex Ansi = new("\u001b\\[[0-9;]*[A-Za-z]");
    private static string Plain(string value) => Console.IsOutputRedirected ? Ansi.Replace(value, "") : value;

    // Every write first takes the progress line away, as pwsh does, so it never ends up between table rows.
    private void Out(string text, bool newLine)
    {
        _progress.Clear();
        if (newLine) Console.WriteLine(Plain(text)); else Console.Write(Plain(text));
    }

    public override void Write(string value) => Out(value, newLine: false);
    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Out(value, newLine: false);
    public override void WriteLine(string value) => Out(value, newLine: true);
    public override void WriteErrorLine(string value)
    {
        _progress.Clear();
        Console.Error.WriteLine(value);
    }
    public override void WriteDebugLine(string message) => Out("DEBUG: " + message, newLine: true);
    public override void WriteVerboseLine(string message) => Out("VERBOSE: " + message, newLine: true);
    public override void WriteWarningLine(string message) => Out("WARNING: " + message, newLine: true);

    public override void WriteProgress(long sourceId, ProgressRecord record) => _progress.Show(record);

    public override string ReadLine() => Console.IsInputRedirected ? "" : Console.ReadLine() ?? "";
    public override SecureString ReadLineAsSecureString() => throw new NotSupportedException("The demo host does not read secrets.");
    public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions) =>
        throw new NotSupportedException("The demo host is non-interactive; pass every mandatory parameter.");
    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
        throw new NotSupportedException("The demo host is non-interactive.");
    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) =>
        throw new NotSupportedException("The demo host is non-interactive.");
    public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice) =>
        throw new NotSupportedException("The demo host is non-interactive; use -Confirm:$false or -Force.");
}

internal sealed class ConsoleRawUserInterface : PSHostRawUserInterface
{
    // A fixed, wide buffer so tables are laid out the same in a terminal, a pipe and a CI log.
    private static readonly Size Buffer = new(160, 3000);
    public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
    public override Size BufferSize { get => Buffer; set { } }
    public override Coordinates CursorPosition { get; set; }
    public override int CursorSize { get; set; }
    public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
    public override bool KeyAvailable => false;
    public override Size MaxPhysicalWindowSize => Buffer;
    public override Size MaxWindowSize => Buffer;
    public override Coordinates WindowPosition { get; set; }
    public override Size WindowSize { get => new(Buffer.Width, 50); set { } }
    public override string WindowTitle { get; set; } = "GuardDutyIR";
    public override void FlushInputBuffer() { }
    public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
    public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException("The demo host is non-interactive.");
    public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
    public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
    public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
}

/// <summary>
/// Progress as pwsh shows it on a terminal: one status line that is redrawn in place and taken away when the work is
/// done or other output is written. When output goes to a file or a pipe there is no status line at all: a log gets
/// the results, not the redraws.
/// </summary>
internal sealed class ProgressLine(TextWriter writer, bool showProgress, int width)
{
    private int _shown;
    private string _last = "";

    public void Show(ProgressRecord record)
    {
        if (!showProgress) return;
        if (record.RecordType == ProgressRecordType.Completed)
        {
            Clear();
            return;
        }
        var text = $"{record.Activity}: {record.StatusDescription}" + (record.PercentComplete is >= 0 and <= 100 ? $" [{record.PercentComplete}%]" : "");
        var limit = Math.Max(20, width - 1);
        if (text.Length > limit) text = text[..(limit - 3)] + "...";
        if (_shown > 0 && text == _last) return;
        _last = text;
        writer.Write("\r" + text.PadRight(_shown));
        writer.Flush();
        _shown = text.Length;
    }

    public void Clear()
    {
        if (_shown == 0) return;
        writer.Write("\r" + new string(' ', _shown) + "\r");
        writer.Flush();
        _shown = 0;
    }
}
