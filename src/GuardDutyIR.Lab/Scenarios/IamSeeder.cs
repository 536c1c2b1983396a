using GuardDutyIR.Lab.Iam;

namespace GuardDutyIR.Lab.Scenarios;

/// <summary>
/// The scenario's instance roles in IAM, each with its instance profile and a realistic set of policies: every role
/// can be managed by Systems Manager (AWS's AmazonSSMManagedInstanceCore), the workshop's compromised role is
/// over-privileged (a customer managed policy allowing s3:* on *), the others are scoped.
/// </summary>
public static class IamSeeder
{
    public const string SsmCorePolicyArn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";

    /// <summary>The trust policy of an instance role: EC2 may assume it.</summary>
    public const string Ec2TrustPolicy =
        """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}""";

    // AmazonSSMManagedInstanceCore as AWS publishes it (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html).
    private const string SsmCoreDocument = """
        {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:DescribeAssociation","ssm:GetDeployablePatchSnapshotForInstance","ssm:GetDocument","ssm:DescribeDocument","ssm:GetManifest","ssm:GetParameter","ssm:GetParameters","ssm:ListAssociations","ssm:ListInstanceAssociations","ssm:PutInventory","ssm:PutComplianceItems","ssm:PutConfigurePackageResult","ssm:UpdateAssociationStatus","ssm:UpdateInstanceAssociationStatus","ssm:UpdateInstanceInformation"],"Resource":"*"},{"Effect":"Allow","Action":["ssmmessages:CreateControlChannel","ssmmessages:CreateDataChannel","ssmmessages:OpenControlChannel","ssmmessages:OpenDataChannel"],"Resource":"*"},{"Effect":"Allow","Action":["ec2messages:AcknowledgeMessage","ec2messages:DeleteMessage","ec2messages:FailMessage","ec2messages:GetEndpoint","ec2messages:GetMessages","ec2messages:SendReply"],"Resource":"*"}]}
        """;

    internal static void Seed(IamService iam, ScenarioWorld world)
    {
        var created = world.BaseTime.AddDays(-60);
        iam.AddPolicy(new IamManagedPolicy
        {
            Arn = SsmCorePolicyArn, PolicyName = "AmazonSSMManagedInstanceCore", PolicyId = "ANPAIXSHM2BNB2D3AXXRU", DefaultVersionId = "v2",
            Document = SsmCoreDocument.Trim(), CreateDate = new DateTimeOffset(2019, 3, 15, 17, 22, 12, TimeSpan.Zero),
            UpdateDate = new DateTimeOffset(2019, 5, 23, 16, 54, 51, TimeSpan.Zero),
            Description = "The policy for Amazon EC2 Role to enable AWS Systems Manager service core functionality.",
        });
        var ids = new Random(world.Seed * 17 + 3);
        foreach (var w in world.Roles)
        {
            var role = new IamRole
            {
                AccountId = w.AccountId, RoleName = w.RoleName, RoleId = w.RoleId, CreateDate = created, AssumeRolePolicyDocument = Ec2TrustPolicy,
                Description = "Instance role of " + w.RoleName,
            };
            role.AttachedPolicyArns.Add(SsmCorePolicyArn);
            if (w.RoleName == world.InvestigatedRoleName)
            {
                // The workshop's compromised role reaches every bucket: what made the stolen keys worth taking.
                var s3Full = new IamManagedPolicy
                {
                    Arn = $"arn:aws:iam::{w.AccountId}:policy/GuardDuty-Example-S3FullAccess", PolicyName = "GuardDuty-Example-S3FullAccess",
                    PolicyId = "ANPA" + Upper(ids, 17), DefaultVersionId = "v1", CreateDate = created, UpdateDate = created,
                    Document = """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}""",
                };
                iam.AddPolicy(s3Full);
                role.AttachedPolicyArns.Add(s3Full.Arn);
                role.InlinePolicies["GuardDuty-Example-DynamoDB"] =
                    """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:*"],"Resource":"*"}]}""";
                role.InlinePolicies["GuardDuty-Example-Parameters"] =
                    $$"""{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:GetParameter","ssm:GetParameters"],"Resource":"arn:aws:ssm:{{world.Region}}:{{w.AccountId}}:parameter/gd-example/*"}]}""";
            }
            else
            {
                var bucket = world.ExfilBucket ?? $"guardduty-example-data-{w.AccountId}";
                role.InlinePolicies[w.RoleName + "-AppData"] =
                    $$"""{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::{{bucket}}/app/*"}]}""";
            }
            iam.AddRole(role);
            if (w.InstanceProfileName is { } profileName)
            {
                var profile = new IamInstanceProfile { AccountId = w.AccountId, Name = profileName, InstanceProfileId = w.InstanceProfileId!, CreateDate = created };
                profile.RoleNames.Add(w.RoleName);
                iam.AddInstanceProfile(profile);
            }
        }
    }

    private static string Upper(Random rng, int n)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        return new string(Enumerable.Range(0, n).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());
    }
}
