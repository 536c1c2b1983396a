using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// The least-privilege policies of module/iam/ against what the built module can call. The AWS operations are derived
/// from the module's IL (<see cref="EngineAwsActions"/>), never listed by hand: a new call the policies do not cover,
/// or a grant no code uses any more, fails here. What is written by hand is what each policy is for (its purposes,
/// each a set of cmdlets), how an API operation is named in IAM where the names differ, and the permissions AWS
/// documents a call to need beyond its own action.
/// </summary>
public sealed class IamPolicyTests
{
    private static readonly Lazy<EngineAwsActions> s_engine = new(() => new EngineAwsActions(ModuleLayout.Directory));
    private static EngineAwsActions Engine => s_engine.Value;

    /// <summary>A job one of the policies does: the cmdlets (or, until their cmdlets exist, client methods) that do it.</summary>
    private sealed record Purpose(string[] Cmdlets, string[]? Methods = null, string[]? Cut = null);

    private const string EventBridgeClient = "GuardDutyIR.Engine.Aws.EventBridgeClient::";

    private static readonly Dictionary<string, Purpose> Purposes = new(StringComparer.Ordinal)
    {
        ["Isolate"] = new(["Set-InstanceQuarantine"]),
        ["VerifyIsolation"] = new(["Test-InstanceQuarantine"]),
        // New-ForensicSnapshot without -CopyToRegion and -ShareWithAccountId: what an automated response does.
        ["Snapshot"] = new(["New-ForensicSnapshot"], Cut: ["GuardDutyIR.Engine.Containment.ForensicService::CopyAndShareAsync"]),
        ["SnapshotCopyAndShare"] = new(["New-ForensicSnapshot"]),
        ["Notify"] = new(["Send-GdNotification"]),
        ["Identity"] = new(["Get-GdCallerIdentity"]),
        ["Restore"] = new(["Undo-InstanceQuarantine"]),
        ["StopOrTerminate"] = new(["Stop-CompromisedInstance", "Remove-CompromisedInstance"]),
        ["Evidence"] = new(["Save-InstanceEvidence"]),
        ["ReadFindings"] = new(["Get-GdDetector", "Get-GdFinding"]),
        ["TriageFindings"] = new(["Set-GdFinding"]),
        ["ReadThreatLists"] = new(["Get-GdThreatList"]),
        ["ManageThreatLists"] = new(["New-GdThreatList", "Set-GdThreatList", "Remove-GdThreatList", "Add-GdThreatListEntry"]),
        ["QueryCloudTrail"] = new(["Invoke-LakeQuery", "Get-LakeEventDataStore"]),
        ["ReadResponseRules"] = new(["Get-GdResponseRule", "Test-GdResponseRule"]),
        ["ManageResponseRules"] = new(["New-GdResponseRule", "Remove-GdResponseRule"]),
        ["CopyCaseJournal"] = new(["Copy-GdCaseJournal"]),
        ["InspectExposure"] = new(["Get-InstanceExposure"]),
        ["RevokeRoleSessions"] = new(["Revoke-InstanceRoleSession", "Undo-InstanceRoleSessionRevocation"]),
        ["RequireImdsV2"] = new(["Set-InstanceMetadataOption"]),
    };

    /// <summary>What each policy is for.</summary>
    public static readonly Dictionary<string, string[]> PolicyPurposes = new(StringComparer.Ordinal)
    {
        // The role of the Lambda function and of the GuardDutyIR-Isolate runbook: isolate, snapshot, notify.
        ["GuardDutyIR-AutoResponse"] = ["Isolate", "VerifyIsolation", "Snapshot", "Notify", "Identity", "CopyCaseJournal"],
        // A responder who looks but changes nothing.
        ["GuardDutyIR-Investigate"] = ["ReadFindings", "ReadThreatLists", "QueryCloudTrail", "ReadResponseRules", "VerifyIsolation", "Identity", "InspectExposure"],
        // A responder who contains by hand: the automated set, plus undo, stop/terminate, evidence, snapshot copies and
        // shares, finding triage, threat lists and the response rules.
        ["GuardDutyIR-Contain"] = ["Isolate", "VerifyIsolation", "Snapshot", "SnapshotCopyAndShare", "Notify", "Identity", "Restore",
            "StopOrTerminate", "Evidence", "ReadFindings", "TriageFindings", "ReadThreatLists", "ManageThreatLists", "ReadResponseRules", "ManageResponseRules",
            "CopyCaseJournal", "InspectExposure", "RevokeRoleSessions", "RequireImdsV2"],
    };

