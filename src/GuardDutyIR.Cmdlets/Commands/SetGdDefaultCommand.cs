using System.Management.Automation;
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
            if (ProfileName is not null && !AwsNames.ProfileNames(ProfileLocation).Contains(ProfileName))
                throw new GuardDutyIRException("ProfileNotFound", ErrorKind.ObjectNotFound,
                    $"No AWS profile named '{ProfileName}' was found.", ProfileName);

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
