using System.Text.Json.Nodes;

namespace GuardDutyIR.Lab.Tests.Automation;

/// <summary>The template reader the auto-response tests stand on: short-form tags, conditions and the functions.</summary>
public sealed class CloudFormationTemplateTests
{
    private const string Yaml = """
        Parameters:
          Kind: {Type: String, Default: A, AllowedValues: [A, B]}
          Names: {Type: CommaDelimitedList, Default: 'x,y'}
          Size: {Type: Number, Default: 3, MinValue: 1}
        Conditions:
          IsA: !Equals [!Ref Kind, A]
          IsB: !Not [!Condition IsA]
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              Name: !Sub '${AWS::StackName}-${Size}-${!Literal}-${Extra}'
              Both: !Join ['+', !Ref Names]
              Second: !Select [1, !Split [',', 'p,q,r']]
              Arn: !GetAtt Other.Arn
              Long: {'Fn::GetAtt': [Other, Arn]}
              Maybe: !If [IsB, kept, !Ref 'AWS::NoValue']
              List: [one, !If [IsA, !Ref 'AWS::NoValue', two], 3, true, '4']
          Other:
            Type: AWS::SNS::Topic
            Condition: IsB
        """;

    private static CloudFormationTemplate Load()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cfn-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Yaml);
        try { return CloudFormationTemplate.Load(path); }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Short_form_tags_become_the_long_form_functions()
    {
        var properties = Load().Resources["Queue"]!["Properties"]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"Fn::GetAtt":["Other","Arn"]}"""), properties["Arn"]));
        Assert.True(JsonNode.DeepEquals(properties["Long"], properties["Arn"]));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"Fn::Join":["+",{"Ref":"Names"}]}"""), properties["Both"]));
        // Plain scalars are typed as YAML types them; quoted ones stay text.
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""["one",{"Fn::If":["IsA",{"Ref":"AWS::NoValue"},"two"]},3,true,"4"]"""), properties["List"]));
    }

    [Fact]
    public void A_stack_resolves_parameters_conditions_and_functions()
    {
        var template = Load();
        var a = template.Stack(new Dictionary<string, string> { ["Names"] = "m,n,o" }, stackName: "s1");
        Assert.False(a.Creates("Other"));
        var error = Assert.Throws<InvalidOperationException>(() => a.Properties("Queue"));
        Assert.Contains("Extra", error.Message, StringComparison.Ordinal);

        var b = template.Stack(new Dictionary<string, string> { ["Kind"] = "B", ["Size"] = "7" }, stackName: "s2");
        Assert.True(b.Creates("Other"));
        b.SetAttribute("Other", "Arn", "arn:aws:sns:us-east-1:123456789012:t");
        var text = b.Resolve(JsonNode.Parse("""{"Fn::Sub":["${AWS::StackName}-${Size}-${!Literal}-${Extra}",{"Extra":{"Ref":"Kind"}}]}"""));
        Assert.Equal("s2-7-${Literal}-B", (string?)text);
        var resolved = b.Resolve(template.Resources["Queue"]!["Properties"]!.AsObject().Where(p => p.Key != "Name")
            .Aggregate(new JsonObject(), (o, p) => { o[p.Key] = p.Value!.DeepClone(); return o; }))!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"Both":"x+y","Second":"q","Arn":"arn:aws:sns:us-east-1:123456789012:t","Long":"arn:aws:sns:us-east-1:123456789012:t",
             "Maybe":"kept","List":["one","two",3,true,"4"]}
            """), resolved), resolved.ToJsonString());
        Assert.Equal("x+y", (string?)b.Resolve(JsonNode.Parse("""{"Fn::Join":["+",{"Ref":"Names"}]}""")));
        Assert.Equal("m+n+o", (string?)a.Resolve(JsonNode.Parse("""{"Fn::Join":["+",{"Ref":"Names"}]}""")));
        Assert.Null(a.Resolve(JsonNode.Parse("""{"x":{"Fn::If":["IsB","kept",{"Ref":"AWS::NoValue"}]}}"""))!["x"]);

        Assert.Throws<ArgumentException>(() => template.Stack(new Dictionary<string, string> { ["Kind"] = "C" }));
        Assert.Throws<ArgumentException>(() => template.Stack(new Dictionary<string, string> { ["Size"] = "0" }));
        Assert.Throws<ArgumentException>(() => template.Stack(new Dictionary<string, string> { ["Nope"] = "1" }));
    }
}
