using System.Text;
using System.Xml.Linq;
using static GuardDutyIR.Lab.Ec2.Ec2Xml;

namespace GuardDutyIR.Lab.Ec2;

public sealed partial class Ec2Service
{
    private FilterTable<Instance> InstanceFilters() => new FilterTable<Instance>(i => TagsOf(i.InstanceId))
        .Add("instance-id", i => i.InstanceId)
        .Add("instance-state-name", i => i.State)
        .Add("instance-state-code", i => Inv(Instance.Code(i.State)))
        .Add("instance-type", i => i.InstanceType)
        .Add("vpc-id", i => i.State == "terminated" ? null : i.VpcId)
        .Add("subnet-id", i => i.State == "terminated" ? null : i.SubnetId)
        .Add("availability-zone", i => i.AvailabilityZone)
        .Add("image-id", i => i.ImageId)
        .Add("key-name", i => i.KeyName)
        .Add("reservation-id", i => i.ReservationId)
        .Add("owner-id", i => i.AccountId)
        .Add("private-ip-address", i => i.State == "terminated" ? null : i.PrivateIp)
        .Add("ip-address", i => PublicIpOf(i))
        .Add("dns-name", i => DnsName(PublicIpOf(i)))
        .Add("private-dns-name", i => PrivateDns(i.PrivateIp))
        .AddMany("instance.group-id", i => EnisOf(i).SelectMany(e => e.Groups))
        .AddMany("instance.group-name", i => EnisOf(i).SelectMany(e => e.Groups).Select(GroupName))
        .AddMany("group-id", i => EnisOf(i).SelectMany(e => e.Groups))
        .AddMany("group-name", i => EnisOf(i).SelectMany(e => e.Groups).Select(GroupName))
        .AddMany("network-interface.network-interface-id", i => EnisOf(i).Select(e => e.NetworkInterfaceId))
        .AddMany("network-interface.group-id", i => EnisOf(i).SelectMany(e => e.Groups))
        .AddMany("network-interface.addresses.private-ip-address", i => EnisOf(i).SelectMany(e => e.PrivateIps))
        .AddMany("network-interface.vpc-id", i => EnisOf(i).Select(e => e.VpcId))
        .AddMany("network-interface.subnet-id", i => EnisOf(i).Select(e => e.SubnetId))
        .AddMany("block-device-mapping.volume-id", i => VolumesOf(i).Select(v => v.VolumeId))
        .AddMany("block-device-mapping.device-name", i => VolumesOf(i).Select(v => v.Device))
        .AddMany("iam-instance-profile.arn", i => _iam.Values.Where(a => a.InstanceId == i.InstanceId && a.State == "associated").Select(a => a.ProfileArn));

    private string? PublicIpOf(Instance i) => i.State is "running" or "pending" or "stopping" || EnisOf(i).FirstOrDefault()?.AllocationId is not null
        ? EnisOf(i).FirstOrDefault(e => e.DeviceIndex == 0)?.PublicIp
        : null;

    private IEnumerable<object?> DescribeInstances(Ec2Call c)
    {
        var ids = c.P.List("InstanceId");
        var max = c.P.Int("MaxResults");
        if (ids.Count > 0 && max is not null)
            throw new Ec2Exception("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults");
        IEnumerable<Instance> all = ids.Count > 0 ? GetInstances(c, ids) : _instances.Values.Where(i => i.AccountId == c.Account);
        var filtered = InstanceFilters().Apply(all, c.P.Filters()).ToList();
        c.CommitPoint();
        // Pagination is over instances; each reservation groups the page's instances that share it.
        var (page, next) = Ec2Paging.Page(filtered, max, c.P["NextToken"], "DescribeInstances");
        var reservations = page.GroupBy(i => i.ReservationId).Select(g => Item(
            E("reservationId", g.Key),
            E("ownerId", g.First().AccountId),
            E("groupSet"),
            E("instancesSet", g.Select(InstanceXml))));
        yield return E("reservationSet", reservations);
        if (next is not null) yield return E("nextToken", next);
    }

