using System.Management.Automation;
using GuardDutyIR.Engine.Credentials;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Shows how an instance could have been reached and what its role could do: one Pass/Warn/Fail check per line, each with its evidence.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "InstanceExposure")]
[OutputType(typeof(InstanceExposure))]
public sealed class GetInstanceExposureCommand : GdAwsCmdlet
{
    /// <summary>The instance; binds by property name, so findings and quarantine results pipe in.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [InstanceIdInput]
    public string InstanceId { get; set; } = "";

    /// <summary>The finding ID carried on the result; binds from findings.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? FindingId { get; set; }

    /// <summary>The case the checks are journaled to (stored with their SHA-256); binds from quarantine results; default: the active case.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    protected override void ProcessRecord()
    {
        if (InstanceIdInputAttribute.Refusal(InstanceId) is { } refused)
        {
            WriteEngineError(refused);
            return;
        }
        var region = CurrentRegion;
        ForResource(InstanceId, () =>
        {
            var caseId = CaseId ?? CaseSessionStore.Current?.CaseId;
            var exposure = Await(new ExposureCollector(Session).InspectAsync(InstanceId, region, caseId, FindingId, CancellationToken));
            WriteObject(exposure);
            JournalCollected(caseId, "exposure checks", InstanceId, region, exposure.Level.ToString(), exposure,
                detail: $"{exposure.Failures} failed, {exposure.Warnings} warned of {exposure.Checks.Count} checks");
        });
    }
}
