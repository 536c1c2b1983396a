using System.Xml.Linq;
using static GuardDutyIR.Lab.Ec2.Ec2Xml;

namespace GuardDutyIR.Lab.Ec2;

public sealed partial class Ec2Service
{
    private FilterTable<Volume> VolumeFilters() => new FilterTable<Volume>(v => TagsOf(v.VolumeId))
        .Add("volume-id", v => v.VolumeId)
        .Add("attachment.instance-id", v => v.InstanceId)
        .Add("attachment.device", v => v.Device)
        .Add("attachment.status", v => v.InstanceId is null ? null : "attached")
        .Add("attachment.delete-on-termination", v => v.InstanceId is null ? null : B(v.DeleteOnTermination))
        .Add("availability-zone", v => v.AvailabilityZone)
        .Add("status", v => v.Status)
        .Add("size", v => Inv(v.Size))
        .Add("snapshot-id", v => v.SnapshotId)
        .Add("volume-type", v => v.VolumeType)
        .Add("encrypted", v => B(v.Encrypted));

    private IEnumerable<object?> DescribeVolumes(Ec2Call c)
    {
        var ids = c.P.List("VolumeId");
        var max = c.P.Int("MaxResults");
        if (ids.Count > 0 && max is not null)
            throw new Ec2Exception("InvalidParameterCombination", "The parameter volumeIdSet cannot be used with the parameter maxResults");
        IEnumerable<Volume> all = ids.Count > 0 ? ids.Select(id => GetVolume(c, id)) : _volumes.Values.Where(v => v.AccountId == c.Account && !v.Deleted);
        var filtered = VolumeFilters().Apply(all, c.P.Filters()).ToList();
        c.CommitPoint();
        var (page, next) = Ec2Paging.Page(filtered, max, c.P["NextToken"], "DescribeVolumes");
        yield return E("volumeSet", page.Select(v => Item(
            E("volumeId", v.VolumeId),
            E("size", Inv(v.Size)),
            E("snapshotId", v.SnapshotId ?? ""),
            E("availabilityZone", v.AvailabilityZone),
            E("status", v.Status),
            E("createTime", T(v.CreateTime)),
            E("attachmentSet", v.InstanceId is null ? Array.Empty<XElement>() : new[] { Item(
                E("volumeId", v.VolumeId), E("instanceId", v.InstanceId), E("device", v.Device), E("status", "attached"),
                E("attachTime", T(v.AttachTime)), E("deleteOnTermination", B(v.DeleteOnTermination))) }),
            E("volumeType", v.VolumeType),
            E("iops", "3000"),
            E("throughput", "125"),
            E("encrypted", B(v.Encrypted)),
            E("multiAttachEnabled", "false"),
            TagSet(TagsOf(v.VolumeId)))));
        if (next is not null) yield return E("nextToken", next);
    }

    private Snapshot NewSnapshot(Ec2Call c, Volume v, string description, DateTimeOffset now)
    {
        var s = new Snapshot
        {
            AccountId = c.Account, SnapshotId = NewId("snap"), VolumeId = v.VolumeId, VolumeSize = v.Size, StartTime = now,
            CompleteAt = now.AddSeconds(_ctx.Options.SnapshotCompletionSeconds), Description = description, Encrypted = v.Encrypted,
            AvailabilityZone = v.AvailabilityZone,
        };
        _snapshots[s.SnapshotId] = s;
        return s;
    }

    /// <summary>The account's limit on snapshots in progress at once (LabOptions.MaxPendingSnapshots; 0 = none).</summary>
    private void CheckSnapshotLimit(Ec2Call c, int adding)
    {
        var max = _ctx.Options.MaxPendingSnapshots;
        if (max <= 0) return;
        var pending = _snapshots.Values.Count(s => s.AccountId == c.Account && s.State(c.Now) == "pending");
        if (pending + adding > max)
            throw new Ec2Exception("ConcurrentSnapshotLimitExceeded", $"Maximum number of active snapshots ({max}) has been reached.");
    }

