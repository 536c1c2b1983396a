using System.Text;

namespace GuardDutyIR.Engine.Aws;

/// <summary>SNS over awsQuery (.member.N lists, .entry.N maps, XML answers with a Result wrapper).</summary>
public sealed class SnsClient : ServiceClientBase
{
    /// <summary>"less than 100 characters long" (SNS Publish model doc).</summary>
    public const int MaxSubjectLength = 99;
    /// <summary>256 KB of UTF-8 bytes, not characters.</summary>
    public const int MaxMessageBytes = 262_144;

    internal SnsClient(AwsProtocolClient client, string region) : base(client, region) { }

    /// <summary>Publishes to a topic; returns the message ID and the request ID.</summary>
    public async Task<(string MessageId, string? RequestId)> PublishAsync(string topicArn, string message, string? subject,
        IReadOnlyDictionary<string, string>? attributes = null, CancellationToken cancellationToken = default)
    {
        if (Encoding.UTF8.GetByteCount(message) > MaxMessageBytes)
            throw new GuardDutyIRException("SnsMessageTooLong", ErrorKind.InvalidArgument,
                $"The message is {Encoding.UTF8.GetByteCount(message)} bytes; SNS accepts at most {MaxMessageBytes}.", topicArn);
        if (subject is not null && (subject.Length > MaxSubjectLength || subject.Any(char.IsControl)))
            throw new GuardDutyIRException("SnsSubjectInvalid", ErrorKind.InvalidArgument,
                "An SNS subject must be one line of fewer than 100 characters.", subject);

        var parameters = new List<KeyValuePair<string, string>> { new("TopicArn", topicArn), new("Message", message) };
        if (subject is not null) parameters.Add(new("Subject", subject));
        var index = 0;
        foreach (var (name, value) in attributes ?? new Dictionary<string, string>())
        {
            index++;
            parameters.Add(new($"MessageAttributes.entry.{index}.Name", name));
            parameters.Add(new($"MessageAttributes.entry.{index}.Value.DataType", "String"));
            parameters.Add(new($"MessageAttributes.entry.{index}.Value.StringValue", value));
        }
        var (result, requestId) = await CallQueryAsync("Publish", parameters, cancellationToken).ConfigureAwait(false);
        var messageId = result.Elements().FirstOrDefault(e => e.Name.LocalName == "MessageId")?.Value
            ?? throw new GuardDutyIRException("MalformedServiceResponse", ErrorKind.InvalidData, "SNS Publish answered without a MessageId.", topicArn);
        return (messageId, requestId);
    }
}
