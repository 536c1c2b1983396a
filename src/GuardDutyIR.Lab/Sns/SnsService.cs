using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;

namespace GuardDutyIR.Lab.Sns;

public sealed record SnsMessageAttribute(string DataType, string? StringValue, string? BinaryValueBase64);

/// <summary>A message the Lab accepted for a topic (what subscribers would receive).</summary>
public sealed record SnsPublishedMessage(
    string MessageId, string TopicArn, string? Subject, string Message, string? MessageStructure,
    IReadOnlyDictionary<string, SnsMessageAttribute> MessageAttributes, DateTimeOffset Timestamp, string PublisherAccountId, string? PublisherArn);

public sealed record SnsSubscription(string SubscriptionArn, string TopicArn, string Protocol, string Endpoint, string Owner, bool Confirmed);

public sealed class SnsTopic
{
    public SnsTopic(string arn, string name, string owner)
    {
        Arn = arn;
        Name = name;
        Owner = owner;
    }

    public string Arn { get; }
    public string Name { get; }
    public string Owner { get; }
    public ConcurrentDictionary<string, string> Attributes { get; } = new(StringComparer.Ordinal);
    public List<SnsSubscription> Subscriptions { get; } = new();
}

/// <summary>
/// SNS (awsQuery). Published messages are kept for tests (<see cref="Messages"/>, GET /_lab/sns/messages) instead of
/// being delivered; e-mail subscriptions stay "pending confirmation" because nobody can click the link.
/// </summary>
public sealed partial class SnsService : ILabService, ILabAdminEndpoints, IModeledService
{
    private const string Ns = ProtocolErrors.SnsNamespace;
    public const int MaxMessageBytes = 262144;
    private static readonly ServiceModel s_model = ServiceModel.For("sns");

    private readonly LabContext _context;
    private readonly ConcurrentDictionary<string, SnsTopic> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<SnsPublishedMessage> _messages = new();
    private readonly Dictionary<string, Func<LabRequest, LabResponse>> _handlers;

    public SnsService(LabContext context)
    {
        _context = context;
        _handlers = new(StringComparer.Ordinal)
        {
            ["CreateTopic"] = CreateTopic,
            ["DeleteTopic"] = DeleteTopic,
            ["ListTopics"] = ListTopics,
            ["GetTopicAttributes"] = GetTopicAttributes,
            ["Subscribe"] = Subscribe,
            ["ListSubscriptionsByTopic"] = ListSubscriptionsByTopic,
            ["Publish"] = Publish,
        };
    }

    public string SigningName => "sns";

    public IReadOnlyCollection<string> Operations => _handlers.Keys;

    public IReadOnlyCollection<SnsTopic> Topics => _topics.Values.OrderBy(t => t.Arn, StringComparer.Ordinal).ToArray();

    /// <summary>Every accepted Publish, oldest first.</summary>
    public IReadOnlyList<SnsPublishedMessage> Messages => _messages.ToArray();

