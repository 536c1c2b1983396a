using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Findings;

/// <summary>
/// Disjoint severity ranges that together cover every finding, each a FindingCriteria condition on <c>severity</c>
/// (greaterThanOrEqual and lessThan, which the GuardDuty API takes as whole numbers:
/// https://docs.aws.amazon.com/guardduty/latest/APIReference/API_Condition.html). A finding's severity comes from its
/// type when GuardDuty generates it; a repeat of the activity updates count, eventLastSeen and updatedAt, not the
/// severity (finding aggregation,
/// https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings.html), so unlike updatedAt
/// ranges a finding does not move from one band to another while a read runs.
/// </summary>
public readonly record struct SeverityBand(long? From, long? Below)
{
    /// <summary>(-inf,1) [1,2) ... [8,9) [9,+inf): GuardDuty's severities run from 1.0 to 10.0 in tenths.</summary>
    public static IReadOnlyList<SeverityBand> All { get; } = Enumerable.Range(0, 10)
        .Select(i => new SeverityBand(i == 0 ? null : i, i == 9 ? null : i + 1)).ToArray();

    public bool Contains(double severity) => (From is not { } f || severity >= f) && (Below is not { } b || severity < b);

    /// <summary>True when no severity of the band reaches <paramref name="floor"/>.</summary>
    public bool EntirelyBelow(double floor) => Below is { } b && b <= floor;

    /// <summary>
    /// The criterion restricted to this band. A severity condition already there (the user's -MinSeverity) is kept
    /// and tightened: one field takes one Condition, so both bounds go into the same object.
    /// </summary>
    public JsonObject Restrict(JsonObject criterion)
    {
        var restricted = (JsonObject)criterion.DeepClone();
        var condition = restricted["severity"] as JsonObject ?? new JsonObject();
        restricted["severity"] = condition;
        if (From is { } from)
            condition["greaterThanOrEqual"] = condition["greaterThanOrEqual"] is JsonValue g && g.TryGetValue<long>(out var gte) ? Math.Max(gte, from) : from;
        if (Below is { } below)
            condition["lessThan"] = condition["lessThan"] is JsonValue l && l.TryGetValue<long>(out var lt) ? Math.Min(lt, below) : below;
        return restricted;
    }
}