    private XElement InstanceXml(Instance i)
    {
        bool gone = i.State == "terminated";
        var enis = EnisOf(i).ToList();
        var primary = enis.FirstOrDefault(e => e.DeviceIndex == 0);
        var publicIp = PublicIpOf(i);
        var assoc = _iam.Values.FirstOrDefault(a => a.InstanceId == i.InstanceId && a.State is "associated" or "associating");
        return Item(
            E("instanceId", i.InstanceId),
            E("imageId", i.ImageId),
            E("instanceState", E("code", Inv(Instance.Code(i.State))), E("name", i.State)),
            E("privateDnsName", gone ? "" : PrivateDns(i.PrivateIp)),
            E("dnsName", DnsName(publicIp)),
            E("reason", i.Reason),
            E("keyName", i.KeyName),
            E("amiLaunchIndex", "0"),
            E("productCodes"),
            E("instanceType", i.InstanceType),
            E("launchTime", T(i.LaunchTime)),
            E("placement", E("availabilityZone", i.AvailabilityZone), E("groupName"), E("tenancy", "default")),
            E("monitoring", E("state", "disabled")),
            gone ? null : E("subnetId", i.SubnetId),
            gone ? null : E("vpcId", i.VpcId),
            gone ? null : E("privateIpAddress", i.PrivateIp),
            publicIp is null ? null : E("ipAddress", publicIp),
            E("sourceDestCheck", B(i.SourceDestCheck)),
            E("groupSet", (primary?.Groups ?? new List<string>()).Select(g => Item(E("groupId", g), E("groupName", GroupName(g))))),
            E("architecture", "x86_64"),
            E("rootDeviceType", "ebs"),
            E("rootDeviceName", i.RootDeviceName),
            E("blockDeviceMapping", VolumesOf(i).Select(v => Item(
                E("deviceName", v.Device),
                E("ebs", E("volumeId", v.VolumeId), E("status", "attached"), E("attachTime", T(v.AttachTime)), E("deleteOnTermination", B(v.DeleteOnTermination)))))),
            E("virtualizationType", "hvm"),
            E("clientToken"),
            TagSet(TagsOf(i.InstanceId)),
            E("hypervisor", "xen"),
            E("networkInterfaceSet", enis.Select(e => Item(
                E("networkInterfaceId", e.NetworkInterfaceId),
                E("subnetId", e.SubnetId),
                E("vpcId", e.VpcId),
                E("description", e.Description),
                E("ownerId", e.AccountId),
                E("status", e.Status),
                E("macAddress", e.MacAddress),
                E("privateIpAddress", e.PrivateIp),
                E("privateDnsName", PrivateDns(e.PrivateIp)),
                E("sourceDestCheck", "true"),
                E("groupSet", e.Groups.Select(g => Item(E("groupId", g), E("groupName", GroupName(g))))),
                E("attachment",
                    E("attachmentId", e.AttachmentId), E("deviceIndex", Inv(e.DeviceIndex)), E("networkCardIndex", "0"),
                    E("status", "attached"), E("attachTime", T(e.AttachTime)), E("deleteOnTermination", B(e.DeleteOnTermination))),
                EniPublicIp(e) is { } pip ? E("association", E("publicIp", pip), E("publicDnsName", DnsName(pip)), E("ipOwnerId", e.AllocationId is null ? "amazon" : e.AccountId)) : null,
                PrivateIpAddressesSet(e, primaryAssociation: false),
                E("ipv6AddressesSet"),
                E("interfaceType", "interface"),
                ConnectionTrackingXml(e)))),
            assoc is null ? null : E("iamInstanceProfile", E("arn", assoc.ProfileArn), E("id", assoc.ProfileId)),
            E("ebsOptimized", "false"),
            E("enaSupport", "true"),
            MetadataOptionsXml(i, "applied"));
    }

    private string? EniPublicIp(NetworkInterface e)
    {
        if (e.PublicIp is null) return null;
        if (e.AllocationId is not null) return e.PublicIp;
        var inst = e.InstanceId is null ? null : InstanceById(e.InstanceId);
        return inst is not null && inst.State is "running" or "pending" or "stopping" ? e.PublicIp : null;
    }