    public string? ScenarioTopicArn { get; internal set; }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,256}$")]
    private static partial Regex TopicNamePattern();

    public void RegisterAdminEndpoints(LabAdminRouter router)
    {
        router.Map("/_lab/sns/messages", r =>
        {
            var topic = r.Query["topicArn"];
            if (r.Method == "DELETE") { _messages.Clear(); return new { cleared = true }; }
            return Messages.Where(m => topic is null || m.TopicArn == topic).ToArray();
        });
    }

    /// <summary>The topic of that name in the account, made when it does not exist yet (CreateTopic is idempotent).</summary>
    internal SnsTopic GetOrCreate(string account, string region, string name)
    {
        var arn = $"arn:aws:sns:{region}:{account}:{name}";
        return _topics.GetOrAdd(arn, a => new SnsTopic(a, name, account));
    }

    /// <summary>
    /// A publish by an AWS service principal on a topic, the way EventBridge delivers to an SNS target: the message is
    /// kept like any Publish; null with <paramref name="error"/> when SNS would refuse it (no such topic, empty or too long).
    /// </summary>
    internal SnsPublishedMessage? PublishAsService(string topicArn, string message, string servicePrincipal, out string? error)
    {
        error = null;
        if (!_topics.TryGetValue(topicArn, out var topic)) { error = "NotFound: Topic does not exist"; return null; }
        if (message.Length == 0) { error = "InvalidParameter: Invalid parameter: Empty message"; return null; }
        if (Encoding.UTF8.GetByteCount(message) > MaxMessageBytes) { error = "InvalidParameter: Invalid parameter: Message too long"; return null; }
        var msg = new SnsPublishedMessage(Guid.NewGuid().ToString(), topic.Arn, null, message, null,
            new Dictionary<string, SnsMessageAttribute>(StringComparer.Ordinal), _context.Clock.GetUtcNow(), topic.Owner, servicePrincipal);
        _messages.Enqueue(msg);
        return msg;
    }

    public Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken)
    {
        var form = request.Form;
        var action = form["Action"] ?? "";
        request.Action = action.Length > 0 ? action : "Unknown";
        if (action.Length > 0 && _context.IsDenied("sns", action))
            return Task.FromResult(Error(request, 403, "AuthorizationError",
                LabContext.DenialMessage(request.Principal?.Arn, "SNS", action)));
        if (action.Length == 0) return Task.FromResult(Error(request, 400, "MissingAction", "Missing Action"));
        if (!_handlers.TryGetValue(action, out var handler))
            return Task.FromResult(Error(request, 400, "InvalidAction", $"Could not find operation {action} for version 2010-03-31"));
        // A member the model requires (Publish's Message, a TopicArn) is refused as ValidationError, the way SNS answers
        // "Value null at 'message' failed to satisfy constraint: Member must not be null".
        if (s_model.ValidateForm(action, form) is { Count: > 0 } violations)
            return Task.FromResult(Error(request, 400, "ValidationError", ModelViolation.Summary(violations)));
        return Task.FromResult(handler(request));
    }

    private static LabResponse Error(LabRequest r, int status, string code, string message) =>
        ProtocolErrors.Query(status, status >= 500 ? "Receiver" : "Sender", code, message, r.RequestId, Ns);

    private static LabResponse Invalid(LabRequest r, string message) => Error(r, 400, "InvalidParameter", message);

    /// <summary>Resolves a topic ARN the caller may use; null plus an error response otherwise.</summary>
    private LabResponse? Topic(LabRequest r, string? arn, string parameter, out SnsTopic topic)
    {
        topic = null!;
        if (string.IsNullOrEmpty(arn)) return Invalid(r, $"Invalid parameter: {parameter}");
        var parts = arn.Split(':');
        if (parts.Length != 6 || parts[0] != "arn" || parts[2] != "sns")
            return Invalid(r, $"Invalid parameter: {parameter} Reason: An ARN must have the format arn:partition:service:region:account-id:resource");
        if (!_topics.TryGetValue(arn, out var t))
            return Error(r, 404, "NotFound", "Topic does not exist");
        if (t.Owner != r.AccountId)
            return Error(r, 403, "AuthorizationError",
                $"User: {r.Principal?.Arn} is not authorized to perform: SNS:{r.Action} on resource: {arn} because no resource-based policy allows the SNS:{r.Action} action");
        topic = t;
        return null;
    }

    private LabResponse CreateTopic(LabRequest r)
    {
        var name = r.Form["Name"];
        if (string.IsNullOrEmpty(name) || !TopicNamePattern().IsMatch(name.EndsWith(".fifo", StringComparison.Ordinal) ? name[..^5] : name))
            return Invalid(r, "Invalid parameter: Topic Name");
        var topic = GetOrCreate(r.AccountId, r.Region, name);
        for (int i = 1; r.Form[$"Attributes.entry.{i}.key"] is { } key; i++)
            topic.Attributes[key] = r.Form[$"Attributes.entry.{i}.value"] ?? "";
        return QueryXml.Success("CreateTopic", Ns, r.RequestId, new[] { new XElement("TopicArn", topic.Arn) });
    }

    private LabResponse DeleteTopic(LabRequest r)
    {
        var arn = r.Form["TopicArn"];
        // Deleting a topic that does not exist succeeds (SNS is idempotent here).
        if (arn is not null && _topics.TryGetValue(arn, out var t) && t.Owner == r.AccountId) _topics.TryRemove(arn, out _);
        return QueryXml.Success("DeleteTopic", Ns, r.RequestId, null, withResultWrapper: false);
    }

    private LabResponse ListTopics(LabRequest r)
    {
        var mine = Topics.Where(t => t.Owner == r.AccountId && t.Arn.Split(':')[3] == r.Region).ToList();
        int offset = 0;
        if (r.Form["NextToken"] is { } token && (!int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset > mine.Count))
            return Invalid(r, "Invalid parameter: NextToken");
        // SNS pages ListTopics by 100.
        var page = mine.Skip(offset).Take(100).ToList();
        var result = new List<XElement> { new("Topics", page.Select(t => new XElement("member", new XElement("TopicArn", t.Arn)))) };
        if (offset + page.Count < mine.Count) result.Add(new XElement("NextToken", (offset + page.Count).ToString(CultureInfo.InvariantCulture)));
        return QueryXml.Success("ListTopics", Ns, r.RequestId, result);
    }

    private LabResponse GetTopicAttributes(LabRequest r)
    {
        if (Topic(r, r.Form["TopicArn"], "TopicArn", out var t) is { } err) return err;
        int confirmed, pending;
        lock (t.Subscriptions) { confirmed = t.Subscriptions.Count(s => s.Confirmed); pending = t.Subscriptions.Count - confirmed; }
        var attrs = new Dictionary<string, string>(t.Attributes)
        {
            ["TopicArn"] = t.Arn,
            ["Owner"] = t.Owner,
            ["SubscriptionsConfirmed"] = confirmed.ToString(CultureInfo.InvariantCulture),
            ["SubscriptionsPending"] = pending.ToString(CultureInfo.InvariantCulture),
            ["SubscriptionsDeleted"] = "0",
            ["EffectiveDeliveryPolicy"] = "{\"http\":{\"defaultHealthyRetryPolicy\":{\"minDelayTarget\":20,\"maxDelayTarget\":20,\"numRetries\":3,\"numMaxDelayRetries\":0,\"numNoDelayRetries\":0,\"numMinDelayRetries\":0,\"backoffFunction\":\"linear\"},\"disableSubscriptionOverrides\":false}}",
            ["Policy"] = $"{{\"Version\":\"2008-10-17\",\"Id\":\"__default_policy_ID\",\"Statement\":[{{\"Sid\":\"__default_statement_ID\",\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"*\"}},\"Action\":[\"SNS:Publish\",\"SNS:Subscribe\"],\"Resource\":\"{t.Arn}\",\"Condition\":{{\"StringEquals\":{{\"AWS:SourceOwner\":\"{t.Owner}\"}}}}}}]}}",
        };
        if (!attrs.ContainsKey("DisplayName")) attrs["DisplayName"] = "";
        return QueryXml.Success("GetTopicAttributes", Ns, r.RequestId, new[]
        {
            new XElement("Attributes", attrs.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => new XElement("entry", new XElement("key", a.Key), new XElement("value", a.Value)))),
        });
    }

    private LabResponse Subscribe(LabRequest r)
    {
        if (Topic(r, r.Form["TopicArn"], "TopicArn", out var t) is { } err) return err;
        var protocol = r.Form["Protocol"];
        var endpoint = r.Form["Endpoint"] ?? "";
        if (protocol is not ("email" or "email-json" or "http" or "https" or "sqs" or "lambda" or "sms" or "application" or "firehose"))
            return Invalid(r, "Invalid parameter: Amazon SNS does not support this protocol string: " + protocol);
        if (protocol is "email" or "email-json" && !Regex.IsMatch(endpoint, @"^[^@\s]+@[^@\s]+\.[^@\s]+$"))
            return Invalid(r, "Invalid parameter: Email address");
        if (protocol is "http" or "https" && !endpoint.StartsWith(protocol + "://", StringComparison.Ordinal))
            return Invalid(r, "Invalid parameter: Endpoint");
        // Email and HTTP endpoints must confirm first; AWS-internal endpoints (SQS, Lambda, Firehose) are confirmed at once.
        bool confirmed = protocol is "sqs" or "lambda" or "firehose" or "application";
        SnsSubscription sub;
        lock (t.Subscriptions)
        {
            var existing = t.Subscriptions.FirstOrDefault(s => s.Protocol == protocol && s.Endpoint == endpoint);
            if (existing is not null) sub = existing;
            else
            {
                sub = new SnsSubscription(confirmed ? $"{t.Arn}:{Guid.NewGuid()}" : "PendingConfirmation", t.Arn, protocol, endpoint, r.AccountId, confirmed);
                t.Subscriptions.Add(sub);
            }
        }
        bool returnArn = string.Equals(r.Form["ReturnSubscriptionArn"], "true", StringComparison.OrdinalIgnoreCase);
        var arn = sub.Confirmed ? sub.SubscriptionArn : returnArn ? $"{t.Arn}:{Guid.NewGuid()}" : "pending confirmation";
        return QueryXml.Success("Subscribe", Ns, r.RequestId, new[] { new XElement("SubscriptionArn", arn) });
    }

    private LabResponse ListSubscriptionsByTopic(LabRequest r)
    {
        if (Topic(r, r.Form["TopicArn"], "TopicArn", out var t) is { } err) return err;
        SnsSubscription[] subs;
        lock (t.Subscriptions) subs = t.Subscriptions.ToArray();
        return QueryXml.Success("ListSubscriptionsByTopic", Ns, r.RequestId, new[]
        {
            new XElement("Subscriptions", subs.Select(s => new XElement("member",
                new XElement("Owner", s.Owner), new XElement("Endpoint", s.Endpoint), new XElement("Protocol", s.Protocol),
                new XElement("SubscriptionArn", s.SubscriptionArn), new XElement("TopicArn", s.TopicArn)))),
        });
    }

    private LabResponse Publish(LabRequest r)
    {
        var form = r.Form;
        var arn = form["TopicArn"] ?? form["TargetArn"];
        if (form["PhoneNumber"] is not null && arn is null)
            return Invalid(r, "Invalid parameter: PhoneNumber Reason: SMS publishing is not available in the Lab");
        if (Topic(r, arn, form["TopicArn"] is null ? "TargetArn" : "TopicArn", out var t) is { } err) return err;
        var message = form["Message"]!;
        if (message.Length == 0) return Invalid(r, "Invalid parameter: Empty message");
        if (Encoding.UTF8.GetByteCount(message) > MaxMessageBytes)
            return Invalid(r, "Invalid parameter: Message too long");
        var subject = form["Subject"];
        if (subject is not null)
        {
            // "UTF-8 text with no line breaks or control characters, and less than 100 characters long."
            if (subject.Length == 0) return Invalid(r, "Invalid parameter: Subject");
            if (subject.Length >= 100) return Invalid(r, "Invalid parameter: Subject");
            if (subject.Any(char.IsControl)) return Invalid(r, "Invalid parameter: Subject");
        }
        var structure = form["MessageStructure"];
        if (structure is not null)
        {
            if (structure != "json") return Invalid(r, "Invalid parameter: MessageStructure");
            try
            {
                using var doc = JsonDocument.Parse(message);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    return Invalid(r, "Invalid parameter: Message Structure - JSON message body failed to parse");
                if (!doc.RootElement.TryGetProperty("default", out var d) || d.ValueKind != JsonValueKind.String)
                    return Invalid(r, "Invalid parameter: Message Structure - No default entry in JSON message body");
            }
            catch (JsonException)
            {
                return Invalid(r, "Invalid parameter: Message Structure - JSON message body failed to parse");
            }
        }
        var attributes = new Dictionary<string, SnsMessageAttribute>(StringComparer.Ordinal);
        for (int i = 1; form[$"MessageAttributes.entry.{i}.Name"] is { } name; i++)
        {
            var type = form[$"MessageAttributes.entry.{i}.Value.DataType"];
            var sv = form[$"MessageAttributes.entry.{i}.Value.StringValue"];
            var bv = form[$"MessageAttributes.entry.{i}.Value.BinaryValue"];
            if (string.IsNullOrEmpty(type))
                return Invalid(r, $"Invalid parameter: MessageAttributes Reason: The message attribute '{name}' must contain non-empty message attribute value for message attribute type.");
            var baseType = type.Split('.')[0];
            if (baseType is not ("String" or "Number" or "Binary"))
                return Error(r, 400, "ParameterValueInvalid", $"The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.");
            if (baseType == "Binary" ? string.IsNullOrEmpty(bv) : string.IsNullOrEmpty(sv))
                return Error(r, 400, "ParameterValueInvalid", $"The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{type}'.");
            if (baseType == "Number" && !double.TryParse(sv, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                return Error(r, 400, "ParameterValueInvalid", $"Could not cast message attribute '{name}' value to number.");
            if (attributes.Count >= 10)
                return Invalid(r, "Invalid parameter: MessageAttributes Reason: Number of message attributes [11] exceeds the allowed maximum [10].");
            attributes[name] = new SnsMessageAttribute(type, sv, bv);
        }
        if (t.Name.EndsWith(".fifo", StringComparison.Ordinal) && string.IsNullOrEmpty(form["MessageGroupId"]))
            return Invalid(r, "Invalid parameter: The MessageGroupId parameter is required for FIFO topics");
        var msg = new SnsPublishedMessage(Guid.NewGuid().ToString(), t.Arn, subject, message, structure, attributes, _context.Clock.GetUtcNow(), r.AccountId, r.Principal?.Arn);
        _messages.Enqueue(msg);
        var result = new List<XElement> { new("MessageId", msg.MessageId) };
        if (t.Name.EndsWith(".fifo", StringComparison.Ordinal)) result.Add(new XElement("SequenceNumber", (10000000000000000000m + _messages.Count).ToString(CultureInfo.InvariantCulture)));
        return QueryXml.Success("Publish", Ns, r.RequestId, result);
    }
}
