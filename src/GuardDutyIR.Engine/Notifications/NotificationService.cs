using System.Text.RegularExpressions;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Notifications;

/// <summary>Publishes rendered notifications to an SNS topic in the topic's own region.</summary>
public sealed partial class NotificationService(AwsSession session)
{
    [GeneratedRegex(@"^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256}(\.fifo)?)$")]
    private static partial Regex TopicArnPattern();

    /// <summary>The topic's region; a malformed ARN is an InvalidTopicArn error.</summary>
    public static string TopicRegion(string topicArn)
    {
        var match = TopicArnPattern().Match(topicArn);
        if (!match.Success)
            throw new GuardDutyIRException("InvalidTopicArn", ErrorKind.InvalidArgument,
                $"'{topicArn}' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>).", topicArn);
        return AwsContextValidator.ValidateRegion(match.Groups[1].Value);
    }

    public async Task<GdNotification> PublishAsync(string topicArn, string subject, string message, IReadOnlyDictionary<string, string>? attributes,
        string? findingId, string? instanceId, CancellationToken cancellationToken)
    {
        var region = TopicRegion(topicArn);
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var safeSubject = NotificationTemplate.SafeSubject(subject);
        var fitted = NotificationTemplate.FitMessage(message);
        var (messageId, requestId) = await session.Sns(region).PublishAsync(topicArn, fitted, safeSubject.Length == 0 ? null : safeSubject, attributes, cancellationToken)
            .ConfigureAwait(false);
        return new GdNotification
        {
            TopicArn = topicArn,
            MessageId = messageId,
            RequestId = requestId,
            Subject = safeSubject,
            Message = fitted,
            FindingId = findingId,
            InstanceId = instanceId,
            Region = region,
            SentAt = DateTime.UtcNow,
        };
    }
}