    private IEnumerable<object?> CreateSnapshot(Ec2Call c)
    {
        var v = GetVolume(c, c.P.Required("VolumeId"));
        // Neither the model nor the API reference bounds a snapshot's description, so the Lab takes any.
        var description = c.P["Description"] ?? "";
        var tags = c.P.TagSpecifications("snapshot");
        CheckSnapshotLimit(c, 1);
        c.CommitPoint();
        var s = NewSnapshot(c, v, description, c.Now);
        if (tags.Count > 0) SetTags(s.SnapshotId, tags);
        yield return E("snapshotId", s.SnapshotId);
        yield return E("volumeId", s.VolumeId);
        yield return E("status", "pending");
        yield return E("startTime", T(s.StartTime));
        yield return E("progress");
        yield return E("ownerId", s.AccountId);
        yield return E("volumeSize", Inv(s.VolumeSize));
        yield return E("description", s.Description);
        yield return E("encrypted", B(s.Encrypted));
        if (tags.Count > 0) yield return TagSet(TagsOf(s.SnapshotId));
    }

    private IEnumerable<object?> CreateSnapshots(Ec2Call c)
    {
        var i = GetInstance(c, c.P.Required("InstanceSpecification.InstanceId"));
        var excludeBoot = c.P.Bool("InstanceSpecification.ExcludeBootVolume");
        var excluded = c.P.List("InstanceSpecification.ExcludeDataVolumeId");
        foreach (var id in excluded)
        {
            var v = GetVolume(c, id);
            if (v.InstanceId != i.InstanceId)
                throw new Ec2Exception("InvalidParameterValue", $"The volume {id} is not attached to instance {i.InstanceId}");
            if (v.Device == i.RootDeviceName)
                throw new Ec2Exception("InvalidParameterValue", "The boot volume can only be excluded with ExcludeBootVolume");
        }
        var volumes = VolumesOf(i).Where(v => !(excludeBoot && v.Device == i.RootDeviceName) && !excluded.Contains(v.VolumeId)).ToList();
        if (volumes.Count == 0) throw new Ec2Exception("InvalidParameterValue", "No volumes to snapshot after exclusions");
        var tags = c.P.TagSpecifications("snapshot");
        var description = c.P["Description"] ?? "";
        CheckSnapshotLimit(c, volumes.Count);
        c.CommitPoint();
        var items = new List<XElement>();
        foreach (var v in volumes)
        {
            var s = NewSnapshot(c, v, description, c.Now);
            var all = new List<KeyValuePair<string, string>>();
            // CopyTagsFromSource has one value in the model's enum, volume.
            if (c.P["CopyTagsFromSource"] == "volume") all.AddRange(TagsOf(v.VolumeId).Where(t => !t.Key.StartsWith("aws:", StringComparison.Ordinal)));
            all.AddRange(tags);
            if (all.Count > 0) SetTags(s.SnapshotId, all);
            items.Add(Item(
                E("snapshotId", s.SnapshotId),
                E("volumeId", s.VolumeId),
                E("state", "pending"),
                E("startTime", T(s.StartTime)),
                E("progress"),
                E("ownerId", s.AccountId),
                E("volumeSize", Inv(s.VolumeSize)),
                E("description", s.Description),
                E("encrypted", B(s.Encrypted)),
                E("availabilityZone", s.AvailabilityZone),
                TagSetOrNull(s.SnapshotId)));
        }
        yield return E("snapshotSet", items);
    }

    private XElement? TagSetOrNull(string id) => TagsOf(id).Count > 0 ? TagSet(TagsOf(id)) : null;

