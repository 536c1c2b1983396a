using System.Text.Json.Nodes;
using System.Xml.Linq;
using Amazon.EC2.Model;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests.Models;

/// <summary>
/// Required members, limits and enums as the AWS models give them, answered in each protocol's own error: EC2
/// MissingParameter/InvalidParameterValue, awsQuery ValidationError, GuardDuty BadRequestException, CloudTrail its
/// modeled exceptions, Athena InvalidRequestException. Values the models allow are served.
/// </summary>
public sealed class ModelValidationTests : IClassFixture<SharedWorkshopLab>
{
    private readonly LabHost _lab;

    public ModelValidationTests(SharedWorkshopLab fx) => _lab = fx.Lab;

    private async Task<(int Status, string Code, string Message)> Ec2(params (string, string)[] form)
    {
        var (status, body, _) = await TestLab.PostFormAsync(_lab, "ec2", TestLab.Form(new[] { ("Version", "2016-11-15") }.Concat(form).ToArray()));
        if (status == 200) return (status, "", "");
        var error = XDocument.Parse(body).Descendants("Error").Single();
        return (status, error.Element("Code")!.Value, error.Element("Message")!.Value);
    }

    private async Task<(int Status, string Code, string Message)> Query(string service, params (string, string)[] form)
    {
        using var c = new RawAwsClient(_lab);
        var r = await c.QueryAsync(service, form);
        if (r.Status == 200) return (200, "", "");
        var error = XDocument.Parse(r.Body).Descendants().Single(e => e.Name.LocalName == "Error");
        return (r.Status, error.Elements().Single(e => e.Name.LocalName == "Code").Value, error.Elements().Single(e => e.Name.LocalName == "Message").Value);
    }

    // ------------------------------------------------------------------ EC2

    [Fact]
    public async Task Ec2_DescribeVolumes_TakesTheAwsClisPageSizeOf1000()
    {
        // Issue 9 item 19: the model sets no bound on DescribeVolumes' MaxResults; the AWS CLI sends 1000.
        using var ec2 = TestLab.Ec2(_lab);
        var volumes = new List<string>();
        await foreach (var v in ec2.Paginators.DescribeVolumes(new DescribeVolumesRequest { MaxResults = 1000 }).Volumes) volumes.Add(v.VolumeId);
        Assert.Equal(_lab.World.InstancesIn(_lab.AccountId).Sum(i => i.Volumes.Count), volumes.Count);
        Assert.Equal(200, (await Ec2(("Action", "DescribeSnapshots"), ("Owner.1", "self"), ("MaxResults", "1000"))).Status);
    }

