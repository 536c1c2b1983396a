using System.Net.Http;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Events;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Lab.Tests.TestSupport;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Lab.Tests.Automation;

/// <summary>
/// module/cloudformation/guardduty-auto-response.yaml, deployed into the Lab as CloudFormation would deploy its rule:
/// the rule's event pattern and targets are read out of the template with the stack's parameters resolved, created in
/// the Lab's EventBridge over the wire, and GuardDuty findings then show what fires and what the responders read.
/// </summary>
public sealed class AutoResponseTemplateTests
{
    private const string RuleName = "GuardDuty-Event-EC2-MaliciousIPCaller";
    private const string MaliciousIp = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom";

    private static readonly Lazy<CloudFormationTemplate> s_template = new(() =>
        CloudFormationTemplate.Load(Path.Combine(TestPaths.RepoRoot, "module", "cloudformation", "guardduty-auto-response.yaml")));

    private static CloudFormationTemplate Template => s_template.Value;

    /// <summary>The workshop's e-mail for a finding: the template is plain text, so the message is exactly the text.</summary>
    private static string WorkshopEmail(string findingId, string instanceId) =>
        $"GuardDuty Finding | ID: {findingId}: The EC2 instance {instanceId} may be compromised and should be investigated";

    /// <summary>A stack of the template with the responders' address (the one parameter without a default) and these values.</summary>
    private static CloudFormationStack Stack(Dictionary<string, string>? parameters = null, LabHost? lab = null)
    {
        var values = new Dictionary<string, string>(parameters ?? new()) { ["NotificationEmail"] = Responders };
        return lab is null ? Template.Stack(values) : Template.Stack(values, lab.Region, lab.AccountId);
    }

    private const string Responders = "responders@example.com";

    /// <summary>The stack's rule, topic and function as they stand in the Lab.</summary>
    private sealed record Deployment(CloudFormationStack Stack, string RuleLogicalId, string RuleArn, string TopicArn, string? FunctionArn);

    /// <summary>
    /// What CloudFormation would do for the parts the Lab has: the topic and its subscription (SNS), the remediation
    /// function (a Lab function of the template's name), and the one rule the stack creates with its targets
    /// (EventBridge). The IAM resources and the layer have no Lab service; their ARNs are made in their real shapes.
    /// </summary>
    private static async Task<Deployment> DeployAsync(LabHost lab, RawAwsClient c, Dictionary<string, string>? parameters = null)
    {
        var stack = Stack(parameters, lab);
        string Iam(string kind, string id) => $"arn:aws:iam::{lab.AccountId}:{kind}/guardduty-auto-response-{id}-1A2B3C4D5E6F";
        stack.SetRef("ContainmentPolicy", Iam("policy", "ContainmentPolicy"));
        foreach (var role in Template.ResourcesOfType("AWS::IAM::Role")) stack.SetAttribute(role, "Arn", Iam("role", role));
        stack.SetRef("ModuleLayer", $"arn:aws:lambda:{lab.Region}:{lab.AccountId}:layer:GuardDutyIR:1");
        stack.SetAttribute("RemediationLogGroup", "Arn", $"arn:aws:logs:{lab.Region}:{lab.AccountId}:log-group:/aws/lambda/GuardDutyIR-Remediation-EC2MaliciousIPCaller:*");

        var topic = await c.QueryAsync("sns", ("Action", "CreateTopic"), ("Version", "2010-03-31"), ("Name", "guardduty-auto-response-FindingTopic-1A2B3C4D"));
        Assert.True(topic.Status == 200, topic.Body);
        var topicArn = Xml(topic, "TopicArn");
        stack.SetRef("FindingTopic", topicArn);
        var subscription = stack.Properties("FindingEmailSubscription");
        var subscribed = await c.QueryAsync("sns", ("Action", "Subscribe"), ("Version", "2010-03-31"), ("TopicArn", (string)subscription["TopicArn"]!),
            ("Protocol", (string)subscription["Protocol"]!), ("Endpoint", (string)subscription["Endpoint"]!));
        Assert.True(subscribed.Status == 200, subscribed.Body);

        string? functionArn = null;
        if (stack.Creates("RemediationFunction"))
        {
            var function = lab.RegisterLambdaFunction((string)stack.Properties("RemediationFunction")["FunctionName"]!);
            functionArn = function.Arn;
            stack.SetRef("RemediationFunction", function.Name).SetAttribute("RemediationFunction", "Arn", function.Arn);
        }

        var ruleId = Assert.Single(stack.Created("AWS::Events::Rule"));
        var rule = stack.Properties(ruleId);
        var put = await Ok(c.EventsAsync("PutRule", new JsonObject
        {
            ["Name"] = rule["Name"]!.DeepClone(), ["EventPattern"] = rule["EventPattern"]!.DeepClone(),
            ["Description"] = rule["Description"]!.DeepClone(), ["State"] = rule["State"]!.DeepClone(),
        }));
        var ruleArn = (string)put["RuleArn"]!;
        stack.SetAttribute(ruleId, "Arn", ruleArn);
        var targets = await Ok(c.EventsAsync("PutTargets", new JsonObject { ["Rule"] = rule["Name"]!.DeepClone(), ["Targets"] = rule["Targets"]!.DeepClone() }));
        Assert.True((int?)targets["FailedEntryCount"] == 0, targets.ToJsonString());
        return new Deployment(stack, ruleId, ruleArn, topicArn, functionArn);
    }