    private IEnumerable<object?> DescribeSnapshots(Ec2Call c)
    {
        var ids = c.P.List("SnapshotId");
        var owners = c.P.List("Owner");
        var restorableBy = c.P.List("RestorableBy");
        var max = c.P.Int("MaxResults");
        if (ids.Count > 0 && max is not null)
            throw new Ec2Exception("InvalidParameterCombination", "The parameter snapshotSet cannot be used with the parameter maxResults");
        IEnumerable<Snapshot> all = ids.Count > 0
            ? ids.Select(id => GetSnapshot(c, id))
            : _snapshots.Values.Where(s => s.AccountId == c.Account || s.CreateVolumeUserIds.Contains(c.Account));
        if (owners.Count > 0)
            all = all.Where(s => owners.Any(o => o == s.AccountId || (o == "self" && s.AccountId == c.Account)));
        if (restorableBy.Count > 0)
            all = all.Where(s => restorableBy.Any(r => (r == "self" ? c.Account : r) is var acct && (s.AccountId == acct || s.CreateVolumeUserIds.Contains(acct) || (r == "all" && s.CreateVolumePublic))));
        var table = new FilterTable<Snapshot>(s => TagsOf(s.SnapshotId))
            .Add("snapshot-id", s => s.SnapshotId).Add("volume-id", s => s.VolumeId).Add("owner-id", s => s.AccountId)
            .Add("status", s => s.State(c.Now)).Add("progress", s => s.Progress(c.Now)).Add("description", s => s.Description)
            .Add("volume-size", s => Inv(s.VolumeSize)).Add("encrypted", s => B(s.Encrypted))
            .Add("start-time", s => T(s.StartTime));
        var filtered = table.Apply(all, c.P.Filters()).OrderBy(s => s.StartTime).ThenBy(s => s.SnapshotId, StringComparer.Ordinal).ToList();
        c.CommitPoint();
        var (page, next) = Ec2Paging.Page(filtered, max, c.P["NextToken"], "DescribeSnapshots");
        yield return E("snapshotSet", page.Select(s => Item(
            E("snapshotId", s.SnapshotId),
            E("volumeId", s.VolumeId),
            E("status", s.State(c.Now)),
            E("startTime", T(s.StartTime)),
            E("progress", s.Progress(c.Now)),
            E("ownerId", s.AccountId),
            E("volumeSize", Inv(s.VolumeSize)),
            E("description", s.Description),
            E("encrypted", B(s.Encrypted)),
            E("storageTier", "standard"),
            TagSet(TagsOf(s.SnapshotId)))));
        if (next is not null) yield return E("nextToken", next);
    }

    private IEnumerable<object?> CopySnapshot(Ec2Call c)
    {
        var sourceId = c.P.Required("SourceSnapshotId");
        var sourceRegion = c.P.Required("SourceRegion");
        if (sourceRegion != _ctx.Region)
            throw new Ec2Exception("InvalidParameterValue", $"The Lab only has region {_ctx.Region}; cannot copy from {sourceRegion}");
        var source = GetSnapshot(c, sourceId);
        if (source.State(c.Now) != "completed")
            throw new Ec2Exception("IncorrectState", $"Snapshot '{sourceId}' is not in a completed state.");
        var tags = c.P.TagSpecifications("snapshot");
        c.CommitPoint();
        var copy = new Snapshot
        {
            AccountId = c.Account, SnapshotId = NewId("snap"), VolumeId = "vol-ffffffff", VolumeSize = source.VolumeSize, StartTime = c.Now,
            CompleteAt = c.Now.AddSeconds(_ctx.Options.SnapshotCompletionSeconds),
            Description = c.P["Description"] ?? $"[Copied {source.SnapshotId} from {sourceRegion}]", Encrypted = source.Encrypted || c.P.Bool("Encrypted"),
            AvailabilityZone = source.AvailabilityZone,
        };
        _snapshots[copy.SnapshotId] = copy;
        if (tags.Count > 0) SetTags(copy.SnapshotId, tags);
        yield return E("snapshotId", copy.SnapshotId);
        if (tags.Count > 0) yield return TagSet(TagsOf(copy.SnapshotId));
    }

