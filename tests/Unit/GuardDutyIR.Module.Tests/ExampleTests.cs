using System.Collections;
using System.Diagnostics;
using System.Management.Automation;
using System.Reflection;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;
using Xunit.Abstractions;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The example tests change process-wide state (AWS_* environment variables, the module's list of running Labs,
/// which one example stops wholesale), so they run on their own, after the parallel collections.
/// </summary>
[CollectionDefinition(nameof(ExampleCollection), DisableParallelization = true)]
public sealed class ExampleCollection;

/// <summary>
/// Every code example of the help (module/help/*.md, the about topic) and of README.md runs, as written, against a
/// fresh Workshop Lab in the hosted engine: no terminating error, no error record, and output wherever the example
/// shows a result. An example that needs context it does not state itself (a topic ARN, a finding ID, a profile, a
/// file) gets a small setup keyed by file and example number in <see cref="Setups"/>; the example text is never
/// changed. Examples that cannot run against the Lab by nature are in <see cref="NotRunnable"/>, examples that fail
/// because of a module defect are fixed, not listed.
/// </summary>
[Collection(nameof(ExampleCollection))]
public sealed class ExampleTests(ITestOutputHelper output)
{
    /// <summary>Examples that cannot run against the Lab whatever the module does. Keep this list short.</summary>
    private static readonly IReadOnlyDictionary<string, string> NotRunnable = new Dictionary<string, string>
    {
        [HelpExample.Keys("README.md", 2)] = "bash: the dotnet CLI commands that build, demo and test the project",
        [HelpExample.Keys("README.md", 3)] = "installs from the PowerShell Gallery, which the test machines cannot reach (and PSResourceGet is not among the " +
            "SDK's modules); GalleryPackageTests installs the built packages the same way and runs the workshop through them",
        [HelpExample.Keys("README.md", 5)] = "bash: the dotnet CLI packing and pushing the gallery packages to the PowerShell Gallery",
        [HelpExample.Keys("README.md", 13)] = "bash: a standalone Lab process and the AWS CLI and curl against it",
        [HelpExample.Keys("README.md", 15)] = "bash: the AWS CLI deploying the CloudFormation template to a real account (the Lab has no CloudFormation; " +
            "tests/Unit/GuardDutyIR.Lab.Tests/Automation deploys the template's rule into the Lab instead)",
        [HelpExample.Keys("Start-GdLab.md", 2)] = "runs the AWS CLI, an external program the test machines need not have, on the fixed port 4566",
        [HelpExample.Keys("Get-GdFinding.md", 4)] =
            "an organisation's GuardDuty administrator (111122223333) reading a member account (444455556666): the Lab's two accounts " +
            "are derived from its seed and its administrator detector does not aggregate member findings",
    };

    /// <summary>What an example needs that it does not say itself, and what it is known to write.</summary>
    private sealed record Setup
    {
        /// <summary>PowerShell run first, in the same session and folder: the context the example's text assumes.</summary>
        public Func<ExampleContext, string>? Prelude { get; init; }
        /// <summary>Changes to the Lab's world or the working folder made from the test (things the Lab has no API for).</summary>
        public Action<ExampleContext>? Arrange { get; init; }
        /// <summary>Why the example writes no object (a -WhatIf, a cmdlet without output, a time window before the Lab's clock).</summary>
        public string? NoOutput { get; init; }
        /// <summary>What the Lab must show afterwards, for examples whose result is a change rather than output.</summary>
        public Action<ExampleContext, ScriptResult>? Check { get; init; }
    }

    private static string Q(string value) => "'" + value.Replace("'", "''") + "'";

    // ---- preludes shared by several examples ----------------------------------------------------------------------

    /// <summary>$topic: the Lab's SNS topic (GuardDuty-Example), standing for the responders' topic.</summary>
    private static string Topic(ExampleContext c) => $"$topic = {Q(c.TopicArn)}";

    /// <summary>A shared credentials file with the ir-responder profile holding the Lab's keys. The case's
    /// AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE already point into the example's folder.</summary>
    private static string ResponderProfile(ExampleContext c) => $$"""
        Set-Content -LiteralPath $env:AWS_SHARED_CREDENTIALS_FILE -Value "[ir-responder]`naws_access_key_id = {{c.Lab.AccessKeyId}}`naws_secret_access_key = {{c.Lab.SecretAccessKey}}"
        Set-Content -LiteralPath $env:AWS_CONFIG_FILE -Value "[profile ir-responder]`nregion = {{c.Lab.Region}}"
        """;

    /// <summary>The responder answering Yes to the confirmation a High-impact cmdlet asks for; the test host has no
    /// console to ask on.</summary>
    private const string AnswerYes = "$ConfirmPreference = 'None'";

    /// <summary>A case's threat list, as New-GdThreatList makes it, in the Lab's threat-list bucket.</summary>
    private static string CaseThreatList(ExampleContext c) =>
        $"$null = New-GdThreatList -Name IR-42-blocked -Entry 198.51.100.23 -Bucket {Q(c.Lab.World.ThreatListBucket!)}";

    /// <summary>$LambdaInput as the Lambda PowerShell runtime passes it: the EventBridge event, converted from JSON.</summary>
    private const string LambdaInput = "$LambdaInput = Get-Content -Raw ./lambda-event.json | ConvertFrom-Json";

    private static readonly Action<ExampleContext> LambdaEvent = c => c.WriteEvent("lambda-event.json", c.Finding(c.ScenarioFindingId));

    /// <summary>The workshop finding's instance is isolated (every ENI in the no-rule group) and the responders were
    /// told about that finding.</summary>
    private static void ContainedAndNotified(ExampleContext c, ScriptResult r)
    {
        Contained(c, r);
        NotifiedAbout(c, c.Finding(c.ScenarioFindingId));
    }

    /// <summary>Every message the example published names the finding (its ID and type), as the default template
    /// says it does, so the e-mail tells the responders what happened.</summary>
    private static void NotifiedAbout(ExampleContext c, JsonObject finding)
    {
        var messages = c.Lab.GetService<SnsService>()!.Messages;
        Assert.NotEmpty(messages);
        Assert.All(messages, m =>
        {
            Assert.Contains((string)finding["id"]!, m.Message);
            Assert.Contains((string)finding["type"]!, m.Message);
        });
    }

    private static void Terminated(ExampleContext c, ScriptResult _) =>
        Assert.Contains(c.Lab.Ec2.InstanceState(c.Lab.World.CompromisedInstanceId!), new[] { "shutting-down", "terminated" });

    private static void Contained(ExampleContext c, ScriptResult _)
    {
        var isolation = c.Lab.Ec2.GroupsNamed("GuardDutyIR-Isolation").Select(g => g.GroupId).ToHashSet();
        var view = c.Lab.Ec2.ViewInstance(c.Lab.World.CompromisedInstanceId!);
        Assert.NotEmpty(view.EniGroups);
        Assert.All(view.EniGroups, eni => Assert.Contains(eni.Value, isolation));
    }

    /// <summary>$functionArn: the Lab's remediation Lambda function, standing for the module's handler.</summary>
    private static string FunctionArn(ExampleContext c) => $"$functionArn = {Q(c.Lab.Facts["RemediationFunctionArn"]!)}";

    /// <summary>The workshop's rule, to the scenario's topic and the remediation function, as New-GdResponseRule makes it.</summary>
    private static string WorkshopRule(ExampleContext c) =>
        $"$null = New-GdResponseRule -TopicArn {Q(c.TopicArn)} -FunctionArn {Q(c.Lab.Facts["RemediationFunctionArn"]!)}";

    /// <summary>Case IR-42 active, its folders in the example's own folder (never the user's), and $eds: the Lab's
    /// event data store.</summary>
    private static string CaseAndStore(ExampleContext c) =>
        $"$null = Start-GdCase -CaseId IR-42 -CaseRoot ./cases -KeyRoot ./keys\n$eds = {Q(c.Lab.GetService<CloudTrailService>()!.EventDataStoreArn!)}";

    /// <summary>The report files an Export-GdCaseReport example wrote, HTML first.</summary>
    private static void Reported(string folder, ScriptResult r) =>
        Assert.Equal(new[] { Path.Combine(folder, "IR-42-report.html"), Path.Combine(folder, "IR-42-report.md") },
            r.Output.Select(o => ((FileInfo)o.BaseObject).FullName).Where(File.Exists));

    /// <summary>Keyed by <see cref="HelpExample.Keys"/>.</summary>
    private static readonly IReadOnlyDictionary<string, Setup> Setups = new Dictionary<string, Setup>
    {
        // ---- scenario 2's stolen credentials: the instance whose role the workshop's attacker used
        [HelpExample.Keys("Undo-InstanceRoleSessionRevocation.md", 1)] = new() { Prelude = c => $"$instanceId = {Q(c.Lab.World.InvestigatedInstanceId!)}" },
        // An application server: its role is shared with a second one, which -ReplaceRole moves to the copy.
        [HelpExample.Keys("Revoke-InstanceRoleSession.md", 2)] = new()
        {
            Prelude = c => $"$instanceId = {Q(c.Lab.World.Instances.First(i => i.AccountId == c.Lab.AccountId && i.Role == "workload").InstanceId)}",
        },
        // ---- the case cmdlets: the examples that assume a case was started
        // An open case of its own: the cases other tests of the run left open are not this example's to rely on.
        [HelpExample.Keys("Get-GdCase.md", 1)] = new() { Prelude = _ => "$null = Start-GdCase -CaseId IR-42" },
        [HelpExample.Keys("Get-GdCase.md", 2)] = new() { Prelude = _ => "$null = Start-GdCase -CaseId IR-42" },
        [HelpExample.Keys("Stop-GdCase.md", 1)] = new() { Prelude = _ => "$null = Start-GdCase -CaseId IR-42" },
        [HelpExample.Keys("Test-GdCaseJournal.md", 1)] = new() { Prelude = _ => "$null = Start-GdCase -CaseId IR-42" },
        // A copy of case IR-42 in the current folder, and its key in keys-from-vault.
        [HelpExample.Keys("Test-GdCaseJournal.md", 2)] = new() { Prelude = _ => "$null = Start-GdCase -CaseId IR-42 -CaseRoot . -KeyRoot ./keys-from-vault; $null = Stop-GdCase" },
        // ---- README.md
        [HelpExample.Keys("README.md", 1)] = new() { Prelude = Topic, Check = ContainedAndNotified },
        // After the install of block 3: GuardDutyIR on PSModulePath (the build's out/ folder stands for the installed copy).
        [HelpExample.Keys("README.md", 4)] = new()
        {
            Prelude = _ => $"$env:PSModulePath = {Q(ModuleLayout.ModuleRoot)} + [IO.Path]::PathSeparator + $env:PSModulePath",
            NoOutput = "Set-InstanceQuarantine -WhatIf says what it would change on the host and writes no object; Stop-GdLab writes nothing",
        },
        [HelpExample.Keys("README.md", 6)] = new()
        {
            // The README's commands run from the clone's root; $memberRoleArn is a role of the Lab's member account.
            Arrange = c => c.AddRole(c.Lab.MemberAccountId, "IncidentResponder", "case-42"),
            Prelude = c => $"Set-Location -LiteralPath {Q(GuardDutyIR.TestSupport.TestPaths.RepoRoot)}\n" + ResponderProfile(c)
                + $"\n$memberRoleArn = 'arn:aws:iam::{c.Lab.MemberAccountId}:role/IncidentResponder'",
        },
        // The case's report, bundle and S3 copy: a case, its findings, an instance and the Lab's event data store and bucket.
        [HelpExample.Keys("README.md", 10)] = new()
        {
            Prelude = c => "$null = Start-GdCase -CaseId IR-42; $findings = Get-GdFinding; $id = ($findings | Where-Object InstanceId | Select-Object -First 1).InstanceId; "
                + $"$eds = (Get-LakeEventDataStore | Select-Object -First 1).EventDataStore; $evidenceBucket = {Q(c.Lab.Facts["EvidenceBucket"]!)}",
        },
        [HelpExample.Keys("README.md", 7)] = new() { Prelude = _ => AnswerYes, Check = Terminated },
        // Block 12 follows block 11, which started the Lab as $lab.
        [HelpExample.Keys("README.md", 12)] = new() { Prelude = _ => "$lab = Start-GdLab -Scenario Workshop" },
        [HelpExample.Keys("README.md", 14)] = new()
        {
            // A machine with Pester and GuardDutyIR installed, in the clone's root: Pester imported, the build's
            // out/ folder on PSModulePath so the suite's Import-Module GuardDutyIR finds the module by name.
            Prelude = _ => $"Set-Location -LiteralPath {Q(GuardDutyIR.TestSupport.TestPaths.RepoRoot)}\n"
                + $"$env:PSModulePath = {Q(ModuleLayout.ModuleRoot)} + [IO.Path]::PathSeparator + $env:PSModulePath\n"
                + $"Import-Module -Name {Q(PesterModule.Current.Manifest)}",
            NoOutput = "Invoke-Pester reports on the host, not the pipeline, unless -PassThru",
            Check = (_, r) => PesterOutput.AssertHostSummaryPassed(r.Information),
        },

        // ---- about_GuardDutyIR.md
        [HelpExample.Keys("about_GuardDutyIR.md", 1)] = new() { Prelude = Topic, Check = ContainedAndNotified },
        [HelpExample.Keys("about_GuardDutyIR.md", 3)] = new() { Prelude = Topic, Check = ContainedAndNotified },
        // Block 5 follows block 4 in the topic, which found $instance (the instance whose role listed buckets).
        [HelpExample.Keys("about_GuardDutyIR.md", 5)] = new()
        {
            Prelude = c => Topic(c) + $"\n$instance = {Q(c.Lab.World.InvestigatedInstanceId!)}",
            Check = (c, _) => NotifiedAbout(c, c.AllFindings().Single(f => ((string)f["type"]!).StartsWith("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration", StringComparison.Ordinal))),
        },

        // ---- cmdlet help
        [HelpExample.Keys("Add-GdThreatListEntry.md", 1)] = new()
        {
            Prelude = c => $"$findingId = {Q(c.ScenarioFindingId)}\n" + CaseThreatList(c),
        },
        [HelpExample.Keys("Clear-GdDefault.md", 1)] = new()
        {
            // After Clear-GdDefault the standard chain answers: here the environment holds the Lab's keys (and every
            // case's AWS_ENDPOINT_URL sends the call to the Lab instead of AWS).
            Prelude = c => $"$env:AWS_ACCESS_KEY_ID = {Q(c.Lab.AccessKeyId)}; $env:AWS_SECRET_ACCESS_KEY = {Q(c.Lab.SecretAccessKey)}; $env:AWS_REGION = {Q(c.Lab.Region)}",
        },
        [HelpExample.Keys("Clear-GdDefault.md", 2)] = new() { NoOutput = "Clear-GdDefault writes nothing" },
        [HelpExample.Keys("Clear-GdDefault.md", 3)] = new() { NoOutput = "-WhatIf" },
        [HelpExample.Keys("ConvertFrom-GdFindingEvent.md", 1)] = new()
        {
            Arrange = LambdaEvent,
            Prelude = c => LambdaInput + $"\n$env:IR_TOPIC_ARN = {Q(c.TopicArn)}",
            Check = (c, _) => NotifiedAbout(c, c.Finding(c.ScenarioFindingId)),
        },
        [HelpExample.Keys("ConvertFrom-GdFindingEvent.md", 2)] = new()
        {
            Arrange = c => { foreach (var f in c.CurrentFindings()) c.WriteEvent($"cases/IR-42/events/{f["id"]}.json", f); },
        },
        [HelpExample.Keys("ConvertFrom-GdFindingEvent.md", 3)] = new()
        {
            Arrange = c =>
            {
                var n = 0;
                foreach (var f in c.CurrentFindings()) c.WriteEvent($"exports/guardduty-{++n:D2}.json", f);
            },
        },
        [HelpExample.Keys("ConvertFrom-GdFindingEvent.md", 4)] = new() { Arrange = c => c.WriteEvent("event.json", c.Finding(c.ScenarioFindingId)) },
        [HelpExample.Keys("Get-GdCallerIdentity.md", 1)] = new() { Prelude = ResponderProfile },
        [HelpExample.Keys("Get-GdCallerIdentity.md", 2)] = new()
        {
            // The Lab has one member account; it gets the IncidentResponder role the example assumes.
            Arrange = c => c.AddRole(c.Lab.MemberAccountId, "IncidentResponder", "ir-2024"),
            Prelude = c => $"$memberAccounts = @({Q(c.Lab.MemberAccountId)})",
            Check = (c, r) => Assert.Contains($"arn:aws:sts::{c.Lab.MemberAccountId}:assumed-role/IncidentResponder/IR-42", string.Join("\n", c.Render(r))),
        },
        [HelpExample.Keys("Copy-GdCaseJournal.md", 1)] = new()
        {
            Arrange = c => c.EnsureBucket("ir-evidence"),
            Prelude = _ => "$null = Start-GdCase -CaseId IR-42",
            Check = (c, _) => Assert.NotNull(c.Lab.GetService<S3Service>()!.Store.Get("ir-evidence", "cases/IR-42/journal.head.json")!.ChecksumSha256),
        },
        [HelpExample.Keys("Copy-GdCaseJournal.md", 2)] = new()
        {
            Arrange = c => c.EnsureBucket("ir-evidence"),
            Prelude = _ => "$null = Start-GdCase -CaseId IR-42",
        },
        [HelpExample.Keys("Export-GdCaseEvidence.md", 1)] = new()
        {
            Check = (c, _) => Assert.True(File.Exists(Path.Combine(c.WorkDir, "IR-42-evidence.zip")) && File.Exists(Path.Combine(c.WorkDir, "IR-42-evidence", "snapshots.json"))),
        },
        [HelpExample.Keys("Export-GdCaseEvidence.md", 2)] = new()
        {
            Arrange = c =>
            {
                c.WriteTrailFiles();
                File.WriteAllText(Path.Combine(c.WorkDir, "transcript.txt"), "PS> Get-GdFinding\n");
                File.WriteAllBytes(Path.Combine(c.WorkDir, "screenshot.png"), new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A });
            },
            Prelude = _ => "$null = Start-GdCase -CaseId IR-42",
            Check = (c, r) => Assert.Contains(Directory.GetFiles(c.WorkDir, "*.csv", SearchOption.AllDirectories), f => f.EndsWith("instances-listing-buckets.csv", StringComparison.Ordinal)),
        },
        [HelpExample.Keys("Test-GdCaseEvidence.md", 1)] = new() { Prelude = _ => "$null = Start-GdCase -CaseId IR-42" },
        [HelpExample.Keys("Test-GdCaseEvidence.md", 2)] = new()
        {
            // The colleague's copy of the case's key: the case made with its key in ./keys-from-vault.
            Prelude = _ => "$null = Start-GdCase -CaseId IR-42 -CaseRoot ./cases -KeyRoot ./keys-from-vault\n$null = Export-GdCaseEvidence -Path ./IR-42-evidence -Zip",
            Check = (_, r) => Assert.True((bool)Assert.Single(r.Output).Properties["Valid"].Value),
        },
        [HelpExample.Keys("Get-GdDefault.md", 2)] = new() { NoOutput = "writes a warning, no object" },
        [HelpExample.Keys("Get-GdDefault.md", 3)] = new() { NoOutput = "sets and clears the defaults" },
        [HelpExample.Keys("Export-GdCaseReport.md", 1)] = new()
        {
            // The finding of workshop scenario 2: the instance role's credentials used from outside AWS.
            Prelude = c => CaseAndStore(c) + "\n$findingId = " + Q((string)c.AllFindings().First(f => ((string)f["type"]!).Contains("InstanceCredentialExfiltration", StringComparison.Ordinal))["id"]!),
            Check = (c, r) => Reported(Path.Combine(c.WorkDir, "cases", "IR-42", "report"), r),
        },
        [HelpExample.Keys("Export-GdCaseReport.md", 2)] = new()
        {
            Prelude = c => CaseAndStore(c) + "\n$id = " + Q(c.Lab.World.InvestigatedInstanceId!),
            Check = (c, r) => Reported(Path.Combine(c.WorkDir, "reports"), r),
        },
        [HelpExample.Keys("Get-GdDetector.md", 3)] = new() { Prelude = ResponderProfile },
        [HelpExample.Keys("Get-GdFinding.md", 2)] = new()
        {
            Prelude = Topic,
            NoOutput = "-Since the last hour: the Lab's findings are dated at its scenario's time, so none is new",
        },
        [HelpExample.Keys("Get-GdFinding.md", 3)] = new()
        {
            // The bastion: an SSH brute-force finding and an archived port probe.
            Prelude = c => $"$instanceId = {Q(c.Lab.World.BastionInstanceId!)}",
            Check = (c, r) => Assert.Contains("PortProbeUnprotectedPort", string.Join("\n", c.Render(r))),
        },
        [HelpExample.Keys("Get-GdFinding.md", 5)] = new()
        {
            // The Lab's archived finding and its sample finding.
            Prelude = c => $"$findingIds = {string.Join(", ", c.AllFindings().Where(f => (bool?)f["service"]?["archived"] == true || IsSample(f)).Select(f => Q((string)f["id"]!)))}",
            Check = (c, r) => Assert.True(c.Render(r).Count(l => l.StartsWith("Id ", StringComparison.Ordinal)) >= 2, "both findings are shown"),
        },
        [HelpExample.Keys("Get-GdLab.md", 1)] = new() { Prelude = _ => "$null = Start-GdLab -NoDefault" },
        [HelpExample.Keys("Invoke-LakeQuery.md", 1)] = new() { Arrange = c => c.WriteTrailFiles() },
        [HelpExample.Keys("Invoke-LakeQuery.md", 3)] = new()
        {
            Arrange = c => c.EnsureBucket("ir-athena-results"),
            NoOutput = "the rows go to ./instance-activity.csv",
        },
        // The example reads an organization trail's bucket, org-trail: the Lab's trail files, copied there.
        [HelpExample.Keys("Invoke-LakeQuery.md", 4)] = new() { Arrange = c => c.CopyTrailFiles("org-trail") },
        [HelpExample.Keys("New-ForensicSnapshot.md", 2)] = new() { Prelude = c => $"$instanceId = {Q(c.Lab.World.CompromisedInstanceId!)}" },
        [HelpExample.Keys("New-GdSampleFinding.md", 1)] = new() { Prelude = Topic },
        [HelpExample.Keys("Get-GdResponseRule.md", 1)] = new() { Prelude = WorkshopRule },
        [HelpExample.Keys("Get-GdResponseRule.md", 2)] = new() { Prelude = WorkshopRule },
        [HelpExample.Keys("Test-GdResponseRule.md", 1)] = new() { Prelude = WorkshopRule },
        [HelpExample.Keys("Test-GdResponseRule.md", 2)] = new()
        {
            Prelude = WorkshopRule,
            Arrange = c => c.WriteEvent("event.json", c.Finding(c.ScenarioFindingId)),
        },
        [HelpExample.Keys("New-GdResponseRule.md", 1)] = new()
        {
            Prelude = c => Topic(c) + "\n" + FunctionArn(c),
            Check = (c, _) => Assert.Contains(c.Lab.GetService<GuardDutyIR.Lab.Events.EventBridgeService>()!.RulesOf(c.Lab.AccountId), r => r.Name == "GuardDuty-Event-EC2-MaliciousIPCaller"),
        },
        [HelpExample.Keys("New-GdResponseRule.md", 2)] = new() { Prelude = Topic, NoOutput = "-WhatIf" },
        [HelpExample.Keys("Remove-GdResponseRule.md", 1)] = new() { Prelude = WorkshopRule },
        [HelpExample.Keys("New-GdThreatList.md", 1)] = new() { Arrange = c => c.EnsureBucket("ir-threat-lists") },
        [HelpExample.Keys("New-GdThreatList.md", 2)] = new()
        {
            Arrange = c =>
            {
                c.EnsureBucket("ir-threat-lists");
                File.WriteAllText(Path.Combine(c.WorkDir, "threat-list.txt"), "# the workshop's malicious EIP\n" + c.Lab.World.MaliciousEip + "\n");
            },
            NoOutput = "-WhatIf",
        },
        [HelpExample.Keys("Remove-CompromisedInstance.md", 1)] = new()
        {
            Prelude = c => $"$instanceId = {Q(c.Lab.World.CompromisedInstanceId!)}",
            Check = Terminated,
        },
        [HelpExample.Keys("Remove-GdThreatList.md", 1)] = new()
        {
            Prelude = CaseThreatList,
            NoOutput = "Remove-GdThreatList writes nothing",
            Check = (c, _) => Assert.DoesNotContain(c.MainDetector().ThreatIntelSets.Values, l => l.Name.StartsWith("IR-42-", StringComparison.Ordinal)),
        },
        [HelpExample.Keys("Send-GdNotification.md", 1)] = new() { Prelude = Topic, Check = ContainedAndNotified },
        [HelpExample.Keys("Send-GdNotification.md", 2)] = new()
        {
            Arrange = LambdaEvent,
            Prelude = c => LambdaInput + $"\n$env:TOPIC_ARN = {Q(c.TopicArn)}",
            Check = (c, _) =>
            {
                var sent = Assert.Single(c.Lab.GetService<SnsService>()!.Messages);
                Assert.Equal("GuardDuty Remediation | ID: " + c.ScenarioFindingId, sent.Subject);
                Assert.Contains($"(Instance ID: {c.Lab.World.CompromisedInstanceId})", sent.Message);
            },
        },
        [HelpExample.Keys("Send-GdNotification.md", 3)] = new()
        {
            Arrange = LambdaEvent,
            Prelude = c => LambdaInput + $"\n$env:TOPIC_ARN = {Q(c.TopicArn)}",
            Check = (c, r) =>
            {
                ContainedAndNotified(c, r);
                var sent = Assert.Single(c.Lab.GetService<SnsService>()!.Messages);
                Assert.EndsWith(" " + sent.MessageId, c.Lab.Ec2.ResourceTags(c.Lab.World.CompromisedInstanceId!)["ir:notified:" + c.ScenarioFindingId]);
            },
        },
        [HelpExample.Keys("Send-GdNotification.md", 4)] = new() { Prelude = Topic },
        [HelpExample.Keys("Set-GdDefault.md", 1)] = new() { Prelude = ResponderProfile },
        [HelpExample.Keys("Set-GdDefault.md", 3)] = new() { Prelude = ResponderProfile },
        [HelpExample.Keys("Set-GdDefault.md", 4)] = new()
        {
            Arrange = c => c.AddRole(c.Lab.MemberAccountId, "IncidentResponder", "case-42"),
            Prelude = c => $"$memberRoleArn = 'arn:aws:iam::{c.Lab.MemberAccountId}:role/IncidentResponder'",
            Check = (c, r) => Assert.Contains(c.Render(r), line => line.Contains(c.Lab.MemberAccountId, StringComparison.Ordinal)),
        },
        [HelpExample.Keys("Set-GdDefault.md", 5)] = new() { NoOutput = "-WhatIf" },
        [HelpExample.Keys("Set-GdFinding.md", 1)] = new()
        {
            NoOutput = "Set-GdFinding writes nothing without -PassThru",
            Check = (c, _) => Assert.All(c.AllFindings().Where(IsSample), f => Assert.True((bool?)f["service"]?["archived"] == true, "the sample finding is archived")),
        },
        [HelpExample.Keys("Set-GdFinding.md", 2)] = new() { Prelude = c => $"$instanceId = {Q(c.Lab.World.CompromisedInstanceId!)}" },
        [HelpExample.Keys("Set-GdThreatList.md", 1)] = new()
        {
            Prelude = CaseThreatList,
            Check = (c, _) => Assert.Contains(c.MainDetector().ThreatIntelSets.Values, l => l.Name == "IR-42-blocked" && l.Status == "INACTIVE"),
        },
        [HelpExample.Keys("Set-GdThreatList.md", 2)] = new()
        {
            Arrange = c => c.PutObject("ir-threat-lists", "v2/example.txt", c.Lab.World.MaliciousEip + "\n203.0.113.0/24\n"),
        },
        [HelpExample.Keys("Set-InstanceQuarantine.md", 1)] = new() { Check = Contained },
        [HelpExample.Keys("Set-InstanceQuarantine.md", 2)] = new()
        {
            NoOutput = "-WhatIf",
            Check = (c, _) => Assert.Empty(c.Lab.Ec2.GroupsNamed("GuardDutyIR-Isolation")),
        },
        [HelpExample.Keys("Set-InstanceQuarantine.md", 3)] = new() { Prelude = c => $"$instanceId = {Q(c.Lab.World.CompromisedInstanceId!)}" },
        [HelpExample.Keys("Stop-CompromisedInstance.md", 1)] = new()
        {
            Prelude = c => $"$instanceId = {Q(c.Lab.World.CompromisedInstanceId!)}\n" + AnswerYes,
            Check = (c, _) => Assert.Contains(c.Lab.Ec2.InstanceState(c.Lab.World.CompromisedInstanceId!), new[] { "stopping", "stopped" }),
        },
        [HelpExample.Keys("Stop-GdLab.md", 1)] = new()
        {
            Prelude = _ => "$null = Start-GdLab -NoDefault",
            NoOutput = "Stop-GdLab writes nothing",
            Check = (c, _) => Assert.Empty(c.Session.Run("Get-GdLab").Output),
        },
        [HelpExample.Keys("Test-InstanceQuarantine.md", 1)] = new() { Check = Contained },
        [HelpExample.Keys("Undo-InstanceQuarantine.md", 1)] = new()
        {
            Prelude = c => $"$findingId = {Q(c.ScenarioFindingId)}\n$null = Get-GdFinding -Id $findingId | Set-InstanceQuarantine -CaseId IR-42 -ConversionWaitSeconds 0",
            Check = (c, _) => Assert.Empty(c.Lab.Ec2.GroupsNamed("GuardDutyIR-Isolation").SelectMany(g => c.Lab.Ec2.NetworkInterfacesUsing(g.GroupId))),
        },
    };

    private static bool IsSample(JsonObject finding) => ExampleContext.IsSample(finding);

    // ---- the cases --------------------------------------------------------------------------------------------------

    public static TheoryData<string, int> Runnable()
    {
        var data = new TheoryData<string, int>();
        foreach (var example in HelpExamples.All.Where(e => !NotRunnable.ContainsKey(e.Key)))
            data.Add(example.File, example.Number);
        return data;
    }

    [Theory]
    [MemberData(nameof(Runnable))]
    public void Example_runs_against_the_Lab(string file, int example) => RunExample(HelpExamples.Get(file, example));

    [Fact]
    public void Every_example_is_run_or_listed_with_a_reason()
    {
        var all = HelpExamples.All;
        var keys = all.Select(e => e.Key).ToHashSet();
        Assert.True(all.Count >= 60, $"only {all.Count} examples were found in module/help and README.md");
        Assert.Equal(all.Count, keys.Count);
        Assert.All(NotRunnable.Keys.Concat(Setups.Keys), key => Assert.Contains(key, keys));
        // Four bash blocks of other tools, two that need a real account or gallery, one the AWS CLI against a fixed port.
        Assert.True(NotRunnable.Count <= 7, "the examples that cannot run against the Lab stay few");
        Assert.All(NotRunnable.Keys, key => Assert.DoesNotContain(key, Setups.Keys));
        // Only PowerShell can run here; anything else must be listed as not runnable.
        Assert.All(all.Where(e => !e.IsPowerShell), e => Assert.True(NotRunnable.ContainsKey(e.Key), $"{e} is {e.Language}, not PowerShell"));
        // Every help file with examples is covered, the about topic and the README included.
        foreach (var file in Directory.GetFiles(HelpExamples.HelpDirectory, "*.md").Select(Path.GetFileName).Where(f => !f!.StartsWith('_')))
            Assert.Contains(all, e => e.File == file);
        Assert.Contains(all, e => e.File == "README.md");
    }

    [Fact]
    public void The_examples_run_are_those_Get_Help_shows()
    {
        using var host = new HostedPowerShell();
        foreach (var cmdlet in HelpExamples.All.Where(e => e.File != "README.md" && !e.File.StartsWith("about_", StringComparison.Ordinal)).GroupBy(e => e.File))
        {
            var name = Path.GetFileNameWithoutExtension(cmdlet.Key);
            var shown = host.Run("@((Get-Help -Name $args[0] -Full).examples.example | ForEach-Object { [string]$_.code })", name)
                .Output.Select(o => o.ToString().Replace("\r\n", "\n").Trim()).ToList();
            Assert.Equal(cmdlet.OrderBy(e => e.Number).Select(e => e.Code.Trim()).ToList(), shown);
        }
    }

    // ---- running one example -----------------------------------------------------------------------------------

    private static readonly string[] ExtraGuardDutyRegions = { "us-east-2", "us-west-2", "eu-west-1", "eu-central-1" };

    private void RunExample(HelpExample example)
    {
        Assert.True(example.IsPowerShell, $"{example} is {example.Language}; list it in NotRunnable with a reason");
        Setups.TryGetValue(example.Key, out var setup);
        setup ??= new Setup();
        var watch = Stopwatch.StartNew();

        using var environment = new EnvironmentScope();
        var work = Directory.CreateTempSubdirectory("gdir-example-").FullName;
        try
        {
            using var session = LabSession.Start(new LabOptions
            {
                Scenario = ScenarioNames.Workshop,
                SnapshotCompletionSeconds = 1,
                InstanceTransitionSeconds = 0.5,
                // Examples that read several regions find GuardDuty there, without a detector as where it is off.
                AdditionalGuardDutyRegions = ExtraGuardDutyRegions,
            });
            // Nothing an example does may reach AWS or read the developer's own AWS files: calls without an endpoint
            // of their own go to the Lab, and the shared files are the (absent) ones of the example's folder.
            Environment.SetEnvironmentVariable("AWS_ENDPOINT_URL", session.Lab.Endpoint);
            Environment.SetEnvironmentVariable("AWS_SHARED_CREDENTIALS_FILE", Path.Combine(work, ".aws", "credentials"));
            Environment.SetEnvironmentVariable("AWS_CONFIG_FILE", Path.Combine(work, ".aws", "config"));
            Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
            // The Lab does not throttle here; the client-side EC2 buckets (real AWS rates) would only slow the examples.
            Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");
            Directory.CreateDirectory(Path.Combine(work, ".aws"));

            var context = new ExampleContext(session, work);
            setup.Arrange?.Invoke(context);
            // The waits users want against AWS (5 s for conntrack to untrack flows, 5 s between snapshot and state
            // polls) only slow the Lab down; an example that names one still gets its own.
            var prelude = "Set-Location -LiteralPath $args[0]\n"
                + "$PSDefaultParameterValues['Set-InstanceQuarantine:ConversionWaitSeconds'] = 0\n"
                + "$PSDefaultParameterValues['*:PollIntervalSeconds'] = 0.2\n"
                + (setup.Prelude?.Invoke(context) ?? "");
            var prepared = session.Run(prelude, work);
            Assert.True(prepared.Terminating is null && prepared.Errors.Count == 0,
                $"the setup of {example} failed: {prepared.Terminating?.ErrorRecord.ToString() ?? prepared.Errors.FirstOrDefault()?.ToString()}\n{prelude}");

            var labsBefore = LabPorts(session);
            var result = session.Run(example.Code);
            try
            {
                output.WriteLine($"{example}: {watch.ElapsedMilliseconds} ms, {result.Output.Count} objects");
                foreach (var line in context.Render(result).Take(40)) output.WriteLine("  " + line);

                var problems = new List<string>();
                if (result.Terminating is { } t)
                    problems.Add($"terminating error {t.ErrorRecord.FullyQualifiedErrorId}: {t.Message}\n{t.ErrorRecord.InvocationInfo?.PositionMessage}");
                problems.AddRange(result.Errors.Select(e => $"error {e.FullyQualifiedErrorId}: {e}\n{e.InvocationInfo?.PositionMessage}"));
                if (setup.NoOutput is null && result.Output.Count == 0)
                    problems.Add("the example wrote no output (if it writes none by design, say why in its Setup.NoOutput)");
                Assert.True(problems.Count == 0, $"{example}:\n{example.Code}\n\n{string.Join("\n", problems)}");
                setup.Check?.Invoke(context, result);
            }
            finally
            {
                // Labs the example started inside the module (Start-GdLab) stop with it.
                foreach (var port in LabPorts(session).Except(labsBefore))
                    session.Run("Stop-GdLab -Port $args[0]", port);
            }
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static List<int> LabPorts(LabSession session) =>
        session.Run("@(Get-GdLab | ForEach-Object Port)").Output.Select(o => (int)o.BaseObject).ToList();

    /// <summary>Restores every environment variable as it was (examples and preludes set AWS_* variables).</summary>
    private sealed class EnvironmentScope : IDisposable
    {
        private readonly Dictionary<string, string> _saved = Environment.GetEnvironmentVariables()
            .Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string)e.Value!, StringComparer.Ordinal);

        public void Dispose()
        {
            var now = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal);
            foreach (var name in now.Keys.Where(k => !_saved.ContainsKey(k))) Environment.SetEnvironmentVariable(name, null);
            foreach (var (name, value) in _saved.Where(s => now.GetValueOrDefault(s.Key) != s.Value)) Environment.SetEnvironmentVariable(name, value);
        }
    }
}

