using System.Management.Automation;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Commands;

/// <summary>
/// Base of every cmdlet that calls AWS. The common parameters are static (not dynamic) and named as in AWS.Tools,
/// so help, completion and splats written for AWS.Tools work. Credentials, region and endpoint are resolved once
/// in BeginProcessing; clients are created once per region for the whole invocation. -Region itself is declared
/// by the two subclasses: one region (most cmdlets) or several (the read cmdlets that fan out).
/// </summary>
public abstract partial class GdAwsCmdletBase : GdCmdlet
{
    private AwsSession? _session;

    /// <summary>The region given on the command line (before pipeline binding), which becomes the session default.</summary>
    private protected abstract string? CommandLineRegion { get; }

    /// <summary>A named profile from the shared config/credentials files.</summary>
    [Parameter]
    [Alias("StoredCredentials", "AWSProfileName")]
    [ArgumentCompleter(typeof(ProfileNameCompleter))]
    public string? ProfileName { get; set; }

    /// <summary>The credentials file to read profiles from, when not the default one.</summary>
    [Parameter]
    [Alias("AWSProfilesLocation", "ProfilesLocation")]
    public string? ProfileLocation { get; set; }

    /// <summary>Explicit credentials: a PSCredential (access key / secret key), a hashtable, or an AWSCredentials object.</summary>
    [Parameter]
    public object? Credential { get; set; }

    /// <summary>Send every call to this URL instead of the AWS endpoint (for example the Lab, http://127.0.0.1:4566).</summary>
    [Parameter]
    public string? EndpointUrl { get; set; }

    /// <summary>Act in another account: the IAM role to assume with STS AssumeRole.</summary>
    [Parameter]
    public string? RoleArn { get; set; }

    /// <summary>The external ID the role's trust policy requires.</summary>
    [Parameter]
    public string? ExternalId { get; set; }

    /// <summary>The session name of the assumed role (shows in CloudTrail); default GuardDutyIR-&lt;time&gt;.</summary>
    [Parameter]
    public string? RoleSessionName { get; set; }

    /// <summary>The resolved AWS session of this invocation.</summary>
    protected AwsSession Session => _session ?? throw new InvalidOperationException("BeginProcessing has not resolved the AWS session.");

    /// <summary>
    /// False for an invocation that makes no AWS call at all (a local query over trail files): its common parameters
    /// are still checked, but no credentials or region are looked for, so it works on a machine with no AWS setup.
    /// </summary>
    protected virtual bool UsesAws => true;

    private AwsContextOptions Options => new()
    {
        Region = CommandLineRegion,
        ProfileName = ProfileName,
        ProfileLocation = ProfileLocation,
        Credential = NormalizeCredential(Credential),
        EndpointUrl = EndpointUrl,
        RoleArn = RoleArn,
        ExternalId = ExternalId,
        RoleSessionName = RoleSessionName,
    };

    protected override void BeginProcessing()
    {
        try
        {
            if (!UsesAws)
            {
                AwsContextValidator.Validate(Options);
                return;
            }
            _session = AwsSession.Resolve(Options, SessionDefaultsStore.Current, WriteVerbose);
            // A role is assumed here, once for the invocation: a refused AssumeRole stops the command before any
            // resource is touched, and every client of the session then signs as the role.
            if (_session.Role is not null) Await(_session.AssumeRoleIfRequestedAsync(CancellationToken));
        }
        catch (GuardDutyIRException e)
        {
            ThrowEngineError(e);
        }
    }

    // PowerShell may hand the value wrapped in a PSObject; a PSCredential becomes the key pair the engine reads.
    private static object? NormalizeCredential(object? value)
    {
        var unwrapped = value is PSObject wrapped ? wrapped.BaseObject : value;
        return unwrapped is PSCredential credential ? credential.GetNetworkCredential() : unwrapped;
    }

    /// <summary>A region check that stops the command: a bad or missing region is a configuration error.</summary>
    private protected string RegionOrThrow(string? region)
    {
        try { return Session.RegionFor(region); }
        catch (GuardDutyIRException e) { ThrowEngineError(e); throw; }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _session?.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>A cmdlet that works in one region per record.</summary>
public abstract class GdAwsCmdlet : GdAwsCmdletBase
{
    /// <summary>The AWS Region, e.g. us-east-1. Binds from a piped object's Region property.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(RegionCompleter))]
    public string? Region { get; set; }

    private string? _commandLineRegion;
    private protected override string? CommandLineRegion => _commandLineRegion;

    protected override void BeginProcessing()
    {
        _commandLineRegion = Region;
        base.BeginProcessing();
    }

    /// <summary>The region for the current record: the piped or given -Region, else the session's.</summary>
    protected string CurrentRegion => RegionOrThrow(Region);
}

/// <summary>A read cmdlet that can fan out over several regions at once.</summary>
public abstract class GdAwsMultiRegionCmdlet : GdAwsCmdletBase
{
    /// <summary>One or more AWS Regions; several are queried in parallel. Binds from a piped object's Region property.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(RegionCompleter))]
    public string[]? Region { get; set; }

    private string? _commandLineRegion;
    private protected override string? CommandLineRegion => _commandLineRegion;

    protected override void BeginProcessing()
    {
        _commandLineRegion = Region is { Length: > 0 } regions ? regions[0] : null;
        base.BeginProcessing();
        foreach (var region in Region ?? Array.Empty<string>()) RegionOrThrow(region);
    }

    /// <summary>The regions for the current record, each checked; the session's region when none is given.</summary>
    protected IReadOnlyList<string> CurrentRegions =>
        Region is { Length: > 0 } regions ? regions.Select(RegionOrThrow).Distinct(StringComparer.Ordinal).ToList() : new[] { RegionOrThrow(null) };
}
