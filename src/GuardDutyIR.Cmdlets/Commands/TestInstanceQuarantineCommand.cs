using System.Management.Automation;
using GuardDutyIR.Engine.Containment;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Re-describes quarantined instances and reports, check by check, whether each containment guarantee holds.</para>
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "InstanceQuarantine")]
[OutputType(typeof(QuarantineTestResult))]
public sealed class TestInstanceQuarantineCommand : GdAwsCmdlet
{
    /// <summary>The instance; binds by property name from findings and quarantine results.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [InstanceIdInput]
    public string InstanceId { get; set; } = "";

    /// <summary>Fail the profile check unless no instance profile (or the replacement) is associated.</summary>
    [Parameter] public SwitchParameter ExpectInstanceProfileRemoved { get; set; }

    /// <summary>Fail the Elastic IP check unless no Elastic IP is associated.</summary>
    [Parameter] public SwitchParameter ExpectElasticIpRemoved { get; set; }

    /// <summary>The replacement profile that counts as removed.</summary>
    [Parameter] public string? ReplacementInstanceProfileArn { get; set; }

    /// <summary>Name of the isolation group expected per VPC (found by its tag).</summary>
    [Parameter] public string IsolationGroupName { get; set; } = "GuardDutyIR-Isolation";

    private QuarantineService? _service;
    // One service per invocation: its clients and EC2 buckets pace the whole pipeline, not each record.
    private QuarantineService Service => _service ??= new QuarantineService(Session);

    /// <summary>The case the checks are journaled to (stored in its artifacts folder with their SHA-256); binds from quarantine results; default: the session's active case.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    protected override void BeginProcessing()
    {
        // Values that are wrong for every record stop the command before any call.
        try { Ec2Ids.RequireQuarantineOptions(ReplacementInstanceProfileArn, IsolationGroupName); }
        catch (GuardDutyIRException e) { ThrowEngineError(e); }
        base.BeginProcessing();
    }

    protected override void ProcessRecord()
    {
        if (InstanceIdInputAttribute.Refusal(InstanceId) is { } refused)
        {
            WriteEngineError(refused);
            return;
        }
        var region = CurrentRegion;
        try
        {
            var options = new QuarantineOptions { ReplacementInstanceProfileArn = ReplacementInstanceProfileArn, IsolationGroupName = IsolationGroupName };
            var checks = Await(Service.TestAsync(InstanceId, region, options, ExpectInstanceProfileRemoved, ExpectElasticIpRemoved, CancellationToken));
            WriteObject(checks);
            JournalCollected(CaseId, "quarantine check", InstanceId, region, checks.Passed ? "Passed" : "Failed", checks,
                detail: checks.Passed ? $"{checks.Checks.Count} checks passed" : string.Join("; ", checks.Failed));
        }
        catch (GuardDutyIRException e)
        {
            ReportFailure(e, InstanceId);
        }
    }
}