/// <summary>The Lab and folder one example runs in, with the few things setups need from the Lab's side.</summary>
public sealed class ExampleContext(LabSession session, string workDir)
{
    public LabSession Session { get; } = session;
    public LabHost Lab => Session.Lab;
    public string WorkDir { get; } = workDir;

    public string TopicArn => Lab.GetService<SnsService>()!.ScenarioTopicArn!;
    public string ScenarioFindingId => Lab.GetService<GuardDutyService>()!.ScenarioFindingId!;
    public GuardDutyDetector MainDetector() => Lab.GetService<GuardDutyService>()!.DetectorOf(Lab.AccountId)!;
    public IReadOnlyList<JsonObject> AllFindings() => Lab.GetService<GuardDutyService>()!.FindingsOf(Lab.AccountId);
    public JsonObject Finding(string id) => AllFindings().Single(f => (string?)f["id"] == id);

    /// <summary>The findings Get-GdFinding returns by default: current and real.</summary>
    public IEnumerable<JsonObject> CurrentFindings() => AllFindings().Where(f => (bool?)f["service"]?["archived"] != true && !IsSample(f));

    public static bool IsSample(JsonObject finding) =>
        finding["service"]?["additionalInfo"]?["sample"] is JsonNode sample && sample.GetValueKind() == System.Text.Json.JsonValueKind.True;