    private IEnumerable<object?> DescribeInstanceAttribute(Ec2Call c)
    {
        var i = GetInstance(c, c.P.Required("InstanceId"));
        var attr = c.P.Required("Attribute");
        c.CommitPoint();
        yield return E("instanceId", i.InstanceId);
        yield return attr switch
        {
            "instanceType" => E("instanceType", E("value", i.InstanceType)),
            "kernel" => E("kernel"),
            "ramdisk" => E("ramdisk"),
            "userData" => E("userData"),
            "disableApiTermination" => E("disableApiTermination", E("value", B(i.DisableApiTermination))),
            "disableApiStop" => E("disableApiStop", E("value", B(i.DisableApiStop))),
            "instanceInitiatedShutdownBehavior" => E("instanceInitiatedShutdownBehavior", E("value", i.ShutdownBehavior)),
            "rootDeviceName" => E("rootDeviceName", E("value", i.RootDeviceName)),
            "blockDeviceMapping" => E("blockDeviceMapping", VolumesOf(i).Select(v => Item(E("deviceName", v.Device),
                E("ebs", E("volumeId", v.VolumeId), E("status", "attached"), E("attachTime", T(v.AttachTime)), E("deleteOnTermination", B(v.DeleteOnTermination)))))),
            "productCodes" => E("productCodes"),
            "sourceDestCheck" => E("sourceDestCheck", E("value", B(i.SourceDestCheck))),
            "groupSet" => E("groupSet", (EnisOf(i).FirstOrDefault()?.Groups ?? new List<string>()).Select(g => Item(E("groupId", g)))),
            "ebsOptimized" => E("ebsOptimized", E("value", "false")),
            "sriovNetSupport" => E("sriovNetSupport"),
            "enaSupport" => E("enaSupport", E("value", "true")),
            "enclaveOptions" => E("enclaveOptions", E("enabled", "false")),
            // The model's enum already refused unknown names; this is a name a newer model added that the Lab does not answer yet.
            _ => throw new Ec2Exception("UnsupportedOperation", $"The Lab does not describe the instance attribute {attr}."),
        };
    }

    private IEnumerable<object?> ModifyInstanceAttribute(Ec2Call c)
    {
        var p = c.P;
        var i = GetInstance(c, p.Required("InstanceId"));
        var changes = new List<Action>();
        int kinds = 0;

        var groups = p.List("GroupId");
        if (groups.Count > 0)
        {
            kinds++;
            foreach (var g in groups) GetGroup(c, g);
            var enis = EnisOf(i).ToList();
            // AWS refuses instance-level group changes when more than one interface is attached.
            if (enis.Count > 1)
                throw new Ec2Exception("InvalidInstanceID", $"There are multiple interfaces attached to instance '{i.InstanceId}'. Please specify an interface ID for the operation instead.");
            if (enis.Count == 0) throw new Ec2Exception("IncorrectInstanceState", $"The instance '{i.InstanceId}' is not in a state from which it can be modified.");
            CheckGroupsForEni(c, enis[0], groups);
            changes.Add(() => SetEniGroups(enis[0], groups));
        }

        bool? BoolAttr(string name) => p.Has(name + ".Value") ? p.Bool(name + ".Value") : null;

        var legacyAttr = p["Attribute"];
        var legacyValue = p["Value"];
        if (legacyAttr is not null)
        {
            kinds++;
            if (legacyValue is null) throw new Ec2Exception("MissingParameter", "The request must contain the parameter value");
            switch (legacyAttr)
            {
                case "disableApiTermination": { var v = ParseBool(legacyValue); changes.Add(() => i.DisableApiTermination = v); break; }
                case "disableApiStop": { var v = ParseBool(legacyValue); changes.Add(() => i.DisableApiStop = v); break; }
                case "instanceInitiatedShutdownBehavior": { var v = ShutdownValue(legacyValue); changes.Add(() => i.ShutdownBehavior = v); break; }
                case "sourceDestCheck": { var v = ParseBool(legacyValue); changes.Add(() => i.SourceDestCheck = v); break; }
                default: throw new Ec2Exception("InvalidParameterValue", $"Value ({legacyAttr}) for parameter attribute is invalid. Unsupported attribute.");
            }
        }
        if (BoolAttr("DisableApiTermination") is { } dat) { kinds++; changes.Add(() => i.DisableApiTermination = dat); }
        if (BoolAttr("DisableApiStop") is { } das) { kinds++; changes.Add(() => i.DisableApiStop = das); }
        if (BoolAttr("SourceDestCheck") is { } sdc) { kinds++; changes.Add(() => i.SourceDestCheck = sdc); }
        if (p["InstanceInitiatedShutdownBehavior.Value"] is { } isb) { kinds++; var v = ShutdownValue(isb); changes.Add(() => i.ShutdownBehavior = v); }

        var bdm = p.StructIndices("BlockDeviceMapping");
        if (bdm.Count > 0)
        {
            kinds++;
            foreach (var n in bdm)
            {
                var device = p[$"BlockDeviceMapping.{n}.DeviceName"] ?? throw new Ec2Exception("MissingParameter", "The request must contain the parameter BlockDeviceMapping.DeviceName");
                var vol = VolumesOf(i).FirstOrDefault(v => v.Device == device)
                          ?? throw new Ec2Exception("InvalidInstanceAttributeValue", $"No device is currently mapped at {device}");
                if (p[$"BlockDeviceMapping.{n}.Ebs.VolumeId"] is { } vid && vid != vol.VolumeId)
                    throw new Ec2Exception("InvalidParameterValue", $"The volume {vid} is not attached at {device}");
                var dot = p.Bool($"BlockDeviceMapping.{n}.Ebs.DeleteOnTermination", vol.DeleteOnTermination);
                changes.Add(() => vol.DeleteOnTermination = dot);
            }
        }
        foreach (var unsupported in new[] { "InstanceType.Value", "UserData.Value", "Kernel.Value", "Ramdisk.Value", "EbsOptimized.Value", "SriovNetSupport.Value", "EnaSupport.Value" })
            if (p.Has(unsupported))
            {
                kinds++;
                if (i.State != "stopped")
                    throw new Ec2Exception("IncorrectInstanceState", $"The instance '{i.InstanceId}' is not in the 'stopped' state.");
                throw new Ec2Exception("UnsupportedOperation", $"The Lab does not model {unsupported.Split('.')[0]}.");
            }

        if (kinds == 0) throw new Ec2Exception("MissingParameter", "The request must contain the parameter attribute");
        if (kinds > 1) throw new Ec2Exception("InvalidParameterCombination", "Fields for multiple attribute types specified: only one attribute can be modified per call");
        c.CommitPoint();
        foreach (var change in changes) change();
        yield return E("return", "true");
    }

