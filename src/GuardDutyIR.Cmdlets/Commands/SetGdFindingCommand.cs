using System.Management.Automation;
using GuardDutyIR.Engine.Findings;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Archives or unarchives GuardDuty findings, or records whether they were useful.</para>
/// </summary>
[Cmdlet(VerbsCommon.Set, "GdFinding", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ArchiveSet)]
[OutputType(typeof(GdFinding))]
public sealed class SetGdFindingCommand : GdAwsCmdlet
{
    private const string ArchiveSet = "Archive";
    private const string UnarchiveSet = "Unarchive";
    private const string FeedbackSet = "Feedback";

    /// <summary>The findings to change; binds from Get-GdFinding output (Id / FindingId).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Id")]
    public string[] FindingId { get; set; } = Array.Empty<string>();

    /// <summary>The detector; binds from the findings; default the region's detector.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? DetectorId { get; set; }

    /// <summary>Archive the findings (hidden from the default views, kept for 90 days).</summary>
    [Parameter(Mandatory = true, ParameterSetName = ArchiveSet)]
    public SwitchParameter Archive { get; set; }

    /// <summary>Return archived findings to the current findings.</summary>
    [Parameter(Mandatory = true, ParameterSetName = UnarchiveSet)]
    public SwitchParameter Unarchive { get; set; }

    /// <summary>Useful or NotUseful: feedback that tunes GuardDuty's findings.</summary>
    [Parameter(Mandatory = true, ParameterSetName = FeedbackSet)]
    [ValidateSet("Useful", "NotUseful")]
    public string Feedback { get; set; } = "";

    /// <summary>A comment that goes with the feedback.</summary>
    [Parameter(ParameterSetName = FeedbackSet)]
    public string? Comment { get; set; }

    /// <summary>Write the findings as they are after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    // Findings are gathered per region and detector and changed 50 per call at the end.
    private readonly Dictionary<(string Region, string? Detector), List<string>> _pending = new();

    protected override void ProcessRecord()
    {
        var region = CurrentRegion;
        var action = ParameterSetName switch
        {
            ArchiveSet => "Archive",
            UnarchiveSet => "Unarchive",
            _ => $"Mark {Feedback}",
        };
        foreach (var id in FindingId)
        {
            if (!FindingIds.IsFindingId(id))
            {
                WriteEngineError(FindingIds.InvalidFindingId(id));
                continue;
            }
            if (!ShouldProcess($"finding {id} in {region}", action)) continue;
            var key = (region, DetectorId);
            if (!_pending.TryGetValue(key, out var ids)) _pending[key] = ids = new List<string>();
            ids.Add(id);
        }
    }

    /// <summary>The case this change is journaled to; default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void EndProcessing()
    {
        var service = new FindingService(Session);
        foreach (var ((region, detector), ids) in _pending)
        {
            ForResource(string.Join(",", ids), () =>
            {
                var (status, change) = ParameterSetName switch
                {
                    ArchiveSet => ("Archived", (Func<IReadOnlyList<string>>)(() => Await(service.SetArchivedAsync(region, detector, ids, archive: true, CancellationToken)))),
                    UnarchiveSet => ("Unarchived", () => Await(service.SetArchivedAsync(region, detector, ids, archive: false, CancellationToken))),
                    _ => ("Feedback" + Feedback, () => Await(service.SetFeedbackAsync(region, detector, ids, Feedback == "Useful", Comment, CancellationToken))),
                };
                Journaled(CaseId, string.Join(",", ids), region, change, _ => status, requestIds => requestIds);
                if (PassThru)
                    foreach (var finding in Stream(service.GetFindingsAsync(region, new FindingQuery { DetectorId = detector, Ids = ids }, CancellationToken)))
                        WriteObject(finding);
            });
        }
    }
}
