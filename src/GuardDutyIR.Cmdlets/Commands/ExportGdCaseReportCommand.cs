using System.Collections;
using System.Management.Automation;
using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Cases;
using GuardDutyIR.Engine.Cases.Report;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Writes a case's report: one self-contained HTML file with a timeline and a Markdown file, from the case journal and the findings and query results piped in.</para>
/// </summary>
[Cmdlet(VerbsData.Export, "GdCaseReport")]
[OutputType(typeof(FileInfo))]
public sealed class ExportGdCaseReportCommand : GdCaseCommandBase
{
    /// <summary>The case; default: the session's active case.</summary>
    [Parameter(Position = 0)]
    public string? CaseId { get; set; }

    /// <summary>Findings, Invoke-LakeQuery rows, snapshots and quarantine results; anything else becomes a table of its properties.</summary>
    [Parameter(ValueFromPipeline = true)]
    [AllowNull]
    public PSObject?[]? InputObject { get; set; }

    /// <summary>The folder the report is written to; default: report in the case folder.</summary>
    [Parameter]
    public string? Path { get; set; }

    /// <summary>The report's title; default: the case's title.</summary>
    [Parameter]
    public string? Title { get; set; }

    /// <summary>The name of the table that the query rows piped in form (one query's rows at a time).</summary>
    [Parameter]
    public string? QueryName { get; set; }

    /// <summary>Named query results: a hashtable of table name to rows, e.g. @{ 'Instances listing buckets' = $rows1; 'S3 uploads' = $rows2 }.</summary>
    [Parameter]
    public IDictionary? Query { get; set; }

    private readonly CaseReportBuilder _builder = new();
    private int _inputs;

    protected override void ProcessRecord()
    {
        foreach (var item in InputObject ?? Array.Empty<PSObject?>())
        {
            if (item is null) continue;
            _inputs++;
            Add(item, QueryName);
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
        foreach (DictionaryEntry named in Query ?? new Hashtable())
        {
            var rows = named.Value is PSObject { BaseObject: var inner } ? inner : named.Value;
            foreach (var row in rows is IEnumerable sequence and not string and not IDictionary ? sequence.Cast<object?>() : new[] { rows })
            {
                if (row is null) continue;
                _inputs++;
                Add(PSObject.AsPSObject(row), named.Key.ToString());
            }
        }
        ForCase(caseId, () =>
        {
            var store = Store();
            var handle = store.Open(caseId, create: false);
            var folder = Path is null ? CaseReportFiles.DefaultFolder(handle) : this.FolderPath(Path, nameof(Path), "InvalidReportPath");
            var info = store.Describe(handle);
            // A big report takes seconds to render: the work runs aside so Ctrl+C ends the command at once, and the
            // files are written only when it was not stopped (each one moved into place whole).
            var stop = CancellationToken;
            var work = Task.Run(() =>
            {
                var built = _builder.Build(handle, info, Title, DateTime.UtcNow);
                return (Report: built, Written: CaseReportFiles.Write(handle, built, folder, stop));
            }, stop);
            var (report, written) = Await(work.WaitAsync(stop));
            handle.Journal.Append(new JournalDraft(JournalEntryKinds.Artifact, MyInvocation.MyCommand.Name, "Written")
            {
                Target = caseId,
                Caller = LocalCaller,
                Parameters = new JsonObject
                {
                    ["Path"] = Path,
                    ["Title"] = Title,
                    ["QueryName"] = QueryName,
                    ["Query"] = Query is null ? null : string.Join(", ", Query.Keys.Cast<object>()),
                    ["InputObject"] = $"({_inputs} objects)",
                },
                Detail = $"Report of {report.Findings.Count} findings, {report.Tables.Sum(t => t.Rows.Count)} result rows and {report.Journal.Count} journal entries.",
                Artifacts = new[] { written.Html, written.Markdown },
            }, CancellationToken);
            WriteObject(new FileInfo(written.HtmlPath));
            WriteObject(new FileInfo(written.MarkdownPath));
        });
    }

    /// <summary>Sorts one piped object into the report: a finding, a snapshot, or a row of some table.</summary>
    private void Add(PSObject item, string? table)
    {
        var value = item.BaseObject;
        // Quarantine results, snapshots and evidence carry the finding they answer: it belongs in the report too.
        if (item.Properties["Finding"] is { } carrier && Plain(Value(carrier)) is GdFinding carried) _builder.AddFinding(carried);
        switch (value)
        {
            case GdFinding finding:
                _builder.AddFinding(finding);
                return;
            case ForensicSnapshot snapshot:
                _builder.AddSnapshot(snapshot);
                return;
            case QuarantineResult quarantine:
                // Its steps, request IDs and full record are the journal's entry (Actions taken); this is the summary.
                _builder.AddRow("Quarantine results", new[] { "InstanceId", "Region", "CaseId", "FindingId", "Status", "IsolationGroups", "Caveat" },
                    new object?[] { quarantine.InstanceId, quarantine.Region, quarantine.CaseId, quarantine.FindingId, quarantine.Status.ToString(),
                        Plain(quarantine.IsolationGroups), quarantine.Caveat });
                return;
            case IDictionary dictionary:
                var keys = dictionary.Keys.Cast<object>().ToList();
                _builder.AddRow(table, keys.Select(k => k.ToString() ?? "").ToList(), keys.Select(k => Plain(dictionary[k])).ToList());
                return;
            case PSCustomObject:
                // Invoke-LakeQuery's rows and other script objects: a row with a column per note property.
                var properties = item.Properties.ToList();
                _builder.AddRow(table, properties.Select(p => p.Name).ToList(), properties.Select(p => Plain(Value(p))).ToList());
                return;
            case string or ValueType:
                _builder.AddRow(table, new[] { "Value" }, new[] { Plain(value) });
                return;
            default:
                // Another object: its properties that read as text (nested objects are left to their own report).
                var simple = item.Properties.Where(p => p.IsGettable && IsSimple(Value(p))).ToList();
                _builder.AddRow(value.GetType().Name, simple.Select(p => p.Name).ToList(), simple.Select(p => Plain(Value(p))).ToList());
                return;
        }
    }

    private static object? Value(PSPropertyInfo property)
    {
        try { return property.Value; }
        catch (GetValueException) { return null; }
    }

    /// <summary>A value the engine can show: the object under a PSObject, a script object as PowerShell prints it.</summary>
    private static object? Plain(object? value) => value switch
    {
        PSObject { BaseObject: PSCustomObject } script => script.ToString(),
        PSObject wrapped => Plain(wrapped.BaseObject),
        IDictionary dictionary => dictionary.Keys.Cast<object>().ToDictionary(k => k.ToString() ?? "", k => Plain(dictionary[k])),
        string => value,
        IEnumerable sequence => sequence.Cast<object?>().Select(Plain).ToList(),
        _ => value,
    };

    private static bool IsSimple(object? value) => (value is PSObject p ? p.BaseObject : value) switch
    {
        null or string or ValueType => true,
        IDictionary d => d.Values.Cast<object?>().All(v => v is null or string or ValueType),
        IEnumerable e => e.Cast<object?>().All(v => v is null or string or ValueType),
        _ => false,
    };
}
