using System.Management.Automation;
using GuardDutyIR.Engine.Findings;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Creates GuardDuty sample findings, to rehearse runbooks and test EventBridge rules.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "GdSampleFinding", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(GdFinding))]
public sealed class NewGdSampleFindingCommand : GdAwsCmdlet
{
    /// <summary>Finding types to create samples of (at most 50); all types when not given.</summary>
    [Parameter(Position = 0)]
    [ValidateCount(0, 50)]
    public string[] Type { get; set; } = Array.Empty<string>();

    /// <summary>The detector; default the region's detector.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? DetectorId { get; set; }

    /// <summary>Write the sample findings of those types once they exist.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>The case this change is journaled to; default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void ProcessRecord()
    {
        // A finding type is ThreatPurpose:ResourceType/ThreatFamily.Detection[!Artifact]
        // (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-format.html); anything else is refused
        // before CreateSampleFindings.
        foreach (var type in Type)
            if (type is null || type.Length > 256 || !System.Text.RegularExpressions.Regex.IsMatch(type, @"^[A-Za-z0-9]+:[A-Za-z0-9]+/[A-Za-z0-9.!&_-]+\z"))
                ThrowEngineError(new GuardDutyIRException("InvalidFindingType", ErrorKind.InvalidArgument,
                    $"'{type}' is not a GuardDuty finding type (ThreatPurpose:ResourceType/ThreatFamily.Detection).", type));
        var region = CurrentRegion;
        var what = Type.Length == 0 ? "sample findings of every type" : "sample findings of " + string.Join(", ", Type);
        if (!ShouldProcess($"GuardDuty detector in {region}", "Create " + what)) return;
        var service = new FindingService(Session);
        ForResource(region, () =>
        {
            var started = DateTime.UtcNow.AddSeconds(-5);
            Journaled(CaseId, DetectorId ?? region, region, () => Await(service.CreateSamplesAsync(region, DetectorId, Type, CancellationToken)),
                _ => "SamplesCreated", requestId => requestId is null ? null : new[] { requestId }, _ => what);
            if (!PassThru) return;
            var query = new FindingQuery { DetectorId = DetectorId, Types = Type, IncludeSample = true, Since = started, Archived = ArchivedFilter.Include };
            foreach (var finding in Stream(service.GetFindingsAsync(region, query, CancellationToken)))
                if (finding.IsSample) WriteObject(finding);
        });
    }
}