    /// <summary>Cmdlets that never call AWS (the test proves it).</summary>
    private static readonly string[] LocalCmdlets =
        ["Clear-GdDefault", "Get-GdDefault", "Set-GdDefault", "ConvertFrom-GdFindingEvent", "Get-LakeQueryTemplate", "Start-GdLab", "Stop-GdLab", "Get-GdLab",
            "Start-GdCase", "Get-GdCase", "Stop-GdCase", "Test-GdCaseJournal", "Export-GdCaseEvidence", "Test-GdCaseEvidence",
            "Export-GdCaseReport"];

    /// <summary>Cmdlets no policy is for, and why.</summary>
    private static readonly Dictionary<string, string> CmdletsLeftOut = new(StringComparer.Ordinal)
    {
        ["New-GdSampleFinding"] = "rehearsal in a test account: sample findings fire the response rules, so no response role may create them",
    };

    /// <summary>Actions the module can call that no policy grants, and why.</summary>
    private static readonly Dictionary<string, string> NotGranted = new(StringComparer.Ordinal)
    {
        // https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
        ["sts:GetCallerIdentity"] = "needs no permission: AWS answers it even when a policy denies it",
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html
        ["sts:AssumeRole"] = "only with -RoleArn (a member account's responder role): grant it on exactly those roles where the cross-account trust is set up",
        ["guardduty:CreateSampleFindings"] = "New-GdSampleFinding only (see CmdletsLeftOut)",
        ["events:PutEvents"] = "the EventBridge client offers it, for rehearsing a rule with a hand-made event; no cmdlet puts events on a bus",
    };

