using System.Management.Automation;
using GuardDutyIR.Engine.ThreatLists;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Gets GuardDuty threat lists (ThreatIntelSets) and trusted IP lists (IPSets).</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "GdThreatList")]
[OutputType(typeof(GdThreatList))]
public sealed class GetGdThreatListCommand : GdAwsCmdlet
{
    /// <summary>Threat or Trusted; both when not given.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public ThreatListType? ListType { get; set; }

    /// <summary>One list by its ThreatIntelSet or IPSet ID.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? ListId { get; set; }

    /// <summary>Only lists whose name matches; wildcards allowed.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    public string? Name { get; set; }

    /// <summary>The detector; default the region's detector.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? DetectorId { get; set; }

    protected override void ProcessRecord()
    {
        var region = CurrentRegion;
        if (ListId is not null && ListType is null)
            ThrowEngineError(new GuardDutyIRException("ListTypeRequired", ErrorKind.InvalidArgument,
                "-ListId needs -ListType (Threat or Trusted): GuardDuty keeps the two kinds apart.", ListId));
        var pattern = Wildcard(Name);
        ForResource(ListId ?? region, () =>
        {
            foreach (var list in Stream(new ThreatListService(Session).GetListsAsync(region, DetectorId, ListType, ListId, CancellationToken)))
                if (pattern is null || pattern.IsMatch(list.Name)) WriteObject(list);
        });
    }
}
