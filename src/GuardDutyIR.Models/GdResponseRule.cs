namespace GuardDutyIR;

/// <summary>What a rule's target is, read from its ARN.</summary>
public enum RuleTargetKind
{
    Other,
    SnsTopic,
    LambdaFunction,
    AutomationRunbook,
}

/// <summary>One target of an EventBridge rule: where matching events go and what they are turned into.</summary>
public sealed class GdRuleTarget
{
    public string Id { get; internal init; } = "";
    public string Arn { get; internal init; } = "";
    public RuleTargetKind Kind { get; internal init; }
    /// <summary>A constant JSON input, when the target has one.</summary>
    public string? Input { get; internal init; }
    /// <summary>The JSONPath of the part of the event that is sent, when the target has one.</summary>
    public string? InputPath { get; internal init; }
    /// <summary>The input transformer's paths: variable name to JSONPath into the event.</summary>
    public IReadOnlyDictionary<string, string> InputPathsMap { get; internal init; } = new Dictionary<string, string>();
    /// <summary>The input transformer's template, with &lt;variable&gt; placeholders.</summary>
    public string? InputTemplate { get; internal init; }
    public string? RoleArn { get; internal init; }
}

/// <summary>An EventBridge rule of the automatic response: its pattern, state and targets.</summary>
public sealed class GdResponseRule
{
    public string Name { get; internal init; } = "";
    /// <summary>Same as Name, so a rule pipes into cmdlets that take -RuleName.</summary>
    public string RuleName => Name;
    public string Arn { get; internal init; } = "";
    /// <summary>ENABLED or DISABLED.</summary>
    public string State { get; internal init; } = "";
    public string? EventPattern { get; internal init; }
    public string? Description { get; internal init; }
    public string EventBusName { get; internal init; } = "default";
    public string Region { get; internal init; } = "";
    public IReadOnlyList<GdRuleTarget> Targets { get; internal init; } = Array.Empty<GdRuleTarget>();
    /// <summary>The request IDs of the calls that created or changed the rule (New-GdResponseRule).</summary>
    public IReadOnlyList<string> RequestIds { get; internal init; } = Array.Empty<string>();
}

/// <summary>Whether an event (a finding in its EventBridge envelope) matches a rule's pattern, as EventBridge decides it.</summary>
public sealed class GdRuleTestResult
{
    public string RuleName { get; internal init; } = "";
    public bool Matches { get; internal init; }
    public string? FindingId { get; internal init; }
    public string? FindingType { get; internal init; }
    public string? InstanceId { get; internal init; }
    public string EventPattern { get; internal init; } = "";
    public string Region { get; internal init; } = "";
}
