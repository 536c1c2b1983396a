using System.IO.Compression;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The script bodies of module/ssm/ run in the hosted engine against the Lab, with the parameters put in the way
/// Systems Manager puts them in, and the AWS access it gives: credentials and region in the environment (with
/// AWS_ENDPOINT_URL, the SDKs' own setting, pointing at the Lab).
/// <list type="bullet">
/// <item>aws:executeScript (the runbook): the InputPayload with its references resolved, as JSON in
/// $env:InputPayload; the attachment unpacked where the script runs; the returned object is the step's Payload
/// (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeScript.html).</item>
/// <item>aws:runPowerShellScript (the Command document): the references substituted into the runCommand lines,
/// which the agent runs as one script; with interpolationType ENV_VAR an agent from 3.3.2746.0 also sets
/// SSM_&lt;name&gt;, an older one does not
/// (https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html).</item>
/// </list>
/// The environment is the process's, so these run alone.
/// </summary>
[Collection("ProcessEnvironment")]
public sealed class SsmDocumentRunTests : IAsyncLifetime
{
    private const string Runbook = "GuardDutyIR-Isolate.yaml";
    private const string Command = "GuardDutyIR-Responder.yaml";
    private readonly Dictionary<string, string?> _saved = new(StringComparer.Ordinal);
    private readonly string _work = Directory.CreateTempSubdirectory("gdir-ssm-").FullName;
    private LabHost _lab = null!;

