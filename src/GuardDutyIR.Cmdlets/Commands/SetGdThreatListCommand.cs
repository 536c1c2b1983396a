using System.Management.Automation;
using GuardDutyIR.Engine.ThreatLists;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Renames, relocates, activates or deactivates a threat list or trusted IP list.</para>
/// </summary>
[Cmdlet(VerbsCommon.Set, "GdThreatList", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GdThreatList))]
public sealed class SetGdThreatListCommand : GdAwsCmdlet
{
    /// <summary>The ThreatIntelSet or IPSet ID (binds from Get-GdThreatList output).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public string ListId { get; set; } = "";

    /// <summary>Threat or Trusted (binds from Get-GdThreatList output).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public ThreatListType ListType { get; set; }

    /// <summary>A new name.</summary>
    [Parameter]
    [ValidateLength(1, 300)]
    public string? NewName { get; set; }

    /// <summary>A new S3 URL of the list file.</summary>
    [Parameter]
    public string? Location { get; set; }

    /// <summary>Activate the list (GuardDuty also reloads its file).</summary>
    [Parameter]
    public SwitchParameter Activate { get; set; }

    /// <summary>Deactivate the list.</summary>
    [Parameter]
    public SwitchParameter Deactivate { get; set; }

    /// <summary>The detector; default the region's detector.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? DetectorId { get; set; }

    /// <summary>The case this change is journaled to; default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void ProcessRecord()
    {
        var region = CurrentRegion;
        if (Activate && Deactivate)
            ThrowEngineError(new GuardDutyIRException("ActivateConflict", ErrorKind.InvalidArgument, "-Activate and -Deactivate cannot be used together.", ListId));
        if (NewName is null && Location is null && !Activate && !Deactivate)
            ThrowEngineError(new GuardDutyIRException("NothingToChange", ErrorKind.InvalidArgument, "Give -NewName, -Location, -Activate or -Deactivate.", ListId));
        ForResource(ListId, () =>
        {
            if (Location is not null) ThreatListService.ParseS3Url(Location);
            bool? activate = Activate ? true : Deactivate ? false : null;
            if (!ShouldProcess($"{ListType} list {ListId} in {region}", "Update")) return;
            WriteObject(Journaled(CaseId, ListId, region, () => Await(new ThreatListService(Session).UpdateAsync(region, DetectorId, ListType, ListId, NewName, Location, activate, CancellationToken)),
                list => "Updated", list => list.RequestIds));
        });
    }
}
