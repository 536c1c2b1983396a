using System.Net.Http;
using System.Text.Json;
using System.Xml.Linq;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

public sealed class SnsTests
{
    private static readonly XNamespace Ns = "http://sns.amazonaws.com/doc/2010-03-31/";

    private static XElement Xml(RawResponse r) => XElement.Parse(r.Body);

    [Fact]
    public async Task Topics_Subscriptions_Publish_AndTheAdminEndpoint()
    {
        await using var lab = await TestLab.StartAsync("CompromisedInstance", seed: 41);
        using var c = new RawAwsClient(lab);
        var sns = lab.GetService<SnsService>()!;
        Assert.Equal($"arn:aws:sns:{lab.Region}:{lab.AccountId}:{lab.World.SnsTopicName}", sns.ScenarioTopicArn);

        var create = await c.QueryAsync("sns", ("Action", "CreateTopic"), ("Version", "2010-03-31"), ("Name", "ir-alerts"));
        var arn = Xml(create).Descendants(Ns + "TopicArn").Single().Value;
        var again = await c.QueryAsync("sns", ("Action", "CreateTopic"), ("Version", "2010-03-31"), ("Name", "ir-alerts"));
        Assert.Equal(arn, Xml(again).Descendants(Ns + "TopicArn").Single().Value);
        var list = await c.QueryAsync("sns", ("Action", "ListTopics"), ("Version", "2010-03-31"));
        Assert.Equal(new[] { sns.ScenarioTopicArn, arn }.Order(), Xml(list).Descendants(Ns + "TopicArn").Select(e => e.Value).Order());

        var sub = await c.QueryAsync("sns", ("Action", "Subscribe"), ("Version", "2010-03-31"), ("TopicArn", arn), ("Protocol", "email"), ("Endpoint", "soc@example.com"));
        Assert.Equal("pending confirmation", Xml(sub).Descendants(Ns + "SubscriptionArn").Single().Value);
        var subs = await c.QueryAsync("sns", ("Action", "ListSubscriptionsByTopic"), ("Version", "2010-03-31"), ("TopicArn", arn));
        var member = Xml(subs).Descendants(Ns + "member").Single();
        Assert.Equal("PendingConfirmation", member.Element(Ns + "SubscriptionArn")!.Value);
        Assert.Equal("soc@example.com", member.Element(Ns + "Endpoint")!.Value);

        var pub = await c.QueryAsync("sns", ("Action", "Publish"), ("Version", "2010-03-31"), ("TopicArn", arn),
            ("Subject", "GuardDuty Finding | ID: abc"), ("Message", "The EC2 instance i-1 may be compromised and should be investigated"),
            ("MessageAttributes.entry.1.Name", "severity"), ("MessageAttributes.entry.1.Value.DataType", "String"), ("MessageAttributes.entry.1.Value.StringValue", "HIGH"),
            ("MessageAttributes.entry.2.Name", "score"), ("MessageAttributes.entry.2.Value.DataType", "Number"), ("MessageAttributes.entry.2.Value.StringValue", "5"));
        Assert.Equal(200, pub.Status);
        var messageId = Xml(pub).Descendants(Ns + "MessageId").Single().Value;
        Shape.AssertSame(Shape.Xml(XElement.Parse(File.ReadAllText("/work/shared/aws-samples/sns-Publish.xml"))), Shape.Xml(Xml(pub)));
        var stored = sns.Messages.Single(m => m.MessageId == messageId);
        Assert.Equal("GuardDuty Finding | ID: abc", stored.Subject);
        Assert.Equal("HIGH", stored.MessageAttributes["severity"].StringValue);
        Assert.Equal("Number", stored.MessageAttributes["score"].DataType);

        var json = await c.QueryAsync("sns", ("Action", "Publish"), ("Version", "2010-03-31"), ("TopicArn", arn), ("MessageStructure", "json"), ("Message", "{\"default\":\"d\",\"email\":\"e\"}"));
        Assert.Equal(200, json.Status);

        using var http = new HttpClient();
        var admin = JsonDocument.Parse(await http.GetStringAsync(lab.Endpoint + "/_lab/sns/messages?topicArn=" + Uri.EscapeDataString(arn)));
        Assert.Equal(2, admin.RootElement.GetArrayLength());
        Assert.Equal(messageId, admin.RootElement[0].GetProperty("messageId").GetString());
    }

    [Theory]
    [InlineData("Subject", "line\nbreak", "InvalidParameter")]
    [InlineData("Subject", "", "InvalidParameter")]
    [InlineData("Subject", "x100", "InvalidParameter")]
    [InlineData("MessageStructure", "json", "InvalidParameter")]
    [InlineData("Message", "long", "InvalidParameter")]
    [InlineData("TopicArn", "missing", "NotFound")]
    public async Task Publish_Rejects(string field, string value, string code)
    {
        await using var lab = await TestLab.StartAsync("CompromisedInstance", seed: 42);
        using var c = new RawAwsClient(lab);
        var topic = lab.GetService<SnsService>()!.ScenarioTopicArn!;
        var form = new Dictionary<string, string> { ["Action"] = "Publish", ["Version"] = "2010-03-31", ["TopicArn"] = topic, ["Message"] = "{\"email\":\"no default\"}" };
        form[field] = (field, value) switch
        {
            ("Subject", "x100") => new string('x', 100),
            ("Message", "long") => new string('é', 131_073), // 262,146 UTF-8 bytes: bytes count, not characters
            ("TopicArn", "missing") => $"arn:aws:sns:{lab.Region}:{lab.AccountId}:no-such-topic",
            _ => value,
        };
        var r = await c.QueryAsync("sns", form.Select(kv => (kv.Key, kv.Value)).ToArray());
        var err = Xml(r).Descendants(Ns + "Error").Single();
        Assert.Equal(code, err.Element(Ns + "Code")!.Value);
        Assert.Equal("Sender", err.Element(Ns + "Type")!.Value);
        Assert.Equal(code == "NotFound" ? 404 : 400, r.Status);
        if (code == "NotFound")
            Shape.AssertSame(Shape.Xml(XElement.Parse(File.ReadAllText("/work/shared/aws-samples/sns-Error-NotFound.xml"))), Shape.Xml(Xml(r)));
        if (field == "Message") Assert.Contains("Message too long", err.Element(Ns + "Message")!.Value, StringComparison.Ordinal);
        Assert.Empty(lab.GetService<SnsService>()!.Messages);

        // Just under the limits is accepted.
        var ok = await c.QueryAsync("sns", ("Action", "Publish"), ("Version", "2010-03-31"), ("TopicArn", topic), ("Subject", new string('s', 99)), ("Message", new string('é', 131_072)));
        Assert.Equal(200, ok.Status);
    }
}
