using System.Management.Automation;
using GuardDutyIR.Engine.ThreatLists;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Deletes a threat list or trusted IP list from GuardDuty (the S3 file is left in place).</para>
/// </summary>
[Cmdlet(VerbsCommon.Remove, "GdThreatList", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveGdThreatListCommand : GdAwsCmdlet
{
    /// <summary>The ThreatIntelSet or IPSet ID (binds from Get-GdThreatList output).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public string ListId { get; set; } = "";

    /// <summary>Threat or Trusted (binds from Get-GdThreatList output).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public ThreatListType ListType { get; set; }

    /// <summary>The detector; default the region's detector.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? DetectorId { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still wins).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>The case this change is journaled to; default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void ProcessRecord()
    {
        var region = CurrentRegion;
        if (!ShouldProcessUnlessForced(Force, $"{ListType} list {ListId} in {region}", "Delete (GuardDuty stops using it at once)")) return;
        ForResource(ListId, () =>
        {
            Journaled(CaseId, ListId, region, () => Await(new ThreatListService(Session).DeleteAsync(region, DetectorId, ListType, ListId, CancellationToken)),
                _ => "Deleted", requestId => requestId is null ? null : new[] { requestId });
        });
    }
}