    /// <summary>
    /// Permissions AWS documents an action to need beyond itself, which the module therefore needs without calling
    /// them: the other service checks them as the caller.
    /// </summary>
    private static readonly Dictionary<string, string[]> Indirect = new(StringComparer.Ordinal)
    {
        // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html#permission-to-pass-iam-roles
        ["ec2:AssociateIamInstanceProfile"] = ["iam:PassRole"],
        ["ec2:ReplaceIamInstanceProfileAssociation"] = ["iam:PassRole"],
        // Tags given to CreateRole/CreateInstanceProfile need the tagging action too:
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags_roles.html
        ["iam:CreateRole"] = ["iam:TagRole"],
        ["iam:CreateInstanceProfile"] = ["iam:TagInstanceProfile"],
        // A copy is always encrypted (Encrypted=true, -KmsKeyId or the default EBS key): the key permissions of
        // https://docs.aws.amazon.com/ebs/latest/userguide/share-kms-key.html
        ["ec2:CopySnapshot"] = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom", "kms:ReEncryptTo"],
        // GuardDuty writes the list's location into its service-linked role's policy:
        // https://docs.aws.amazon.com/guardduty/latest/ug/guardduty-lists-prerequisites.html
        ["guardduty:CreateThreatIntelSet"] = ["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
        ["guardduty:UpdateThreatIntelSet"] = ["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
        ["guardduty:DeleteThreatIntelSet"] = ["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
        ["guardduty:CreateIPSet"] = ["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
        ["guardduty:UpdateIPSet"] = ["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
        ["guardduty:DeleteIPSet"] = ["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
        // Athena reads the table from the Glue Data Catalog and the logs from S3, and writes the results to S3, as
        // the caller: https://docs.aws.amazon.com/athena/latest/ug/security-iam-athena.html and the S3 actions of the
        // AmazonAthenaFullAccess managed policy for the results location
        // (https://docs.aws.amazon.com/athena/latest/ug/security-iam-awsmanpol.html).
        ["athena:StartQueryExecution"] = ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions", "s3:GetBucketLocation", "s3:GetObject",
            "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload", "s3:PutObject"],
    };

    /// <summary>
    /// An API operation's IAM action: the service prefix and the operation's name, except where the Service
    /// Authorization Reference names the permission otherwise (S3's HeadObject and ListObjectsV2, for example:
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, API_ListObjectsV2.html, API_HeadBucket.html).
    /// </summary>
    public static string IamAction(AwsOperation op) => op.Service switch
    {
        "s3" => op.Operation switch
        {
            "GetObject" or "HeadObject" => "s3:GetObject",
            "ListObjectsV2" or "HeadBucket" => "s3:ListBucket",
            "PutObject" => "s3:PutObject",
            "DeleteObject" => "s3:DeleteObject",
            _ => throw new InvalidOperationException($"{op}: no IAM action mapped for this S3 operation; add it to IamAction."),
        },
        _ => op.Service + ":" + op.Operation,
    };

    private static IReadOnlySet<string> PurposeActions(string purpose)
    {
        var p = Purposes[purpose];
        var cut = p.Cut?.ToHashSet(StringComparer.Ordinal);
        var ops = p.Cmdlets.SelectMany(c => Engine.OfCmdlet(c, cut)).Concat(Engine.OfMethods(p.Methods ?? [], cut));
        return ops.Select(IamAction).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>What a policy must grant: its purposes' actions (less those granted nowhere) and what AWS says they need.</summary>
    public static IReadOnlySet<string> Required(string policy)
    {
        var own = PolicyPurposes[policy].SelectMany(PurposeActions).Where(a => !NotGranted.ContainsKey(a)).ToHashSet(StringComparer.Ordinal);
        return own.Concat(own.SelectMany(a => Indirect.GetValueOrDefault(a) ?? [])).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>What is required but not granted, and what is granted but not required.</summary>
    public static (IReadOnlyList<string> Missing, IReadOnlyList<string> Extra) Compare(IReadOnlySet<string> required, IReadOnlySet<string> granted) =>
        (required.Except(granted).Order(StringComparer.Ordinal).ToList(), granted.Except(required).Order(StringComparer.Ordinal).ToList());

    public static TheoryData<string> Policies => new(PolicyPurposes.Keys);

    [Fact]
    public void The_calls_are_read_from_the_IL_including_names_built_from_two_strings_lambdas_and_SDK_callbacks()
    {
        var all = Engine.All().Select(o => o.ToString()).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("guardduty:CreateThreatIntelSet", all);         // "Create" + "ThreatIntelSet"
        Assert.Contains("guardduty:UnarchiveFindings", all);            // one of two literals picked by a flag
        Assert.Contains("ec2:ModifyNetworkInterfaceAttribute", all);    // inside a lambda handed to the EC2 gateway
        Assert.Contains("s3:HeadObject", all);                          // AWSSDK.S3's GetObjectMetadataAsync
        Assert.Contains("sts:AssumeRole", all);                         // our credentials object, called back by the SDK
        Assert.Contains("events:PutRule", all);                         // a client method no cmdlet calls yet
        // And not everything from everywhere: a read cmdlet reaches its own two calls, the role it may assume, and the
        // caller identity the case journal of its base class asks for (which needs no permission).
        Assert.Equal(["guardduty:GetDetector", "guardduty:ListDetectors", "sts:AssumeRole", "sts:GetCallerIdentity"],
            Engine.OfCmdlet("Get-GdDetector").Select(o => o.ToString()).Order(StringComparer.Ordinal));
        var quarantine = Engine.OfCmdlet("Set-InstanceQuarantine").Select(o => o.ToString()).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("ec2:CreateSecurityGroup", quarantine);
        Assert.DoesNotContain("ec2:TerminateInstances", quarantine);
        Assert.DoesNotContain("ec2:AssociateAddress", quarantine);       // Undo's, not quarantine's
        // The cut keeps copy and share out of the automated snapshot.
        Assert.DoesNotContain("ec2:CopySnapshot", PurposeActions("Snapshot"));
        Assert.Contains("ec2:CopySnapshot", PurposeActions("SnapshotCopyAndShare"));
    }

    [Fact]
    public void Every_exported_cmdlet_has_a_purpose_or_is_local_or_left_out_with_a_reason()
    {
        var exported = EngineAwsActions.ExportedCmdlets(ModuleLayout.Directory);
        Assert.NotEmpty(exported);
        var placed = Purposes.Values.SelectMany(p => p.Cmdlets).Concat(LocalCmdlets).Concat(CmdletsLeftOut.Keys).ToHashSet(StringComparer.Ordinal);
        None(exported.Where(c => !placed.Contains(c)), "Exported cmdlets with no purpose");
        None(placed.Where(c => !exported.Contains(c)), "Cmdlets named here that the module does not export");
        foreach (var local in LocalCmdlets)
            Assert.True(Engine.OfCmdlet(local).Count == 0, $"{local} calls {string.Join(", ", Engine.OfCmdlet(local))}: give it a purpose.");
    }

    [Fact]
    public void Every_action_the_module_can_call_is_granted_by_a_policy_or_set_aside_with_a_reason()
    {
        var callable = Engine.All().Select(IamAction).ToHashSet(StringComparer.Ordinal);
        var granted = PolicyPurposes.Keys.SelectMany(p => IamPolicyFile.Load(p).AllowedActions).ToHashSet(StringComparer.Ordinal);
        var uncovered = callable.Where(a => !granted.Contains(a) && !NotGranted.ContainsKey(a)).Order(StringComparer.Ordinal).ToList();
        Assert.True(uncovered.Count == 0, "Callable but granted by no policy and not set aside: " + string.Join(", ", uncovered));
        None(NotGranted.Keys.Where(a => !callable.Contains(a)), "Set aside but never called");
        None(Indirect.Keys.Where(a => !callable.Contains(a)), "Documented needs of actions never called");
        None(NotGranted.Keys.Where(granted.Contains), "Set aside yet granted");
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Each_policy_grants_exactly_what_its_purposes_need(string policy)
    {
        var (missing, extra) = Compare(Required(policy), IamPolicyFile.Load(policy).AllowedActions);
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{policy}: missing {string.Join(", ", missing)}; granted without a purpose {string.Join(", ", extra)}");
    }

    [Fact]
    public void The_comparison_names_a_missing_grant_and_a_grant_without_a_purpose()
    {
        var granted = IamPolicyFile.Load("GuardDutyIR-AutoResponse").AllowedActions.ToHashSet(StringComparer.Ordinal);
        granted.Remove("sns:Publish");
        granted.Add("ec2:TerminateInstances");
        var (missing, extra) = Compare(Required("GuardDutyIR-AutoResponse"), granted);
        Assert.Equal(["sns:Publish"], missing);
        Assert.Equal(["ec2:TerminateInstances"], extra);
    }

    /// <summary>The placeholders a deployment fills in (CloudFormation's Fn::Sub takes them as they are).</summary>
    public static readonly IReadOnlyDictionary<string, string> Placeholders = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Partition"] = "aws",
        ["AccountId"] = "111122223333",
        ["TopicArn"] = "arn:aws:sns:us-east-1:111122223333:ir-alerts",
        ["TrailBucket"] = "example-cloudtrail-logs",
        ["AthenaResultsBucket"] = "example-athena-results",
        ["AthenaWorkGroup"] = "primary",
        ["ThreatListBucket"] = "example-threat-lists",
        ["CaseJournalBucket"] = "example-case-journals",
    };

    /// <summary>The condition keys used, each documented for the actions it is used with (Service Authorization Reference).</summary>
    private static readonly HashSet<string> ConditionKeys = new(StringComparer.Ordinal)
    {
        "aws:TagKeys", "iam:PassedToService", "kms:ViaService", "kms:GrantIsForAWSResource",
    };

    private static readonly HashSet<string> ConditionOperators = new(StringComparer.Ordinal)
    {
        "StringEquals", "StringLike", "Bool", "ForAllValues:StringLike",
    };

    [Theory]
    [MemberData(nameof(Policies))]
    public void Each_policy_is_a_well_formed_IAM_identity_policy(string policy)
    {
        var text = File.ReadAllText(Path.Combine(IamPolicyFile.Directory, policy + ".json"));
        var doc = IamPolicyFile.Parse(policy, text);
        Assert.Equal("2012-10-17", doc.Version);
        Assert.Equal(doc.Statements.Count, doc.Statements.Select(s => s.Sid).Distinct(StringComparer.Ordinal).Count());
        foreach (var s in doc.Statements)
        {
            // IAM: "The Sid element supports ASCII uppercase letters (A-Z), lowercase letters (a-z), and numbers (0-9)."
            Assert.Matches("^[A-Za-z0-9]+$", s.Sid);
            Assert.Equal("Allow", s.Effect);
            Assert.All(s.Actions, a => Assert.Matches("^[a-z0-9-]+:[A-Za-z0-9]+$", a));   // no wildcard
            Assert.Equal(s.Actions.Count, s.Actions.Distinct(StringComparer.Ordinal).Count());
            foreach (var resource in s.Resources)
            {
                var filled = Fill(resource);
                // An account ID, none (S3), or "aws" for AWS managed policies (arn:aws:iam::aws:policy/...).
                Assert.True(filled == "*" || Regex.IsMatch(filled, @"^arn:aws:[a-z0-9-]+:[a-z0-9-*]*:(\d{12}|aws)?:.+$"), $"{policy} {s.Sid}: {resource}");
            }
            foreach (var (op, keys) in s.Condition ?? new JsonObject())
            {
                Assert.Contains(op, ConditionOperators);
                Assert.All(keys!.AsObject(), k => Assert.Contains(k.Key, ConditionKeys));
            }
        }
        Assert.All(Regex.Matches(text, @"\$\{(?<name>[^}]+)\}"), m => Assert.True(Placeholders.ContainsKey(m.Groups["name"].Value), m.Value));
        // Filled in, it is still JSON.
        Assert.NotNull(JsonNode.Parse(Fill(text)));
    }

    private static void None(IEnumerable<string> items, string what)
    {
        var list = items.ToList();
        Assert.True(list.Count == 0, what + ": " + string.Join(", ", list));
    }

    private static string Fill(string text) => Regex.Replace(text, @"\$\{(?<name>[^}]+)\}", m => Placeholders.GetValueOrDefault(m.Groups["name"].Value, m.Value));
}
