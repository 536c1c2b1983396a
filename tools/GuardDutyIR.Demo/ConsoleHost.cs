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
    public override PSHostRawUserInterface RawUI => _raw;

    // Table headers carry ANSI styling; a file or CI log gets the text without the escape codes.
    private static readonly System.Text.RegularExpressions.Regex Ansi = new("\u001b\\[[0-9;]*[A-Za-z]");
    private static string Plain(string value) => Console.IsOutputRedirected ? Ansi.Replace(value, "") : value;

    public override void Write(string value) => Console.Write(Plain(value));
    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Console.Write(Plain(value));
    public override void WriteLine(string value) => Console.WriteLine(Plain(value));
    public override void WriteErrorLine(string value) => Console.Error.WriteLine(value);
    public override void WriteDebugLine(string message) => Console.WriteLine("DEBUG: " + message);
    public override void WriteVerboseLine(string message) => Console.WriteLine("VERBOSE: " + message);
    public override void WriteWarningLine(string message) => Console.WriteLine("WARNING: " + message);

    private readonly Dictionary<int, string> _lastProgress = new();

    // One line per change of status, so a log of the demo shows what long work did without redrawing.
    public override void WriteProgress(long sourceId, ProgressRecord record)
    {
        if (record.RecordType == ProgressRecordType.Completed)
        {
            _lastProgress.Remove(record.ActivityId);
            return;
        }
        var line = $"[{record.Activity}] {record.StatusDescription}" + (record.PercentComplete >= 0 ? $" {record.PercentComplete}%" : "");
        if (_lastProgress.TryGetValue(record.ActivityId, out var last) && last == line) return;
        _lastProgress[record.ActivityId] = line;
        Console.WriteLine(line);
    }

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
