using System.Collections.Specialized;
using System.Text;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Ec2;
using GuardDutyIR.Lab.Events;
using GuardDutyIR.Lab.GuardDuty;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>
/// What a test (or the benchmark) sets up in the Lab around an auto-response, through the Lab's own services: a rule
/// with a Lambda target, calls made as the Lab's main principal, and GuardDuty publishing a new occurrence of a finding.
/// The requests go to the services' handlers in process (this project must not load the module's engine, whose
/// EventBridge client the EventBridge cmdlets use), so they meet the same validation and state as signed calls do.
/// </summary>
public static class LabEvents
{
    public const string MaliciousIpCaller = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom";

    /// <summary>PutRule and PutTargets on the main account's default bus; the rule's ARN.</summary>
    public static string PutLambdaRule(LabHost lab, string ruleName, string eventPattern, string functionArn)
    {
        var rule = Json11(lab, lab.GetService<EventBridgeService>()!, "AWSEvents.PutRule", new JsonObject { ["Name"] = ruleName, ["EventPattern"] = eventPattern });
        var targets = Json11(lab, lab.GetService<EventBridgeService>()!, "AWSEvents.PutTargets", new JsonObject
        {
            ["Rule"] = ruleName,
            ["Targets"] = new JsonArray(new JsonObject { ["Id"] = "AutoResponse", ["Arn"] = functionArn }),
        });
        if ((int?)targets["FailedEntryCount"] != 0) throw new InvalidOperationException("PutTargets failed: " + targets.ToJsonString());
        return (string)rule["RuleArn"]!;
    }

    /// <summary>
    /// GuardDuty publishes the scenario's finding again, as it does for every new occurrence of the activity (its count
    /// and update time move on; https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html).
    /// <paramref name="change"/> may make it another finding (a new ID, another instance).
    /// </summary>
    public static JsonObject PublishScenarioFinding(LabHost lab, Action<JsonObject>? change = null)
    {
        var guardDuty = lab.GetService<GuardDutyService>()!;
        var finding = guardDuty.FindingsOf(lab.AccountId).Single(f => (string?)f["id"] == guardDuty.ScenarioFindingId);
        var service = (JsonObject)finding["service"]!;
        service["count"] = ((int?)service["count"] ?? 1) + 1;
        finding["updatedAt"] = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        change?.Invoke(finding);
        guardDuty.AddFinding(lab.AccountId, finding);
        return finding;
    }

    /// <summary>The scenario's finding as EventBridge delivered it at seed time (an event no rule has seen), to alter for a test.</summary>
    public static JsonObject ScenarioFindingEvent(LabHost lab)
    {
        var id = lab.GetService<GuardDutyService>()!.ScenarioFindingId;
        var seeded = lab.GetService<EventBridgeService>()!.EventsOf(lab.AccountId).First(e => (string?)JsonNode.Parse(e.Json)!["detail"]!["id"] == id);
        return (JsonObject)JsonNode.Parse(seeded.Json)!;
    }

    /// <summary>TerminateInstances as the Lab's main principal.</summary>
    public static void TerminateInstance(LabHost lab, string instanceId) => Ec2(lab, "TerminateInstances", ("InstanceId.1", instanceId));

    /// <summary>An EC2 call as the Lab's main principal (query protocol); the XML answer.</summary>
    public static string Ec2(LabHost lab, string action, params (string Key, string Value)[] parameters)
    {
        var body = $"Action={action}&Version=2016-11-15" + string.Concat(parameters.Select(p => $"&{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}"));
        var response = lab.GetService<Ec2Service>()!.HandleAsync(Request(lab, "ec2", "application/x-www-form-urlencoded; charset=utf-8", null, body), default).GetAwaiter().GetResult();
        var text = Encoding.UTF8.GetString(response.Body);
        if (response.StatusCode != 200) throw new InvalidOperationException($"{action} failed: {text}");
        return text;
    }

    private static JsonObject Json11(LabHost lab, ILabService service, string target, JsonObject body)
    {
        var response = service.HandleAsync(Request(lab, service.SigningName, "application/x-amz-json-1.1", target, body.ToJsonString()), default).GetAwaiter().GetResult();
        var text = Encoding.UTF8.GetString(response.Body);
        if (response.StatusCode != 200) throw new InvalidOperationException($"{target} failed: {text}");
        return JsonNode.Parse(text) as JsonObject ?? new JsonObject();
    }

    private static LabRequest Request(LabHost lab, string service, string contentType, string? target, string body)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Content-Type"] = contentType };
        if (target is not null) headers["X-Amz-Target"] = target;
        return new LabRequest
        {
            Method = "POST", RawPath = "/", Query = new NameValueCollection(), Headers = headers, Body = Encoding.UTF8.GetBytes(body),
            Service = service, Region = lab.Region, AccessKeyId = lab.AccessKeyId, AccountId = lab.AccountId, RequestId = Guid.NewGuid().ToString(),
        };
    }
}
