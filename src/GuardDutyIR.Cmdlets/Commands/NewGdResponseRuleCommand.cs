using System.Management.Automation;
using GuardDutyIR.Engine.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Creates the workshop's EventBridge rule: GuardDuty findings of the given types to the responders' topic (with the workshop's e-mail text) and to the isolating function.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "GdResponseRule", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GdResponseRule))]
public sealed class NewGdResponseRuleCommand : GdAwsCmdlet
{
    /// <summary>The rule's name; default GuardDuty-Event-EC2-MaliciousIPCaller, as in the workshop.</summary>
    [Parameter(Position = 0)]
    public string Name { get; set; } = WorkshopResponse.RuleName;

    /// <summary>The SNS topic that gets the workshop's e-mail text for each matching finding.</summary>
    [Parameter]
    public string? TopicArn { get; set; }

    /// <summary>The Lambda function that isolates the instance (the module's handler).</summary>
    [Parameter]
    public string? FunctionArn { get; set; }

    /// <summary>The finding types the rule takes; a trailing * matches a prefix. Default the workshop's UnauthorizedAccess:EC2/MaliciousIPCaller.Custom.</summary>
    [Parameter]
    public string[] FindingType { get; set; } = { WorkshopResponse.FindingType };

    /// <summary>Only findings at or above this severity (1 to 10).</summary>
    [Parameter]
    public double? MinSeverity { get; set; }

    /// <summary>The rule's description.</summary>
    [Parameter]
    public string? Description { get; set; }

    /// <summary>Create the rule disabled.</summary>
    [Parameter]
    public SwitchParameter Disabled { get; set; }

    /// <summary>The event bus; default the account's default bus.</summary>
    [Parameter]
    public string? EventBusName { get; set; }

    /// <summary>The case this change is journaled to; default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void EndProcessing()
    {
        var request = new ResponseRuleRequest
        {
            Name = Name, FindingTypes = FindingType, MinSeverity = MinSeverity, TopicArn = TopicArn, FunctionArn = FunctionArn,
            Description = Description, Enabled = !Disabled, EventBusName = EventBusName,
        };
        var region = CurrentRegion;
        ForResource(Name, () =>
        {
            var (pattern, targets) = ResponseRuleService.Plan(request);
            if (!ShouldProcess($"rule {Name} ({region})", $"Create the rule with pattern {pattern} and targets {string.Join(", ", targets.Select(t => t.Arn))}"))
                return;
            WriteObject(Journaled(CaseId, Name, region, () => Await(new ResponseRuleService(Session).CreateAsync(region, request, CancellationToken)),
                rule => "Created", rule => rule.RequestIds));
        });
    }
}
