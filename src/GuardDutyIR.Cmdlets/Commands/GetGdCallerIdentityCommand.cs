using System.Management.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Shows which AWS identity, account and region the module's credentials resolve to.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "GdCallerIdentity")]
[OutputType(typeof(CallerIdentity))]
public sealed class GetGdCallerIdentityCommand : GdAwsCmdlet
{
    protected override void ProcessRecord()
    {
        var region = CurrentRegion;
        ForResource(region, () => WriteObject(Await(Session.GetCallerIdentityAsync(region, CancellationToken))));
    }
}
