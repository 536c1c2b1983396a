using System.IO.Compression;
using System.Management.Automation;
using System.Text;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests;

/// <summary>One Lab, one runspace (session defaults on the Lab) and one folder of trail files for the whole corpus.</summary>
public sealed class BadInputCorpusFixture : IDisposable
{
    public const string LogsInstance = "i-0123456789abcdef0";

    public BadInputCorpusFixture()
    {
        Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");
        Session = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, SnapshotCompletionSeconds = 1, InstanceTransitionSeconds = 0.2 });
        Root = Directory.CreateTempSubdirectory("gdir-badinput-").FullName;
        TrailLogWriter.WriteInvestigation(Logs, LogsInstance);
        // Cases land under the corpus's own folder, not the user's.
        var cases = Session.Run("Set-Variable -Scope Global -Name __gdRoot -Value $args[0]", Root);
        Assert.Null(cases.Terminating);
    }

    public LabSession Session { get; }
    public LabHost Lab => Session.Lab;
    public string Root { get; }
    public string Logs => Path.Combine(Root, "trail");
    public string Good => Lab.World.CompromisedInstanceId!;
    public string Topic => Lab.GetService<SnsService>()!.ScenarioTopicArn!;

    public void Dispose()
    {
        Session.Dispose();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// Bad input, one row per case: the cmdlet, what is wrong with the input, the script ($args[0] is the input), the
/// ErrorId and category it must end in. Every case ends in exactly one ErrorRecord with that stable ErrorId (never a
/// .NET type name), a real category and the input as TargetObject, and the Lab's counters show that nothing was changed
/// and, for input refused before any call, that nothing was called at all.
/// SQL that reaches for files, URLs, extensions or settings is refused by the engine itself too (LocalEngineSandboxTests,
/// which holds the wider list); here it goes through the cmdlet, to prove the ErrorRecord.
/// </summary>
[Collection(CpuSaturatingCollection.Name)]
public sealed class BadInputCorpusTests(BadInputCorpusFixture f) : IClassFixture<BadInputCorpusFixture>
{
    private const string Binder = "(binder)";

    /// <summary>
    /// Rows: cmdlet, what the input is, the script, the input ($args[0]), ErrorId, category, and the expected target:
    /// null for the input itself; a text for what the cmdlet names instead (ConvertFrom-GdFindingEvent names where the
    /// text came from, a piped object is named by its text); "(binder)" where PowerShell's parameter binder refuses the
    /// value before the cmdlet runs (its records carry the parameter, not the value).
    /// Placeholders: {good} a real instance, {topic} the Lab's topic, {logs} a folder of good trail files, {root} the
    /// corpus's temporary folder.
    /// </summary>
    public static TheoryData<string, string, string, string, string, ErrorCategory, string?> Cases => new()
    {
        // ---- instance IDs: malformed and hostile, into every cmdlet that takes one ----
        { "Set-InstanceQuarantine", "ID with a trailing newline", "Set-InstanceQuarantine -InstanceId $args[0] -ConversionWaitSeconds 0", "i-0123456789abcdef0\n", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Test-InstanceQuarantine", "ID with a trailing newline", "Test-InstanceQuarantine -InstanceId $args[0]", "i-0123456789abcdef0\n", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Undo-InstanceQuarantine", "ID with a trailing newline", "Undo-InstanceQuarantine -InstanceId $args[0]", "i-0123456789abcdef0\n", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "New-ForensicSnapshot", "ID with a trailing newline", "New-ForensicSnapshot -InstanceId $args[0]", "i-0123456789abcdef0\n", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Remove-CompromisedInstance", "ID with a trailing newline", "Remove-CompromisedInstance -InstanceId $args[0] -Force", "i-0123456789abcdef0\n", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Get-InstanceExposure", "ID with a trailing newline", "Get-InstanceExposure -InstanceId $args[0]", "i-0123456789abcdef0\n", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Revoke-InstanceRoleSession", "ID with a trailing newline", "Revoke-InstanceRoleSession -InstanceId $args[0] -Force", "i-0123456789abcdef0\n", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceMetadataOption", "ID with a trailing newline", "Set-InstanceMetadataOption -InstanceId $args[0] -RequireToken -Confirm:$false", "i-0123456789abcdef0\n", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Save-InstanceEvidence", "ID with a trailing newline", "Save-InstanceEvidence -InstanceId $args[0] -Path {root}/evidence", "i-0123456789abcdef0\n", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceQuarantine", "SQL quote", "Set-InstanceQuarantine -InstanceId $args[0]", "i-0123456789abcdef0' or '1'='1", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceQuarantine", "shell metacharacters", "Set-InstanceQuarantine -InstanceId $args[0]", "i-0123456789abcdef0; rm -rf /", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceQuarantine", "NUL inside", "Set-InstanceQuarantine -InstanceId $args[0]", "i-0123456789abcdef0\0", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceQuarantine", "a wildcard", "Set-InstanceQuarantine -InstanceId $args[0]", "i-*", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Test-InstanceQuarantine", "upper-case hex", "Test-InstanceQuarantine -InstanceId $args[0]", "i-0123456789ABCDEF0", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Undo-InstanceQuarantine", "path traversal", "Undo-InstanceQuarantine -InstanceId $args[0]", "../../etc/passwd", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "New-ForensicSnapshot", "full-width letter i", "New-ForensicSnapshot -InstanceId $args[0]", "ｉ-0123456789abcdef0", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "New-ForensicSnapshot", "right-to-left override", "New-ForensicSnapshot -InstanceId $args[0]", "i-0123456789abcdef0\u202E", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Remove-CompromisedInstance", "a volume ID", "Remove-CompromisedInstance -InstanceId $args[0] -Force", "vol-0123456789abcdef0", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Get-InstanceExposure", "an instance ARN", "Get-InstanceExposure -InstanceId $args[0]", "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Revoke-InstanceRoleSession", "100,000 characters", "Revoke-InstanceRoleSession -InstanceId $args[0] -Force", "i-" + new string('a', 100_000), "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceMetadataOption", "an emoji", "Set-InstanceMetadataOption -InstanceId $args[0] -HopLimit 1 -Confirm:$false", "i-😀", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Save-InstanceEvidence", "leading space", "Save-InstanceEvidence -InstanceId $args[0] -Path {root}/evidence", " i-0123456789abcdef0", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceQuarantine", "an empty string", "Set-InstanceQuarantine -InstanceId $args[0]", "", "ParameterArgumentValidationErrorEmptyStringNotAllowed", ErrorCategory.InvalidData, Binder },

        // ---- wrong types from the pipeline ----
        { "Set-InstanceQuarantine", "a hashtable piped", "@{ a = $args[0] } | Set-InstanceQuarantine", "x", "InvalidInstanceId", ErrorCategory.InvalidArgument, "System.Collections.Hashtable" },
        { "New-ForensicSnapshot", "a number piped", "[int]$args[0] | New-ForensicSnapshot", "42", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Undo-InstanceQuarantine", "a date piped", "[datetime]$args[0] | Undo-InstanceQuarantine", "2024-01-01", "InvalidInstanceId", ErrorCategory.InvalidArgument, "01/01/2024 00:00:00" },
        { "Get-InstanceExposure", "a script block piped", "[scriptblock]::Create($args[0]) | Get-InstanceExposure", "1", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceQuarantine", "an object whose InstanceId is a number", "[pscustomobject]@{ InstanceId = [int]$args[0] } | Set-InstanceQuarantine", "5", "InvalidInstanceId", ErrorCategory.InvalidArgument, null },
        { "Test-GdResponseRule", "a string where a finding is taken", "Test-GdResponseRule -InputObject $args[0]", "not a finding", "CannotConvertArgumentNoMessage", ErrorCategory.InvalidArgument, Binder },
        { "ConvertFrom-GdFindingEvent", "a number", "[int]$args[0] | ConvertFrom-GdFindingEvent", "42", "NotAGuardDutyFinding", ErrorCategory.InvalidData, "the input object" },
        { "ConvertFrom-GdFindingEvent", "a hashtable that is no finding", "@{ a = $args[0] } | ConvertFrom-GdFindingEvent", "1", "NotAGuardDutyFinding", ErrorCategory.InvalidData, "the input object" },
        { "Send-GdNotification", "text that names no finding or instance", "$args[0] | Send-GdNotification -TopicArn {topic}", "hello", "NotificationInputUnrecognized", ErrorCategory.InvalidArgument, null },

        // ---- malformed EventBridge events and findings ----
        { "ConvertFrom-GdFindingEvent", "nesting 10,000 deep", "$args[0] | ConvertFrom-GdFindingEvent", new string('[', 10_000) + new string(']', 10_000), "InvalidFindingJson", ErrorCategory.InvalidData, "the input text" },
        { "ConvertFrom-GdFindingEvent", "a NUL inside a string", "$args[0] | ConvertFrom-GdFindingEvent", "{\"id\":\"a\0b\",\"type\":\"x\"}", "InvalidFindingJson", ErrorCategory.InvalidData, "the input text" },
        { "ConvertFrom-GdFindingEvent", "truncated event", "$args[0] | ConvertFrom-GdFindingEvent", "{\"version\":\"0\",\"detail-type\":\"GuardDuty Finding\",\"source\":\"aws.guardduty\",\"detail\":{\"id\":\"abc", "InvalidFindingJson", ErrorCategory.InvalidData, "the input text" },
        { "ConvertFrom-GdFindingEvent", "detail is a string", "$args[0] | ConvertFrom-GdFindingEvent", "{\"version\":\"0\",\"detail-type\":\"GuardDuty Finding\",\"source\":\"aws.guardduty\",\"detail\":\"x\"}", "FindingMissingField", ErrorCategory.InvalidData, "the input text" },
        { "ConvertFrom-GdFindingEvent", "a path with a NUL", "ConvertFrom-GdFindingEvent -LiteralPath $args[0]", "/tmp/a\0b.json", "InvalidFindingPath", ErrorCategory.InvalidArgument, null },

        // ---- SQL injection through every template parameter ----
        { "Invoke-LakeQuery", "InstanceActivity InstanceId quote", "Invoke-LakeQuery -Template InstanceActivity -Parameter @{ InstanceId = $args[0] } -Path {logs}", "i-0123456789abcdef0' or '1'='1", "InvalidTemplateParameter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "InstanceReadOnlyCalls InstanceId comment", "Invoke-LakeQuery -Template InstanceReadOnlyCalls -Parameter @{ InstanceId = $args[0] } -Path {logs}", "i-0123456789abcdef0'--", "InvalidTemplateParameter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "InstanceS3Uploads InstanceId second statement", "Invoke-LakeQuery -Template InstanceS3Uploads -Parameter @{ InstanceId = $args[0] } -Path {logs}", "i-0123456789abcdef0'; copy (select 1) to '/tmp/x'; --", "InvalidTemplateParameter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "InstanceActivitySummary InstanceId newline", "Invoke-LakeQuery -Template InstanceActivitySummary -Parameter @{ InstanceId = $args[0] } -Path {logs}", "i-0123456789abcdef0\n--", "InvalidTemplateParameter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "InstanceCredentialExfiltration InstanceId backslash", "Invoke-LakeQuery -Template InstanceCredentialExfiltration -Parameter @{ InstanceId = $args[0] } -Path {logs}", "i-0123456789abcdef0\\' or 1=1", "InvalidTemplateParameter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "InstanceCredentialExfiltration KnownIp injection", "Invoke-LakeQuery -Template InstanceCredentialExfiltration -Parameter @{ InstanceId = 'i-0123456789abcdef0'; KnownIp = $args[0] } -Path {logs}", "1.2.3.4') or 1=1 --", "InvalidTemplateParameter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "InstanceCredentialsUsedElsewhere InstanceId union", "Invoke-LakeQuery -Template InstanceCredentialsUsedElsewhere -Parameter @{ InstanceId = $args[0] } -Path {logs}", "i-0123456789abcdef0' union select * from read_text('/etc/passwd') --", "InvalidTemplateParameter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "InstanceCredentialsUsedElsewhere InstanceIp injection", "Invoke-LakeQuery -Template InstanceCredentialsUsedElsewhere -Parameter @{ InstanceId = 'i-0123456789abcdef0'; InstanceIp = @('10.0.0.1', $args[0]) } -Path {logs}", "10.0.0.2'); drop table x; --", "InvalidTemplateParameter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "InstanceCredentialS3Objects InstanceId Unicode quote", "Invoke-LakeQuery -Template InstanceCredentialS3Objects -Parameter @{ InstanceId = $args[0] } -Path {logs}", "i-0123456789abcdef0ʼ or 1=1", "InvalidTemplateParameter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "an injected parameter name", "Invoke-LakeQuery -Template InstanceActivity -Parameter @{ $args[0] = 'x' } -Path {logs}", "InstanceId' or 1=1", "UnknownTemplateParameter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "an injected template name", "Invoke-LakeQuery -Template $args[0] -Path {logs}", "InstanceActivity; drop table x", "UnknownQueryTemplate", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "-InstanceId with a quote", "Invoke-LakeQuery -Template InstanceActivity -InstanceId $args[0] -Path {logs}", "i-0123456789abcdef0' --", "InvalidTemplateParameter", ErrorCategory.InvalidArgument, null },

        // ---- SQL reaching for files, URLs, extensions, settings through the embedded engine ----
        { "Invoke-LakeQuery", "read_csv of a file", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "select * from read_csv('/etc/passwd')", "QueryFileAccess", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "read_json of a URL (httpfs)", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "select * from read_json('http://127.0.0.1:9/x.json')", "QueryFileAccess", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "glob", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "select * from glob('/etc/*')", "QueryFileAccess", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "a file as a table", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "select * from '/etc/passwd'", "QueryFileAccess", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "COPY to a file", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "copy (select 1) to '/tmp/gdir-badinput-copy.csv'", "QueryNotSelect", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "ATTACH", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "attach '/tmp/gdir-badinput.db'", "QueryNotSelect", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "INSTALL httpfs", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "install httpfs", "QueryNotSelect", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "LOAD httpfs", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "load httpfs", "QueryNotSelect", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "PRAGMA", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "pragma database_list", "QueryNotSelect", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "SET a setting", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "set enable_external_access = true", "QueryNotSelect", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "a second statement", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "select 1 from EDS_ID; select * from read_text('/etc/passwd')", "QueryMultipleStatements", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "a NUL in the query", "Invoke-LakeQuery -Query $args[0] -Path {logs}", "select 1\0", "QueryInvalidCharacter", ErrorCategory.InvalidArgument, null },
        { "Invoke-LakeQuery", "a path with a NUL", "Invoke-LakeQuery -Query 'select 1 from EDS_ID' -Path $args[0]", "/tmp/a\0b", "InvalidPath", ErrorCategory.InvalidArgument, null },

        // ---- ARNs and the common AWS parameters ----
        { "Get-GdDetector", "region with a newline inside", "Get-GdDetector -Region $args[0]", "us-east-1\nevil", "InvalidRegion", ErrorCategory.InvalidArgument, null },
        { "Get-GdDetector", "region with a full-width digit", "Get-GdDetector -Region $args[0]", "us-east-１", "InvalidRegion", ErrorCategory.InvalidArgument, null },
        { "Get-GdDetector", "region naming a host", "Get-GdDetector -Region $args[0]", "us-east-1.evil.example/x", "InvalidRegion", ErrorCategory.InvalidArgument, null },
        { "Get-GdDetector", "file:// endpoint", "Get-GdDetector -EndpointUrl $args[0]", "file:///etc/passwd", "InvalidEndpointUrl", ErrorCategory.InvalidArgument, null },
        { "Get-GdDetector", "endpoint with CRLF header injection", "Get-GdDetector -EndpointUrl $args[0]", "http://127.0.0.1\r\nHost: evil", "InvalidEndpointUrl", ErrorCategory.InvalidArgument, null },
        { "Get-GdDetector", "role ARN with a trailing newline", "Get-GdDetector -RoleArn $args[0]", "arn:aws:iam::123456789012:role/x\n", "InvalidRoleArn", ErrorCategory.InvalidArgument, null },
        { "Get-GdDetector", "role ARN with Arabic-Indic digits", "Get-GdDetector -RoleArn $args[0]", "arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/x", "InvalidRoleArn", ErrorCategory.InvalidArgument, null },
        { "Get-GdCallerIdentity", "a user ARN as role", "Get-GdCallerIdentity -RoleArn $args[0]", "arn:aws:iam::123456789012:user/x", "InvalidRoleArn", ErrorCategory.InvalidArgument, null },
        { "Send-GdNotification", "topic ARN with a trailing newline", "'i-0123456789abcdef0' | Send-GdNotification -TopicArn $args[0]", "arn:aws:sns:us-east-1:123456789012:ir\n", "InvalidTopicArn", ErrorCategory.InvalidArgument, null },
        { "Send-GdNotification", "an SQS ARN as topic", "'i-0123456789abcdef0' | Send-GdNotification -TopicArn $args[0]", "arn:aws:sqs:us-east-1:123456789012:q", "InvalidTopicArn", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceQuarantine", "a role ARN as instance profile", "Set-InstanceQuarantine -InstanceId {good} -ReplacementInstanceProfileArn $args[0]", "arn:aws:iam::123456789012:role/x", "InvalidInstanceProfileArn", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceQuarantine", "instance profile ARN with a trailing newline", "Set-InstanceQuarantine -InstanceId {good} -ConversionWaitSeconds 0 -ReplacementInstanceProfileArn $args[0]", "arn:aws:iam::123456789012:instance-profile/x\n", "InvalidInstanceProfileArn", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceQuarantine", "isolation group name with a trailing newline", "Set-InstanceQuarantine -InstanceId {good} -ConversionWaitSeconds 0 -IsolationGroupName $args[0]", "iso\n", "InvalidSecurityGroupName", ErrorCategory.InvalidArgument, null },
        { "Set-InstanceQuarantine", "isolation group name sg-", "Set-InstanceQuarantine -InstanceId {good} -IsolationGroupName $args[0]", "sg-0123", "InvalidSecurityGroupName", ErrorCategory.InvalidArgument, null },
        { "Test-InstanceQuarantine", "isolation group name with a NUL", "Test-InstanceQuarantine -InstanceId {good} -IsolationGroupName $args[0]", "iso\0", "InvalidSecurityGroupName", ErrorCategory.InvalidArgument, null },
        { "New-ForensicSnapshot", "KMS alias with a space", "New-ForensicSnapshot -InstanceId {good} -KmsKeyId $args[0]", "alias/../x y", "InvalidKmsKeyId", ErrorCategory.InvalidArgument, null },
        { "New-ForensicSnapshot", "copy to a region that is none", "New-ForensicSnapshot -InstanceId {good} -CopyToRegion $args[0]", "mars-1", "InvalidRegion", ErrorCategory.InvalidArgument, null },
        { "New-ForensicSnapshot", "share with Arabic-Indic digits", "New-ForensicSnapshot -InstanceId {good} -ShareWithAccountId $args[0]", "١٢٣٤٥٦٧٨٩٠١٢", "ParameterArgumentValidationError", ErrorCategory.InvalidData, Binder },
        { "New-GdResponseRule", "function ARN naming no function", "New-GdResponseRule -Name ok -FunctionArn $args[0]", "arn:aws:lambda:us-east-1:123456789012:function:", "InvalidArn", ErrorCategory.InvalidArgument, null },
        { "New-GdResponseRule", "event bus name with a space", "New-GdResponseRule -Name ok -TopicArn {topic} -EventBusName $args[0]", "bus name!", "InvalidEventBusName", ErrorCategory.InvalidArgument, null },
        { "New-GdResponseRule", "rule name with a path", "New-GdResponseRule -Name $args[0] -TopicArn {topic}", "bad name/../x", "InvalidRuleName", ErrorCategory.InvalidArgument, null },
        { "Remove-GdResponseRule", "rule name with a space", "Remove-GdResponseRule -Name $args[0] -Force", "a b", "InvalidRuleName", ErrorCategory.InvalidArgument, null },
        { "Get-GdResponseRule", "malformed wildcard", "Get-GdResponseRule -Name $args[0]", "[", "InvalidWildcard", ErrorCategory.InvalidArgument, null },
        { "Copy-GdCaseJournal", "an https URL as S3 URI", "Copy-GdCaseJournal -CaseId IR-X -S3Uri $args[0]", "https://evil.example/x", "InvalidS3Uri", ErrorCategory.InvalidArgument, null },

        // ---- GuardDuty, threat lists ----
        { "Set-GdFinding", "finding ID with a path", "Set-GdFinding -FindingId $args[0] -Archive", "../x", "InvalidFindingId", ErrorCategory.InvalidArgument, null },
        { "Set-GdFinding", "finding ID with a newline", "Set-GdFinding -FindingId $args[0] -Feedback Useful", "5ec7a3a0f1b2c3d4e5f6a7b8c9d0e1f2\n", "InvalidFindingId", ErrorCategory.InvalidArgument, null },
        { "New-GdSampleFinding", "type that is no finding type", "New-GdSampleFinding -Type $args[0]", "bad\"}", "InvalidFindingType", ErrorCategory.InvalidArgument, null },
        { "New-GdThreatList", "name of 400 characters", "New-GdThreatList -Name $args[0] -Entry 198.51.100.7 -Bucket ir-threat-lists", new string('n', 400), "InvalidThreatListName", ErrorCategory.InvalidArgument, null },
        { "New-GdThreatList", "entry out of range", "New-GdThreatList -Name ok -Entry $args[0] -Bucket ir-threat-lists", "999.1.1.1", "InvalidThreatListEntry", ErrorCategory.InvalidArgument, null },
        { "New-GdThreatList", "CIDR /33", "New-GdThreatList -Name ok -Entry $args[0] -Bucket ir-threat-lists", "1.2.3.4/33", "InvalidThreatListEntry", ErrorCategory.InvalidArgument, null },
        { "New-GdThreatList", "entry with a newline and a host", "New-GdThreatList -Name ok -Entry $args[0] -Bucket ir-threat-lists", "1.2.3.4\nevil.example", "InvalidThreatListEntry", ErrorCategory.InvalidArgument, null },
        { "New-GdThreatList", "bucket name with a trailing newline", "New-GdThreatList -Name ok -Entry 198.51.100.7 -Bucket $args[0]", "okbucket\n", "InvalidBucketName", ErrorCategory.InvalidArgument, null },
        { "New-GdThreatList", "key with a path", "New-GdThreatList -Name ok -Entry 198.51.100.7 -Bucket okbucket -Key $args[0]", "../../x", "InvalidS3Key", ErrorCategory.InvalidArgument, null },
        { "Get-GdThreatList", "malformed wildcard", "Get-GdThreatList -Name $args[0]", "[", "InvalidWildcard", ErrorCategory.InvalidArgument, null },
        { "Undo-InstanceRoleSessionRevocation", "role name with a slash", "Undo-InstanceRoleSessionRevocation -RoleName $args[0] -Force", "a/b", "InvalidRoleName", ErrorCategory.InvalidArgument, null },
        { "Undo-InstanceRoleSessionRevocation", "moved instance whose profile ARN ends in a newline", "Undo-InstanceRoleSessionRevocation -RoleName AppRole -ReplacementRoleName AppRole-ir-20261202000000 -MovedInstances $args[0] -Force",
            "i-0123456789abcdef0=arn:aws:iam::123456789012:instance-profile/AppRole\n", "InvalidMovedInstance", ErrorCategory.InvalidArgument, null },
        { "Undo-InstanceRoleSessionRevocation", "moved instance whose profile is a role ARN", "Undo-InstanceRoleSessionRevocation -RoleName AppRole -ReplacementRoleName AppRole-ir-20261202000000 -MovedInstances $args[0] -Force",
            "i-0123456789abcdef0=arn:aws:iam::123456789012:role/Admin", "InvalidMovedInstance", ErrorCategory.InvalidArgument, null },
        { "Undo-InstanceRoleSessionRevocation", "moved instance with a malformed instance ID", "Undo-InstanceRoleSessionRevocation -RoleName AppRole -ReplacementRoleName AppRole-ir-20261202000000 -MovedInstances $args[0] -Force",
            "i-0123=arn:aws:iam::123456789012:instance-profile/AppRole", "InvalidMovedInstance", ErrorCategory.InvalidArgument, null },
        { "Get-LakeEventDataStore", "malformed wildcard", "Get-LakeEventDataStore -Name $args[0]", "[", "InvalidWildcard", ErrorCategory.InvalidArgument, null },
        { "Get-LakeQueryTemplate", "malformed wildcard", "Get-LakeQueryTemplate -Name $args[0]", "[", "InvalidWildcard", ErrorCategory.InvalidArgument, null },

        // ---- cases, paths, session settings ----
        { "Start-GdCase", "case ID with a NUL", "Start-GdCase -CaseId $args[0] -CaseRoot {root}/cases -KeyRoot {root}/keys", "a\0b", "InvalidCaseId", ErrorCategory.InvalidArgument, null },
        { "Start-GdCase", "case ID '..'", "Start-GdCase -CaseId $args[0] -CaseRoot {root}/cases -KeyRoot {root}/keys", "..", "InvalidCaseId", ErrorCategory.InvalidArgument, null },
        { "Start-GdCase", "case ID of 5,000 characters", "Start-GdCase -CaseId $args[0] -CaseRoot {root}/cases -KeyRoot {root}/keys", new string('c', 5000), "InvalidCaseId", ErrorCategory.InvalidArgument, null },
        { "Start-GdCase", "case ID with a trailing newline", "Start-GdCase -CaseId $args[0] -CaseRoot {root}/cases -KeyRoot {root}/keys", "IR-1\n", "InvalidCaseId", ErrorCategory.InvalidArgument, null },
        { "Save-InstanceEvidence", "a folder with a NUL", "Save-InstanceEvidence -InstanceId {good} -Path $args[0]", "/tmp/a\0b", "InvalidEvidencePath", ErrorCategory.InvalidArgument, null },
        { "Test-GdCaseEvidence", "a folder with a NUL", "Test-GdCaseEvidence -Path $args[0]", "/tmp/a\0b", "InvalidEvidencePath", ErrorCategory.InvalidArgument, null },
        { "Test-GdCaseJournal", "a folder with a NUL", "Test-GdCaseJournal -Path $args[0]", "/tmp/a\0b", "InvalidCasePath", ErrorCategory.InvalidArgument, null },
        { "Set-GdDefault", "a credential that is a number", "Set-GdDefault -Credential ([int]$args[0])", "42", "InvalidCredential", ErrorCategory.InvalidArgument, "System.Int32" },
        { "Stop-GdLab", "a port no Lab runs on", "Stop-GdLab -Port ([int]$args[0])", "1", "LabNotFound", ErrorCategory.ObjectNotFound, null },
    };

    private static readonly HashSet<string> BinderIds = new(StringComparer.Ordinal)
    {
        "ParameterArgumentValidationErrorEmptyStringNotAllowed", "ParameterArgumentValidationErrorNullNotAllowed",
        "ParameterArgumentValidationError", "CannotConvertArgumentNoMessage", "CannotConvertArgument",
    };

    private string Fill(string script) => script
        .Replace("{good}", f.Good).Replace("{topic}", f.Topic).Replace("{logs}", $"'{f.Logs}'").Replace("{root}", f.Root);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_bad_input_ends_in_one_clear_error_and_changes_nothing(string cmdlet, string what, string script, string input, string errorId, ErrorCategory category, string? target)
    {
        f.Lab.Counters.Reset();
        var result = f.Session.Run(Fill(script), input);

        Assert.True(result.Output.Count == 0, $"{cmdlet} ({what}) wrote output: {string.Join(", ", result.Output)}");
        var all = result.Errors.Concat(result.Terminating is null ? [] : [result.Terminating.ErrorRecord]).ToList();
        Assert.True(all.Count == 1, $"{cmdlet} ({what}): {all.Count} errors: {string.Join(" | ", all.Select(e => e.FullyQualifiedErrorId + ": " + e))}");
        var error = all[0];
        var id = error.FullyQualifiedErrorId.Split(',')[0];
        Assert.True(errorId == id, $"{cmdlet} ({what}): {id} ({error.CategoryInfo.Category}): {error}");
        Assert.DoesNotContain("Exception", id);
        Assert.False(id.StartsWith("System.", StringComparison.Ordinal), id);
        Assert.Equal(category, error.CategoryInfo.Category);
        Assert.NotEqual(ErrorCategory.NotSpecified, error.CategoryInfo.Category);
        Assert.EndsWith("," + "GuardDutyIR.Commands." + cmdlet.Replace("-", "") + "Command", error.FullyQualifiedErrorId);

        var actual = error.TargetObject is PSObject p ? p.BaseObject : error.TargetObject;
        if (target == Binder)
        {
            Assert.Contains(id, BinderIds);
            Assert.Null(actual);
        }
        else
        {
            Assert.NotNull(actual);
            Assert.Equal(target ?? input, Convert.ToString(actual, System.Globalization.CultureInfo.InvariantCulture));
        }

        var counters = f.Lab.Counters.Snapshot();
        Assert.True(counters.TotalMutating == 0, $"{cmdlet} ({what}) changed something: " + string.Join(", ", counters.Mutating.Keys));
        Assert.True(counters.TotalCalls == 0, $"{cmdlet} ({what}) called AWS before refusing: " + string.Join(", ", counters.Calls.Keys));
    }

    /// <summary>Get-GdFinding's filters, refused before ListFindings.</summary>
    public static TheoryData<string, string, string, string> FindingFilters => new()
    {
        { "an instance ID filter that is no instance ID", "Get-GdFinding -InstanceId $args[0]", "i-zz", "InvalidInstanceId" },
        { "an account filter of 5 digits", "Get-GdFinding -AccountId $args[0]", "12345", "InvalidAccountId" },
        { "an account filter in Arabic-Indic digits", "Get-GdFinding -AccountId $args[0]", "١٢٣٤٥٦٧٨٩٠١٢", "InvalidAccountId" },
        { "a finding ID with a quote", "Get-GdFinding -Id $args[0]", "x'; drop", "InvalidFindingId" },
        { "-Since after -Until", "Get-GdFinding -Since $args[0] -Until '2025-01-01'", "2025-01-02", "InvalidTimeWindow" },
    };

    [Theory]
    [MemberData(nameof(FindingFilters))]
    public void Get_GdFinding_refuses_malformed_filters_before_any_call(string what, string script, string input, string errorId)
    {
        f.Lab.Counters.Reset();
        var result = f.Session.Run(script, input);
        var error = result.SingleError();
        Assert.True(errorId == error.FullyQualifiedErrorId.Split(',')[0], what);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        // A time window's target is the -Since it was given, as the DateTime the binder made of it.
        Assert.Equal(input, error.TargetObject is DateTime d ? d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) : error.TargetObject?.ToString());
        Assert.Equal(0, f.Lab.Counters.Snapshot().TotalCalls);
    }

    // ---- hostile trail log files ----

    public static TheoryData<string, string> TrailFiles => new()
    {
        { "truncated", "{\"Records\":[{\"eventVersion\":\"1.08\",\"eventName\":\"ListBu" },
        { "not JSON", "hello, not json at all\n\u0001\u0002" },
        { "nesting 100,000 deep", "{\"Records\":[" + new string('[', 100_000) + new string(']', 100_000) + "]}" },
        { "empty", "" },
        { "Records not an array", "{\"Records\":\"x\"}" },
        { "a UTF-16 file", "\uFEFF{\"Records\":[]}" },
    };

    [Theory]
    [MemberData(nameof(TrailFiles))]
    public void A_hostile_trail_file_alone_is_NoReadableTrailFiles_naming_the_file(string what, string content)
    {
        var folder = Directory.CreateDirectory(Path.Combine(f.Root, "hostile-" + Guid.NewGuid().ToString("N"))).FullName;
        var file = Path.Combine(folder, "a.json");
        File.WriteAllBytes(file, what == "a UTF-16 file" ? Encoding.Unicode.GetBytes(content) : Encoding.UTF8.GetBytes(content));
        try
        {
            f.Lab.Counters.Reset();
            var result = f.Session.Host.RunWithin(TimeSpan.FromMinutes(1), "Invoke-LakeQuery -Query 'select count(*) as n from EDS_ID' -Path $args[0]", folder);
            AssertTrailRefused(result, file, what);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    private void AssertTrailRefused(ScriptResult result, string file, string what)
    {
        var error = result.SingleError();
        Assert.True(error.FullyQualifiedErrorId.Split(',')[0] == "NoReadableTrailFiles", $"{what}: {error.FullyQualifiedErrorId}: {error}");
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Equal(file, error.TargetObject?.ToString());
        // Why the file was skipped is said once, naming it.
        Assert.Contains(result.Warnings, w => w.Message.Contains(file, StringComparison.Ordinal));
        Assert.Equal(0, f.Lab.Counters.Snapshot().TotalMutating);
    }

    [Fact]
    public void A_1_GB_line_and_a_gzip_bomb_are_read_streamed_and_refused()
    {
        // Both are generated as streams of repeated gzip members: a few MB on disk, 1 GB of text inflated, never in memory.
        var folder = Directory.CreateDirectory(Path.Combine(f.Root, "huge-" + Guid.NewGuid().ToString("N"))).FullName;
        try
        {
            var line = Path.Combine(folder, "line", "one-gb-line.json.gz");
            TrailLogWriter.WriteEndlessGzip(line, endlessRecord: true, gigabytes: 1);
            var result = f.Session.Host.RunWithin(TimeSpan.FromMinutes(2), "Invoke-LakeQuery -Query 'select count(*) as n from EDS_ID' -Path $args[0]", Path.GetDirectoryName(line));
            AssertTrailRefused(result, line, "a 1 GB line");

            var bomb = Path.Combine(folder, "bomb", "bomb.json.gz");
            TrailLogWriter.WriteEndlessGzip(bomb, endlessRecord: false);
            // The bomb inflates to 16 GB of records that never close: only -TimeoutSec ends it, as a timeout.
            var stopped = f.Session.Host.RunWithin(TimeSpan.FromMinutes(2), "Invoke-LakeQuery -Query 'select count(*) as n from EDS_ID' -Path $args[0] -TimeoutSec 3", Path.GetDirectoryName(bomb));
            var error = stopped.SingleError();
            Assert.Equal("QueryTimedOut", error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(ErrorCategory.OperationTimeout, error.CategoryInfo.Category);
            Assert.NotNull(error.TargetObject);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    // ---- huge inputs ----

    [Fact]
    public void A_100_MB_event_cut_short_is_refused_as_one_error_without_any_call()
    {
        // An event with a 100 MB finding ID, cut short before its last brace: the whole text is read and refused as one error.
        var padding = new string('A', 100 * 1024 * 1024);
        var json = "{\"version\":\"0\",\"id\":\"e1\",\"detail-type\":\"GuardDuty Finding\",\"source\":\"aws.guardduty\",\"detail\":{\"id\":\"" + padding + "\",\"type\":\"x\"}";
        f.Lab.Counters.Reset();
        var result = f.Session.Host.RunWithin(TimeSpan.FromMinutes(1), "$args[0] | ConvertFrom-GdFindingEvent", json);
        var error = result.SingleError();
        Assert.Equal("InvalidFindingJson", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Equal("the input text", error.TargetObject);
        Assert.Empty(result.Output);
        Assert.Equal(0, f.Lab.Counters.Snapshot().TotalCalls);
    }

    [Fact]
    public void A_hundred_thousand_malformed_instance_IDs_piped_to_a_mutating_cmdlet_are_each_refused_without_any_call()
    {
        f.Lab.Counters.Reset();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = f.Session.Host.RunWithin(TimeSpan.FromMinutes(2),
            "$n = 0; 1..100000 | ForEach-Object { 'i-{0:x7}Z' -f $_ } | Set-InstanceQuarantine -ErrorAction SilentlyContinue -ErrorVariable +bad; " +
            "$ids = @($bad | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0] } | Sort-Object -Unique); " +
            "[pscustomobject]@{ Count = $bad.Count; Ids = $ids -join ','; Categories = (@($bad | ForEach-Object { $_.CategoryInfo.Category } | Sort-Object -Unique) -join ','); Last = [string]$bad[-1].TargetObject }");
        watch.Stop();
        Assert.Null(result.Terminating);
        var summary = Assert.Single(result.Output);
        Assert.Equal(100_000, Convert.ToInt32(summary.Properties["Count"].Value));
        Assert.Equal("InvalidInstanceId", summary.Properties["Ids"].Value);
        Assert.Equal("InvalidArgument", summary.Properties["Categories"].Value);
        Assert.Equal("i-00186a0Z", summary.Properties["Last"].Value);
        var counters = f.Lab.Counters.Snapshot();
        Assert.Equal(0, counters.TotalCalls);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"100,000 refusals took {watch.Elapsed}");
    }

    // ---- the Lambda handler, in this runspace as the runtime would dot-source it ----

    private static readonly Lazy<string> HandlerPath = new(() => Path.Combine(TestPaths.RepoRoot, "module", "lambda", "Invoke-GdAutoResponse.ps1"));

    public static TheoryData<string, string, string> HandlerEvents => new()
    {
        { "an empty object", "{}", "NotAGuardDutyFinding" },
        { "a bare string", "\"just a string\"", "InvalidFindingJson" },
        { "an event whose detail is a string", "{\"version\":\"0\",\"id\":\"e1\",\"detail-type\":\"GuardDuty Finding\",\"source\":\"aws.guardduty\",\"detail\":\"x\"}", "FindingMissingField" },
        { "a finding whose severity is text", "{\"version\":\"0\",\"id\":\"e2\",\"detail-type\":\"GuardDuty Finding\",\"source\":\"aws.guardduty\",\"detail\":{\"id\":\"abc\",\"type\":\"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom\",\"severity\":\"very\",\"accountId\":\"123456789012\",\"region\":\"us-east-1\"}}", "FindingInvalidField" },
        { "an EC2 state change", "{\"version\":\"0\",\"id\":\"e3\",\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\",\"detail\":{\"instance-id\":\"i-0123456789abcdef0\"}}", "NotAGuardDutyEvent" },
        { "a finding whose instance ID is hostile", "{\"version\":\"0\",\"id\":\"e4\",\"detail-type\":\"GuardDuty Finding\",\"source\":\"aws.guardduty\",\"detail\":{\"id\":\"abc\",\"type\":\"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom\",\"severity\":8,\"accountId\":\"{account}\",\"region\":\"us-east-1\",\"resource\":{\"resourceType\":\"Instance\",\"instanceDetails\":{\"instanceId\":\"i-0123456789abcdef0\\n; rm -rf /\"}}}}", "InvalidInstanceId" },
    };

    [Theory]
    [MemberData(nameof(HandlerEvents))]
    public void The_Lambda_handler_rejects_a_malformed_event_with_a_stable_reason_and_calls_nothing(string what, string json, string reason)
    {
        EnsureHandler();
        f.Lab.Counters.Reset();
        var result = f.Session.Run(
            "$in = $args[0] | ConvertFrom-Json; $ctx = [pscustomobject]@{ AwsRequestId = 'r-1'; InvokedFunctionArn = \"arn:aws:lambda:us-east-1:$($args[1]):function:f\" }; " +
            "try { Invoke-GdAutoResponse -LambdaInput $in -LambdaContext $ctx } catch { 'FAILED:' + $_.Exception.Message }",
            json.Replace("{account}", f.Lab.AccountId), f.Lab.AccountId);
        Assert.Null(result.Terminating);
        var text = Assert.Single(result.Output).ToString();
        var failed = text.StartsWith("FAILED:", StringComparison.Ordinal);
        var answer = (JsonObject)JsonNode.Parse(failed ? text["FAILED:".Length..] : text)!;
        var errors = answer["errors"]!.AsArray();
        Assert.True(errors.Count == 1, $"{what}: {text}");
        Assert.True(reason == (string?)errors[0]!["errorId"], $"{what}: {text}");
        Assert.NotNull((string?)errors[0]!["target"]);
        Assert.Contains((string?)answer["status"], new[] { "Rejected", "Failed" });
        var counters = f.Lab.Counters.Snapshot();
        Assert.True(counters.TotalMutating == 0, $"{what} changed something: " + string.Join(", ", counters.Mutating.Keys));
        Assert.True(counters.TotalCalls == 0, $"{what} called AWS: " + string.Join(", ", counters.Calls.Keys));
    }

    private static readonly object s_handlerLock = new();
    private bool _handlerLoaded;

    private void EnsureHandler()
    {
        lock (s_handlerLock)
        {
            if (_handlerLoaded || f.Session.Run("[bool](Get-Command Invoke-GdAutoResponse -ErrorAction SilentlyContinue)").Output.Single().BaseObject is true) return;
            // The handler reads its settings once, as the runtime's init does; these are the module's only readers.
            Environment.SetEnvironmentVariable("GUARDDUTYIR_MIN_SEVERITY", "Medium");
            Environment.SetEnvironmentVariable("GUARDDUTYIR_FINDING_TYPES", "UnauthorizedAccess:EC2/*");
            // The runtime finds GuardDutyIR on PSModulePath (the layer's modules/ folder); here the build's out/ folder, for the load only.
            var loaded = f.Session.Run("Set-Location -LiteralPath $args[1]; $saved = $env:PSModulePath; $env:PSModulePath = $args[2] + [IO.Path]::PathSeparator + $saved; " +
                "try { . $args[0] } finally { $env:PSModulePath = $saved }", HandlerPath.Value, f.Root, ModuleLayout.ModuleRoot);
            Environment.SetEnvironmentVariable("GUARDDUTYIR_MIN_SEVERITY", null);
            Environment.SetEnvironmentVariable("GUARDDUTYIR_FINDING_TYPES", null);
            Assert.Null(loaded.Terminating);
            _handlerLoaded = true;
        }
    }
}
