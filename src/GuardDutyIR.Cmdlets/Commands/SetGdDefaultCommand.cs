using System.Management.Automation;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Sets the region, profile and endpoint that later GuardDutyIR cmdlets in this session use when none is given.</para>
/// </summary>
[Cmdlet(VerbsCommon.Set, "GdDefault", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(SessionDefaults))]
public sealed class SetGdDefaultCommand : GdCmdlet
{
    [Parameter]
    [ArgumentCompleter(typeof(RegionCompleter))]
    public string? Region { get; set; }

    [Parameter]
    [Alias("StoredCredentials", "AWSProfileName")]
    [ArgumentCompleter(typeof(ProfileNameCompleter))]
    public string? ProfileName { get; set; }

    [Parameter]
    [Alias("AWSProfilesLocation", "ProfilesLocation")]
    public string? ProfileLocation { get; set; }

    [Parameter]
    public string? EndpointUrl { get; set; }

    /// <summary>Keys for later cmdlets: a PSCredential (access key / secret key), a hashtable or an AWSCredentials object.</summary>
    [Parameter]
    public object? Credential { get; set; }

    /// <summary>Act in another account from now on: later cmdlets assume this IAM role (STS AssumeRole) unless given their own -RoleArn.</summary>
    [Parameter]
    public string? RoleArn { get; set; }

    /// <summary>The external ID the role's trust policy requires.</summary>
    [Parameter]
    public string? ExternalId { get; set; }

    /// <summary>The session name of the assumed role (shows in CloudTrail); default GuardDutyIR-&lt;time&gt;.</summary>
    [Parameter]
    public string? RoleSessionName { get; set; }

    /// <summary>Stop assuming the role set earlier with -RoleArn.</summary>
    [Parameter]
    public SwitchParameter ClearRole { get; set; }

    /// <summary>Seconds to wait for a connection to an AWS endpoint before ConnectionError (default 10).</summary>
    [Parameter]
    public double? ConnectTimeoutSec { get; set; }

    /// <summary>Seconds to wait for the answer to one request before OperationTimeout (default 60).</summary>
    [Parameter]
    public double? RequestTimeoutSec { get; set; }

    /// <summary>Return the resulting defaults.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void EndProcessing()
    {
        try
        {
            // Validate everything before changing anything, so a bad value leaves the defaults as they were.
            var region = Region is null ? null : AwsContextValidator.ValidateRegion(Region);
            if (EndpointUrl is not null) AwsContextValidator.ValidateEndpointUrl(EndpointUrl);
            if (ProfileLocation is not null && !File.Exists(ProfileLocation))
                throw new GuardDutyIRException("ProfileLocationNotFound", ErrorKind.ObjectNotFound,
                    $"The credentials file '{ProfileLocation}' does not exist.", ProfileLocation);
            if (ProfileName is not null && !AwsNames.ProfileExists(ProfileName, ProfileLocation))
                throw new GuardDutyIRException("ProfileNotFound", ErrorKind.ObjectNotFound,
                    $"No AWS profile named '{ProfileName}' was found.", ProfileName);

            if (RoleArn is not null) AwsContextValidator.ValidateRole(RoleArn, ExternalId, RoleSessionName);
            else if (ExternalId is not null || RoleSessionName is not null)
                throw new GuardDutyIRException("RoleArnRequired", ErrorKind.InvalidArgument,
                    "ExternalId and RoleSessionName apply only with RoleArn.", ExternalId ?? RoleSessionName);
            if (RoleArn is not null && ClearRole)
                throw new GuardDutyIRException("RoleArnConflict", ErrorKind.InvalidArgument, "-RoleArn and -ClearRole contradict each other.", RoleArn);
            if (ConnectTimeoutSec is { } connect) TransportSettings.ValidateSeconds(connect, "ConnectTimeoutSec");
            if (RequestTimeoutSec is { } request) TransportSettings.ValidateSeconds(request, "RequestTimeoutSec");

            var keys = Credential is null ? ((string, string, string?)?)null
                : AwsSession.KeysOf(Credential is PSObject wrapped ? wrapped.BaseObject is PSCredential c ? c.GetNetworkCredential() : wrapped.BaseObject
                    : Credential is PSCredential pc ? pc.GetNetworkCredential() : Credential);
            var description = string.Join(", ", new[]
            {
                keys is { } k ? "Credential=" + k.Item1 : null,
                region is null ? null : "Region=" + region,
                ProfileName is null ? null : "ProfileName=" + ProfileName,
                ProfileLocation is null ? null : "ProfileLocation=" + ProfileLocation,
                EndpointUrl is null ? null : "EndpointUrl=" + EndpointUrl,
                RoleArn is null ? null : "RoleArn=" + RoleArn,
                ClearRole ? "no role" : null,
                ConnectTimeoutSec is null ? null : "ConnectTimeoutSec=" + ConnectTimeoutSec,
                RequestTimeoutSec is null ? null : "RequestTimeoutSec=" + RequestTimeoutSec,
            }.Where(s => s is not null));
            if (!ShouldProcess("GuardDutyIR session defaults", "Set " + description)) return;

            var result = SessionDefaultsStore.Update(d =>
            {
                if (region is not null) d.Region = region;
                if (ProfileLocation is not null) d.ProfileLocation = ProfileLocation;
                if (EndpointUrl is not null) d.EndpointUrl = EndpointUrl;
                if (keys is { } k)
                {
                    d.SetKeys(k.Item1, k.Item2, k.Item3);
                    d.ProfileName = null;
                }
                if (ProfileName is not null)
                {
                    // A profile replaces keys set earlier (for example by Start-GdLab).
                    d.ProfileName = ProfileName;
                    d.ClearKeys();
                }
                if (RoleArn is not null || ClearRole)
                {
                    d.RoleArn = RoleArn;
                    d.ExternalId = ExternalId;
                    d.RoleSessionName = RoleSessionName;
                }
                if (ConnectTimeoutSec is not null) d.ConnectTimeoutSec = ConnectTimeoutSec;
                if (RequestTimeoutSec is not null) d.RequestTimeoutSec = RequestTimeoutSec;
                d.Source = "Set-GdDefault";
            });
            if (PassThru) WriteObject(result);
        }
        catch (GuardDutyIRException e)
        {
            ThrowEngineError(e);
        }
    }
}
