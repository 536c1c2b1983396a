using System.Management.Automation;
using GuardDutyIR.Engine.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Tells whether a finding fires each GuardDuty response rule, as EventBridge decides it (TestEventPattern on the finding's event).</para>
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "GdResponseRule")]
[OutputType(typeof(GdRuleTestResult))]
public sealed class TestGdResponseRuleCommand : GdAwsCmdlet
{
    /// <summary>The finding (from Get-GdFinding, or an event through ConvertFrom-GdFindingEvent).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public GdFinding InputObject { get; set; } = null!;

    /// <summary>One rule to test; default every rule that takes GuardDuty findings.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("RuleName")]
    public string? Name { get; set; }

    /// <summary>The event bus; default the account's default bus.</summary>
    [Parameter]
    public string? EventBusName { get; set; }

    protected override void ProcessRecord()
    {
        var region = CurrentRegion;
        ForResource(Name ?? InputObject.Id, () =>
        {
            foreach (var result in Stream(new ResponseRuleService(Session).TestAsync(region, InputObject, Name, EventBusName, CancellationToken)))
                WriteObject(result);
        });
    }
}