    private static string Xml(RawResponse response, string element) =>
        XDocument.Parse(response.Body).Descendants().Single(e => e.Name.LocalName == element).Value;

    private static async Task<JsonObject> Ok(Task<RawResponse> call)
    {
        var r = await call;
        Assert.True(r.Status == 200, r.Body);
        return r.Json;
    }

    private static IReadOnlyList<string> Mails(LabHost lab, Deployment d) =>
        lab.GetService<SnsService>()!.Messages.Where(m => m.TopicArn == d.TopicArn).Select(m => m.Message).ToList();

    /// <summary>The workshop scenario's finding, occurring again (GuardDuty publishes each further occurrence), changed
    /// as the test says.</summary>
    private static JsonObject Reoccur(LabHost lab, Action<JsonObject>? change = null)
    {
        var guardDuty = lab.GetService<GuardDutyService>()!;
        var finding = guardDuty.FindingsOf(lab.AccountId).Single(f => (string?)f["id"] == guardDuty.ScenarioFindingId);
        Assert.Equal(MaliciousIp, (string?)finding["type"]);
        change?.Invoke(finding);
        guardDuty.AddFinding(lab.AccountId, finding);
        return finding;
    }

    private static string InstanceOf(JsonObject finding) => (string)finding["resource"]!["instanceDetails"]!["instanceId"]!;

    private static async Task CreateSampleFindingsAsync(LabHost lab, RawAwsClient c, params string[] types)
    {
        var detector = lab.GetService<GuardDutyService>()!.DetectorOf(lab.AccountId)!.Id;
        var r = await c.GuardDutyAsync(HttpMethod.Post, $"/detector/{detector}/findings/create",
            new JsonObject { ["findingTypes"] = new JsonArray(types.Select(t => (JsonNode)t).ToArray()) });
        Assert.True(r.Status == 200, r.Body);
    }

    // ---------------------------------------------------------------- the workshop's e-mail and remediation

