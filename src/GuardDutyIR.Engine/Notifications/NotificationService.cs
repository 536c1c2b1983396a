using System.Globalization;
using System.Text.RegularExpressions;
using Amazon.EC2.Model;
using GuardDutyIR.Engine.Containment;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Notifications;

/// <summary>Publishes rendered notifications to an SNS topic in the topic's own region.</summary>
public sealed partial class NotificationService(AwsSession session)
{
    [GeneratedRegex(@"^arn:aws[a-z-]*:sns:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_-]{1,256}(\.fifo)?)\z")]
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

    /// <summary>
    /// The instance tag that records a sent notification: one per finding (ir:notified:&lt;finding ID&gt; = "&lt;sent at&gt;
    /// &lt;message ID&gt;"), kept on the instance the message was about, so a repeat delivery of the same finding (EventBridge
    /// delivers at least once; GuardDuty republishes updated findings) sends no second message.
    /// </summary>
    public const string NotifiedTagPrefix = "ir:notified:";

    // EC2 tag keys: at most 128 characters of letters, digits, spaces and + - = . _ : / @ (GuardDuty's IDs are 32 hex digits).
    [GeneratedRegex(@"^[A-Za-z0-9+\-=._:/@]{1,116}\z")]
    private static partial Regex RecordableFindingId();

    private const string TimeFormat = "yyyy-MM-ddTHH:mm:ssZ";

    private Ec2Gateway Ec2(string region) => new(session.Ec2(region), region, Ec2RateLimiter.FromEnvironment(), dryRun: false);

    /// <summary>The notification an earlier run recorded on the instance for this finding, or null when there is none.</summary>
    public async Task<GdNotification?> SentBeforeAsync(string topicArn, string instanceId, string instanceRegion, string findingId, CancellationToken cancellationToken)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        if (!RecordableFindingId().IsMatch(findingId)) return null;
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var key = NotifiedTagPrefix + findingId;
        var tags = await Ec2(instanceRegion).ReadAsync("DescribeTags", instanceId, (c, t) => c.DescribeTagsAsync(new DescribeTagsRequest
        {
            Filters = new List<Filter> { new("resource-id", new List<string> { instanceId }), new("key", new List<string> { key }) },
        }, t), cancellationToken).ConfigureAwait(false);
        var value = tags.Tags?.FirstOrDefault(t => t.Key == key)?.Value;
        if (value is null) return null;
        var parts = value.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
        var sentAt = parts.Length > 0 && DateTime.TryParseExact(parts[0], TimeFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at) ? at : default;
        return new GdNotification
        {
            TopicArn = topicArn,
            MessageId = parts.Length > 1 ? parts[1] : "",
            FindingId = findingId,
            InstanceId = instanceId,
            Region = TopicRegion(topicArn),
            SentAt = sentAt,
            AlreadySent = true,
        };
    }

    /// <summary>Records a sent notification on its instance (see <see cref="NotifiedTagPrefix"/>); returns CreateTags' request ID.</summary>
    public async Task<string?> RecordSentAsync(GdNotification sent, string instanceRegion, CancellationToken cancellationToken)
    {
        var instanceId = sent.InstanceId ?? throw new ArgumentException("The notification names no instance.", nameof(sent));
        var findingId = sent.FindingId ?? throw new ArgumentException("The notification names no finding.", nameof(sent));
        if (!RecordableFindingId().IsMatch(findingId))
            throw new GuardDutyIRException("NotificationNotRecordable", ErrorKind.InvalidData,
                $"The finding ID '{findingId}' cannot be part of an EC2 tag key, so the message sent for {instanceId} is not recorded there.", instanceId);
        var value = sent.SentAt.ToUniversalTime().ToString(TimeFormat, CultureInfo.InvariantCulture) + " " + sent.MessageId;
        var done = await Ec2(instanceRegion).MutateAsync("CreateTags", instanceId, (c, dry, t) => c.CreateTagsAsync(new CreateTagsRequest
        {
            Resources = new List<string> { instanceId }, Tags = new List<Tag> { new(NotifiedTagPrefix + findingId, value) }, DryRun = dry,
        }, t), cancellationToken).ConfigureAwait(false);
        return done.RequestId;
    }
}
