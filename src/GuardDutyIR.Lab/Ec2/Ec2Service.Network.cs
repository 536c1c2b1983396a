using System.Xml.Linq;
using static GuardDutyIR.Lab.Ec2.Ec2Xml;

namespace GuardDutyIR.Lab.Ec2;

public sealed partial class Ec2Service
{
    private FilterTable<NetworkInterface> EniFilters() => new FilterTable<NetworkInterface>(e => TagsOf(e.NetworkInterfaceId))
        .Add("network-interface-id", e => e.NetworkInterfaceId)
        .Add("attachment.instance-id", e => e.InstanceId)
        .Add("attachment.attachment-id", e => e.AttachmentId)
        .Add("attachment.device-index", e => e.InstanceId is null ? null : Inv(e.DeviceIndex))
        .Add("attachment.status", e => e.InstanceId is null ? null : "attached")
        .Add("attachment.delete-on-termination", e => e.InstanceId is null ? null : B(e.DeleteOnTermination))
        .AddMany("group-id", e => e.Groups)
        .AddMany("group-name", e => e.Groups.Select(GroupName))
        .Add("vpc-id", e => e.VpcId)
        .Add("subnet-id", e => e.SubnetId)
        .Add("availability-zone", e => e.AvailabilityZone)
        .Add("status", e => e.Status)
        .Add("private-ip-address", e => e.PrivateIp)
        .AddMany("addresses.private-ip-address", e => e.PrivateIps)
        .Add("association.public-ip", e => EniPublicIp(e))
        .Add("association.allocation-id", e => e.AllocationId)
        .Add("association.association-id", e => e.AssociationId)
        .Add("owner-id", e => e.AccountId)
        .Add("mac-address", e => e.MacAddress)
        .Add("description", e => e.Description)
        .Add("interface-type", _ => "interface");

    private IEnumerable<object?> DescribeNetworkInterfaces(Ec2Call c)
    {
        var ids = c.P.List("NetworkInterfaceId");
        var max = c.P.Int("MaxResults");
        if (ids.Count > 0 && max is not null)
            throw new Ec2Exception("InvalidParameterCombination", "The parameter NetworkInterfaceIds cannot be used with the parameter maxResults");
        IEnumerable<NetworkInterface> all = ids.Count > 0 ? ids.Select(id => GetEni(c, id)) : _enis.Values.Where(e => e.AccountId == c.Account);
        var filtered = EniFilters().Apply(all, c.P.Filters()).ToList();
        c.CommitPoint();
        var (page, next) = Ec2Paging.Page(filtered, max, c.P["NextToken"], "DescribeNetworkInterfaces");
        yield return E("networkInterfaceSet", page.Select(EniXml));
        if (next is not null) yield return E("nextToken", next);
    }

    private XElement EniXml(NetworkInterface e)
    {
        var pip = EniPublicIp(e);
        return Item(
            E("networkInterfaceId", e.NetworkInterfaceId),
            E("subnetId", e.SubnetId),
            E("vpcId", e.VpcId),
            E("availabilityZone", e.AvailabilityZone),
            E("description", e.Description),
            E("ownerId", e.AccountId),
            E("requesterManaged", "false"),
            E("status", e.Status),
            E("macAddress", e.MacAddress),
            E("privateIpAddress", e.PrivateIp),
            E("privateDnsName", PrivateDns(e.PrivateIp)),
            E("sourceDestCheck", "true"),
            E("groupSet", e.Groups.Select(g => Item(E("groupId", g), E("groupName", GroupName(g))))),
            e.InstanceId is null ? null : E("attachment",
                E("attachmentId", e.AttachmentId), E("instanceId", e.InstanceId), E("instanceOwnerId", e.AccountId),
                E("deviceIndex", Inv(e.DeviceIndex)), E("networkCardIndex", "0"), E("status", "attached"),
                E("attachTime", T(e.AttachTime)), E("deleteOnTermination", B(e.DeleteOnTermination))),
            pip is null ? null : E("association",
                E("publicIp", pip), E("publicDnsName", DnsName(pip)), E("ipOwnerId", e.AllocationId is null ? "amazon" : e.AccountId),
                e.AllocationId is null ? null : E("allocationId", e.AllocationId),
                e.AssociationId is null ? null : E("associationId", e.AssociationId)),
            TagSet(TagsOf(e.NetworkInterfaceId)),
            PrivateIpAddressesSet(e),
            E("ipv6AddressesSet"),
            E("interfaceType", "interface"),
            ConnectionTrackingXml(e));
    }