    /// <summary>A finding as EventBridge delivers it (the event GuardDuty emits), written as JSON.</summary>
    public void WriteEvent(string relativePath, JsonObject finding)
    {
        var path = Path.Combine(WorkDir, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, FindingFactory.EventBridgeEvent(finding, Guid.NewGuid().ToString()).ToJsonString());
    }

    public void AddRole(string accountId, string roleName, string? externalId) =>
        Lab.Credentials.AddRole(new LabRole(accountId, roleName, "AROA" + accountId + "EXAMPLE", externalId));

    private S3Store S3 => Lab.GetService<S3Service>()!.Store;

    public void EnsureBucket(string name) => S3.EnsureBucket(name, Lab.AccountId, Lab.Region, DateTimeOffset.UtcNow);

    public void PutObject(string bucket, string key, string content)
    {
        EnsureBucket(bucket);
        S3.Put(bucket, new S3StoredObject(key, System.Text.Encoding.UTF8.GetBytes(content), "text/plain", DateTimeOffset.UtcNow));
    }

    /// <summary>The Lab's trail log files in the working folder, in CloudTrail's layout (./AWSLogs/...).</summary>
    public void WriteTrailFiles()
    {
        var s3 = Lab.GetService<S3Service>()!;
        Assert.NotEmpty(s3.TrailLogKeys);
        foreach (var key in s3.TrailLogKeys)
        {
            var path = Path.Combine(WorkDir, key);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, S3.Get(s3.TrailBucket!, key)!.Content);
        }
    }

    /// <summary>The Lab's trail log files copied into another bucket, under the same keys.</summary>
    public void CopyTrailFiles(string bucket)
    {
        var s3 = Lab.GetService<S3Service>()!;
        Assert.NotEmpty(s3.TrailLogKeys);
        EnsureBucket(bucket);
        foreach (var key in s3.TrailLogKeys)
        {
            var source = S3.Get(s3.TrailBucket!, key)!;
            S3.Put(bucket, new S3StoredObject(key, source.Content, source.ContentType, source.LastModified));
        }
    }

    /// <summary>The example's output as the console would show it.</summary>
    public IReadOnlyList<string> Render(ScriptResult result)
    {
        if (result.Output.Count == 0) return Array.Empty<string>();
        using var ps = PowerShell.Create();
        ps.Runspace = Session.Host.Runspace;
        ps.AddCommand("Out-String").AddParameter("Stream").AddParameter("Width", 160);
        return ps.Invoke(result.Output).Select(o => o?.ToString() ?? "").Where(l => l.Trim().Length > 0).ToList();
    }
}