    private IEnumerable<object?> ModifySnapshotAttribute(Ec2Call c)
    {
        var s = GetSnapshot(c, c.P.Required("SnapshotId"));
        if (s.AccountId != c.Account) throw new Ec2Exception("InvalidSnapshot.NotFound", $"The snapshot '{s.SnapshotId}' does not exist.");
        // productCodes is a valid attribute name, but EC2 lets only createVolumePermission be modified.
        var attr = c.P["Attribute"] ?? "createVolumePermission";
        if (attr != "createVolumePermission")
            throw new Ec2Exception("InvalidParameterValue", $"Value ({attr}) for parameter attribute is invalid. Only createVolumePermission can be modified.");
        var add = new List<string>(); var remove = new List<string>();
        bool addAll = false, removeAll = false;
        foreach (var n in c.P.StructIndices("CreateVolumePermission.Add"))
        {
            if (c.P[$"CreateVolumePermission.Add.{n}.UserId"] is { } u) add.Add(u);
            if (c.P[$"CreateVolumePermission.Add.{n}.Group"] == "all") addAll = true;
        }
        foreach (var n in c.P.StructIndices("CreateVolumePermission.Remove"))
        {
            if (c.P[$"CreateVolumePermission.Remove.{n}.UserId"] is { } u) remove.Add(u);
            if (c.P[$"CreateVolumePermission.Remove.{n}.Group"] == "all") removeAll = true;
        }
        var op = c.P["OperationType"];
        if (op is not null)
        {
            var users = c.P.List("UserId");
            var groupAll = c.P.List("UserGroup").Contains("all");
            if (op == "add") { add.AddRange(users); addAll |= groupAll; } else { remove.AddRange(users); removeAll |= groupAll; }
        }
        foreach (var u in add.Concat(remove))
            if (u.Length != 12 || !u.All(char.IsAsciiDigit))
                throw new Ec2Exception("InvalidParameterValue", $"Value ({u}) for parameter userId is invalid. Expected a 12-digit account ID.");
        if (add.Count + remove.Count == 0 && !addAll && !removeAll)
            throw new Ec2Exception("MissingParameter", "The request must contain the parameter createVolumePermission");
        c.CommitPoint();
        foreach (var u in add) if (!s.CreateVolumeUserIds.Contains(u)) s.CreateVolumeUserIds.Add(u);
        foreach (var u in remove) s.CreateVolumeUserIds.Remove(u);
        if (addAll) s.CreateVolumePublic = true;
        if (removeAll) s.CreateVolumePublic = false;
        yield return E("return", "true");
    }

    private IEnumerable<object?> DescribeSnapshotAttribute(Ec2Call c)
    {
        var s = GetSnapshot(c, c.P.Required("SnapshotId"));
        var attr = c.P.Required("Attribute");
        c.CommitPoint();
        yield return E("snapshotId", s.SnapshotId);
        // Lab snapshots carry no Marketplace product codes.
        if (attr == "productCodes") { yield return E("productCodes"); yield break; }
        var perms = s.CreateVolumeUserIds.Select(u => Item(E("userId", u))).ToList();
        if (s.CreateVolumePublic) perms.Add(Item(E("group", "all")));
        yield return E("createVolumePermission", perms);
    }

    // ------------------------------------------------------------------ IAM instance profile associations

