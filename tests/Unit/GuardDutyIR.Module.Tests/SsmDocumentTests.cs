using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The structure of the SSM documents of module/ssm/, against what Systems Manager requires of each schema.
/// </summary>
public sealed class SsmDocumentTests
{
    private const string Runbook = "GuardDutyIR-Isolate.yaml";
    private const string Command = "GuardDutyIR-Responder.yaml";

    /// <summary>
    /// Schema 0.3 (Automation), from AWS's JSON schema for Automation documents in
    /// https://github.com/aws/amazon-ssm-document-language-service (src/schema/ssmDocumentSchema.ts,
    /// automation/parameterDefinition.ts, stepDefinition.ts, fileDefinition.ts, actions/executeScript.ts; commit
    /// f6b1708): the required members, the members allowed (the schema has additionalProperties false) and the enums.
    /// The executeScript runtimes are those of the current action reference
    /// (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeScript.html), which
    /// added "PowerShell 7.4" after the schema's list was written.
    /// </summary>
    private static class Automation
    {
        public static readonly string[] Required = ["schemaVersion", "mainSteps"];
        public static readonly string[] Allowed = ["schemaVersion", "description", "assumeRole", "parameters", "mainSteps", "outputs", "files"];
        public static readonly string[] ParameterRequired = ["type"];
        public static readonly string[] ParameterAllowed = ["description", "type", "default", "allowedValues", "allowedPattern", "displayType",
            "minItems", "maxItems", "minChars", "maxChars"];
        public static readonly string[] ParameterTypes = ["String", "StringList", "Boolean", "Integer", "MapList", "StringMap"];
        public static readonly string[] StepRequired = ["name", "action", "inputs"];
        public static readonly string[] StepAllowed = ["name", "action", "description", "maxAttempts", "timeoutSeconds", "onFailure", "nextStep",
            "isEnd", "isCritical", "inputs", "outputs"];
        public static readonly string[] Actions = ["aws:approve", "aws:assertAwsResourceProperty", "aws:branch", "aws:changeInstanceState",
            "aws:copyImage", "aws:createImage", "aws:createStack", "aws:createTags", "aws:deleteImage", "aws:deleteStack", "aws:executeAutomation",
            "aws:executeAwsApi", "aws:executeScript", "aws:executeStateMachine", "aws:invokeLambdaFunction", "aws:pause", "aws:runCommand",
            "aws:runInstances", "aws:sleep", "aws:waitForAwsResourceProperty"];
        public static readonly string[] OutputTypes = ["String", "StringList", "Boolean", "Integer", "MapList", "StringMap"];
        public static readonly string[] ExecuteScriptRequired = ["Runtime"];
        public static readonly string[] ExecuteScriptAllowed = ["Runtime", "Handler", "InputPayload", "Script", "Attachment"];
        public static readonly string[] Runtimes = ["python3.10", "python3.11", "PowerShell 7.4"];
        public static readonly string[] FileRequired = ["checksums"];
        public static readonly string[] FileAllowed = ["checksums", "size"];
        public static readonly string[] ChecksumNames = ["sha256", "SHA256", "sha-256", "SHA-256"];
    }

    /// <summary>
    /// Schema 2.2 (Command). AWS publishes no JSON schema for Command documents; this is the SSM User Guide's:
    /// the data elements (https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html:
    /// schemaVersion and mainSteps required, a parameter's type required and for Command documents String or
    /// StringList only, interpolationType ENV_VAR), the precondition of schema 2.2
    /// (https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-schemas-features.html: StringEquals on
    /// platformType Linux, MacOS or Windows) and the plugin reference
    /// (https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html:
    /// the plugins, the shared inputs, and aws:runPowerShellScript's runCommand required, timeoutSeconds and
    /// workingDirectory optional).
    /// </summary>
    private static class CommandSchema
    {
        public static readonly string[] Required = ["schemaVersion", "mainSteps"];
        public static readonly string[] Allowed = ["schemaVersion", "description", "parameters", "mainSteps"];
        public static readonly string[] ParameterRequired = ["type"];
        public static readonly string[] ParameterAllowed = ["type", "description", "default", "allowedValues", "allowedPattern", "displayType",
            "minItems", "maxItems", "minChars", "maxChars", "interpolationType"];
        public static readonly string[] ParameterTypes = ["String", "StringList"];
        public static readonly string[] StepRequired = ["action", "name", "inputs"];
        public static readonly string[] StepAllowed = ["action", "name", "inputs", "precondition"];
        public static readonly string[] Plugins = ["aws:applications", "aws:cloudWatch", "aws:configureDocker", "aws:configurePackage",
            "aws:domainJoin", "aws:downloadContent", "aws:psModule", "aws:refreshAssociation", "aws:runDockerAction", "aws:runDocument",
            "aws:runPowerShellScript", "aws:runShellScript", "aws:softwareInventory", "aws:updateAgent", "aws:updateSsmAgent"];
        public static readonly string[] Platforms = ["Linux", "MacOS", "Windows"];
        public static readonly string[] RunPowerShellRequired = ["runCommand"];
        public static readonly string[] RunPowerShellAllowed = ["runCommand", "timeoutSeconds", "workingDirectory", "finallyStep", "onFailure", "onSuccess"];
    }