    public async Task InitializeAsync()
    {
        var names = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(n => n.StartsWith("AWS_", StringComparison.Ordinal) || n.StartsWith("SSM_", StringComparison.Ordinal))
            .Concat(["InputPayload", "PSModulePath", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL",
                "GUARDDUTYIR_CASE_ROOT", "GUARDDUTYIR_CASE_KEY_ROOT"])
            .Concat(SsmDocument.Load(Command)["parameters"]!.AsObject().Select(p => "SSM_" + p.Key)).Distinct();
        foreach (var name in names)
        {
            _saved[name] = Environment.GetEnvironmentVariable(name);
            if (name != "PSModulePath") Environment.SetEnvironmentVariable(name, null);
        }
        _lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Workshop, SnapshotCompletionSeconds = 1, InstanceTransitionSeconds = 0.5 });
        // What SSM gives a script: the role's credentials and the region in the environment (plus the Lab's endpoint).
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", _lab.AccessKeyId);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", _lab.SecretAccessKey);
        Environment.SetEnvironmentVariable("AWS_ENDPOINT_URL", _lab.Endpoint);
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
    }

    public async Task DisposeAsync()
    {
        foreach (var (name, value) in _saved) Environment.SetEnvironmentVariable(name, value);
        await _lab.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    private string Instance => _lab.World.CompromisedInstanceId!;
    private string Topic => _lab.GetService<SnsService>()!.ScenarioTopicArn!;
    private IReadOnlyList<SnsPublishedMessage> Messages => _lab.GetService<SnsService>()!.Messages;

    // ---- the Automation runbook ----

    private sealed record RunbookRun(ScriptResult Result, JsonObject? Payload);

    /// <summary>Starts the runbook's step as Automation would: parameters checked and resolved, attachment unpacked, payload in the environment.</summary>
    private RunbookRun RunRunbook(Dictionary<string, JsonNode> parameters, bool validate = true)
    {
        var doc = SsmDocument.Load(Runbook);
        var values = validate ? SsmDocument.ResolveParameters(doc, parameters) : parameters;
        var inputs = SsmDocument.Substitute(doc["mainSteps"]![0]!["inputs"], values)!.AsObject();
        var folder = Unpack(inputs["Attachment"]!.GetValue<string>());
        Environment.SetEnvironmentVariable("AWS_REGION", _lab.Region);
        Environment.SetEnvironmentVariable("InputPayload", inputs["InputPayload"]!.ToJsonString());
        using var host = new HostedPowerShell(importModule: false);
        Assert.Null(host.Run("Set-Location -LiteralPath $args[0]", folder).Terminating);
        var result = host.RunWithin(TimeSpan.FromMinutes(3), "& ([scriptblock]::Create($args[0])) | ConvertTo-Json -Depth 6 -Compress", inputs["Script"]!.GetValue<string>());
        // The step's Payload: the script's returned object as JSON.
        var payload = result.Terminating is null && result.Output.Count == 1 ? JsonNode.Parse(result.Output[0].ToString())!.AsObject() : null;
        return new RunbookRun(result, payload);
    }

    /// <summary>
    /// The module zip as packaging lays out the module (GuardDutyIR/&lt;version&gt;/...), unpacked once for the test
    /// process: a module's first import fixes where its dependencies load from for the rest of the process, as in
    /// any PowerShell process, so the folder must outlive each test.
    /// </summary>
    private static string Unpack(string attachment)
    {
        lock (s_unpacked)
        {
            if (s_unpacked.TryGetValue(attachment, out var done)) return done;
            var root = Directory.CreateTempSubdirectory("gdir-ssm-attachment-").FullName;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(root, recursive: true); } catch (IOException) { } };
            var stage = Path.Combine(root, "stage");
            CopyTree(ModuleLayout.Directory, Path.Combine(stage, "GuardDutyIR", ModuleLayout.Version));
            var zip = Path.Combine(root, attachment);
            ZipFile.CreateFromDirectory(stage, zip, CompressionLevel.Fastest, includeBaseDirectory: false);
            Directory.Delete(stage, recursive: true);
            // Automation unpacks the attachment where the script runs.
            var folder = Path.Combine(root, "run");
            ZipFile.ExtractToDirectory(zip, folder);
            return s_unpacked[attachment] = folder;
        }
    }

    private static readonly Dictionary<string, string> s_unpacked = new(StringComparer.Ordinal);

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var dir in Directory.GetDirectories(from)) CopyTree(dir, Path.Combine(to, Path.GetFileName(dir)));
    }

    private Dictionary<string, JsonNode> RunbookParameters(string instanceId, bool dryRun, string? topic = null) => new(StringComparer.Ordinal)
    {
        ["InstanceId"] = JsonValue.Create(instanceId),
        ["FindingId"] = JsonValue.Create(_lab.GetService<GuardDutyIR.Lab.GuardDuty.GuardDutyService>()!.ScenarioFindingId!),
        ["CaseId"] = JsonValue.Create("IR-77"),
        ["TopicArn"] = JsonValue.Create(topic ?? Topic),
        ["DryRun"] = JsonValue.Create(dryRun),
        ["AutomationAssumeRole"] = JsonValue.Create($"arn:aws:iam::{_lab.AccountId}:role/GuardDutyIR-AutoResponse"),
    };

    /// <summary>
    /// The role of the runbook holds GuardDutyIR-AutoResponse only: every action the module can call that the policy
    /// does not grant is refused by the Lab with the service's authorization error.
    /// </summary>
    private IReadOnlyList<AwsOperation> DenyAllButAutoResponse()
    {
        var granted = IamPolicyFile.Load("GuardDutyIR-AutoResponse").AllowedActions;
        var denied = new EngineAwsActions(ModuleLayout.Directory).All().Where(op => !granted.Contains(IamPolicyTests.IamAction(op))).ToList();
        foreach (var op in denied) _lab.Deny(op.Service, op.Operation);
        return denied;
    }

    private void AssertIsolated(string instanceId)
    {
        var world = _lab.World.Instance(instanceId);
        var isolation = Assert.Single(_lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"), g => g.VpcId == world.VpcId).GroupId;
        Assert.All(world.NetworkInterfaces, eni => Assert.Equal(new[] { isolation }, _lab.Ec2.GroupsOf(eni.NetworkInterfaceId)));
        Assert.True(_lab.Ec2.ViewInstance(instanceId).DisableApiTermination);
    }

    [Fact]
    public void The_runbook_isolates_the_instance_and_notifies_with_only_what_the_AutoResponse_policy_grants()
    {
        var denied = DenyAllButAutoResponse();
        Assert.Contains(denied, op => op.ToString() == "ec2:TerminateInstances");
        var tagsBefore = _lab.Ec2.ResourceTags(Instance).Keys.ToHashSet(StringComparer.Ordinal);
        _lab.Counters.Reset();

        var run = RunRunbook(RunbookParameters(Instance, dryRun: false));

        Assert.Null(run.Result.Terminating);
        Assert.Empty(run.Result.Errors);
        AssertIsolated(Instance);
        var message = Assert.Single(Messages);
        Assert.Equal(Topic, message.TopicArn);
        Assert.Contains(Instance, message.Subject);
        Assert.Contains("IR-77", message.Message);
        // The step's outputs, read with their selectors from the Payload, have their declared types.
        var outputs = Outputs(run.Payload!);
        Assert.Equal("Quarantined", outputs["Status"]!.GetValue<string>());
        Assert.Equal(message.MessageId, outputs["MessageId"]!.GetValue<string>());
        Assert.Contains(outputs["Steps"]!.AsArray(), s => s!.GetValue<string>().StartsWith("Isolate", StringComparison.Ordinal));
        // Every call it made is one the policy grants; none was refused (a refusal would have failed the step).
        var calls = _lab.Counters.Snapshot();
        // (STS GetCallerIdentity, asked for the case journal, needs no permission and is in no policy.)
        Assert.All(calls.Calls.Keys.Where(key => IamPolicyTests.IamAction(Operation(key)) != "sts:GetCallerIdentity"),
            key => Assert.Contains(IamPolicyTests.IamAction(Operation(key)), IamPolicyFile.Load("GuardDutyIR-AutoResponse").AllowedActions));
        Assert.Empty(calls.Errors);
        // Every tag it wrote is one the policy's aws:TagKeys condition lets it write.
        var written = _lab.Ec2.ResourceTags(Instance).Keys.Where(k => !tagsBefore.Contains(k))
            .Concat(_lab.Ec2.GroupsNamed("GuardDutyIR-Isolation").Concat(_lab.Ec2.GroupsNamed("GuardDutyIR-Conversion")).SelectMany(g => _lab.Ec2.ResourceTags(g.GroupId).Keys))
            .ToList();
        Assert.Contains("ir:case", written);
        Assert.All(written, k => Assert.True(k == "Name" || k.StartsWith("ir:", StringComparison.Ordinal), k));
    }

    [Fact]
    public void The_runbook_with_CaseJournalS3Uri_ends_with_the_case_journal_in_S3_with_only_what_the_AutoResponse_policy_grants()
    {
        DenyAllButAutoResponse();
        _lab.GetService<GuardDutyIR.Lab.S3.S3Service>()!.Store.EnsureBucket("ir-case-journals", _lab.AccountId, _lab.Region, DateTimeOffset.UtcNow);
        // Where the script keeps the case (set here so this test reads its own folders).
        var keys = Path.Combine(_work, "case-keys");
        Environment.SetEnvironmentVariable("GUARDDUTYIR_CASE_ROOT", Path.Combine(_work, "cases"));
        Environment.SetEnvironmentVariable("GUARDDUTYIR_CASE_KEY_ROOT", keys);
        var parameters = RunbookParameters(Instance, dryRun: false);
        parameters["CaseJournalS3Uri"] = JsonValue.Create("s3://ir-case-journals/runbook/");

        var run = RunRunbook(parameters);

        Assert.Null(run.Result.Terminating);
        Assert.Empty(run.Result.Errors);
        AssertIsolated(Instance);
        var copied = Outputs(run.Payload!)["CaseJournal"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.Equal("s3://ir-case-journals/runbook/IR-77/journal.head.json", copied[^1]);
        var store = _lab.GetService<GuardDutyIR.Lab.S3.S3Service>()!.Store;
        var download = Directory.CreateDirectory(Path.Combine(_work, "download")).FullName;
        foreach (var name in new[] { "case.json", "journal.jsonl", "journal.head.json" })
            File.WriteAllBytes(Path.Combine(download, name), store.Get("ir-case-journals", "runbook/IR-77/" + name)!.Content);
        using var host = new HostedPowerShell();
        var check = host.Run("Test-GdCaseJournal -Path $args[0] -KeyRoot $args[1]", download, keys);
        Assert.True((bool)Assert.Single(check.Output).Properties["Valid"].Value, check.Output[0].ToString());
        Assert.Empty(_lab.Counters.Snapshot().Errors);
    }

    [Fact]
    public void The_runbook_with_DryRun_changes_nothing_and_sends_nothing()
    {
        var before = _lab.Ec2.ViewInstance(Instance);
        _lab.Counters.Reset();
        var run = RunRunbook(RunbookParameters(Instance, dryRun: true));

        Assert.Null(run.Result.Terminating);
        var calls = _lab.Counters.Snapshot();
        Assert.True(calls.TotalCalls > 0);
        Assert.Equal(0, calls.TotalMutating);
        Assert.Empty(Messages);
        Assert.Empty(_lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"));
        var after = _lab.Ec2.ViewInstance(Instance);
        Assert.Equal((before.State, before.DisableApiTermination, before.DisableApiStop, before.ShutdownBehavior, before.ProfileArn),
            (after.State, after.DisableApiTermination, after.DisableApiStop, after.ShutdownBehavior, after.ProfileArn));
        Assert.Equal(before.EniGroups, after.EniGroups);
        Assert.Equal(before.DeleteOnTermination, after.DeleteOnTermination);
        Assert.True(run.Payload!["DryRun"]!.GetValue<bool>());
        var outputs = Outputs(run.Payload);
        Assert.Contains(outputs["Steps"]!.AsArray(), s => s!.GetValue<string>().Contains("DryRunAllowed", StringComparison.Ordinal));
        Assert.Equal("", outputs["MessageId"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("i-NOTANID", true)]
    [InlineData("i-0123456789abcdef0; Remove-Item -Recurse /", true)]
    [InlineData("' ; Write-Output pwned ; '", true)]
    [InlineData("i-0123456789abcdef\u0661", true)]
    // A trailing newline: whether SSM's own pattern check lets it through depends on its regex dialect's "$"; the
    // script must refuse it either way.
    [InlineData("i-0123456789abcdef0\n", false)]
    public void The_runbook_with_a_bad_instance_ID_does_not_start_and_its_script_refuses_it_before_any_call(string escaped, bool patternRefuses)
    {
        var instanceId = System.Text.RegularExpressions.Regex.Unescape(escaped);
        if (patternRefuses)
        {
            var refused = Assert.Throws<SsmParameterException>(() => RunRunbook(RunbookParameters(instanceId, dryRun: false)));
            Assert.Contains("InstanceId", refused.Message);
        }

        // Past the pattern (a payload written by hand), the module still refuses it before any AWS call.
        _lab.Counters.Reset();
        var run = RunRunbook(RunbookParameters(instanceId, dryRun: false), validate: false);
        Assert.NotNull(run.Result.Terminating);
        Assert.StartsWith("InvalidInstanceId", run.Result.Terminating!.ErrorRecord.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal(System.Management.Automation.ErrorCategory.InvalidArgument, run.Result.Terminating.ErrorRecord.CategoryInfo.Category);
        Assert.Equal(0, _lab.Counters.Snapshot().TotalCalls);
        Assert.Empty(Messages);
    }

    /// <summary>The step's declared outputs, each read from {"Payload": ...} with its selector and checked against its type.</summary>
    private static Dictionary<string, JsonNode?> Outputs(JsonObject payload)
    {
        var doc = SsmDocument.Load(Runbook);
        var root = new JsonObject { ["Payload"] = payload.DeepClone() };
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var output in doc["mainSteps"]![0]!["outputs"]!.AsArray())
        {
            var selector = output!["Selector"]!.GetValue<string>();
            Assert.Matches(@"^\$(\.[A-Za-z]+)+$", selector);
            JsonNode? value = root;
            foreach (var part in selector[2..].Split('.')) value = value?[part];
            var type = output["Type"]!.GetValue<string>();
            Assert.True(type switch
            {
                "String" => value is JsonValue v && v.TryGetValue<string>(out _),
                "StringList" => value is JsonArray list && list.All(i => i is JsonValue s && s.TryGetValue<string>(out _)),
                "Boolean" => value is JsonValue b && b.TryGetValue<bool>(out _),
                _ => false,
            }, $"{output["Name"]} ({selector}) is not a {type}: {value?.ToJsonString() ?? "nothing"}");
            values[output["Name"]!.GetValue<string>()] = value;
        }
        return values;
    }

    private static AwsOperation Operation(string counterKey)
    {
        var i = counterKey.IndexOf(':', StringComparison.Ordinal);
        return new AwsOperation(counterKey[..i], counterKey[(i + 1)..]);
    }

    // ---- the Command document ----

    /// <summary>
    /// Runs the Linux step as SSM Agent would: the references substituted into runCommand, the lines written as one
    /// script and run; a new agent also sets SSM_&lt;name&gt; for each parameter. The responder host has the module
    /// installed (on PSModulePath).
    /// </summary>
    private ScriptResult RunCommand(Dictionary<string, JsonNode> parameters, bool newAgent, bool validate = true)
    {
        var doc = SsmDocument.Load(Command);
        var values = validate ? SsmDocument.ResolveParameters(doc, parameters) : parameters;
        var step = doc["mainSteps"]!.AsArray().Single(s => s!["precondition"]!["StringEquals"]![1]!.GetValue<string>() == "Linux")!;
        var lines = SsmDocument.Substitute(step["inputs"]!["runCommand"], values)!.AsArray().Select(l => l!.GetValue<string>());
        var script = Path.Combine(Directory.CreateDirectory(Path.Combine(_work, "cmd-" + Guid.NewGuid().ToString("N"))).FullName, "_script.ps1");
        File.WriteAllText(script, string.Join('\n', lines) + "\n");
        foreach (var (name, value) in values)
            Environment.SetEnvironmentVariable("SSM_" + name, newAgent ? (value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value.ToJsonString()) : null);
        Environment.SetEnvironmentVariable("PSModulePath", ModuleLayout.ModuleRoot + Path.PathSeparator + _saved["PSModulePath"]);
        using var host = new HostedPowerShell(importModule: false);
        return host.RunWithin(TimeSpan.FromMinutes(3), "& $args[0]", script);
    }

    private Dictionary<string, JsonNode> CommandParameters(string instanceId, string dryRun, string region) => new(StringComparer.Ordinal)
    {
        ["InstanceId"] = JsonValue.Create(instanceId),
        ["CaseId"] = JsonValue.Create("IR 78"),
        ["TopicArn"] = JsonValue.Create(Topic),
        ["Region"] = JsonValue.Create(region),
        ["DryRun"] = JsonValue.Create(dryRun),
    };

    [Fact]
    public void The_command_document_isolates_from_a_responder_host_with_the_region_given_and_a_new_agent()
    {
        // No region in the host's configuration: the document's Region parameter is what the module gets.
        Environment.SetEnvironmentVariable("AWS_REGION", null);
        var result = RunCommand(CommandParameters(Instance, "false", _lab.Region), newAgent: true);

        Assert.Null(result.Terminating);
        Assert.Empty(result.Errors);
        AssertIsolated(Instance);
        Assert.Equal("IR 78", _lab.Ec2.ResourceTags(Instance)["ir:case"]);
        var output = JsonNode.Parse(Assert.Single(result.Output).ToString())!.AsObject();
        Assert.Equal("Quarantined", output["Status"]!.GetValue<string>());
        Assert.Equal(Assert.Single(Messages).MessageId, output["MessageId"]!.GetValue<string>());
    }

    [Fact]
    public void The_command_document_with_DryRun_on_an_older_agent_changes_nothing()
    {
        Environment.SetEnvironmentVariable("AWS_REGION", _lab.Region);
        _lab.Counters.Reset();
        // An agent before 3.3.2746.0 sets no SSM_ variables: the substituted text is all the script has.
        var result = RunCommand(CommandParameters(Instance, "true", ""), newAgent: false);

        Assert.Null(result.Terminating);
        var output = JsonNode.Parse(Assert.Single(result.Output).ToString())!.AsObject();
        Assert.True(output["DryRun"]!.GetValue<bool>());
        Assert.Equal(Instance, output["InstanceId"]!.GetValue<string>());
        var calls = _lab.Counters.Snapshot();
        Assert.True(calls.TotalCalls > 0);
        Assert.Equal(0, calls.TotalMutating);
        Assert.Empty(Messages);
        Assert.Empty(_lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"));
    }

    [Fact]
    public void The_command_document_with_a_bad_instance_ID_does_not_start_and_its_script_refuses_it_before_any_call()
    {
        Environment.SetEnvironmentVariable("AWS_REGION", _lab.Region);
        var refused = Assert.Throws<SsmParameterException>(() => RunCommand(CommandParameters("i-bad", "false", ""), newAgent: true));
        Assert.Contains("InstanceId", refused.Message);

        _lab.Counters.Reset();
        var result = RunCommand(CommandParameters("i-bad", "false", ""), newAgent: true, validate: false);
        Assert.NotNull(result.Terminating);
        Assert.StartsWith("InvalidInstanceId", result.Terminating!.ErrorRecord.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal(0, _lab.Counters.Snapshot().TotalCalls);
        Assert.Contains("i-bad", result.Terminating.Message);
    }
}
