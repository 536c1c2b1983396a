using System.Management.Automation;
using GuardDutyIR.Engine.ThreatLists;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Adds IP addresses or CIDR ranges to an existing TXT threat list or trusted IP list, and makes GuardDuty reload it.</para>
/// </summary>
[Cmdlet(VerbsCommon.Add, "GdThreatListEntry", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GdThreatList))]
public sealed class AddGdThreatListEntryCommand : GdAwsCmdlet
{
    /// <summary>The ThreatIntelSet or IPSet ID (binds from Get-GdThreatList output).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public string ListId { get; set; } = "";

    /// <summary>Threat or Trusted (binds from Get-GdThreatList output).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public ThreatListType ListType { get; set; }

    /// <summary>The addresses or ranges to add, e.g. the RemoteIpAddress of a finding.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public string[] Entry { get; set; } = Array.Empty<string>();

    /// <summary>The detector; default the region's detector.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? DetectorId { get; set; }

    /// <summary>The case this change is journaled to; default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void ProcessRecord()
    {
        var region = CurrentRegion;
        ForResource(ListId, () =>
        {
            var (entries, notPublic) = ThreatListEntries.Validate(Entry, ListType);
            if (notPublic.Count > 0)
                WriteWarning($"GuardDuty applies lists only to publicly routable addresses; these entries will never match: {string.Join(", ", notPublic)}");
            if (!ShouldProcess($"{ListType} list {ListId} in {region}", $"Add {string.Join(", ", entries)} and re-activate the list")) return;
            WriteObject(Journaled(CaseId, ListId, region, () => Await(new ThreatListService(Session).AddEntriesAsync(region, DetectorId, ListType, ListId, entries, CancellationToken)),
                list => "EntriesAdded", list => list.RequestIds, _ => string.Join(", ", entries)));
        });
    }
}