    /// <summary>The ENI's connection-tracking timeouts once any was set (DescribeNetworkInterfaces and DescribeInstances alike).</summary>
    private static XElement? ConnectionTrackingXml(NetworkInterface e) =>
        e.TcpEstablishedTimeout is null && e.UdpStreamTimeout is null && e.UdpTimeout is null ? null : E("connectionTrackingConfiguration",
            E("tcpEstablishedTimeout", Inv(e.TcpEstablishedTimeout ?? 432000)),
            E("udpStreamTimeout", Inv(e.UdpStreamTimeout ?? 180)),
            E("udpTimeout", Inv(e.UdpTimeout ?? 30)));

    /// <summary>
    /// privateIpAddressesSet of an ENI: the primary address first, then the secondaries, each with the Elastic IP
    /// associated with it. In DescribeInstances the primary address's public IP is given at the interface level only,
    /// as the reference response has it (<paramref name="primaryAssociation"/> false).
    /// </summary>
    private XElement PrivateIpAddressesSet(NetworkInterface e, bool primaryAssociation = true) => E("privateIpAddressesSet", e.PrivateIps.Select(ip =>
    {
        var primary = ip == e.PrivateIp;
        var pip = primary ? (primaryAssociation ? EniPublicIp(e) : null) : _addresses.Values.FirstOrDefault(a => a.NetworkInterfaceId == e.NetworkInterfaceId && a.PrivateIp == ip)?.PublicIp;
        var owner = primary && e.AllocationId is null ? "amazon" : e.AccountId;
        return Item(E("privateIpAddress", ip), E("privateDnsName", PrivateDns(ip)), E("primary", B(primary)),
            pip is null ? null : E("association", E("publicIp", pip), E("publicDnsName", DnsName(pip)), E("ipOwnerId", owner)));
    }));

