using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Amazon.SecurityToken.Model;
using Tag = Amazon.EC2.Model.Tag;
using Filter = Amazon.EC2.Model.Filter;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Tests.TestSupport;

namespace GuardDutyIR.Lab.Tests;

public sealed class Ec2StorageTests
{
    private static Filter F(string name, params string[] values) => new() { Name = name, Values = values.ToList() };

    [Fact]
    public async Task Volumes_ByAttachmentFilter_AndNotFound()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var vols = (await ec2.DescribeVolumesAsync(new DescribeVolumesRequest { Filters = new() { F("attachment.instance-id", c.InstanceId) } })).Volumes;
        Assert.Equal(c.Volumes.Select(v => v.VolumeId).OrderBy(x => x), vols.Select(v => v.VolumeId).OrderBy(x => x));
        var root = vols.Single(v => v.Attachments[0].Device == "/dev/xvda");
        Assert.True(root.Attachments[0].DeleteOnTermination);
        Assert.Equal("in-use", root.State.Value);
        Assert.Equal(c.Volumes[0].SizeGiB, root.Size);
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = new() { "vol-0000000000000dead" } }));
        Assert.Equal("InvalidVolume.NotFound", ex.ErrorCode);
        var page = await ec2.DescribeVolumesAsync(new DescribeVolumesRequest { MaxResults = 5 });
        Assert.Equal(5, page.Volumes.Count);
        Assert.NotNull(page.NextToken);
    }

    [Fact]
    public async Task Snapshots_GoPendingToCompleted_OverTime()
    {
        var clock = new TestClock();
        await using var lab = await TestLab.StartAsync(configure: o => o with { SnapshotCompletionSeconds = 1.0, Clock = clock });
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var created = await ec2.CreateSnapshotAsync(new CreateSnapshotRequest
        {
            VolumeId = c.Volumes[0].VolumeId, Description = "IR case 42",
            TagSpecifications = new() { new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = new() { new Tag("ir:case", "42") } } },
        });
        var snapId = created.Snapshot.SnapshotId;
        Assert.Equal("pending", created.Snapshot.State.Value);
        Assert.Equal(c.Volumes[0].VolumeId, created.Snapshot.VolumeId);
        Assert.Equal(lab.AccountId, created.Snapshot.OwnerId);

        var pending = (await ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = new() { snapId } })).Snapshots.Single();
        Assert.Equal("pending", pending.State.Value);
        Assert.NotEqual("100%", pending.Progress);
        var copyPending = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.CopySnapshotAsync(new CopySnapshotRequest { SourceSnapshotId = snapId, SourceRegion = lab.Region }));
        Assert.Equal("IncorrectState", copyPending.ErrorCode);

        clock.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal("50%", (await ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = new() { snapId } })).Snapshots.Single().Progress);
        clock.Advance(TimeSpan.FromSeconds(0.5));
        var done = (await ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { OwnerIds = new() { "self" }, Filters = new() { F("tag:ir:case", "42") } })).Snapshots.Single();
        Assert.Equal("completed", done.State.Value);
        Assert.Equal("100%", done.Progress);
        Assert.Equal("IR case 42", done.Description);

        var copy = await ec2.CopySnapshotAsync(new CopySnapshotRequest { SourceSnapshotId = snapId, SourceRegion = lab.Region, Description = "evidence copy" });
        Assert.StartsWith("snap-", copy.SnapshotId);
        Assert.NotEqual(snapId, copy.SnapshotId);
        var nf = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = new() { "snap-0000000000000dead" } }));
        Assert.Equal("InvalidSnapshot.NotFound", nf.ErrorCode);
    }

    [Fact]
    public async Task CreateSnapshots_CoversInstanceVolumes_WithExclusionsAndCopiedTags()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var all = await ec2.CreateSnapshotsAsync(new CreateSnapshotsRequest
        {
            InstanceSpecification = new InstanceSpecification { InstanceId = c.InstanceId, ExcludeBootVolume = false },
            CopyTagsFromSource = CopyTagsFromSource.Volume,
            TagSpecifications = new() { new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = new() { new Tag("ir:case", "7") } } },
        });
        Assert.Equal(2, all.Snapshots.Count);
        Assert.All(all.Snapshots, s => Assert.Equal("pending", s.State.Value));
        Assert.All(all.Snapshots, s => Assert.Contains(s.Tags, t => t.Key == "Name"));
        Assert.All(all.Snapshots, s => Assert.Contains(s.Tags, t => t.Key == "ir:case" && t.Value == "7"));
        var noBoot = await ec2.CreateSnapshotsAsync(new CreateSnapshotsRequest { InstanceSpecification = new InstanceSpecification { InstanceId = c.InstanceId, ExcludeBootVolume = true } });
        Assert.Equal(c.Volumes[1].VolumeId, noBoot.Snapshots.Single().VolumeId);
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = "vol-0000000000000dead" }));
        Assert.Equal("InvalidVolume.NotFound", ex.ErrorCode);
    }

    [Fact]
    public async Task ModifySnapshotAttribute_SharesWithTheMemberAccount()
    {
        await using var lab = await TestLab.StartAsync(configure: o => o with { SnapshotCompletionSeconds = 0 });
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var snap = (await ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = c.Volumes[0].VolumeId })).Snapshot.SnapshotId;

        using var sts = TestLab.Sts(lab);
        var role = await sts.AssumeRoleAsync(new AssumeRoleRequest { RoleArn = $"arn:aws:iam::{lab.MemberAccountId}:role/{LabCredentialStore.AuditorRoleName}", RoleSessionName = "forensics" });
        using var member = TestLab.Ec2(lab, new SessionAWSCredentials(role.Credentials.AccessKeyId, role.Credentials.SecretAccessKey, role.Credentials.SessionToken));
        var before = await Assert.ThrowsAsync<AmazonEC2Exception>(() => member.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = new() { snap } }));
        Assert.Equal("InvalidSnapshot.NotFound", before.ErrorCode);

        await ec2.ModifySnapshotAttributeAsync(new ModifySnapshotAttributeRequest
        {
            SnapshotId = snap, Attribute = SnapshotAttributeName.CreateVolumePermission,
            CreateVolumePermission = new CreateVolumePermissionModifications { Add = new() { new CreateVolumePermission { UserId = lab.MemberAccountId } } },
        });
        var shared = (await member.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { RestorableByUserIds = new() { "self" } })).Snapshots.Single();
        Assert.Equal(snap, shared.SnapshotId);
        Assert.Equal(lab.AccountId, shared.OwnerId);

        await ec2.ModifySnapshotAttributeAsync(new ModifySnapshotAttributeRequest { SnapshotId = snap, Attribute = SnapshotAttributeName.CreateVolumePermission, OperationType = OperationType.Remove, UserIds = new() { lab.MemberAccountId } });
        Assert.Empty((await member.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { RestorableByUserIds = new() { "self" } })).Snapshots ?? new());
    }

    [Fact]
    public async Task Tags_CreateDescribeDelete()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        await ec2.CreateTagsAsync(new CreateTagsRequest { Resources = new() { c.InstanceId, c.Volumes[0].VolumeId, c.NetworkInterfaces[0].NetworkInterfaceId }, Tags = new() { new Tag("ir:status", "contained"), new Tag("ir:case", "42") } });
        var tags = (await ec2.DescribeTagsAsync(new DescribeTagsRequest { Filters = new() { F("key", "ir:status") } })).Tags;
        Assert.Equal(3, tags.Count);
        Assert.Contains(tags, t => t.ResourceId == c.InstanceId && t.ResourceType.Value == "instance");
        Assert.Contains(tags, t => t.ResourceType.Value == "volume");
        Assert.Contains(tags, t => t.ResourceType.Value == "network-interface");
        await ec2.DeleteTagsAsync(new DeleteTagsRequest { Resources = new() { c.InstanceId }, Tags = new() { new Tag { Key = "ir:status" } } });
        var left = (await ec2.DescribeTagsAsync(new DescribeTagsRequest { Filters = new() { F("resource-id", c.InstanceId) } })).Tags.Select(t => t.Key).ToList();
        Assert.DoesNotContain("ir:status", left);
        Assert.Contains("ir:case", left);
        var inst = (await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = new() { F("tag:ir:case", "42") } })).Reservations.Single().Instances.Single();
        Assert.Equal(c.InstanceId, inst.InstanceId);
        var reserved = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.CreateTagsAsync(new CreateTagsRequest { Resources = new() { c.InstanceId }, Tags = new() { new Tag("aws:x", "y") } }));
        Assert.Equal("InvalidParameterValue", reserved.ErrorCode);
    }

    [Fact]
    public async Task IamInstanceProfileAssociations_Lifecycle()
    {
        await using var lab = await TestLab.StartAsync();
        var c = lab.World.CompromisedInstance!;
        using var ec2 = TestLab.Ec2(lab);
        var assoc = (await ec2.DescribeIamInstanceProfileAssociationsAsync(new DescribeIamInstanceProfileAssociationsRequest { Filters = new() { F("instance-id", c.InstanceId) } }))
            .IamInstanceProfileAssociations.Single();
        Assert.Equal(c.InstanceProfileArn, assoc.IamInstanceProfile.Arn);
        Assert.Equal(c.InstanceProfileId, assoc.IamInstanceProfile.Id);
        Assert.Equal("associated", assoc.State.Value);

        var dup = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.AssociateIamInstanceProfileAsync(new AssociateIamInstanceProfileRequest { InstanceId = c.InstanceId, IamInstanceProfile = new IamInstanceProfileSpecification { Name = "quarantine" } }));
        Assert.Equal("IncorrectState", dup.ErrorCode);

        var replaced = await ec2.ReplaceIamInstanceProfileAssociationAsync(new ReplaceIamInstanceProfileAssociationRequest { AssociationId = assoc.AssociationId, IamInstanceProfile = new IamInstanceProfileSpecification { Name = "quarantine" } });
        Assert.Equal($"arn:aws:iam::{lab.AccountId}:instance-profile/quarantine", replaced.IamInstanceProfileAssociation.IamInstanceProfile.Arn);
        var dis = await ec2.DisassociateIamInstanceProfileAsync(new DisassociateIamInstanceProfileRequest { AssociationId = replaced.IamInstanceProfileAssociation.AssociationId });
        Assert.Equal("disassociating", dis.IamInstanceProfileAssociation.State.Value);
        Assert.Empty((await ec2.DescribeIamInstanceProfileAssociationsAsync(new DescribeIamInstanceProfileAssociationsRequest { Filters = new() { F("instance-id", c.InstanceId) } })).IamInstanceProfileAssociations ?? new());
        var instance = (await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { c.InstanceId } })).Reservations[0].Instances[0];
        Assert.Null(instance.IamInstanceProfile);

        var again = await ec2.AssociateIamInstanceProfileAsync(new AssociateIamInstanceProfileRequest { InstanceId = c.InstanceId, IamInstanceProfile = new IamInstanceProfileSpecification { Arn = c.InstanceProfileArn } });
        Assert.Equal("associating", again.IamInstanceProfileAssociation.State.Value);
        var nf = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DisassociateIamInstanceProfileAsync(new DisassociateIamInstanceProfileRequest { AssociationId = "iip-assoc-0000000000000dead" }));
        Assert.Equal("InvalidAssociationID.NotFound", nf.ErrorCode);
        var badArn = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.AssociateIamInstanceProfileAsync(new AssociateIamInstanceProfileRequest { InstanceId = lab.World.BastionInstanceId, IamInstanceProfile = new IamInstanceProfileSpecification { Arn = "arn:aws:iam::111111111111:instance-profile/x" } }));
        Assert.Equal("InvalidParameterValue", badArn.ErrorCode);
    }
}
