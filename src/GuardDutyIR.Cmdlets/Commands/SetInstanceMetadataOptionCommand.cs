using System.Management.Automation;
using GuardDutyIR.Engine.Credentials;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Requires IMDSv2 (session tokens) on instances and sets the metadata response hop limit, so a forged request through the instance's applications can no longer read its role's credentials.</para>
/// </summary>
[Cmdlet(VerbsCommon.Set, "InstanceMetadataOption", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(InstanceMetadataChange))]
public sealed class SetInstanceMetadataOptionCommand : GdAwsCmdlet
{
    /// <summary>The instance; binds by property name, so findings, quarantine results and exposure reports pipe in.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [InstanceIdInput]
    public string InstanceId { get; set; } = "";

    /// <summary>Require session tokens (IMDSv2): IMDSv1 requests are refused.</summary>
    [Parameter]
    public SwitchParameter RequireToken { get; set; }

    /// <summary>The response hop limit, 1 to 64; 1 keeps the credentials from containers behind the instance's network.</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int? HopLimit { get; set; }

    /// <summary>Send the change with EC2's DryRun flag: check the permission, change nothing.</summary>
    [Parameter]
    public SwitchParameter DryRun { get; set; }

    /// <summary>The case the change is journaled to; binds from quarantine results; default: the active case.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    protected override void BeginProcessing()
    {
        // The common parameters first (a bad region is the same error for every cmdlet), then this one's own.
        base.BeginProcessing();
        if (!RequireToken && HopLimit is null)
            ThrowEngineError(new GuardDutyIRException("NothingToChange", ErrorKind.InvalidArgument, "Give -RequireToken, -HopLimit or both.", null));
    }

    protected override void ProcessRecord()
    {
        if (InstanceIdInputAttribute.Refusal(InstanceId) is { } refused)
        {
            WriteEngineError(refused);
            return;
        }
        var region = CurrentRegion;
        var caseId = CaseId ?? CaseSessionStore.Current?.CaseId;
        var change = string.Join(" and ", new[] { RequireToken ? "require IMDSv2 tokens" : null, HopLimit is { } h ? $"set the hop limit to {h}" : null }.OfType<string>());
        if (!DryRun && !ShouldProcess($"{InstanceId} ({region})", change)) return;
        ForResource(InstanceId, () =>
        {
            var result = Journaled(caseId, InstanceId, region,
                () => Await(new MetadataOptionsService(Session).SetAsync(InstanceId, region, RequireToken, HopLimit, DryRun, caseId, CancellationToken)),
                r => r.Status, r => r.RequestIds, r => r.ToString());
            WriteObject(result);
        });
    }
}
