using System.Xml.Linq;
using Amazon.EC2.Model;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

/// <summary>EC2's XML answers, written straight into UTF-8 bytes, are the text XElement writes, escapes and all.</summary>
public sealed class Ec2XmlTests
{
    [Fact]
    public async Task An_answer_is_the_declaration_and_the_element_as_XElement_writes_it_with_markup_and_non_ASCII_characters_escaped_alike()
    {
        await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.CompromisedInstance });
        var id = lab.World.CompromisedInstanceId!;
        const string value = "a&b <c> \"q\" 'a' ]]> é ß 🙂\ttab";
        using (var ec2 = TestLab.Ec2(lab))
            await ec2.CreateTagsAsync(new CreateTagsRequest { Resources = new List<string> { id }, Tags = new List<Tag> { new("Note", value) } });

        var raw = new RawAwsClient(lab);
        var answer = await raw.QueryAsync("ec2", ("Action", "DescribeTags"), ("Version", "2016-11-15"), ("Filter.1.Name", "resource-id"), ("Filter.1.Value.1", id));
        Assert.Equal(200, answer.Status);
        const string declaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
        Assert.StartsWith(declaration, answer.Body);
        var root = XDocument.Parse(answer.Body).Root!;
        Assert.Equal(declaration + root.ToString(SaveOptions.DisableFormatting), answer.Body);
        Assert.Contains(root.Descendants(root.Name.Namespace + "value"), v => v.Value == value);

        using var again = TestLab.Ec2(lab);
        var tags = await again.DescribeTagsAsync(new DescribeTagsRequest { Filters = new List<Filter> { new("resource-id", new List<string> { id }), new("key", new List<string> { "Note" }) } });
        Assert.Equal(value, Assert.Single(tags.Tags).Value);
    }
}
