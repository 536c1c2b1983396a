using System.Management.Automation;
using GuardDutyIR.Engine.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Removes an EventBridge response rule: its targets, then the rule.</para>
/// </summary>
[Cmdlet(VerbsCommon.Remove, "GdResponseRule", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(GdResponseRule))]
public sealed class RemoveGdResponseRuleCommand : GdAwsCmdlet
{
    /// <summary>The rule; binds from a piped rule's Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("RuleName")]
    public string Name { get; set; } = "";

    /// <summary>The event bus; default the account's default bus. Binds from a piped rule.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? EventBusName { get; set; }

    /// <summary>Remove without asking. -WhatIf still wins.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the removed rule, with the request IDs of the removal.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>The case this change is journaled to; default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void ProcessRecord()
    {
        var region = CurrentRegion;
        var bus = EventBusName is null or "default" ? null : EventBusName;
        ForResource(Name, () =>
        {
            var service = new ResponseRuleService(Session);
            var rule = Await(service.GetRuleAsync(region, Name, bus, CancellationToken));
            if (!ShouldProcessUnlessForced(Force, $"rule {rule.Name} ({region})",
                    $"Remove {rule.Targets.Count} target(s) ({string.Join(", ", rule.Targets.Select(t => t.Arn))}) and delete the rule"))
                return;
            var removed = Journaled(CaseId, rule.Name, region, () => Await(service.RemoveAsync(rule, CancellationToken)), _ => "Removed", r => r.RequestIds);
            if (PassThru) WriteObject(removed);
        });
    }
}
