using System.Text.Json.Nodes;

namespace GuardDutyIR.Lab.Core;

/// <summary>
/// An event an AWS service emits on an account's default event bus, such as GuardDuty's "GuardDuty Finding"
/// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event.html).
/// </summary>
public sealed record LabServiceEvent(string AccountId, string Region, string Source, string DetailType, JsonObject Detail, DateTimeOffset Time,
    IReadOnlyList<string>? Resources = null);

/// <summary>
/// Where Lab services put the events they emit, so a service such as GuardDuty needs no knowledge of EventBridge's
/// implementation. The Lab's EventBridge is the sink; without it the events go nowhere, as with no rules.
/// </summary>
public interface ILabEventSink
{
    /// <summary>Puts the event on the account's default bus, delivers it to the rules it matches, and returns its ID.</summary>
    string PutServiceEvent(LabServiceEvent serviceEvent);
}
