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
        try
        {
            WriteObject(Await(Session.GetCallerIdentityAsync(region, CancellationToken)));
        }
        catch (AwsServiceException e) when (e.Kind is ErrorKind.AuthenticationError or ErrorKind.PermissionDenied)
        {
            // The credentials themselves are wrong: nothing else in this pipeline can succeed.
            ThrowEngineError(e);
        }
        catch (GuardDutyIRException e)
        {
            WriteEngineError(e);
        }
    }
}
