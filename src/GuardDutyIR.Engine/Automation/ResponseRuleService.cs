using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Automation;

/// <summary>What New-GdResponseRule creates: the workshop's rule and its targets, or the same shape for other finding types.</summary>
public sealed record ResponseRuleRequest
{
    public string Name { get; init; } = WorkshopResponse.RuleName;
    public IReadOnlyList<string> FindingTypes { get; init; } = new[] { WorkshopResponse.FindingType };
    /// <summary>Only findings at or above this severity (GuardDuty's 1-10 scale), when given.</summary>
    public double? MinSeverity { get; init; }
    /// <summary>The SNS topic that gets the workshop's e-mail text.</summary>
    public string? TopicArn { get; init; }
    /// <summary>The Lambda function that isolates the instance.</summary>
    public string? FunctionArn { get; init; }
    public string? Description { get; init; }
    public bool Enabled { get; init; } = true;
    public string? EventBusName { get; init; }
}

/// <summary>
/// The EventBridge rules of the automatic response: list the ones that take GuardDuty findings (with their targets and
/// input transformers), ask EventBridge which of them a finding fires, create the workshop's rule, remove a rule.
/// </summary>
public sealed class ResponseRuleService(AwsSession session)
{
    /// <summary>
    /// The rules whose pattern takes GuardDuty findings (source aws.guardduty), or every rule with <paramref name="all"/>,
    /// each with its targets.
    /// </summary>
    public async IAsyncEnumerable<GdResponseRule> GetRulesAsync(string region, string? namePrefix, string? eventBusName, bool all,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var client = session.EventBridge(region);
        await foreach (var rule in client.ListRulesAsync(namePrefix, eventBusName, cancellationToken).ConfigureAwait(false))
        {
            if (!all && !WorkshopResponse.TakesGuardDutyFindings(rule.EventPattern)) continue;
            yield return await WithTargetsAsync(client, region, rule, Array.Empty<string>(), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Which GuardDuty rules this finding fires, as EventBridge decides it (TestEventPattern on the finding's event
    /// envelope), one result per rule.
    /// </summary>
    public async IAsyncEnumerable<GdRuleTestResult> TestAsync(string region, GdFinding finding, string? ruleName, string? eventBusName,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var client = session.EventBridge(region);
        var eventJson = WorkshopResponse.FindingEvent(finding);
        IEnumerable<EventRuleDescription> rules;
        if (ruleName is not null)
        {
            rules = new[] { await client.DescribeRuleAsync(ruleName, eventBusName, cancellationToken).ConfigureAwait(false) };
        }
        else
        {
            var list = new List<EventRuleDescription>();
            await foreach (var rule in client.ListRulesAsync(null, eventBusName, cancellationToken).ConfigureAwait(false))
                if (WorkshopResponse.TakesGuardDutyFindings(rule.EventPattern)) list.Add(rule);
            rules = list;
        }
        foreach (var rule in rules)
        {
            if (string.IsNullOrEmpty(rule.EventPattern))
                throw new GuardDutyIRException("RuleHasNoPattern", ErrorKind.InvalidArgument,
                    $"Rule {rule.Name} runs on a schedule; it has no event pattern a finding could match.", rule.Name);
            yield return new GdRuleTestResult
            {
                RuleName = rule.Name,
                Matches = await client.TestEventPatternAsync(rule.EventPattern, eventJson, cancellationToken).ConfigureAwait(false),
                FindingId = finding.Id,
                FindingType = finding.Type,
                InstanceId = finding.InstanceId,
                EventPattern = rule.EventPattern,
                Region = region,
            };
        }
    }

    /// <summary>Whether an event (EventBridge JSON) matches a pattern, as EventBridge decides it.</summary>
    public Task<bool> TestPatternAsync(string region, string eventPattern, string eventJson, CancellationToken cancellationToken) =>
        session.EventBridge(region).TestEventPatternAsync(eventPattern, eventJson, cancellationToken);

    /// <summary>The pattern and targets a request makes, for the confirmation prompt; checked, no calls.</summary>
    public static (string Pattern, IReadOnlyList<EventTargetDescription> Targets) Plan(ResponseRuleRequest request)
    {
        if (request.TopicArn is null && request.FunctionArn is null)
            throw new GuardDutyIRException("ResponseRuleNeedsTarget", ErrorKind.InvalidArgument,
                "A response rule needs somewhere to send the finding: give -TopicArn (the e-mail), -FunctionArn (the isolating function), or both.",
                request.Name);
        WorkshopResponse.ValidateRuleName(request.Name);
        if (request.TopicArn is not null) WorkshopResponse.ValidateArn(request.TopicArn, "sns", "TopicArn");
        if (request.FunctionArn is not null) WorkshopResponse.ValidateArn(request.FunctionArn, "lambda", "FunctionArn");
        if (request.EventBusName is not null) WorkshopResponse.ValidateEventBusName(request.EventBusName);
        var targets = new List<EventTargetDescription>();
        if (request.TopicArn is not null) targets.Add(WorkshopResponse.EmailTarget(request.TopicArn));
        if (request.FunctionArn is not null) targets.Add(new EventTargetDescription("isolate", request.FunctionArn));
        return (WorkshopResponse.Pattern(request.FindingTypes, request.MinSeverity), targets);
    }

    /// <summary>Creates (or updates) the rule and puts its targets; the result carries every request ID.</summary>
    public async Task<GdResponseRule> CreateAsync(string region, ResponseRuleRequest request, CancellationToken cancellationToken)
    {
        var (pattern, targets) = Plan(request);
        var client = session.EventBridge(region);
        var description = request.Description ?? $"GuardDutyIR: {string.Join(", ", request.FindingTypes)} findings to the automatic response";
        var (_, ruleRequestId) = await client.PutRuleAsync(request.Name, pattern, description, request.Enabled, request.EventBusName, null, cancellationToken)
            .ConfigureAwait(false);
        var targetsRequestId = await client.PutTargetsAsync(request.Name, request.EventBusName, targets, cancellationToken).ConfigureAwait(false);
        var rule = await client.DescribeRuleAsync(request.Name, request.EventBusName, cancellationToken).ConfigureAwait(false);
        return await WithTargetsAsync(client, region, rule, new[] { ruleRequestId, targetsRequestId }.OfType<string>().ToList(), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>The rule as it is now, for the confirmation of its removal (a missing rule is ObjectNotFound).</summary>
    public async Task<GdResponseRule> GetRuleAsync(string region, string name, string? eventBusName, CancellationToken cancellationToken)
    {
        WorkshopResponse.ValidateRuleName(name);
        var client = session.EventBridge(region);
        var rule = await client.DescribeRuleAsync(name, eventBusName, cancellationToken).ConfigureAwait(false);
        return await WithTargetsAsync(client, region, rule, Array.Empty<string>(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes the rule's targets, then the rule (EventBridge refuses to delete a rule that still has targets); returns the
    /// rule as it was, with the request IDs of the removal.
    /// </summary>
    public async Task<GdResponseRule> RemoveAsync(GdResponseRule rule, CancellationToken cancellationToken)
    {
        var client = session.EventBridge(rule.Region);
        var requestIds = new List<string>();
        var bus = rule.EventBusName == "default" ? null : rule.EventBusName;
        if (rule.Targets.Count > 0 && await client.RemoveTargetsAsync(rule.Name, bus, rule.Targets.Select(t => t.Id).ToList(), cancellationToken).ConfigureAwait(false) is { } removed)
            requestIds.Add(removed);
        if (await client.DeleteRuleAsync(rule.Name, bus, cancellationToken).ConfigureAwait(false) is { } deleted) requestIds.Add(deleted);
        return new GdResponseRule
        {
            Name = rule.Name, Arn = rule.Arn, State = "DELETED", EventPattern = rule.EventPattern, Description = rule.Description,
            EventBusName = rule.EventBusName, Region = rule.Region, Targets = rule.Targets, RequestIds = requestIds,
        };
    }

    private static async Task<GdResponseRule> WithTargetsAsync(EventBridgeClient client, string region, EventRuleDescription rule,
        IReadOnlyList<string> requestIds, CancellationToken cancellationToken)
    {
        var targets = new List<GdRuleTarget>();
        await foreach (var t in client.ListTargetsByRuleAsync(rule.Name, rule.EventBusName == "default" ? null : rule.EventBusName, cancellationToken).ConfigureAwait(false))
            targets.Add(new GdRuleTarget
            {
                Id = t.Id, Arn = t.Arn, Kind = WorkshopResponse.KindOf(t.Arn), Input = t.Input, InputPath = t.InputPath,
                InputPathsMap = t.InputPathsMap ?? new Dictionary<string, string>(), InputTemplate = t.InputTemplate, RoleArn = t.RoleArn,
            });
        return new GdResponseRule
        {
            Name = rule.Name, Arn = rule.Arn, State = rule.State, EventPattern = rule.EventPattern, Description = rule.Description,
            EventBusName = rule.EventBusName, Region = region, Targets = targets, RequestIds = requestIds,
        };
    }
}

/// <summary>
/// The workshop's automatic response, as data: the rule's name and pattern, the e-mail's input transformer, and the
/// GuardDuty event envelope a finding travels in (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html).
/// </summary>
public static class WorkshopResponse
{
    public const string RuleName = "GuardDuty-Event-EC2-MaliciousIPCaller";
    public const string FindingType = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom";

    /// <summary>The e-mail's variables: paths into the GuardDuty event.</summary>
    public static readonly IReadOnlyDictionary<string, string> EmailPaths = new Dictionary<string, string>
    {
        ["Finding_ID"] = "$.detail.id",
        ["instanceId"] = "$.detail.resource.instanceDetails.instanceId",
    };

    /// <summary>
    /// The workshop's e-mail text as an input transformer template. Unquoted, so EventBridge sends it as plain text: a
    /// template written as a JSON string reaches the e-mail with its quotes.
    /// </summary>
    public const string EmailTemplate = "GuardDuty Finding | ID: <Finding_ID>: The EC2 instance <instanceId> may be compromised and should be investigated";

    public static EventTargetDescription EmailTarget(string topicArn) =>
        new("email", topicArn, InputPathsMap: EmailPaths, InputTemplate: EmailTemplate);

    /// <summary>
    /// GuardDuty findings of these types (a trailing * is a prefix) at or above a severity, in EventBridge's pattern
    /// syntax (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
    /// </summary>
    public static string Pattern(IReadOnlyList<string> findingTypes, double? minSeverity)
    {
        if (findingTypes.Count == 0)
            throw new GuardDutyIRException("FindingTypeRequired", ErrorKind.InvalidArgument, "Give at least one finding type (a trailing * matches a prefix).", null);
        var types = new JsonArray();
        foreach (var type in findingTypes)
        {
            if (string.IsNullOrWhiteSpace(type) || type.Length > 256 || type.Any(char.IsControl) || type.IndexOf('*') is >= 0 and var star && star != type.Length - 1)
                throw new GuardDutyIRException("InvalidFindingType", ErrorKind.InvalidArgument,
                    $"'{type}' is not a finding type or a prefix of one (only a trailing * is allowed).", type);
            types.Add(type.EndsWith('*') ? new JsonObject { ["prefix"] = type[..^1] } : JsonValue.Create(type));
        }
        var detail = new JsonObject { ["type"] = types };
        if (minSeverity is { } floor)
        {
            if (!double.IsFinite(floor) || floor is < 0 or > 10)
                throw new GuardDutyIRException("InvalidMinSeverity", ErrorKind.InvalidArgument, "The severity threshold is a number from 0 to 10.", floor);
            detail["severity"] = new JsonArray(new JsonObject { ["numeric"] = new JsonArray(">=", floor) });
        }
        return new JsonObject
        {
            ["source"] = new JsonArray("aws.guardduty"),
            ["detail-type"] = new JsonArray("GuardDuty Finding"),
            ["detail"] = detail,
        }.ToJsonString();
    }

    /// <summary>The finding as EventBridge delivers it: GuardDuty's envelope with the finding as detail.</summary>
    public static string FindingEvent(GdFinding finding)
    {
        JsonNode? detail;
        try { detail = JsonNode.Parse(finding.RawJson); }
        catch (JsonException e) { throw new GuardDutyIRException("InvalidFindingJson", ErrorKind.InvalidData, "The finding's JSON cannot be read.", finding.Id, e); }
        return new JsonObject
        {
            ["version"] = "0",
            ["id"] = Guid.NewGuid().ToString(),
            ["detail-type"] = "GuardDuty Finding",
            ["source"] = "aws.guardduty",
            ["account"] = finding.AccountId,
            ["time"] = (finding.UpdatedAt ?? DateTime.UtcNow).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
            ["region"] = finding.Region,
            ["resources"] = new JsonArray(),
            ["detail"] = detail,
        }.ToJsonString();
    }

    /// <summary>Whether a pattern takes events from GuardDuty (source aws.guardduty, listed or as a prefix).</summary>
    public static bool TakesGuardDutyFindings(string? pattern)
    {
        if (string.IsNullOrEmpty(pattern)) return false;
        try
        {
            return JsonNode.Parse(pattern) is JsonObject o && o["source"] is JsonArray sources
                && sources.Any(s => s is JsonValue v && v.TryGetValue<string>(out var text) ? text == "aws.guardduty"
                    : s is JsonObject op && op["prefix"] is JsonValue p && p.TryGetValue<string>(out var prefix) && "aws.guardduty".StartsWith(prefix, StringComparison.Ordinal));
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public static RuleTargetKind KindOf(string arn) =>
        arn.Contains(":sns:", StringComparison.Ordinal) ? RuleTargetKind.SnsTopic
        : arn.Contains(":lambda:", StringComparison.Ordinal) ? RuleTargetKind.LambdaFunction
        : arn.Contains(":ssm:", StringComparison.Ordinal) && arn.Contains(":automation-definition/", StringComparison.Ordinal) ? RuleTargetKind.AutomationRunbook
        : RuleTargetKind.Other;

    /// <summary>EventBridge rule names: 1-64 of letters, digits, '.', '-', '_'.</summary>
    public static string ValidateRuleName(string name)
    {
        if (name.Length is < 1 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
            throw new GuardDutyIRException("InvalidRuleName", ErrorKind.InvalidArgument,
                $"'{name}' is not an EventBridge rule name (1-64 letters, digits, '.', '-' and '_').", name);
        return name;
    }

    /// <summary>
    /// An event bus name (1-256 of letters, digits and /._-) or an event bus ARN, as EventBridge's PutRule takes it
    /// (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html).
    /// </summary>
    public static string ValidateEventBusName(string bus)
    {
        var name = bus.StartsWith("arn:", StringComparison.Ordinal) && bus.IndexOf(":event-bus/", StringComparison.Ordinal) is > 0 and var at
            ? bus[(at + ":event-bus/".Length)..] : bus;
        if (bus.Length > 1600 || name.Length is < 1 or > 256 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_'))
            throw new GuardDutyIRException("InvalidEventBusName", ErrorKind.InvalidArgument,
                $"'{bus}' is not an event bus name (1-256 letters, digits, '/', '.', '-' and '_') or an event bus ARN.", bus);
        return bus;
    }

    public static string ValidateArn(string arn, string service, string parameter)
    {
        var parts = arn.Split(':');
        // The resource (after the account) must name something, and no part of an ARN holds spaces or control
        // characters (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html).
        if (parts.Length < 6 || parts[0] != "arn" || parts[2] != service || !parts[1].StartsWith("aws", StringComparison.Ordinal)
            || parts[^1].Length == 0 || arn.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            throw new GuardDutyIRException("InvalidArn", ErrorKind.InvalidArgument, $"-{parameter} takes an {service} ARN (arn:aws:{service}:<region>:<account>:...); '{arn}' is not one.", arn);
        return arn;
    }
}