    private static bool ParseBool(string v) => v.ToLowerInvariant() switch
    {
        "true" => true,
        "false" => false,
        _ => throw new Ec2Exception("InvalidParameterValue", $"Value ({v}) for parameter value is invalid. Expected: 'true' or 'false'."),
    };

    private static string ShutdownValue(string v) => v is "stop" or "terminate" ? v
        : throw new Ec2Exception("InvalidParameterValue", $"Value ({v}) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values are 'stop' and 'terminate'.");

    private IEnumerable<object?> StopInstances(Ec2Call c)
    {
        var ids = c.P.List("InstanceId");
        var list = GetInstances(c, ids);
        foreach (var i in list)
        {
            if (i.DisableApiStop)
                throw new Ec2Exception("OperationNotPermitted", $"The instance '{i.InstanceId}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.");
            if (i.State is "terminated" or "shutting-down")
                throw new Ec2Exception("IncorrectInstanceState", $"This instance '{i.InstanceId}' is not in a state from which it can be stopped.");
        }
        c.CommitPoint();
        var items = new List<XElement>();
        foreach (var i in list)
        {
            var prev = i.State;
            if (i.State is "running" or "pending")
            {
                i.State = "stopping";
                i.Reason = $"User initiated ({c.Now.UtcDateTime:yyyy-MM-dd HH:mm:ss} GMT)";
                i.TransitionAt = TransitionEnd(c.Now);
                _tracker.EndInstance(i.InstanceId, "instance stopped");
            }
            items.Add(StateChange(i, prev));
        }
        yield return E("instancesSet", items);
    }

    private IEnumerable<object?> StartInstances(Ec2Call c)
    {
        var ids = c.P.List("InstanceId");
        var list = GetInstances(c, ids);
        foreach (var i in list)
            if (i.State is "terminated" or "shutting-down" or "stopping")
                throw new Ec2Exception("IncorrectInstanceState", $"The instance '{i.InstanceId}' is not in a state from which it can be started.");
        c.CommitPoint();
        var items = new List<XElement>();
        foreach (var i in list)
        {
            var prev = i.State;
            if (i.State == "stopped")
            {
                i.State = "pending";
                i.Reason = "";
                i.TransitionAt = TransitionEnd(c.Now);
            }
            items.Add(StateChange(i, prev));
        }
        yield return E("instancesSet", items);
    }