    /// <summary>
    /// Secondary private IPv4 addresses, given (PrivateIpAddress.N) or counted (SecondaryPrivateIpAddressCount) from the
    /// subnet's range, where AWS reserves the first four addresses and the last.
    /// </summary>
    private IEnumerable<object?> AssignPrivateIpAddresses(Ec2Call c)
    {
        var p = c.P;
        var eni = GetEni(c, p.Required("NetworkInterfaceId"));
        var given = p.List("PrivateIpAddress");
        var count = p.Int("SecondaryPrivateIpAddressCount");
        var hasList = given.Count > 0;
        var hasCount = count is not null;
        if (hasList == hasCount)
            throw new Ec2Exception("InvalidParameterCombination", "Specify either the private IP addresses or the secondary private IP address count");
        if (p.Bool("AllowReassignment"))
            throw new Ec2Exception("UnsupportedOperation", "The Lab does not model moving a private IP address from another network interface (AllowReassignment).");
        if (count is < 1) throw new Ec2Exception("InvalidParameterValue", $"Value ({count}) for parameter secondaryPrivateIpAddressCount is invalid. It must be at least 1.");
        var subnet = _subnets[eni.SubnetId];
        var (first, last) = HostRange(subnet.CidrBlock);
        var inUse = _enis.Values.Where(x => x.SubnetId == eni.SubnetId).SelectMany(x => x.PrivateIps).ToHashSet(StringComparer.Ordinal);
        var assign = new List<string>();
        foreach (var ip in given)
        {
            if (!System.Net.IPAddress.TryParse(ip, out var parsed) || parsed.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw new Ec2Exception("InvalidParameterValue", $"Value ({ip}) for parameter privateIpAddress is invalid. It is not a valid IPv4 address.");
            var n = ToUInt(parsed);
            if (n < first || n > last)
                throw new Ec2Exception("InvalidParameterValue", $"Address {ip} does not fall within the subnet's address range");
            if (inUse.Contains(ip) && !eni.PrivateIps.Contains(ip))
                throw new Ec2Exception("InvalidIPAddress.InUse", $"Address {ip} is in use.");
            if (!eni.PrivateIps.Contains(ip) && !assign.Contains(ip)) assign.Add(ip);
        }
        for (var n = first; count is { } want && assign.Count < want && n <= last; n++)
        {
            var ip = FromUInt(n);
            if (!inUse.Contains(ip)) assign.Add(ip);
        }
        if (count is { } wanted && assign.Count < wanted)
            throw new Ec2Exception("InsufficientFreeAddressesInSubnet", $"The subnet {eni.SubnetId} has too few free addresses.");
        c.CommitPoint();
        eni.SecondaryPrivateIps.AddRange(assign);
        yield return E("return", "true");
        yield return E("networkInterfaceId", eni.NetworkInterfaceId);
        yield return E("assignedPrivateIpAddressesSet", assign.Select(ip => Item(E("privateIpAddress", ip))));
    }

    private static (uint First, uint Last) HostRange(string cidr)
    {
        var slash = cidr.IndexOf('/');
        var bits = int.Parse(cidr[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var network = ToUInt(System.Net.IPAddress.Parse(cidr[..slash])) & (bits == 0 ? 0u : uint.MaxValue << (32 - bits));
        var broadcast = network | (bits == 32 ? 0u : uint.MaxValue >> bits);
        return (network + 4, broadcast - 1);
    }

    private static uint ToUInt(System.Net.IPAddress ip) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(ip.GetAddressBytes());

    private static string FromUInt(uint n)
    {
        var bytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, n);
        return new System.Net.IPAddress(bytes).ToString();
    }

    private IEnumerable<object?> ModifyNetworkInterfaceAttribute(Ec2Call c)
    {
        var p = c.P;
        var eni = GetEni(c, p.Required("NetworkInterfaceId"));
        var groups = p.List("SecurityGroupId");
        var changes = new List<Action>();
        int kinds = 0;
        if (groups.Count > 0)
        {
            kinds++;
            CheckGroupsForEni(c, eni, groups);
            changes.Add(() => SetEniGroups(eni, groups));
        }
        if (p.HasPrefix("ConnectionTrackingSpecification."))
        {
            kinds++;
            // The model gives these bounds only in the members' documentation ("Min: 60 seconds. Max: 432000 seconds").
            int? Range(string name, int min, int max)
            {
                var v = p.Int("ConnectionTrackingSpecification." + name);
                if (v is { } n && (n < min || n > max))
                    throw new Ec2Exception("InvalidParameterValue", $"Value ({n}) for parameter {char.ToLowerInvariant(name[0]) + name[1..]} is invalid. It must be between {min} and {max}.");
                return v;
            }
            var tcp = Range("TcpEstablishedTimeout", 60, 432000);
            var udpStream = Range("UdpStreamTimeout", 60, 180);
            var udp = Range("UdpTimeout", 30, 60);
            changes.Add(() =>
            {
                if (tcp is not null) eni.TcpEstablishedTimeout = tcp;
                if (udpStream is not null) eni.UdpStreamTimeout = udpStream;
                if (udp is not null) eni.UdpTimeout = udp;
            });
        }
        if (p.Has("SourceDestCheck.Value")) { kinds++; p.Bool("SourceDestCheck.Value"); }
        if (p.Has("Description.Value")) { kinds++; }
        if (p.Has("Attachment.AttachmentId"))
        {
            kinds++;
            if (p["Attachment.AttachmentId"] != eni.AttachmentId)
                throw new Ec2Exception("InvalidAttachmentID.NotFound", $"The attachment ID '{p["Attachment.AttachmentId"]}' does not exist");
            var dot = p.Bool("Attachment.DeleteOnTermination", eni.DeleteOnTermination);
            changes.Add(() => eni.DeleteOnTermination = dot);
        }
        if (kinds == 0) throw new Ec2Exception("MissingParameter", "The request must contain exactly one attribute to modify");
        if (kinds > 1) throw new Ec2Exception("InvalidParameterCombination", "Only one attribute can be modified at a time");
        c.CommitPoint();
        foreach (var change in changes) change();
        yield return E("return", "true");
    }

    private IEnumerable<object?> DescribeVpcs(Ec2Call c)
    {
        var ids = c.P.List("VpcId");
        foreach (var id in ids)
            if (!_vpcs.TryGetValue(id, out var v) || v.AccountId != c.Account)
                throw new Ec2Exception("InvalidVpcID.NotFound", $"The vpc ID '{id}' does not exist");
        IEnumerable<Vpc> all = _vpcs.Values.Where(v => v.AccountId == c.Account && (ids.Count == 0 || ids.Contains(v.VpcId)));
        var table = new FilterTable<Vpc>(v => TagsOf(v.VpcId))
            .Add("vpc-id", v => v.VpcId).Add("cidr", v => v.CidrBlock).Add("cidr-block-association.cidr-block", v => v.CidrBlock)
            .Add("is-default", v => B(v.IsDefault)).Add("owner-id", v => v.AccountId).Add("state", _ => "available");
        var filtered = table.Apply(all, c.P.Filters()).ToList();
        c.CommitPoint();
        var (page, next) = Ec2Paging.Page(filtered, c.P.Int("MaxResults"), c.P["NextToken"], "DescribeVpcs");
        yield return E("vpcSet", page.Select(v => Item(
            E("vpcId", v.VpcId),
            E("ownerId", v.AccountId),
            E("state", "available"),
            E("cidrBlock", v.CidrBlock),
            E("cidrBlockAssociationSet", Item(E("cidrBlock", v.CidrBlock), E("associationId", v.CidrAssociationId), E("cidrBlockState", E("state", "associated")))),
            E("dhcpOptionsId", "dopt-" + v.VpcId[4..]),
            TagSet(TagsOf(v.VpcId)),
            E("instanceTenancy", "default"),
            E("isDefault", B(v.IsDefault)))));
        if (next is not null) yield return E("nextToken", next);
    }

    private IEnumerable<object?> DescribeSubnets(Ec2Call c)
    {
        var ids = c.P.List("SubnetId");
        foreach (var id in ids)
            if (!_subnets.TryGetValue(id, out var s) || s.AccountId != c.Account)
                throw new Ec2Exception("InvalidSubnetID.NotFound", $"The subnet ID '{id}' does not exist");
        IEnumerable<Subnet> all = _subnets.Values.Where(s => s.AccountId == c.Account && (ids.Count == 0 || ids.Contains(s.SubnetId)));
        var table = new FilterTable<Subnet>(s => TagsOf(s.SubnetId))
            .Add("subnet-id", s => s.SubnetId).Add("vpc-id", s => s.VpcId).Add("cidr-block", s => s.CidrBlock)
            .Add("availability-zone", s => s.AvailabilityZone).Add("default-for-az", s => B(s.DefaultForAz))
            .Add("owner-id", s => s.AccountId).Add("state", _ => "available");
        var filtered = table.Apply(all, c.P.Filters()).ToList();
        c.CommitPoint();
        var (page, next) = Ec2Paging.Page(filtered, c.P.Int("MaxResults"), c.P["NextToken"], "DescribeSubnets");
        yield return E("subnetSet", page.Select(s => Item(
            E("subnetId", s.SubnetId),
            E("subnetArn", $"arn:aws:ec2:{_ctx.Region}:{s.AccountId}:subnet/{s.SubnetId}"),
            E("state", "available"),
            E("ownerId", s.AccountId),
            E("vpcId", s.VpcId),
            E("cidrBlock", s.CidrBlock),
            E("availableIpAddressCount", Inv(CidrSize(s.CidrBlock) - 5 - _enis.Values.Count(e => e.SubnetId == s.SubnetId))),
            E("availabilityZone", s.AvailabilityZone),
            E("availabilityZoneId", "use1-az" + (s.AvailabilityZone[^1] - 'a' + 1)),
            E("defaultForAz", B(s.DefaultForAz)),
            E("mapPublicIpOnLaunch", B(s.DefaultForAz)),
            TagSet(TagsOf(s.SubnetId)))));
        if (next is not null) yield return E("nextToken", next);
    }

    private static int CidrSize(string cidr) => 1 << (32 - int.Parse(cidr[(cidr.IndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

    private IEnumerable<object?> DescribeAddresses(Ec2Call c)
    {
        var allocs = c.P.List("AllocationId");
        var ips = c.P.List("PublicIp");
        IEnumerable<Address> all = _addresses.Values.Where(a => a.AccountId == c.Account);
        foreach (var id in allocs)
            if (!all.Any(a => a.AllocationId == id)) throw new Ec2Exception("InvalidAllocationID.NotFound", $"The allocation ID '{id}' does not exist");
        foreach (var ip in ips)
            if (!all.Any(a => a.PublicIp == ip)) throw new Ec2Exception("InvalidAddress.NotFound", $"Address '{ip}' not found.");
        if (allocs.Count > 0) all = all.Where(a => allocs.Contains(a.AllocationId));
        if (ips.Count > 0) all = all.Where(a => ips.Contains(a.PublicIp));
        var table = new FilterTable<Address>(a => TagsOf(a.AllocationId))
            .Add("allocation-id", a => a.AllocationId).Add("association-id", a => a.AssociationId).Add("domain", _ => "vpc")
            .Add("instance-id", a => a.InstanceId).Add("network-interface-id", a => a.NetworkInterfaceId)
            .Add("network-interface-owner-id", a => a.NetworkInterfaceId is null ? null : a.AccountId)
            .Add("private-ip-address", a => a.PrivateIp).Add("public-ip", a => a.PublicIp);
        var list = table.Apply(all, c.P.Filters()).ToList();
        c.CommitPoint();
        yield return E("addressesSet", list.Select(a => Item(
            E("publicIp", a.PublicIp),
            E("allocationId", a.AllocationId),
            E("domain", "vpc"),
            a.InstanceId is null ? null : E("instanceId", a.InstanceId),
            a.AssociationId is null ? null : E("associationId", a.AssociationId),
            a.NetworkInterfaceId is null ? null : E("networkInterfaceId", a.NetworkInterfaceId),
            a.NetworkInterfaceId is null ? null : E("networkInterfaceOwnerId", a.AccountId),
            a.PrivateIp is null ? null : E("privateIpAddress", a.PrivateIp),
            TagSet(TagsOf(a.AllocationId)),
            E("publicIpv4Pool", "amazon"),
            E("networkBorderGroup", _ctx.Region))));
    }

    private IEnumerable<object?> AssociateAddress(Ec2Call c)
    {
        var p = c.P;
        Address addr;
        if (p["AllocationId"] is { } alloc)
            addr = _addresses.TryGetValue(alloc, out var a) && a.AccountId == c.Account ? a
                : throw new Ec2Exception("InvalidAllocationID.NotFound", $"The allocation ID '{alloc}' does not exist");
        else if (p["PublicIp"] is { } ip)
            addr = _addresses.Values.FirstOrDefault(x => x.AccountId == c.Account && x.PublicIp == ip)
                   ?? throw new Ec2Exception("InvalidAddress.NotFound", $"Address '{ip}' not found.");
        else throw new Ec2Exception("MissingParameter", "Either public IP or allocation id must be specified");

        NetworkInterface eni;
        if (p["NetworkInterfaceId"] is { } eniId) eni = GetEni(c, eniId);
        else if (p["InstanceId"] is { } iid)
        {
            var inst = GetInstance(c, iid);
            if (inst.State is not ("running" or "stopped" or "pending" or "stopping"))
                throw new Ec2Exception("IncorrectInstanceState", $"The instance '{iid}' is not in a valid state for this operation.");
            var enis = EnisOf(inst).ToList();
            if (enis.Count > 1)
                throw new Ec2Exception("InvalidInstanceID", $"There are multiple interfaces attached to instance '{iid}'. Please specify an interface ID for the operation instead.");
            eni = enis[0];
        }
        else throw new Ec2Exception("MissingParameter", "Either instance ID or network interface ID must be specified");
        // Without PrivateIpAddress the primary one; a given one must be an address of this ENI.
        var privateIp = p["PrivateIpAddress"] ?? eni.PrivateIp;
        if (!eni.PrivateIps.Contains(privateIp))
            throw new Ec2Exception("InvalidParameterValue", $"The private IP address {privateIp} is not assigned to the network interface {eni.NetworkInterfaceId}");
        var allowReassociation = p.Bool("AllowReassociation", false);
        if (addr.AssociationId is not null && (addr.NetworkInterfaceId != eni.NetworkInterfaceId || addr.PrivateIp != privateIp) && !allowReassociation)
            throw new Ec2Exception("Resource.AlreadyAssociated", $"resource {addr.AllocationId} is already associated with associate-id {addr.AssociationId}");
        c.CommitPoint();

        ClearAssociation(addr);
        // One Elastic IP per private IP: an address already on this private IP is disassociated (it stays allocated);
        // the Elastic IPs of the ENI's other private IPs stay where they are.
        foreach (var other in _addresses.Values.Where(x => x.NetworkInterfaceId == eni.NetworkInterfaceId && x.PrivateIp == privateIp && x != addr).ToList())
            ClearAssociation(other);
        addr.AssociationId = NewId("eipassoc");
        addr.NetworkInterfaceId = eni.NetworkInterfaceId;
        addr.InstanceId = eni.InstanceId;
        addr.PrivateIp = privateIp;
        if (privateIp == eni.PrivateIp)
        {
            eni.PublicIp = addr.PublicIp;
            eni.AllocationId = addr.AllocationId;
            eni.AssociationId = addr.AssociationId;
        }
        yield return E("return", "true");
        yield return E("associationId", addr.AssociationId);
    }

    private IEnumerable<object?> DisassociateAddress(Ec2Call c)
    {
        Address addr;
        if (c.P["AssociationId"] is { } assoc)
            addr = _addresses.Values.FirstOrDefault(a => a.AccountId == c.Account && a.AssociationId == assoc)
                   ?? throw new Ec2Exception("InvalidAssociationID.NotFound", $"The association ID '{assoc}' does not exist");
        else if (c.P["PublicIp"] is { } ip)
            addr = _addresses.Values.FirstOrDefault(a => a.AccountId == c.Account && a.PublicIp == ip)
                   ?? throw new Ec2Exception("InvalidAddress.NotFound", $"Address '{ip}' not found.");
        else throw new Ec2Exception("MissingParameter", "Either public IP or association id must be specified");
        c.CommitPoint();
        ClearAssociation(addr);
        yield return E("return", "true");
    }

    /// <summary>Ends an address's association; the ENI's public IP goes only when it was this address on its primary IP.</summary>
    private void ClearAssociation(Address addr)
    {
        if (addr.NetworkInterfaceId is { } eniId && _enis.TryGetValue(eniId, out var eni) && eni.AllocationId == addr.AllocationId)
        {
            eni.PublicIp = null; eni.AllocationId = null; eni.AssociationId = null;
        }
        addr.AssociationId = null; addr.NetworkInterfaceId = null; addr.InstanceId = null; addr.PrivateIp = null;
    }

    private static readonly string[] s_regions =
    {
        "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
        "ca-central-1", "eu-central-1", "eu-north-1", "eu-south-1", "eu-west-1", "eu-west-2", "eu-west-3", "me-south-1", "sa-east-1",
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    };

    /// <summary>Opt-in regions (not enabled in the Lab's accounts unless AllRegions asks to see them).</summary>
    private static readonly HashSet<string> s_optIn = new() { "af-south-1", "ap-east-1", "eu-south-1", "me-south-1" };

    private IEnumerable<object?> DescribeRegions(Ec2Call c)
    {
        var names = c.P.List("RegionName");
        var all = c.P.Bool("AllRegions");
        foreach (var n in names)
            if (!s_regions.Contains(n)) throw new Ec2Exception("InvalidParameterValue", $"Invalid region: {n}");
        var list = s_regions.Where(r => (all || !s_optIn.Contains(r)) && (names.Count == 0 || names.Contains(r)));
        var table = new FilterTable<string>(null)
            .Add("region-name", r => r).Add("endpoint", r => $"ec2.{r}.amazonaws.com")
            .Add("opt-in-status", r => s_optIn.Contains(r) ? "not-opted-in" : "opt-in-not-required");
        var filtered = table.Apply(list, c.P.Filters()).ToList();
        c.CommitPoint();
        yield return E("regionInfo", filtered.Select(r => Item(
            E("regionName", r), E("regionEndpoint", $"ec2.{r}.amazonaws.com"), E("optInStatus", s_optIn.Contains(r) ? "not-opted-in" : "opt-in-not-required"))));
    }

    // ------------------------------------------------------------------ tags

    private (string Type, string Account)? ResourceOf(string id)
    {
        if (_instances.TryGetValue(id, out var i)) return ("instance", i.AccountId);
        if (_groups.TryGetValue(id, out var g)) return ("security-group", g.AccountId);
        if (_enis.TryGetValue(id, out var e)) return ("network-interface", e.AccountId);
        if (_volumes.TryGetValue(id, out var v) && !v.Deleted) return ("volume", v.AccountId);
        if (_snapshots.TryGetValue(id, out var s)) return ("snapshot", s.AccountId);
        if (_addresses.TryGetValue(id, out var a)) return ("elastic-ip", a.AccountId);
        if (_vpcs.TryGetValue(id, out var vpc)) return ("vpc", vpc.AccountId);
        if (_subnets.TryGetValue(id, out var sn)) return ("subnet", sn.AccountId);
        var rule = _groups.Values.SelectMany(x => x.Rules).FirstOrDefault(r => r.RuleId == id);
        if (rule is not null) return ("security-group-rule", _groups[rule.GroupId].AccountId);
        return null;
    }

    private void RequireTaggable(Ec2Call c, string id)
    {
        var r = ResourceOf(id);
        if (r is null || r.Value.Account != c.Account)
        {
            var code = id.Split('-')[0] switch
            {
                "i" => "InvalidInstanceID.NotFound",
                "sg" => "InvalidGroup.NotFound",
                "vol" => "InvalidVolume.NotFound",
                "snap" => "InvalidSnapshot.NotFound",
                "eni" => "InvalidNetworkInterfaceID.NotFound",
                "vpc" => "InvalidVpcID.NotFound",
                "subnet" => "InvalidSubnetID.NotFound",
                "sgr" => "InvalidSecurityGroupRuleId.NotFound",
                "eipalloc" => "InvalidAllocationID.NotFound",
                _ => "InvalidID",
            };
            throw new Ec2Exception(code, code == "InvalidID" ? $"The ID '{id}' is not valid" : $"The ID '{id}' does not exist");
        }
    }

    private IEnumerable<object?> CreateTags(Ec2Call c)
    {
        var ids = c.P.List("ResourceId");
        var tags = c.P.Tags("Tag");
        // The model marks ResourceId and Tag required but gives their sizes only in prose: "Up to 1000 resource IDs";
        // tag keys take "a maximum of 127 Unicode characters" (Tag reference) or 128 (the tagging guide), values 256.
        // The Lab takes the larger key limit, so whatever either page allows passes.
        if (ids.Count > 1000) throw new Ec2Exception("InvalidParameterValue", "Too many resources: at most 1000 per call");
        foreach (var t in tags)
        {
            if (t.Key.Length is 0 or > 128) throw new Ec2Exception("InvalidParameterValue", $"Tag key '{t.Key}' must be 1-128 characters");
            if (t.Value.Length > 256) throw new Ec2Exception("InvalidParameterValue", "Tag value exceeds the maximum length of 256 characters");
            if (t.Key.StartsWith("aws:", StringComparison.OrdinalIgnoreCase))
                throw new Ec2Exception("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use");
        }
        foreach (var id in ids) RequireTaggable(c, id);
        c.CommitPoint();
        foreach (var id in ids) SetTags(id, tags);
        yield return E("return", "true");
    }

    private IEnumerable<object?> DeleteTags(Ec2Call c)
    {
        var ids = c.P.List("ResourceId");
        foreach (var id in ids) RequireTaggable(c, id);
        var indices = c.P.StructIndices("Tag");
        c.CommitPoint();
        foreach (var id in ids)
        {
            if (!_tags.TryGetValue(id, out var t)) continue;
            if (indices.Count == 0)
            {
                foreach (var k in t.Keys.Where(k => !k.StartsWith("aws:", StringComparison.Ordinal)).ToList()) t.Remove(k);
                continue;
            }
            foreach (var n in indices)
            {
                var key = c.P[$"Tag.{n}.Key"];
                if (key is null) continue;
                // With a value, only a tag with that exact value is removed (an empty value means the empty string).
                if (c.P[$"Tag.{n}.Value"] is { } value) { if (t.TryGetValue(key, out var cur) && cur == value) t.Remove(key); }
                else t.Remove(key);
            }
        }
        yield return E("return", "true");
    }

    private IEnumerable<object?> DescribeTags(Ec2Call c)
    {
        var all = _tags.SelectMany(kv =>
        {
            var res = ResourceOf(kv.Key);
            return res is null || res.Value.Account != c.Account
                ? Enumerable.Empty<(string Id, string Type, string Key, string Value)>()
                : kv.Value.Select(t => (Id: kv.Key, Type: res.Value.Type, t.Key, t.Value));
        }).OrderBy(t => t.Id, StringComparer.Ordinal).ThenBy(t => t.Key, StringComparer.Ordinal).ToList();
        var table = new FilterTable<(string Id, string Type, string Key, string Value)>(null)
            .Add("resource-id", t => t.Id).Add("resource-type", t => t.Type).Add("key", t => t.Key).Add("value", t => t.Value);
        var filtered = table.Apply(all, c.P.Filters()).ToList();
        c.CommitPoint();
        var (page, next) = Ec2Paging.Page(filtered, c.P.Int("MaxResults"), c.P["NextToken"], "DescribeTags");
        yield return E("tagSet", page.Select(t => Item(E("resourceId", t.Id), E("resourceType", t.Type), E("key", t.Key), E("value", t.Value))));
        if (next is not null) yield return E("nextToken", next);
    }
}
