using System.Xml.Linq;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

/// <summary>
/// For every EC2/STS response template in /work/shared/aws-samples, the Lab's answer to the same operation has the same
/// set of element paths (values and list lengths ignored).
/// </summary>
public sealed class Ec2TemplateAgreementTests
{
    private const string Samples = "/work/shared/aws-samples";

    private static SortedSet<string> Paths(string xml)
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        void Walk(XElement e, string prefix)
        {
            var p = prefix + "/" + e.Name.LocalName;
            set.Add(p);
            foreach (var c in e.Elements()) Walk(c, p);
        }
        Walk(XDocument.Parse(xml).Root!, "");
        return set;
    }

    private static void AssertSameShape(string templateFile, string labXml)
    {
        var expected = Paths(File.ReadAllText(Path.Combine(Samples, templateFile)));
        var actual = Paths(labXml);
        var missing = expected.Except(actual).ToList();
        var extra = actual.Except(expected).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{templateFile}: missing [{string.Join(", ", missing)}] extra [{string.Join(", ", extra)}]\n{labXml}");
    }

    private static async Task<string> Call(LabHost lab, string service, params (string, string)[] form)
    {
        var (status, body, _) = await TestLab.PostFormAsync(lab, service, TestLab.Form(form));
        Assert.True(status < 300 || body.Contains("<Errors>") || body.Contains("<ErrorResponse"), body);
        return body;
    }

    private static string V(string xml, string element) => XDocument.Parse(xml).Descendants().First(e => e.Name.LocalName == element).Value;

    [Fact]
    public async Task EveryTemplate_HasTheLabsShape()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { SnapshotCompletionSeconds = 0.2, Clock = clock });
        var w = lab.World;
        var ec2 = new (string, string)[] { ("Version", "2016-11-15") };
        (string, string)[] Ec2(params (string, string)[] p) => ec2.Concat(p).ToArray();
        var seen = new HashSet<string>();
        async Task Check(string template, Task<string> call)
        {
            AssertSameShape(template, await call);
            seen.Add(template);
        }

        var create = await Call(lab, "ec2", Ec2(("Action", "CreateSecurityGroup"), ("GroupName", "ir-isolation"), ("GroupDescription", "IR isolation"), ("VpcId", w.Instance(w.CompromisedInstanceId!).VpcId),
            ("TagSpecification.1.ResourceType", "security-group"), ("TagSpecification.1.Tag.1.Key", "ir:case"), ("TagSpecification.1.Tag.1.Value", "42")));
        AssertSameShape("ec2-CreateSecurityGroup.xml", create); seen.Add("ec2-CreateSecurityGroup.xml");
        var sg = V(create, "groupId");

        await Check("ec2-AuthorizeSecurityGroupIngress.xml", Call(lab, "ec2", Ec2(("Action", "AuthorizeSecurityGroupIngress"), ("GroupId", sg),
            ("IpPermissions.1.IpProtocol", "tcp"), ("IpPermissions.1.FromPort", "22"), ("IpPermissions.1.ToPort", "22"), ("IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.5/32"))));

        // A group without tags whose rules are the template's: tcp/443 with a described range, plus the default egress.
        var plain = V(await Call(lab, "ec2", Ec2(("Action", "CreateSecurityGroup"), ("GroupName", "web"), ("GroupDescription", "web tier"), ("VpcId", w.Instance(w.CompromisedInstanceId!).VpcId))), "groupId");
        await Call(lab, "ec2", Ec2(("Action", "AuthorizeSecurityGroupIngress"), ("GroupId", plain), ("IpPermissions.1.IpProtocol", "tcp"), ("IpPermissions.1.FromPort", "443"),
            ("IpPermissions.1.ToPort", "443"), ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"), ("IpPermissions.1.IpRanges.1.Description", "https")));
        await Check("ec2-DescribeSecurityGroups.xml", Call(lab, "ec2", Ec2(("Action", "DescribeSecurityGroups"), ("GroupId.1", plain))));
        await Check("ec2-RevokeSecurityGroupEgress.xml", Call(lab, "ec2", Ec2(("Action", "RevokeSecurityGroupEgress"), ("GroupId", sg),
            ("IpPermissions.1.IpProtocol", "-1"), ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"))));

        var c = w.CompromisedInstance!;
        var rootVol = c.Volumes[0].VolumeId;
        await Check("ec2-CreateTags.xml", Call(lab, "ec2", Ec2(("Action", "CreateTags"), ("ResourceId.1", c.InstanceId), ("Tag.1.Key", "ir:case"), ("Tag.1.Value", "42"))));
        var snap = await Call(lab, "ec2", Ec2(("Action", "CreateSnapshot"), ("VolumeId", rootVol), ("Description", "IR case 42"),
            ("TagSpecification.1.ResourceType", "snapshot"), ("TagSpecification.1.Tag.1.Key", "ir:case"), ("TagSpecification.1.Tag.1.Value", "42")));
        AssertSameShape("ec2-CreateSnapshot.xml", snap); seen.Add("ec2-CreateSnapshot.xml");
        await Check("ec2-CreateSnapshots.xml", Call(lab, "ec2", Ec2(("Action", "CreateSnapshots"), ("InstanceSpecification.InstanceId", c.InstanceId),
            ("InstanceSpecification.ExcludeDataVolumeId.1", c.Volumes[1].VolumeId), ("Description", "IR case 42"),
            ("TagSpecification.1.ResourceType", "snapshot"), ("TagSpecification.1.Tag.1.Key", "ir:case"), ("TagSpecification.1.Tag.1.Value", "42"))));
        // The template shows a completed snapshot.
        clock.Advance(TimeSpan.FromSeconds(0.2));
        await Check("ec2-DescribeSnapshots.xml", Call(lab, "ec2", Ec2(("Action", "DescribeSnapshots"), ("SnapshotId.1", V(snap, "snapshotId")))));

        await Call(lab, "ec2", Ec2(("Action", "DeleteTags"), ("ResourceId.1", rootVol)));
        await Check("ec2-DescribeVolumes.xml", Call(lab, "ec2", Ec2(("Action", "DescribeVolumes"), ("VolumeId.1", rootVol))));

        // Five running instances of seven: a page with a nextToken, covering public IPs and an instance profile.
        var page = await Call(lab, "ec2", Ec2(("Action", "DescribeInstances"), ("Filter.1.Name", "instance-state-name"), ("Filter.1.Value.1", "running"), ("MaxResults", "5")));
        Assert.Contains("<nextToken>", page);
        AssertSameShape("ec2-DescribeInstances.xml", page);
        seen.Add("ec2-DescribeInstances.xml");

        var assoc = await Call(lab, "ec2", Ec2(("Action", "DescribeIamInstanceProfileAssociations"), ("Filter.1.Name", "instance-id"), ("Filter.1.Value.1", c.InstanceId)));
        AssertSameShape("ec2-DescribeIamInstanceProfileAssociations.xml", assoc); seen.Add("ec2-DescribeIamInstanceProfileAssociations.xml");
        await Check("ec2-GetConsoleOutput.xml", Call(lab, "ec2", Ec2(("Action", "GetConsoleOutput"), ("InstanceId", c.InstanceId))));
        await Check("ec2-GetConsoleScreenshot.xml", Call(lab, "ec2", Ec2(("Action", "GetConsoleScreenshot"), ("InstanceId", c.InstanceId))));
        await Check("ec2-ModifyInstanceAttribute.xml", Call(lab, "ec2", Ec2(("Action", "ModifyInstanceAttribute"), ("InstanceId", c.InstanceId), ("DisableApiStop.Value", "false"))));
        await Check("ec2-ModifyNetworkInterfaceAttribute.xml", Call(lab, "ec2", Ec2(("Action", "ModifyNetworkInterfaceAttribute"),
            ("NetworkInterfaceId", c.NetworkInterfaces[1].NetworkInterfaceId), ("SecurityGroupId.1", sg))));
        await Check("ec2-Error-DryRunOperation.xml", Call(lab, "ec2", Ec2(("Action", "StopInstances"), ("InstanceId.1", c.InstanceId), ("DryRun", "true"))));
        await Check("ec2-Error-InvalidInstanceID.NotFound.xml", Call(lab, "ec2", Ec2(("Action", "StopInstances"), ("InstanceId.1", "i-0abc1234def567890"))));
        lab.Deny("ec2", "ModifyInstanceAttribute");
        await Check("ec2-Error-UnauthorizedOperation.xml", Call(lab, "ec2", Ec2(("Action", "ModifyInstanceAttribute"), ("InstanceId", c.InstanceId), ("DisableApiStop.Value", "true"))));
        await Check("ec2-DisassociateIamInstanceProfile.xml", Call(lab, "ec2", Ec2(("Action", "DisassociateIamInstanceProfile"), ("AssociationId", V(assoc, "associationId")))));
        await Check("ec2-StopInstances.xml", Call(lab, "ec2", Ec2(("Action", "StopInstances"), ("InstanceId.1", c.InstanceId))));
        await Check("ec2-TerminateInstances.xml", Call(lab, "ec2", Ec2(("Action", "TerminateInstances"), ("InstanceId.1", w.BastionInstanceId!))));

        lab.Throttle.Enabled = true;
        string last = "";
        for (int i = 0; i < 60 && !last.Contains("RequestLimitExceeded"); i++)
            last = await Call(lab, "ec2", Ec2(("Action", "ModifyInstanceAttribute"), ("InstanceId", w.MaliciousInstanceId!), ("DisableApiStop.Value", "false")));
        AssertSameShape("ec2-Error-RequestLimitExceeded.xml", last); seen.Add("ec2-Error-RequestLimitExceeded.xml");

        var sts = new (string, string)[] { ("Version", "2011-06-15") };
        await Check("sts-GetCallerIdentity.xml", Call(lab, "sts", sts.Append(("Action", "GetCallerIdentity")).ToArray()));
        await Check("sts-AssumeRole.xml", Call(lab, "sts", sts.Concat(new[] { ("Action", "AssumeRole"), ("RoleArn", $"arn:aws:iam::{lab.MemberAccountId}:role/{LabCredentialStore.AuditorRoleName}"),
            ("RoleSessionName", "ir-session"), ("SourceIdentity", "ir-analyst"), ("Policy", "{\"Version\":\"2012-10-17\",\"Statement\":[]}") }).ToArray()));
        await Check("sts-Error-AccessDenied.xml", Call(lab, "sts", sts.Concat(new[] { ("Action", "AssumeRole"), ("RoleArn", $"arn:aws:iam::{lab.AccountId}:role/nope"), ("RoleSessionName", "ir-session") }).ToArray()));

        var all = Directory.GetFiles(Samples).Select(Path.GetFileName).Where(f => f!.EndsWith(".xml") && (f.StartsWith("ec2-") || f.StartsWith("sts-"))).ToList();
        Assert.Empty(all.Except(seen));
    }
}