    [Fact]
    public async Task The_workshop_finding_fires_the_rule_mails_the_workshop_text_and_invokes_the_remediation()
    {
        await using var lab = await TestLab.StartAsync("Workshop");
        using var c = new RawAwsClient(lab);
        var d = await DeployAsync(lab, c);
        Assert.Equal("LambdaFindingRule", d.RuleLogicalId);
        Assert.Empty(Mails(lab, d));

        var finding = Reoccur(lab);
        var id = (string)finding["id"]!;
        Assert.Equal(5, (double)finding["severity"]!);
        Assert.Equal(new[] { WorkshopEmail(id, InstanceOf(finding)) }, Mails(lab, d));

        // The remediation function got the whole GuardDuty event, as the bus holds it.
        var invocation = Assert.Single(lab.Lambda.Invocations, i => i.FunctionArn == d.FunctionArn);
        Assert.Equal(d.RuleArn, invocation.Source);
        var eb = lab.GetService<EventBridgeService>()!;
        var busEvent = eb.EventsOf(lab.AccountId).Single(e => e.MatchedRules.Contains(d.RuleArn));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(busEvent.Json), JsonNode.Parse(invocation.Payload)));
        Assert.Equal(id, (string?)JsonNode.Parse(invocation.Payload)!["detail"]!["id"]);
        Assert.Equal(new[] { "Delivered", "Invoked" }, eb.Deliveries.Where(x => x.RuleArn == d.RuleArn).Select(x => x.Outcome));

        // GuardDuty's sample of the workshop's type (severity 5) fires it too.
        await CreateSampleFindingsAsync(lab, c, MaliciousIp);
        var sample = lab.GetService<GuardDutyService>()!.FindingsOf(lab.AccountId).Single(f => (string?)f["type"] == MaliciousIp && (bool?)f["service"]!["additionalInfo"]?["sample"] == true);
        Assert.Equal(WorkshopEmail((string)sample["id"]!, InstanceOf(sample)), Mails(lab, d)[^1]);
        Assert.Equal(2, Mails(lab, d).Count);

        // Unrelated findings do not: other types (a Low port scan, a High backdoor), and the workshop's type below the threshold.
        await CreateSampleFindingsAsync(lab, c, "Recon:EC2/Portscan", "Backdoor:EC2/C&CActivity.B");
        Reoccur(lab, f => { f["id"] = "0123456789abcdef0123456789abcdef"; f["severity"] = 2.0; });
        Reoccur(lab, f => { f["id"] = "fedcba9876543210fedcba9876543210"; f["type"] = "UnauthorizedAccess:EC2/TorClient"; f["severity"] = 8.0; });
        Assert.Equal(2, Mails(lab, d).Count);
        Assert.Equal(2, lab.Lambda.Invocations.Count(i => i.FunctionArn == d.FunctionArn));
        Assert.Contains(eb.EventsOf(lab.AccountId), e => (string?)JsonNode.Parse(e.Json)!["detail"]!["type"] == "Recon:EC2/Portscan" && e.MatchedRules.Count == 0);
    }

    public static TheoryData<string?, string?, bool> Selections() => new()
    {
        // FindingTypes, SeverityThreshold, whether the workshop's finding (severity 5) fires the rule
        { null, null, true },
        { "UnauthorizedAccess:EC2/MaliciousIPCaller*", null, true },
        { "Backdoor:EC2/C&CActivity.B!DNS,UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "5", true },
        { "UnauthorizedAccess:EC2/MaliciousIPCaller", null, false },
        { "Recon:EC2/Portscan,UnauthorizedAccess:EC2/TorClient", "1", false },
        { null, "5.1", false },
        { null, "7", false },
    };

    [Theory]
    [MemberData(nameof(Selections))]
    public async Task The_parameters_choose_the_findings(string? types, string? threshold, bool fires)
    {
        var parameters = new Dictionary<string, string>();
        if (types is not null) parameters["FindingTypes"] = types;
        if (threshold is not null) parameters["SeverityThreshold"] = threshold;
        await using var lab = await TestLab.StartAsync("Workshop");
        using var c = new RawAwsClient(lab);
        var d = await DeployAsync(lab, c, parameters);

        var finding = Reoccur(lab);
        Assert.Equal(fires ? new[] { WorkshopEmail((string)finding["id"]!, InstanceOf(finding)) } : Array.Empty<string>(), Mails(lab, d));
        Assert.Equal(fires ? 1 : 0, lab.Lambda.Invocations.Count(i => i.FunctionArn == d.FunctionArn));
    }

    [Theory]
    [InlineData("FindingTypes", "UnauthorizedAccess:EC2/\"MaliciousIPCaller\"")]
    [InlineData("FindingTypes", "a,b}]")]
    [InlineData("SeverityThreshold", "11")]
    [InlineData("SeverityThreshold", "0.5")]
    [InlineData("TargetKind", "StepFunctions")]
    [InlineData("DryRun", "yes")]
    public void Values_that_would_break_the_rule_are_refused_by_the_parameters(string parameter, string value)
    {
        // The finding types are written into the pattern's JSON as they are: the parameter's AllowedPattern is what keeps
        // a quote or a bracket out of it.
        var refused = Assert.Throws<ArgumentException>(() => Stack(new Dictionary<string, string> { [parameter] = value }));
        Assert.StartsWith(parameter + ":", refused.Message, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- the Automation runbook

    [Fact]
    public async Task The_automation_kind_starts_the_runbook_with_the_instance_the_finding_and_dry_run()
    {
        await using var lab = await TestLab.StartAsync("Workshop");
        using var c = new RawAwsClient(lab);
        var d = await DeployAsync(lab, c, new() { ["TargetKind"] = "Automation", ["DryRun"] = "true" });
        Assert.Equal("AutomationFindingRule", d.RuleLogicalId);
        Assert.Null(d.FunctionArn);

        var finding = Reoccur(lab);
        var id = (string)finding["id"]!;
        Assert.Equal(new[] { WorkshopEmail(id, InstanceOf(finding)) }, Mails(lab, d));

        // The Lab delivers to SNS and Lambda only; the runbook's delivery is recorded with the input SSM would get.
        var remediation = Assert.Single(lab.GetService<EventBridgeService>()!.Deliveries, x => x.RuleArn == d.RuleArn && x.TargetId == "Remediation");
        Assert.Equal($"arn:aws:ssm:{lab.Region}:{lab.AccountId}:automation-definition/GuardDutyIR-Isolate:$DEFAULT", remediation.TargetArn);
        var runbookParameters = new JsonObject
        {
            ["InstanceId"] = new JsonArray(InstanceOf(finding)),
            ["FindingId"] = new JsonArray(id),
            // The case the handler would open (GD-<finding>); without a CaseJournalBucket the journal stays in the run.
            ["CaseId"] = new JsonArray("GD-" + id),
            ["TopicArn"] = new JsonArray((string)d.Stack.Output("FindingTopicArn")!),
            ["DryRun"] = new JsonArray("true"),
            ["CaseJournalS3Uri"] = new JsonArray(""),
            ["AutomationAssumeRole"] = new JsonArray((string)d.Stack.Output("AutomationRoleArn")!),
        };
        Assert.True(JsonNode.DeepEquals(runbookParameters, JsonNode.Parse(remediation.Input)), remediation.Input);
        Assert.Empty(lab.Lambda.Invocations);
        // Every parameter the rule passes is one the module's runbook declares, and none it requires is missing.
        var runbook = new YamlDotNet.Serialization.DeserializerBuilder().Build()
            .Deserialize<Dictionary<string, object>>(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "module", "ssm", "GuardDutyIR-Isolate.yaml")));
        var declared = ((Dictionary<object, object>)runbook["parameters"]).ToDictionary(p => (string)p.Key, p => (Dictionary<object, object>)p.Value);
        Assert.All(runbookParameters.Select(p => p.Key), name => Assert.Contains(name, declared.Keys));
        Assert.All(declared.Where(p => !p.Value.ContainsKey("default")).Select(p => p.Key), name => Assert.Contains(name, runbookParameters.Select(p => p.Key)));
    }

    // ---------------------------------------------------------------- wiring

    private static bool Covers(string pattern, string arn) =>
        Regex.IsMatch(arn, "^" + string.Join(".*", pattern.Split('*').Select(Regex.Escape)) + "$");

    private static IEnumerable<JsonObject> Statements(JsonObject policyDocument) => policyDocument["Statement"]!.AsArray().Select(s => s!.AsObject());

    private static IEnumerable<string> Strings(JsonNode? node) =>
        node switch { null => Array.Empty<string>(), JsonArray a => a.Select(x => (string)x!), _ => new[] { (string)node! } };

    private static bool Grants(JsonObject statement, string action, string resource) =>
        (string?)statement["Effect"] == "Allow" && Strings(statement["Action"]).Contains(action) && Strings(statement["Resource"]).Any(r => Covers(r, resource));

    /// <summary>Whether a policy document allows the action on the resource (the templates have no Deny statement).</summary>
    private static bool Allows(JsonObject policyDocument, string action, string resource) =>
        Statements(policyDocument).Any(s => Grants(s, action, resource));

    /// <summary>The one statement that allows the action on the resource.</summary>
    private static JsonObject Allowing(JsonObject policyDocument, string action, string resource) =>
        Assert.Single(Statements(policyDocument), s => Grants(s, action, resource));

    [Fact]
    public void Both_rules_are_the_workshop_rule_and_differ_only_in_the_remediation_target()
    {
        var rules = Template.ResourcesOfType("AWS::Events::Rule");
        Assert.Equal(new[] { "LambdaFindingRule", "AutomationFindingRule" }, rules);
        JsonObject WithoutRemediation(string id)
        {
            var copy = Template.Resources[id]!.DeepClone().AsObject();
            copy.Remove("Condition");
            var targets = copy["Properties"]!["Targets"]!.AsArray();
            Assert.Equal("Remediation", (string?)targets[^1]!["Id"]);
            targets.RemoveAt(targets.Count - 1);
            return copy;
        }
        Assert.True(JsonNode.DeepEquals(WithoutRemediation(rules[0]), WithoutRemediation(rules[1])));
        foreach (var kind in new[] { "Lambda", "Automation" })
        {
            var stack = Stack(new Dictionary<string, string> { ["TargetKind"] = kind });
            Assert.Equal(RuleName, (string?)Template.Resources[Assert.Single(stack.Created("AWS::Events::Rule"))]!["Properties"]!["Name"]);
        }

        // The pattern the defaults make: GuardDuty's finding events of the workshop's type, Medium severity and above.
        var pattern = Stack().Resolve(Template.Resources["LambdaFindingRule"]!["Properties"]!["EventPattern"])!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"source":["aws.guardduty"],"detail-type":["GuardDuty Finding"],
             "detail":{"type":[{"wildcard":"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"}],"severity":[{"numeric":[">=",4]}]}}
            """), JsonNode.Parse((string)pattern!)), (string?)pattern);
    }

    [Fact]
    public async Task The_lambda_kind_wires_the_function_its_permission_role_layers_and_topic()
    {
        await using var lab = await TestLab.StartAsync("Workshop");
        using var c = new RawAwsClient(lab);
        var d = await DeployAsync(lab, c, new() { ["DryRun"] = "true", ["ArtifactBucket"] = "ir-artifacts",
            ["PowerShellRuntimeLayerArn"] = $"arn:aws:lambda:{lab.Region}:{lab.AccountId}:layer:powershell-runtime:3" });
        var s = d.Stack;
        Assert.False(s.Creates("AutomationRole"));
        Assert.False(s.Creates("StartAutomationRole"));
        Assert.Null(s.Output("AutomationRoleArn"));
        Assert.Equal(d.RuleArn, (string?)s.Output("FindingRuleArn"));
        Assert.Equal(d.FunctionArn, (string?)s.Output("RemediationFunctionArn"));

        var rule = s.Properties(d.RuleLogicalId);
        var remediation = rule["Targets"]!.AsArray().Single(t => (string?)t!["Id"] == "Remediation")!.AsObject();
        // The whole event goes to the function: no Input, InputPath or transformer.
        Assert.Equal(new[] { "Arn", "Id" }, remediation.Select(p => p.Key).Order());
        Assert.Equal(d.FunctionArn, (string?)remediation["Arn"]);

        var function = s.Properties("RemediationFunction");
        Assert.Equal("provided.al2023", (string?)function["Runtime"]);
        Assert.Equal("Invoke-GdAutoResponse.ps1::Invoke-GdAutoResponse", (string?)function["Handler"]);
        Assert.Equal(new[] { $"arn:aws:lambda:{lab.Region}:{lab.AccountId}:layer:powershell-runtime:3", (string)s.Output("ModuleLayerArn")! },
            Strings(function["Layers"]));
        var environment = function["Environment"]!["Variables"]!;
        Assert.Equal("true", (string?)environment["GUARDDUTYIR_DRY_RUN"]);
        Assert.Equal(d.TopicArn, (string?)environment["GUARDDUTYIR_TOPIC_ARN"]);
        // The handler filters again by its own settings (default: High and above); it must take what the rule passes.
        Assert.Equal(("4", "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"),
            ((string?)environment["GUARDDUTYIR_MIN_SEVERITY"], (string?)environment["GUARDDUTYIR_FINDING_TYPES"]));
        Assert.Equal("", (string?)environment["GUARDDUTYIR_CASE_BUCKET"]);   // the handler reads empty as not set
        Assert.False(Allows(s.Properties("ContainmentPolicy")["PolicyDocument"]!.AsObject(), "s3:PutObject", "arn:aws:s3:::ir-case-journals/cases/GD-1/journal.jsonl"));
        Assert.False(s.Creates("CaseJournalPolicy"));
        // With a journal bucket the function copies each case's journal there, and may write only under its cases/ prefix.
        var copying = Stack(new() { ["CaseJournalBucket"] = "ir-case-journals", ["ArtifactBucket"] = "ir-artifacts" }, lab);
        copying.SetRef("FindingTopic", d.TopicArn);
        copying.SetRef("RemediationFunctionRole", "guardduty-auto-response-RemediationFunctionRole-1A2B3C");   // a role's Ref is its name
        Assert.Equal("s3://ir-case-journals/cases/", (string?)copying.Resolve(Template.Resources["RemediationFunction"]!["Properties"]!["Environment"]!["Variables"]!["GUARDDUTYIR_CASE_BUCKET"]));
        var copyingPolicy = copying.Properties("CaseJournalPolicy")["PolicyDocument"]!.AsObject();
        // The journal's policy attaches itself to the function's role.
        Assert.Equal(new[] { "guardduty-auto-response-RemediationFunctionRole-1A2B3C" }, Strings(copying.Properties("CaseJournalPolicy")["Roles"]));
        Allowing(copyingPolicy, "s3:PutObject", "arn:aws:s3:::ir-case-journals/cases/GD-1/journal.jsonl");
        Assert.False(Allows(copyingPolicy, "s3:PutObject", "arn:aws:s3:::ir-case-journals/other/x"));
        var other = Stack(new() { ["SeverityThreshold"] = "7.5", ["FindingTypes"] = "Backdoor:EC2/*,UnauthorizedAccess:EC2/MaliciousIPCaller.Custom" }, lab);
        string? Other(string variable) => (string?)other.Resolve(Template.Resources["RemediationFunction"]!["Properties"]!["Environment"]!["Variables"]![variable]);
        Assert.Equal(("7.5", "Backdoor:EC2/*,UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"), (Other("GUARDDUTYIR_MIN_SEVERITY"), Other("GUARDDUTYIR_FINDING_TYPES")));
        Assert.Equal(("ir-artifacts", "GuardDutyIR-lambda-function.zip"), ((string?)function["Code"]!["S3Bucket"], (string?)function["Code"]!["S3Key"]));
        var layer = s.Properties("ModuleLayer");
        Assert.Equal(("ir-artifacts", "GuardDutyIR-lambda-layer.zip"), ((string?)layer["Content"]!["S3Bucket"], (string?)layer["Content"]!["S3Key"]));
        Assert.Contains("provided.al2023", Strings(layer["CompatibleRuntimes"]));
        Assert.Equal("/aws/lambda/" + (string)function["FunctionName"]!, (string?)s.Properties("RemediationLogGroup")["LogGroupName"]);

        // EventBridge may invoke the function for this rule only.
        var permission = s.Properties("RemediationInvokePermission");
        Assert.Equal(("lambda:InvokeFunction", "events.amazonaws.com", d.RuleArn), ((string?)permission["Action"], (string?)permission["Principal"], (string?)permission["SourceArn"]));
        Assert.Equal((string)function["FunctionName"]!, (string?)permission["FunctionName"]);

        // The function's role: Lambda assumes it, it holds the containment policy, and writes only its own log group.
        var role = s.Properties("RemediationFunctionRole");
        Assert.Equal("lambda.amazonaws.com", (string?)Statements(role["AssumeRolePolicyDocument"]!.AsObject()).Single()["Principal"]!["Service"]);
        Assert.Equal(new[] { $"arn:aws:iam::{lab.AccountId}:policy/guardduty-auto-response-ContainmentPolicy-1A2B3C4D5E6F" }, Strings(role["ManagedPolicyArns"]));
        Allowing(role["Policies"]![0]!["PolicyDocument"]!.AsObject(), "logs:PutLogEvents",
            $"arn:aws:logs:{lab.Region}:{lab.AccountId}:log-group:/aws/lambda/GuardDutyIR-Remediation-EC2MaliciousIPCaller:*");

        AssertTopicAndContainment(lab, d);
    }

    [Fact]
    public async Task The_automation_kind_wires_the_runbook_roles_and_topic_and_no_function()
    {
        await using var lab = await TestLab.StartAsync("Workshop");
        using var c = new RawAwsClient(lab);
        var d = await DeployAsync(lab, c, new() { ["TargetKind"] = "Automation", ["RunbookName"] = "Contain-Instance" });
        var s = d.Stack;
        foreach (var lambdaOnly in new[] { "RemediationFunction", "RemediationInvokePermission", "ModuleLayer", "RemediationFunctionRole", "RemediationLogGroup" })
            Assert.False(s.Creates(lambdaOnly), lambdaOnly);
        Assert.Null(s.Output("RemediationFunctionArn"));
        Assert.Equal(d.RuleArn, (string?)s.Output("FindingRuleArn"));

        var remediation = s.Properties(d.RuleLogicalId)["Targets"]!.AsArray().Single(t => (string?)t!["Id"] == "Remediation")!.AsObject();
        var definition = $"arn:aws:ssm:{lab.Region}:{lab.AccountId}:automation-definition/Contain-Instance:$DEFAULT";
        Assert.Equal(definition, (string?)remediation["Arn"]);

        // EventBridge starts the runbook as StartAutomationRole, which may start only this runbook and pass only the
        // runbook's own role, and only to SSM.
        var starter = s.Properties("StartAutomationRole");
        var automationRole = $"arn:aws:iam::{lab.AccountId}:role/guardduty-auto-response-AutomationRole-1A2B3C4D5E6F";
        Assert.Equal(automationRole, (string?)s.Output("AutomationRoleArn"));
        Assert.Equal($"arn:aws:iam::{lab.AccountId}:role/guardduty-auto-response-StartAutomationRole-1A2B3C4D5E6F", (string?)remediation["RoleArn"]);
        var trust = Statements(starter["AssumeRolePolicyDocument"]!.AsObject()).Single();
        Assert.Equal(("events.amazonaws.com", lab.AccountId), ((string?)trust["Principal"]!["Service"], (string?)trust["Condition"]!["StringEquals"]!["aws:SourceAccount"]));
        var policy = starter["Policies"]![0]!["PolicyDocument"]!.AsObject();
        Allowing(policy, "ssm:StartAutomationExecution", definition.Replace("$DEFAULT", "1", StringComparison.Ordinal));
        Assert.False(Allows(policy, "ssm:StartAutomationExecution", $"arn:aws:ssm:{lab.Region}:{lab.AccountId}:automation-definition/AWS-TerminateEC2Instance:$DEFAULT"));
        var pass = Allowing(policy, "iam:PassRole", automationRole);
        Assert.Equal("ssm.amazonaws.com", (string?)pass["Condition"]!["StringEquals"]!["iam:PassedToService"]);
        Assert.Single(Strings(pass["Resource"]));

        var runner = s.Properties("AutomationRole");
        Assert.Equal("ssm.amazonaws.com", (string?)Statements(runner["AssumeRolePolicyDocument"]!.AsObject()).Single()["Principal"]!["Service"]);
        Assert.Equal(new[] { $"arn:aws:iam::{lab.AccountId}:policy/guardduty-auto-response-ContainmentPolicy-1A2B3C4D5E6F" }, Strings(runner["ManagedPolicyArns"]));

        AssertTopicAndContainment(lab, d);
    }

    /// <summary>The parts both kinds share: EventBridge may publish to the topic for this rule only, and the containment
    /// policy allows what the quarantine does and the remediation mail, in this account and Region.</summary>
    private static void AssertTopicAndContainment(LabHost lab, Deployment d)
    {
        var s = d.Stack;
        var topicPolicy = s.Properties("FindingTopicPolicy");
        Assert.Equal(new[] { d.TopicArn }, Strings(topicPolicy["Topics"]));
        var publish = Allowing(topicPolicy["PolicyDocument"]!.AsObject(), "sns:Publish", d.TopicArn);
        Assert.Equal("events.amazonaws.com", (string?)publish["Principal"]!["Service"]);
        Assert.Equal(d.RuleArn, (string?)publish["Condition"]!["ArnEquals"]!["aws:SourceArn"]);
        Assert.Equal(d.TopicArn, (string?)s.Output("FindingTopicArn"));
        var subscription = s.Properties("FindingEmailSubscription");
        Assert.Equal((d.TopicArn, "email", Responders), ((string?)subscription["TopicArn"], (string?)subscription["Protocol"], (string?)subscription["Endpoint"]));
        var topic = lab.GetService<SnsService>()!.Topics.Single(t => t.Arn == d.TopicArn);
        lock (topic.Subscriptions) Assert.Contains(topic.Subscriptions, x => x.Protocol == "email" && x.Endpoint == Responders);

        var containment = s.Properties("ContainmentPolicy")["PolicyDocument"]!.AsObject();
        string Ec2(string resource) => $"arn:aws:ec2:{lab.Region}:{lab.AccountId}:{resource}";
        Allowing(containment, "ec2:DescribeInstances", "*");
        Allowing(containment, "ec2:CreateSecurityGroup", Ec2("vpc/vpc-0abc"));
        Allowing(containment, "ec2:RevokeSecurityGroupEgress", Ec2("security-group/sg-0abc"));
        Allowing(containment, "ec2:ModifyNetworkInterfaceAttribute", Ec2("network-interface/eni-0abc"));
        Allowing(containment, "ec2:ModifyInstanceAttribute", Ec2("instance/i-0abc"));
        Allowing(containment, "ec2:CreateTags", Ec2("instance/i-0abc"));
        Allowing(containment, "ec2:CreateSnapshots", $"arn:aws:ec2:{lab.Region}::snapshot/snap-0abc");
        Allowing(containment, "autoscaling:EnterStandby", $"arn:aws:autoscaling:{lab.Region}:{lab.AccountId}:autoScalingGroup:0a1b:autoScalingGroupName/web");
        Allowing(containment, "sns:Publish", d.TopicArn);
        // Never another account's or Region's instances, and nothing destructive.
        Assert.False(Allows(containment, "ec2:ModifyInstanceAttribute", $"arn:aws:ec2:{lab.Region}:999988887777:instance/i-0abc"));
        Assert.False(Allows(containment, "ec2:ModifyInstanceAttribute", $"arn:aws:ec2:eu-north-1:{lab.AccountId}:instance/i-0abc"));
        Assert.DoesNotContain(Statements(containment).SelectMany(x => Strings(x["Action"])),
            a => a is "ec2:TerminateInstances" or "ec2:StopInstances" or "ec2:DeleteSnapshot" or "ec2:DeleteVolume" || a.EndsWith('*'));
        // The deployed role may do what module/iam/GuardDutyIR-AutoResponse.json grants (which a test of the module
        // derives from the calls its code makes), less what only Set-InstanceQuarantine's options need, which the
        // handler never sets (-DisassociateInstanceProfile, -ReplacementInstanceProfileArn, -DisassociateElasticIp), and
        // the journal copy's s3:PutObject, granted only with a CaseJournalBucket (checked below).
        var autoResponse = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "module", "iam", "GuardDutyIR-AutoResponse.json")))!.AsObject();
        string[] optionsOnly = ["ec2:AssociateIamInstanceProfile", "ec2:DisassociateIamInstanceProfile", "ec2:ReplaceIamInstanceProfileAssociation",
            "iam:PassRole", "ec2:DisassociateAddress", "s3:PutObject"];
        Assert.Equal(Statements(autoResponse).SelectMany(x => Strings(x["Action"])).Except(optionsOnly).Distinct().Order(StringComparer.Ordinal),
            Statements(containment).SelectMany(x => Strings(x["Action"])).Distinct().Order(StringComparer.Ordinal));
    }
}