    private static void Members(JsonObject node, string[] required, string[] allowed, string where)
    {
        foreach (var r in required) Assert.True(node.ContainsKey(r), $"{where}: {r} is required");
        var unknown = node.Select(p => p.Key).Where(k => !allowed.Contains(k)).ToList();
        Assert.True(unknown.Count == 0, $"{where}: members the schema does not allow: {string.Join(", ", unknown)}");
    }

    private static void DefaultMatchesType(string name, JsonObject p)
    {
        if (p["default"] is not { } d) return;
        var ok = p["type"]!.GetValue<string>() switch
        {
            "String" => d is JsonValue v && v.TryGetValue<string>(out _),
            "Boolean" => d is JsonValue b && b.TryGetValue<bool>(out _),
            "Integer" => d is JsonValue i && i.TryGetValue<long>(out _),
            "StringList" => d is JsonArray,
            _ => true,
        };
        Assert.True(ok, $"parameter {name}: default {d.ToJsonString()} is not of its type");
    }

    [Fact]
    public void The_runbook_has_what_schema_0_3_requires_and_nothing_it_does_not_allow()
    {
        var doc = SsmDocument.Load(Runbook);
        Members(doc, Automation.Required, Automation.Allowed, Runbook);
        Assert.Equal("0.3", doc["schemaVersion"]!.GetValue<string>());
        Assert.Equal("{{ AutomationAssumeRole }}", doc["assumeRole"]!.GetValue<string>());
        foreach (var (name, node) in doc["parameters"]!.AsObject())
        {
            var p = node!.AsObject();
            Members(p, Automation.ParameterRequired, Automation.ParameterAllowed, "parameter " + name);
            Assert.Contains(p["type"]!.GetValue<string>(), Automation.ParameterTypes);
            DefaultMatchesType(name, p);
        }
        var steps = doc["mainSteps"]!.AsArray().Select(s => s!.AsObject()).ToList();
        Assert.NotEmpty(steps);
        foreach (var step in steps)
        {
            var name = step["name"]?.GetValue<string>();
            Members(step, Automation.StepRequired, Automation.StepAllowed, "step " + name);
            Assert.Contains(step["action"]!.GetValue<string>(), Automation.Actions);
            foreach (var output in step["outputs"]?.AsArray() ?? new JsonArray())
            {
                Assert.Contains(output!["Type"]!.GetValue<string>(), Automation.OutputTypes);
                Assert.StartsWith("$.Payload", output["Selector"]!.GetValue<string>());
            }
        }
        Assert.Equal(steps.Count, steps.Select(s => s["name"]!.GetValue<string>()).Distinct(StringComparer.Ordinal).Count());
        foreach (var (file, node) in doc["files"]!.AsObject())
        {
            var f = node!.AsObject();
            Members(f, Automation.FileRequired, Automation.FileAllowed, "file " + file);
            var checksum = Assert.Single(f["checksums"]!.AsObject());
            Assert.Contains(checksum.Key, Automation.ChecksumNames);
            Assert.Matches("^[A-Fa-f0-9]{64}$", checksum.Value!.GetValue<string>());
        }
        // Every top-level output names a step output.
        var declared = steps.SelectMany(s => (s["outputs"]?.AsArray() ?? new JsonArray()).Select(o => s["name"] + "." + o!["Name"])).ToHashSet(StringComparer.Ordinal);
        Assert.All(doc["outputs"]!.AsArray(), o => Assert.Contains(o!.GetValue<string>(), declared));
    }

