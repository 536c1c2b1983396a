namespace GuardDutyIR;

/// <summary>One notification published to SNS: what was sent, where, and the IDs AWS gave it.</summary>
public sealed class GdNotification
{
    public string TopicArn { get; internal init; } = "";
    public string MessageId { get; internal init; } = "";
    public string? RequestId { get; internal init; }
    public string Subject { get; internal init; } = "";
    public string Message { get; internal init; } = "";
    public string? FindingId { get; internal init; }
    public string? InstanceId { get; internal init; }
    public string Region { get; internal init; } = "";
    public DateTime SentAt { get; internal init; }
    /// <summary>
    /// True when Send-GdNotification -OncePerFinding found this finding's message already sent for the instance: nothing
    /// was published, and MessageId and SentAt are the earlier message's.
    /// </summary>
    public bool AlreadySent { get; internal init; }
}
