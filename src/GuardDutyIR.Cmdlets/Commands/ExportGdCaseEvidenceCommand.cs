using System.Collections;
using System.Management.Automation;
using GuardDutyIR.Engine.Cases;
using GuardDutyIR.Engine.Cases.Evidence;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Writes a case's evidence bundle: the journal, findings, query results (CSV and JSON), instance records and captured files, snapshots, console output and other files, with a manifest of SHA-256 hashes recorded in the case journal.</para>
/// </summary>
[Cmdlet(VerbsData.Export, "GdCaseEvidence")]
[OutputType(typeof(CaseEvidenceBundle))]
public sealed class ExportGdCaseEvidenceCommand : GdCaseCommandBase
{
    /// <summary>The case; default: the session's active case.</summary>
    [Parameter(Position = 0)]
    public string? CaseId { get; set; }

    /// <summary>What to bundle: findings, Invoke-LakeQuery rows, quarantine results, snapshots, Save-InstanceEvidence results, or lines of text (console output).</summary>
    [Parameter(ValueFromPipeline = true)]
    public object? InputObject { get; set; }

    /// <summary>The bundle folder to create (it must not exist, or be empty). Default: &lt;case&gt;-evidence-&lt;UTC time&gt; in the current folder.</summary>
    [Parameter]
    public string? Path { get; set; }

    /// <summary>The name of the query whose rows are piped in (its files are queries/&lt;name&gt;.csv and .json). Without it, rows are grouped by their columns as query-1, query-2, ...</summary>
    [Parameter]
    public string? QueryName { get; set; }

    /// <summary>Named query results, e.g. @{ 'instances-listing-buckets' = $rows1; 'put-object-calls' = $rows2 }.</summary>
    [Parameter]
    public IDictionary? Query { get; set; }

    /// <summary>Console output (a transcript, text lines) for console/console.txt.</summary>
    [Parameter]
    public string[]? ConsoleOutput { get; set; }

    /// <summary>Files to include as they are (a screenshot, a memory image); wildcards allowed.</summary>
    [Parameter]
    [SupportsWildcards]
    public string[]? IncludePath { get; set; }

    /// <summary>Also write the bundle as &lt;Path&gt;.zip.</summary>
    [Parameter]
    public SwitchParameter Zip { get; set; }

    private readonly List<GdFinding> _findings = new();
    private readonly List<QuarantineResult> _quarantines = new();
    private readonly List<ForensicSnapshot> _snapshots = new();
    private readonly List<InstanceEvidence> _evidence = new();
    private readonly List<EvidenceRow> _rows = new();
    private readonly List<string> _console = new();

    protected override void ProcessRecord()
    {
        switch (InputObject is PSObject wrapped ? wrapped.BaseObject : InputObject)
        {
            case null:
                return;
            case GdFinding f: _findings.Add(f); break;
            case QuarantineResult q:
                _quarantines.Add(q);
                if (q.Finding is { } qf) _findings.Add(qf);
                break;
            case ForensicSnapshot s:
                _snapshots.Add(s);
                if (s.Finding is { } sf) _findings.Add(sf);
                break;
            case InstanceEvidence e:
                _evidence.Add(e);
                if (e.Finding is { } ef) _findings.Add(ef);
                break;
            case string line: _console.Add(line); break;
            case PSCustomObject or IDictionary: _rows.Add(Row(PSObject.AsPSObject(InputObject!), QueryName)); break;
            default:
                WriteEngineError(new GuardDutyIRException("EvidenceInputNotSupported", ErrorKind.InvalidArgument,
                    $"A {InputObject!.GetType().Name} is not evidence this command bundles: pipe findings, query rows, quarantine results, snapshots, Save-InstanceEvidence results or text.", InputObject));
                break;
        }
    }

    protected override void EndProcessing()
    {
        var caseId = CaseId ?? CaseSessionStore.Current?.CaseId;
        if (caseId is null)
        {
            ThrowEngineError(new GuardDutyIRException("NoActiveCase", ErrorKind.InvalidOperation, "No case is active in this session; give -CaseId.", null));
            return;
        }
        ForCase(caseId, () =>
        {
            var handle = Store().Open(caseId, create: false);
            var destination = Path is null
                ? System.IO.Path.Combine(SessionState.Path.CurrentFileSystemLocation.ProviderPath, $"{CaseFolders.FolderName(caseId)}-evidence-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}")
                : this.FolderPath(Path, nameof(Path), "InvalidEvidencePath");
            var rows = _rows.ToList();
            foreach (DictionaryEntry named in Query ?? new Hashtable())
                foreach (var row in LanguagePrimitives.GetEnumerable(named.Value) ?? new[] { named.Value })
                    if (row is not null) rows.Add(Row(PSObject.AsPSObject(row), named.Key.ToString()));
            var console = (ConsoleOutput ?? Array.Empty<string>()).Concat(_console).ToList();
            var bundle = EvidenceBundleService.Export(handle, new EvidenceRequest
            {
                Destination = destination,
                Zip = Zip,
                Findings = _findings,
                Queries = EvidenceQueries.Group(rows),
                Quarantines = _quarantines,
                Snapshots = _snapshots,
                InstanceEvidence = _evidence,
                ConsoleOutput = console.Count == 0 ? null : string.Join("\n", console) + (console[^1].EndsWith('\n') ? "" : "\n"),
                IncludePaths = IncludePath is null ? Array.Empty<string>() : this.FileSystemPaths(IncludePath, nameof(IncludePath)),
                Action = MyInvocation.MyCommand.Name,
                Caller = LocalCaller,
            }, cancellationToken: CancellationToken);
            foreach (var warning in bundle.Warnings) WriteWarning(warning);
            WriteObject(bundle);
        });
    }

    /// <summary>A query row as column names and values; nested objects become JSON.</summary>
    private static EvidenceRow Row(PSObject row, string? queryName)
    {
        var names = new List<string>();
        var values = new List<object?>();
        if (row.BaseObject is IDictionary dictionary)
            foreach (DictionaryEntry e in dictionary)
            {
                names.Add(e.Key.ToString() ?? "");
                values.Add(Value(e.Value));
            }
        else
            foreach (var p in row.Properties)
            {
                names.Add(p.Name);
                values.Add(Value(p.Value));
            }
        return new EvidenceRow(names, values, queryName);
    }

    private static object? Value(object? value) => (value is PSObject wrapped ? wrapped.BaseObject : value) switch
    {
        null => null,
        string or bool or DateTime or DateTimeOffset => value is PSObject p ? p.BaseObject : value,
        IConvertible c when c.GetTypeCode() is >= TypeCode.SByte and <= TypeCode.Decimal => c,
        PSCustomObject or IDictionary or IEnumerable => PSObjectJson.ToJson(value),
        var other => other,
    };
}
