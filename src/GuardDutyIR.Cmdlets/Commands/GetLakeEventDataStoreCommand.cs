using System.Management.Automation;
using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Lists the CloudTrail Lake event data stores of a region, with their status and retention.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "LakeEventDataStore")]
[OutputType(typeof(LakeEventDataStore))]
public sealed class GetLakeEventDataStoreCommand : GdAwsCmdlet
{
    /// <summary>Only stores whose name matches; wildcards allowed.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    public string Name { get; set; } = "*";

    protected override void ProcessRecord()
    {
        var region = CurrentRegion;
        var pattern = Wildcard(Name)!;
        ForResource(region, () =>
        {
            foreach (var store in Stream(new LakeQueryService(Session).GetEventDataStoresAsync(region, pattern.IsMatch, CancellationToken))) WriteObject(store);
        });
    }
}