    [Fact]
    public void The_runbook_runs_one_PowerShell_script_from_the_module_attachment_with_every_parameter_in_its_payload()
    {
        var doc = SsmDocument.Load(Runbook);
        var step = Assert.Single(doc["mainSteps"]!.AsArray())!.AsObject();
        Assert.Equal("aws:executeScript", step["action"]!.GetValue<string>());
        var inputs = step["inputs"]!.AsObject();
        Members(inputs, Automation.ExecuteScriptRequired, Automation.ExecuteScriptAllowed, "executeScript inputs");
        Assert.Contains(inputs["Runtime"]!.GetValue<string>(), Automation.Runtimes);
        Assert.StartsWith("PowerShell", inputs["Runtime"]!.GetValue<string>());
        // The runtime can import the module: its PowerShell is at least the manifest's PowerShellVersion.
        var manifest = File.ReadAllText(ModuleLayout.ManifestPath);
        var needed = Version.Parse(Regex.Match(manifest, @"PowerShellVersion\s*=\s*'(?<v>[0-9.]+)'").Groups["v"].Value);
        Assert.True(Version.Parse(inputs["Runtime"]!.GetValue<string>()["PowerShell ".Length..]) >= needed, $"the module needs PowerShell {needed}");
        // PowerShell: no Handler (not supported), the script inline, the module in a .zip attachment named in files.
        Assert.False(inputs.ContainsKey("Handler"));
        Assert.Contains("Import-Module", inputs["Script"]!.GetValue<string>());
        Assert.Contains("$env:InputPayload", inputs["Script"]!.GetValue<string>());
        var attachment = inputs["Attachment"]!.GetValue<string>();
        Assert.Equal("GuardDutyIR-automation.zip", attachment);
        Assert.Equal([attachment], doc["files"]!.AsObject().Select(f => f.Key));
        // The parameters the issue names, each passed to the script except the role Automation itself assumes.
        var parameters = doc["parameters"]!.AsObject();
        Assert.Equal(["AutomationAssumeRole", "CaseId", "CaseJournalS3Uri", "DryRun", "FindingId", "InstanceId", "TopicArn"], parameters.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("Boolean", parameters["DryRun"]!["type"]!.GetValue<string>());
        Assert.False(parameters["DryRun"]!["default"]!.GetValue<bool>());
        Assert.False(parameters["InstanceId"]!.AsObject().ContainsKey("default"));
        Assert.False(parameters["AutomationAssumeRole"]!.AsObject().ContainsKey("default"));
        var payload = inputs["InputPayload"]!.AsObject();
        Assert.Equal(parameters.Select(p => p.Key).Where(k => k != "AutomationAssumeRole").Order(StringComparer.Ordinal), payload.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.All(payload, p => Assert.Equal("{{ " + p.Key + " }}", p.Value!.GetValue<string>()));
        // EventBridge starts it directly: the description says how.
        Assert.Contains("automation-definition/GuardDutyIR-Isolate", doc["description"]!.GetValue<string>());
        Assert.Contains("$.detail.resource.instanceDetails.instanceId", doc["description"]!.GetValue<string>());
    }

    [Fact]
    public void The_command_document_has_what_schema_2_2_requires_and_runs_the_same_script_on_Linux_and_Windows()
    {
        var doc = SsmDocument.Load(Command);
        Members(doc, CommandSchema.Required, CommandSchema.Allowed, Command);
        Assert.Equal("2.2", doc["schemaVersion"]!.GetValue<string>());
        foreach (var (name, node) in doc["parameters"]!.AsObject())
        {
            var p = node!.AsObject();
            Members(p, CommandSchema.ParameterRequired, CommandSchema.ParameterAllowed, "parameter " + name);
            Assert.Contains(p["type"]!.GetValue<string>(), CommandSchema.ParameterTypes);
            Assert.Equal("ENV_VAR", p["interpolationType"]?.GetValue<string>());
            // Text substitution is the fallback of older agents: nothing that could close a quote gets in.
            Assert.True(p["allowedPattern"] is not null || p["allowedValues"] is not null, $"parameter {name} is not constrained");
            DefaultMatchesType(name, p);
        }
        var steps = doc["mainSteps"]!.AsArray().Select(s => s!.AsObject()).ToList();
        Assert.Equal(steps.Count, steps.Select(s => s["name"]!.GetValue<string>()).Distinct(StringComparer.Ordinal).Count());
        foreach (var step in steps)
        {
            Members(step, CommandSchema.StepRequired, CommandSchema.StepAllowed, "step " + step["name"]);
            Assert.Contains(step["action"]!.GetValue<string>(), CommandSchema.Plugins);
            Assert.Equal("aws:runPowerShellScript", step["action"]!.GetValue<string>());
            var condition = Assert.Single(step["precondition"]!.AsObject());
            Assert.Equal("StringEquals", condition.Key);
            var operands = condition.Value!.AsArray().Select(o => o!.GetValue<string>()).ToList();
            Assert.Equal(2, operands.Count);
            Assert.Equal("platformType", operands[0]);
            Assert.Contains(operands[1], CommandSchema.Platforms);
            Members(step["inputs"]!.AsObject(), CommandSchema.RunPowerShellRequired, CommandSchema.RunPowerShellAllowed, "runPowerShellScript inputs");
            Assert.All(step["inputs"]!["runCommand"]!.AsArray(), line => Assert.NotNull(line!.GetValue<string>()));
        }
        Assert.Equal(["Linux", "Windows"], steps.Select(s => s["precondition"]!["StringEquals"]![1]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.True(JsonNode.DeepEquals(steps[0]["inputs"], steps[1]["inputs"]), "The Linux and Windows steps must run the same script.");
        Assert.Contains("Import-Module GuardDutyIR", steps[0]["inputs"]!["runCommand"]!.AsArray().Select(l => l!.GetValue<string>()));
    }

    [Theory]
    [InlineData(Runbook)]
    [InlineData(Command)]
    public void Every_reference_names_a_declared_parameter_and_every_parameter_is_used(string file)
    {
        var doc = SsmDocument.Load(file);
        var declared = doc["parameters"]!.AsObject().Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        var body = new JsonObject(doc.Where(p => p.Key != "parameters" && p.Key != "description").Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
        var references = SsmDocument.References(body);
        Assert.NotEmpty(references);
        Assert.All(references, r => Assert.Contains(r, declared));
        Assert.All(declared, d => Assert.Contains(d, references));
        // No default may break its own pattern: a run with defaults must start.
        Assert.NotNull(SsmDocument.ResolveParameters(doc, Required(doc)));
    }

    [Theory]
    [InlineData(Runbook, "i-0123456789abcdef0", true)]
    [InlineData(Runbook, "i-01234567", true)]
    [InlineData(Runbook, "i-0123456789ABCDEF0", false)]
    [InlineData(Runbook, "i-0123'; Remove-Item /", false)]
    [InlineData(Runbook, "", false)]
    [InlineData(Command, "i-0123456789abcdef0", true)]
    [InlineData(Command, "i-123", false)]
    [InlineData(Command, "i-01234567' ; Stop-Computer ; '", false)]
    public void A_malformed_instance_ID_is_refused_before_anything_runs(string file, string instanceId, bool accepted)
    {
        var doc = SsmDocument.Load(file);
        var given = new Dictionary<string, JsonNode>(Required(doc)) { ["InstanceId"] = JsonValue.Create(instanceId) };
        if (accepted) Assert.NotNull(SsmDocument.ResolveParameters(doc, given));
        else Assert.Contains("InstanceId", Assert.Throws<SsmParameterException>(() => SsmDocument.ResolveParameters(doc, given)).Message);
    }

    /// <summary>Values for the parameters without a default.</summary>
    public static Dictionary<string, JsonNode> Required(JsonObject doc)
    {
        var values = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        foreach (var (name, p) in doc["parameters"]!.AsObject().Where(p => !p.Value!.AsObject().ContainsKey("default")))
            values[name] = JsonValue.Create(name switch
            {
                "InstanceId" => "i-0123456789abcdef0",
                "AutomationAssumeRole" => "arn:aws:iam::111122223333:role/GuardDutyIR-AutoResponse",
                _ => throw new InvalidOperationException("No sample value for " + name),
            });
        return values;
    }
}