    [Theory]
    [InlineData("DescribeSecurityGroups", "1000", 200)]
    [InlineData("DescribeSecurityGroups", "1001", 400)]
    [InlineData("DescribeVpcs", "5", 200)]
    [InlineData("DescribeVpcs", "4", 400)]
    [InlineData("DescribeNetworkInterfaces", "1000", 200)]
    [InlineData("DescribeIamInstanceProfileAssociations", "2000", 400)]
    [InlineData("DescribeTags", "1000", 200)]
    [InlineData("DescribeInstances", "1000", 200)]
    public async Task Ec2_MaxResults_FollowsTheModelsBounds(string action, string max, int status)
    {
        var r = await Ec2(("Action", action), ("MaxResults", max));
        Assert.Equal(status, r.Status);
        if (status == 400)
        {
            Assert.Equal("InvalidParameterValue", r.Code);
            Assert.Contains("between 5 and 1000", r.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("StopInstances", "InstanceId")]
    [InlineData("CreateTags", "ResourceId")]
    [InlineData("GetConsoleOutput", "InstanceId")]
    [InlineData("CreateSecurityGroup", "GroupDescription")]
    [InlineData("DisassociateIamInstanceProfile", "AssociationId")]
    public async Task Ec2_AbsentRequiredMember_IsMissingParameter(string action, string parameter)
    {
        var form = new List<(string, string)> { ("Action", action) };
        // Everything else the operation requires, so only the member under test is absent.
        if (action == "CreateTags") form.Add(("Tag.1.Key", "k"));
        if (action == "CreateSecurityGroup") form.Add(("GroupName", "only-a-name"));
        var r = await Ec2(form.ToArray());
        Assert.Equal((400, "MissingParameter"), (r.Status, r.Code));
        Assert.Contains(parameter, r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ec2_AbsentRequiredMemberOfANestedStructure_IsMissingParameter()
    {
        var r = await Ec2(("Action", "CreateSnapshots"), ("InstanceSpecification.ExcludeBootVolume", "true"));
        Assert.Equal("MissingParameter", r.Code);
        Assert.Contains("InstanceSpecification.InstanceId", r.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DescribeInstanceAttribute", "Attribute", "securityGroups")]
    [InlineData("CreateSnapshots", "CopyTagsFromSource", "instance")]
    [InlineData("ModifySnapshotAttribute", "OperationType", "delete")]
    [InlineData("CreateSecurityGroup", "TagSpecification.1.ResourceType", "firewall")]
    public async Task Ec2_ValueOutsideTheModelsEnum_IsInvalidParameterValue(string action, string parameter, string value)
    {
        var w = _lab.World;
        var form = new List<(string, string)> { ("Action", action), (parameter, value) };
        switch (action)
        {
            case "DescribeInstanceAttribute": form.Add(("InstanceId", w.CompromisedInstanceId!)); break;
            case "CreateSnapshots": form.Add(("InstanceSpecification.InstanceId", w.CompromisedInstanceId!)); break;
            case "ModifySnapshotAttribute": form.Add(("SnapshotId", "snap-0123456789abcdef0")); break;
            case "CreateSecurityGroup": form.Add(("GroupName", "enum-test")); form.Add(("GroupDescription", "d")); form.Add(("TagSpecification.1.Tag.1.Key", "k")); break;
        }
        var r = await Ec2(form.ToArray());
        Assert.Equal((400, "InvalidParameterValue"), (r.Status, r.Code));
        Assert.Contains(value, r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ec2_EveryValueOfTheModelsEnum_IsAnswered()
    {
        var w = _lab.World;
        // productCodes is in SnapshotAttributeName; the Lab used to refuse it.
        var (status, body, _) = await TestLab.PostFormAsync(_lab, "ec2", TestLab.Form(("Action", "CreateSnapshots"), ("Version", "2016-11-15"),
            ("InstanceSpecification.InstanceId", w.CompromisedInstanceId!)));
        Assert.Equal(200, status);
        var snap = XDocument.Parse(body).Descendants().First(e => e.Name.LocalName == "snapshotId").Value;
        Assert.Equal(200, (await Ec2(("Action", "DescribeSnapshotAttribute"), ("SnapshotId", snap), ("Attribute", "productCodes"))).Status);
        foreach (var attribute in InstanceAttributeNames())
            Assert.Equal(200, (await Ec2(("Action", "DescribeInstanceAttribute"), ("InstanceId", w.CompromisedInstanceId!), ("Attribute", attribute))).Status);
    }

    private static string[] InstanceAttributeNames()
    {
        var model = JsonNode.Parse(File.ReadAllText(Path.Combine(GuardDutyIR.TestSupport.TestPaths.Shared, "aws-models", "ec2", "service-2.json")))!;
        return model["shapes"]!["InstanceAttributeName"]!["enum"]!.AsArray().Select(v => (string)v!).ToArray();
    }

    [Fact]
    public async Task Ec2_FilterNames_AreNotAnEnum()
    {
        // Filter.N.Name is a plain string in the model; the Lab refuses only names it cannot apply, as EC2 does.
        Assert.Equal(200, (await Ec2(("Action", "DescribeInstances"), ("Filter.1.Name", "tag:anything-at-all"), ("Filter.1.Value.1", "x"))).Status);
        Assert.Equal(200, (await Ec2(("Action", "DescribeVolumes"), ("Filter.1.Name", "attachment.instance-id"), ("Filter.1.Value.1", "i-0123456789abcdef0"))).Status);
    }

    // ------------------------------------------------------------------ awsQuery: STS, SNS, Auto Scaling

    [Fact]
    public async Task Sts_AbsentRequiredMember_IsValidationError_InAwsWords()
    {
        var r = await Query("sts", ("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", $"arn:aws:iam::{_lab.MemberAccountId}:role/GuardDutyIR-Auditor"));
        Assert.Equal((400, "ValidationError"), (r.Status, r.Code));
        Assert.Equal("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null", r.Message);
    }

    [Theory]
    [InlineData("TokenCode", "12345", "Member must have length greater than or equal to 6")]
    [InlineData("ExternalId", "x", "Member must have length greater than or equal to 2")]
    [InlineData("SourceIdentity", "s", "Member must have length greater than or equal to 2")]
    [InlineData("DurationSeconds", "43201", "Member must have value less than or equal to 43200")]
    public async Task Sts_LengthsAndRanges_ComeFromTheModel(string member, string value, string constraint)
    {
        var r = await Query("sts", ("Action", "AssumeRole"), ("Version", "2011-06-15"),
            ("RoleArn", $"arn:aws:iam::{_lab.MemberAccountId}:role/GuardDutyIR-Auditor"), ("RoleSessionName", "ir"), (member, value));
        Assert.Equal((400, "ValidationError"), (r.Status, r.Code));
        Assert.Contains(constraint, r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sns_PublishWithoutMessage_IsValidationError()
    {
        var topic = _lab.GetService<SnsService>()!.ScenarioTopicArn!;
        var r = await Query("sns", ("Action", "Publish"), ("Version", "2010-03-31"), ("TopicArn", topic));
        Assert.Equal((400, "ValidationError"), (r.Status, r.Code));
        Assert.Contains("Value null at 'message'", r.Message, StringComparison.Ordinal);
        var noTopic = await Query("sns", ("Action", "GetTopicAttributes"), ("Version", "2010-03-31"));
        Assert.Equal("ValidationError", noTopic.Code);
        Assert.Contains("'topicArn'", noTopic.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DescribeAutoScalingGroups", "1000")]
    [InlineData("DescribeAutoScalingGroups", "100")]
    [InlineData("DescribeAutoScalingInstances", "1000")]
    [InlineData("DescribeAutoScalingInstances", "1")]
    public async Task AutoScaling_MaxRecords_IsNotBoundedByTheModel(string action, string max)
    {
        Assert.Equal(200, (await Query("autoscaling", ("Action", action), ("Version", "2011-01-01"), ("MaxRecords", max))).Status);
    }

    [Fact]
    public async Task AutoScaling_LengthsAndRequiredMembers_ComeFromTheModel()
    {
        var tooLong = await Query("autoscaling", ("Action", "DescribeAutoScalingGroups"), ("Version", "2011-01-01"),
            ("AutoScalingGroupNames.member.1", new string('g', 256)));
        Assert.Equal((400, "ValidationError"), (tooLong.Status, tooLong.Code));
        Assert.Contains("Member must have length less than or equal to 255", tooLong.Message, StringComparison.Ordinal);
        var noName = await Query("autoscaling", ("Action", "ExitStandby"), ("Version", "2011-01-01"), ("InstanceIds.member.1", "i-0123456789abcdef0"));
        Assert.Equal("ValidationError", noName.Code);
        Assert.Contains("Value null at 'autoScalingGroupName'", noName.Message, StringComparison.Ordinal);
    }

    // ------------------------------------------------------------------ GuardDuty (rest-json)

    private string Detector => _lab.GetService<GuardDutyService>()!.DetectorOf(_lab.AccountId)!.Id;

    [Theory]
    [InlineData("findings/feedback", "{\"findingIds\":[\"a\"],\"feedback\":\"MAYBE\"}", "feedback")]
    [InlineData("findings", "{\"sortCriteria\":{\"attributeName\":\"severity\",\"orderBy\":\"UP\"}}", "sortCriteria.orderBy")]
    [InlineData("findings/get", "{\"findingIds\":[\"\"]}", "findingIds")]
    [InlineData("findings", "{\"maxResults\":51}", "maxResults")]
    [InlineData("findings/archive", "{}", "findingIds")]
    public async Task GuardDuty_InputOutsideTheModel_IsBadRequest(string path, string body, string parameter)
    {
        using var c = new RawAwsClient(_lab);
        var r = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{Detector}/{path}", JsonNode.Parse(body)!.AsObject());
        Assert.Equal(400, r.Status);
        Assert.Equal("BadRequestException", r.Header("x-amzn-ErrorType"));
        Assert.Contains($"parameter {parameter} ", (string)r.Json["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GuardDuty_EnumsAndMapSizes_ComeFromTheModel()
    {
        using var c = new RawAwsClient(_lab);
        // A second detector is refused anyway, but a bad frequency is refused first, as input validation comes first.
        var detector = await c.GuardDutyAsync(HttpMethod.Post, "/detector", new JsonObject { ["enable"] = true, ["findingPublishingFrequency"] = "HOURLY" });
        Assert.Contains("findingPublishingFrequency", (string)detector.Json["message"]!, StringComparison.Ordinal);
        var w = _lab.World;
        var tags = new JsonObject();
        for (int i = 0; i < 201; i++) tags["k" + i] = "v";
        var list = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{Detector}/threatintelset", new JsonObject
        {
            ["name"] = "too-many-tags", ["format"] = "TXT", ["activate"] = true, ["tags"] = tags,
            ["location"] = $"https://s3.amazonaws.com/{w.ThreatListBucket}/{w.ThreatListKey}",
        });
        Assert.Equal(400, list.Status);
        Assert.Contains("parameter tags ", (string)list.Json["message"]!, StringComparison.Ordinal);
        var maxQuery = await c.GuardDutyAsync(HttpMethod.Get, $"/detector/{Detector}/threatintelset", query: "maxResults=0");
        Assert.Equal(400, maxQuery.Status);
        Assert.Equal(200, (await c.GuardDutyAsync(HttpMethod.Get, $"/detector/{Detector}/threatintelset", query: "maxResults=50")).Status);
    }

    // ------------------------------------------------------------------ CloudTrail and Athena (json-1.1)

    [Theory]
    [InlineData("LookupEvents", "{\"EventCategory\":\"data\"}", "InvalidEventCategoryException")]
    [InlineData("LookupEvents", "{\"LookupAttributes\":[{\"AttributeKey\":\"Region\",\"AttributeValue\":\"x\"}]}", "InvalidLookupAttributesException")]
    [InlineData("LookupEvents", "{\"MaxResults\":51}", "InvalidMaxResultsException")]
    [InlineData("LookupEvents", "{\"MaxResults\":\"ten\"}", "SerializationException")]
    [InlineData("ListQueries", "{\"EventDataStore\":\"EDS\",\"QueryStatus\":\"DONE\"}", "InvalidQueryStatusException")]
    [InlineData("ListQueries", "{}", "InvalidParameterException")]
    [InlineData("GetEventDataStore", "{}", "InvalidParameterException")]
    [InlineData("GetQueryResults", "{\"QueryId\":\"not-a-uuid\"}", "InvalidParameterException")]
    [InlineData("StartQuery", "{\"QueryStatement\":\"SELECT 1\",\"QueryParameters\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\"]}", "InvalidParameterException")]
    [InlineData("ListEventDataStores", "{\"NextToken\":\"abc\"}", "InvalidNextTokenException")]
    public async Task CloudTrail_InputOutsideTheModel_GetsTheModeledException(string op, string body, string code)
    {
        using var c = new RawAwsClient(_lab);
        var json = body.Replace("EDS", _lab.GetService<CloudTrailService>()!.EventDataStoreId!, StringComparison.Ordinal);
        var r = await c.CloudTrailAsync(op, JsonNode.Parse(json)!.AsObject());
        Assert.Equal(400, r.Status);
        Assert.Equal(code, (string)r.Json["__type"]!);
    }

    [Theory]
    [InlineData("StartQueryExecution", "{\"QueryString\":\"SELECT 1\",\"ClientRequestToken\":\"too-short\"}", "clientRequestToken")]
    [InlineData("StartQueryExecution", "{}", "queryString")]
    [InlineData("GetQueryResults", "{\"QueryExecutionId\":\"q\",\"QueryResultType\":\"CSV\"}", "queryResultType")]
    [InlineData("GetQueryResults", "{\"QueryExecutionId\":\"q\",\"MaxResults\":1001}", "maxResults")]
    [InlineData("GetQueryExecution", "{\"QueryExecutionId\":\"\"}", "queryExecutionId")]
    public async Task Athena_InputOutsideTheModel_IsInvalidRequestException(string op, string body, string path)
    {
        using var c = new RawAwsClient(_lab);
        var r = await c.AthenaAsync(op, JsonNode.Parse(body)!.AsObject());
        Assert.Equal(400, r.Status);
        Assert.Equal("InvalidRequestException", (string)r.Json["__type"]!);
        Assert.Contains($"at '{path}'", (string)r.Json["Message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidationMessages_NameEveryViolation()
    {
        var v = GuardDutyIR.Lab.Core.Model.ServiceModel.For("sts").ValidateForm("AssumeRole", new System.Collections.Specialized.NameValueCollection
        {
            ["DurationSeconds"] = "60",
        });
        Assert.Equal(3, v.Count);
        Assert.Equal("3 validation errors detected: " +
            "Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900; " +
            "Value null at 'roleArn' failed to satisfy constraint: Member must not be null; " +
            "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
            GuardDutyIR.Lab.Core.Model.ModelViolation.Summary(v));
    }
}