    private IEnumerable<object?> TerminateInstances(Ec2Call c)
    {
        var ids = c.P.List("InstanceId");
        var list = GetInstances(c, ids);
        foreach (var i in list)
            if (i.DisableApiTermination && i.State != "terminated")
                throw new Ec2Exception("OperationNotPermitted", $"The instance '{i.InstanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.");
        c.CommitPoint();
        var items = new List<XElement>();
        foreach (var i in list)
        {
            var prev = i.State;
            if (i.State is not ("terminated" or "shutting-down"))
            {
                i.State = "shutting-down";
                i.Reason = $"User initiated ({c.Now.UtcDateTime:yyyy-MM-dd HH:mm:ss} GMT)";
                i.TransitionAt = TransitionEnd(c.Now);
                _tracker.EndInstance(i.InstanceId, "instance terminated");
            }
            items.Add(StateChange(i, prev));
        }
        yield return E("instancesSet", items);
    }

    /// <summary>Termination: volumes go or stay per DeleteOnTermination, ENIs likewise, EIPs are disassociated, profile associations end.</summary>
    private void FinishTermination(Instance i)
    {
        i.State = "terminated";
        foreach (var v in _volumes.Values.Where(v => v.InstanceId == i.InstanceId && !v.Deleted))
        {
            if (v.DeleteOnTermination) v.Deleted = true;
            v.InstanceId = null;
            v.Device = null;
        }
        foreach (var e in EnisOf(i).ToList())
        {
            foreach (var a in _addresses.Values.Where(a => a.NetworkInterfaceId == e.NetworkInterfaceId))
            {
                a.NetworkInterfaceId = null; a.InstanceId = null; a.AssociationId = null; a.PrivateIp = null;
            }
            e.PublicIp = null; e.AllocationId = null; e.AssociationId = null;
            e.InstanceId = null; e.AttachmentId = null;
            if (e.DeleteOnTermination) _enis.Remove(e.NetworkInterfaceId);
        }
        i.NetworkInterfaceIds.Clear();
        foreach (var a in _iam.Values.Where(a => a.InstanceId == i.InstanceId).ToList()) _iam.Remove(a.AssociationId);
    }

    private static XElement StateChange(Instance i, string previous) => Item(
        E("instanceId", i.InstanceId),
        E("currentState", E("code", Inv(Instance.Code(i.State))), E("name", i.State)),
        E("previousState", E("code", Inv(Instance.Code(previous))), E("name", previous)));

    private IEnumerable<object?> GetConsoleOutput(Ec2Call c)
    {
        var i = GetInstance(c, c.P.Required("InstanceId"));
        c.CommitPoint();
        var text = new StringBuilder()
            .Append("[    0.000000] Linux version 6.1.112-122.189.amzn2023.x86_64 (mockbuild@ip-10-0-34-187) #1 SMP PREEMPT_DYNAMIC\n")
            .Append($"[    0.000000] Command line: BOOT_IMAGE=(hd0,gpt1)/boot/vmlinuz root=UUID=lab-{i.InstanceId} ro console=tty0 console=ttyS0,115200n8\n")
            .Append($"[    2.314000] cloud-init[1432]: Cloud-init v. 22.2.2 running 'init' at {i.LaunchTime:ddd, dd MMM yyyy HH:mm:ss} +0000.\n")
            .Append($"[    2.890000] cloud-init[1432]: ci-info: | eth0 | True | {i.PrivateIp} | 255.255.255.0 | global | {EnisOf(i).FirstOrDefault()?.MacAddress} |\n")
            .Append($"Amazon Linux 2023\nKernel 6.1.112 on an x86_64 (-)\n\n{PrivateDns(i.PrivateIp)} login: ")
            .ToString();
        yield return E("instanceId", i.InstanceId);
        yield return E("timestamp", T(c.Now));
        yield return E("output", Convert.ToBase64String(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>A valid 1x1 baseline JPEG (what a screenshot decodes to is irrelevant; that it is a JPEG is not).</summary>
    internal const string TinyJpegBase64 =
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==";

    private IEnumerable<object?> GetConsoleScreenshot(Ec2Call c)
    {
        var i = GetInstance(c, c.P.Required("InstanceId"));
        if (i.State != "running")
            throw new Ec2Exception("IncorrectInstanceState", $"The instance '{i.InstanceId}' is not in the 'running' state.");
        c.CommitPoint();
        yield return E("instanceId", i.InstanceId);
        yield return E("imageData", TinyJpegBase64);
    }
}