    private (string Arn, string Id) ResolveProfile(Ec2Call c)
    {
        var arn = c.P["IamInstanceProfile.Arn"];
        var name = c.P["IamInstanceProfile.Name"];
        if (arn is null && name is null) throw new Ec2Exception("MissingParameter", "The request must contain the parameter IamInstanceProfile");
        if (arn is null) arn = $"arn:aws:iam::{c.Account}:instance-profile/{name}";
        if (_ctx.GetService<Iam.IamService>()?.InstanceProfileIdOf(c.Account, arn) is { } iamId) return (arn, iamId);
        if (_profiles.TryGetValue(arn, out var known)) return (arn, known.Id);
        // A profile the Lab's IAM does not hold (tests that name one freely): any well-formed profile ARN of the
        // caller's account is accepted and gets a stable ID.
        var prefix = $"arn:aws:iam::{c.Account}:instance-profile/";
        if (!arn.StartsWith(prefix, StringComparison.Ordinal) || arn.Length == prefix.Length)
            throw new Ec2Exception("InvalidParameterValue", $"Value ({arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN");
        var id = "AIPA" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(arn)))[..17];
        _profiles[arn] = (arn[prefix.Length..], id);
        return (arn, id);
    }

    private static XElement AssociationXml(IamAssociation a, bool withTimestamp = true) => E("iamInstanceProfileAssociation",
        E("associationId", a.AssociationId),
        E("instanceId", a.InstanceId),
        E("iamInstanceProfile", E("arn", a.ProfileArn), E("id", a.ProfileId)),
        E("state", a.State),
        withTimestamp ? E("timestamp", T(a.Timestamp)) : null);

    private IEnumerable<object?> DescribeIamInstanceProfileAssociations(Ec2Call c)
    {
        var ids = c.P.List("AssociationId");
        var max = c.P.Int("MaxResults");
        if (ids.Count > 0 && max is not null)
            throw new Ec2Exception("InvalidParameterCombination", "The parameter associationIds cannot be used with the parameter maxResults");
        IEnumerable<IamAssociation> all = _iam.Values.Where(a => a.AccountId == c.Account);
        foreach (var id in ids)
            if (!all.Any(a => a.AssociationId == id))
                throw new Ec2Exception("InvalidAssociationID.NotFound", $"An association with ID {id} does not exist.");
        if (ids.Count > 0) all = all.Where(a => ids.Contains(a.AssociationId));
        var table = new FilterTable<IamAssociation>(null).Add("instance-id", a => a.InstanceId).Add("state", a => a.State);
        var filtered = table.Apply(all, c.P.Filters()).ToList();
        var (page, next) = Ec2Paging.Page(filtered, max, c.P["NextToken"], "DescribeIamInstanceProfileAssociations");
        yield return E("iamInstanceProfileAssociationSet", page.Select(a => Item(
            E("associationId", a.AssociationId),
            E("instanceId", a.InstanceId),
            E("iamInstanceProfile", E("arn", a.ProfileArn), E("id", a.ProfileId)),
            E("state", a.State))));
        if (next is not null) yield return E("nextToken", next);
    }

    private IEnumerable<object?> AssociateIamInstanceProfile(Ec2Call c)
    {
        var i = GetInstance(c, c.P.Required("InstanceId"));
        if (i.State is not ("running" or "stopped" or "pending" or "stopping"))
            throw new Ec2Exception("IncorrectInstanceState", $"The instance '{i.InstanceId}' is not in a valid state for this operation.");
        var (arn, id) = ResolveProfile(c);
        if (_iam.Values.Any(a => a.InstanceId == i.InstanceId && a.State is "associated" or "associating"))
            throw new Ec2Exception("IncorrectState", $"There is an existing association for instance {i.InstanceId}");
        var a = new IamAssociation { AssociationId = NewId("iip-assoc"), InstanceId = i.InstanceId, AccountId = c.Account, ProfileArn = arn, ProfileId = id, Timestamp = c.Now };
        _iam[a.AssociationId] = a;
        // The API reports "associating"; the Lab completes the association at once for later reads.
        yield return AssociationXml(new IamAssociation { AssociationId = a.AssociationId, InstanceId = a.InstanceId, AccountId = a.AccountId, ProfileArn = arn, ProfileId = id, State = "associating", Timestamp = c.Now });
    }

    private IEnumerable<object?> DisassociateIamInstanceProfile(Ec2Call c)
    {
        var assocId = c.P.Required("AssociationId");
        if (!_iam.TryGetValue(assocId, out var a) || a.AccountId != c.Account)
            throw new Ec2Exception("InvalidAssociationID.NotFound", $"An association with ID {assocId} does not exist.");
        _iam.Remove(assocId);
        yield return AssociationXml(new IamAssociation { AssociationId = a.AssociationId, InstanceId = a.InstanceId, AccountId = a.AccountId, ProfileArn = a.ProfileArn, ProfileId = a.ProfileId, State = "disassociating", Timestamp = a.Timestamp }, withTimestamp: false);
    }

    private IEnumerable<object?> ReplaceIamInstanceProfileAssociation(Ec2Call c)
    {
        var assocId = c.P.Required("AssociationId");
        if (!_iam.TryGetValue(assocId, out var old) || old.AccountId != c.Account)
            throw new Ec2Exception("InvalidAssociationID.NotFound", $"An association with ID {assocId} does not exist.");
        var (arn, id) = ResolveProfile(c);
        _iam.Remove(assocId);
        var a = new IamAssociation { AssociationId = NewId("iip-assoc"), InstanceId = old.InstanceId, AccountId = c.Account, ProfileArn = arn, ProfileId = id, Timestamp = c.Now };
        _iam[a.AssociationId] = a;
        yield return AssociationXml(new IamAssociation { AssociationId = a.AssociationId, InstanceId = a.InstanceId, AccountId = a.AccountId, ProfileArn = arn, ProfileId = id, State = "associating", Timestamp = c.Now });
    }
}
