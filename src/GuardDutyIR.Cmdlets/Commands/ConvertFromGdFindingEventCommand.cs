using System.Management.Automation;
using GuardDutyIR.Engine.Findings;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Converts GuardDuty EventBridge events, findings, or Lambda/SNS/SQS event batches into finding objects.</para>
/// </summary>
[Cmdlet(VerbsData.ConvertFrom, "GdFindingEvent", DefaultParameterSetName = ObjectSet)]
[OutputType(typeof(GdFinding))]
public sealed class ConvertFromGdFindingEventCommand : GdCmdlet
{
    private const string ObjectSet = "Object";
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>JSON text, the object the Lambda PowerShell runtime hands a script ($LambdaInput), a hashtable, or an array of them.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = ObjectSet)]
    [AllowNull]
    public object? InputObject { get; set; }

    /// <summary>Files holding events or findings as JSON; wildcards allowed.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string[] Path { get; set; } = Array.Empty<string>();

    /// <summary>Files holding events or findings as JSON, taken literally.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "FullName")]
    public string[] LiteralPath { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case PathSet:
                foreach (var pattern in Path) ReadFiles(pattern, literal: false);
                break;
            case LiteralPathSet:
                foreach (var path in LiteralPath) ReadFiles(path, literal: true);
                break;
            default:
                ReadObject(InputObject);
                break;
        }
    }

    private void ReadObject(object? input)
    {
        var value = input is PSObject wrapped && wrapped.BaseObject is not PSCustomObject ? wrapped.BaseObject : input;
        switch (value)
        {
            case GdFinding finding:
                WriteObject(finding);   // already converted: pass through, so the cmdlet can sit anywhere in a pipeline
                return;
            case FileInfo file:
                ReadFiles(file.FullName, literal: true);
                return;
            case string text:
                Emit(FindingEventReader.Read(text, "the input text"));
                return;
        }
        ForResource(input, () => Emit(FindingEventReader.Read(PSObjectJson.ToJson(input), "the input object")));
    }

    private void ReadFiles(string path, bool literal)
    {
        IEnumerable<string> files;
        if (path.IndexOfAny(System.IO.Path.GetInvalidPathChars()) >= 0)
        {
            WriteError(ToErrorRecord(new GuardDutyIRException("InvalidFindingPath", ErrorKind.InvalidArgument,
                "The path holds a character no file-system path can hold (such as NUL).", path)));
            return;
        }
        try
        {
            files = literal
                ? new[] { SessionState.Path.GetUnresolvedProviderPathFromPSPath(path) }
                : GetResolvedProviderPathFromPSPath(path, out _);
        }
        catch (ItemNotFoundException e)
        {
            WriteError(ToErrorRecord(e, "FindingFileNotFound", ErrorCategory.ObjectNotFound, path));
            return;
        }
        foreach (var file in files)
        {
            // .NET reports reading a folder as "access denied"; say what it is.
            if (Directory.Exists(file))
            {
                WriteError(new ErrorRecord(new GuardDutyIRException("FindingFileIsFolder", ErrorKind.InvalidArgument,
                    $"'{file}' is a folder. Give the event or finding files, for example '{System.IO.Path.Combine(file, "*.json")}'.", file),
                    "FindingFileIsFolder", ErrorCategory.InvalidArgument, file));
                continue;
            }
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var notFound = e is FileNotFoundException or DirectoryNotFoundException;
                WriteError(ToErrorRecord(e, notFound ? "FindingFileNotFound" : "FindingFileUnreadable",
                    notFound ? ErrorCategory.ObjectNotFound : e is UnauthorizedAccessException ? ErrorCategory.PermissionDenied : ErrorCategory.ReadError, file));
                continue;
            }
            Emit(FindingEventReader.Read(text, file));
        }
    }

    private void Emit(IEnumerable<FindingReadResult> results)
    {
        foreach (var result in results)
        {
            if (result.Finding is not null) WriteObject(result.Finding);
            else ReportFailure(result.Error!, null);
        }
    }
}
