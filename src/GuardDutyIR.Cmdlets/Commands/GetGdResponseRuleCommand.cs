using System.Management.Automation;
using GuardDutyIR.Engine.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Gets the EventBridge rules that send GuardDuty findings to a response, with their patterns, state and targets; with a finding piped in, only the rules it fires.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "GdResponseRule")]
[OutputType(typeof(GdResponseRule))]
public sealed class GetGdResponseRuleCommand : GdAwsCmdlet
{
    /// <summary>Only rules whose name matches; wildcards allowed.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    public string? Name { get; set; }

    /// <summary>A finding: only the rules it fires are written, as EventBridge decides it (TestEventPattern).</summary>
    [Parameter(ValueFromPipeline = true)]
    public GdFinding? InputObject { get; set; }

    /// <summary>Every rule of the bus, not only those that take GuardDuty findings.</summary>
    [Parameter]
    public SwitchParameter All { get; set; }

    /// <summary>The event bus; default the account's default bus.</summary>
    [Parameter]
    public string? EventBusName { get; set; }

    protected override void ProcessRecord()
    {
        var pattern = Wildcard(Name);
        var region = CurrentRegion;
        var service = new ResponseRuleService(Session);
        // A literal start of the name narrows the listing on the service; the wildcard decides.
        var prefix = Name is null ? null : new string(Name.TakeWhile(c => c is not ('*' or '?' or '[' or '`')).ToArray());
        ForResource(InputObject?.Id ?? region, () =>
        {
            HashSet<string>? fired = null;
            if (InputObject is not null)
                fired = Stream(service.TestAsync(region, InputObject, null, EventBusName, CancellationToken))
                    .Where(r => r.Matches).Select(r => r.RuleName).ToHashSet(StringComparer.Ordinal);
            foreach (var rule in Stream(service.GetRulesAsync(region, string.IsNullOrEmpty(prefix) ? null : prefix, EventBusName, All, CancellationToken)))
                if ((pattern is null || pattern.IsMatch(rule.Name)) && (fired is null || fired.Contains(rule.Name))) WriteObject(rule);
        });
    }
}
