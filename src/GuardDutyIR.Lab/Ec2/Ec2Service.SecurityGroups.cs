using System.Globalization;
using System.Net;
using System.Xml.Linq;
using static GuardDutyIR.Lab.Ec2.Ec2Xml;

namespace GuardDutyIR.Lab.Ec2;

public sealed partial class Ec2Service
{
    /// <summary>Validation shared by ModifyInstanceAttribute and ModifyNetworkInterfaceAttribute group changes.</summary>
    private void CheckGroupsForEni(Ec2Call c, NetworkInterface eni, List<string> groups)
    {
        if (groups.Count > 5)
            throw new Ec2Exception("SecurityGroupsPerInterfaceLimitExceeded", "The maximum number of security groups per interface has been reached.");
        foreach (var g in groups)
        {
            var group = GetGroup(c, g);
            if (group.VpcId != eni.VpcId)
                throw new Ec2Exception("InvalidParameter", $"Security group {g} and subnet {eni.SubnetId} belong to different networks.");
        }
    }

    private void SetEniGroups(NetworkInterface eni, List<string> groups)
    {
        eni.Groups = groups.Distinct().ToList();
        _tracker.Reevaluate(eni.NetworkInterfaceId);
    }

    private void GroupRulesChanged(string groupId)
    {
        foreach (var eni in _enis.Values.Where(e => e.Groups.Contains(groupId)).ToList())
            _tracker.Reevaluate(eni.NetworkInterfaceId);
    }

    private IEnumerable<SgRule> GroupRules(SecurityGroup g, bool egress) => g.Rules.Where(r => r.IsEgress == egress);

    private FilterTable<SecurityGroup> GroupFilters() => new FilterTable<SecurityGroup>(g => TagsOf(g.GroupId))
        .Add("group-id", g => g.GroupId)
        .Add("group-name", g => g.GroupName)
        .Add("description", g => g.Description)
        .Add("vpc-id", g => g.VpcId)
        .Add("owner-id", g => g.AccountId)
        .AddMany("ip-permission.cidr", g => GroupRules(g, false).Select(r => r.CidrIpv4))
        .AddMany("ip-permission.ipv6-cidr", g => GroupRules(g, false).Select(r => r.CidrIpv6))
        .AddMany("ip-permission.group-id", g => GroupRules(g, false).Select(r => r.ReferencedGroupId))
        .AddMany("ip-permission.prefix-list-id", g => GroupRules(g, false).Select(r => r.PrefixListId))
        .AddMany("ip-permission.protocol", g => GroupRules(g, false).Select(r => r.Protocol))
        .AddMany("ip-permission.from-port", g => GroupRules(g, false).Select(r => r.FromPort?.ToString(CultureInfo.InvariantCulture)))
        .AddMany("ip-permission.to-port", g => GroupRules(g, false).Select(r => r.ToPort?.ToString(CultureInfo.InvariantCulture)))
        .AddMany("egress.ip-permission.cidr", g => GroupRules(g, true).Select(r => r.CidrIpv4))
        .AddMany("egress.ip-permission.ipv6-cidr", g => GroupRules(g, true).Select(r => r.CidrIpv6))
        .AddMany("egress.ip-permission.group-id", g => GroupRules(g, true).Select(r => r.ReferencedGroupId))
        .AddMany("egress.ip-permission.prefix-list-id", g => GroupRules(g, true).Select(r => r.PrefixListId))
        .AddMany("egress.ip-permission.protocol", g => GroupRules(g, true).Select(r => r.Protocol))
        .AddMany("egress.ip-permission.from-port", g => GroupRules(g, true).Select(r => r.FromPort?.ToString(CultureInfo.InvariantCulture)))
        .AddMany("egress.ip-permission.to-port", g => GroupRules(g, true).Select(r => r.ToPort?.ToString(CultureInfo.InvariantCulture)));

    private IEnumerable<object?> DescribeSecurityGroups(Ec2Call c)
    {
        var ids = c.P.List("GroupId");
        var names = c.P.List("GroupName");
        IEnumerable<SecurityGroup> all = _groups.Values.Where(g => g.AccountId == c.Account);
        if (ids.Count > 0) all = ids.Select(id => GetGroup(c, id));
        if (names.Count > 0)
        {
            var byName = all.Where(g => names.Contains(g.GroupName)).ToList();
            // Names are looked up in the default VPC only when no VPC filter narrows them, as on AWS.
            var missing = names.Where(n => byName.All(g => g.GroupName != n)).ToList();
            if (missing.Count > 0) throw new Ec2Exception("InvalidGroup.NotFound", $"The security group '{missing[0]}' does not exist in default VPC '{_vpcs.Values.FirstOrDefault(v => v.AccountId == c.Account && v.IsDefault)?.VpcId}'");
            all = byName;
        }
        var filtered = GroupFilters().Apply(all, c.P.Filters()).ToList();
        c.CommitPoint();
        var (page, next) = Ec2Paging.Page(filtered, c.P.Int("MaxResults"), c.P["NextToken"], "DescribeSecurityGroups");
        yield return E("securityGroupInfo", page.Select(GroupXml));
        if (next is not null) yield return E("nextToken", next);
    }

    private XElement GroupXml(SecurityGroup g) => Item(
        E("ownerId", g.AccountId),
        E("groupId", g.GroupId),
        E("groupName", g.GroupName),
        E("groupDescription", g.Description),
        E("vpcId", g.VpcId),
        E("securityGroupArn", $"arn:aws:ec2:{_ctx.Region}:{g.AccountId}:security-group/{g.GroupId}"),
        E("ipPermissions", Permissions(GroupRules(g, false))),
        E("ipPermissionsEgress", Permissions(GroupRules(g, true))),
        TagSet(TagsOf(g.GroupId)));

    /// <summary>Rules folded back into IpPermission items (one per protocol/port range), as DescribeSecurityGroups shows them.</summary>
    private static IEnumerable<XElement> Permissions(IEnumerable<SgRule> rules) =>
        rules.GroupBy(r => (r.Protocol, r.FromPort, r.ToPort)).Select(g => Item(
            E("ipProtocol", g.Key.Protocol),
            g.Key.Protocol == "-1" || g.Key.FromPort is null ? null : E("fromPort", Inv(g.Key.FromPort.Value)),
            g.Key.Protocol == "-1" || g.Key.ToPort is null ? null : E("toPort", Inv(g.Key.ToPort.Value)),
            E("groups", g.Where(r => r.ReferencedGroupId is not null).Select(r => Item(
                E("userId", r.ReferencedUserId), E("groupId", r.ReferencedGroupId), r.Description is null ? null : E("description", r.Description)))),
            E("ipRanges", g.Where(r => r.CidrIpv4 is not null).Select(r => Item(E("cidrIp", r.CidrIpv4), r.Description is null ? null : E("description", r.Description)))),
            E("ipv6Ranges", g.Where(r => r.CidrIpv6 is not null).Select(r => Item(E("cidrIpv6", r.CidrIpv6), r.Description is null ? null : E("description", r.Description)))),
            E("prefixListIds", g.Where(r => r.PrefixListId is not null).Select(r => Item(E("prefixListId", r.PrefixListId), r.Description is null ? null : E("description", r.Description))))));

    private XElement RuleXml(SgRule r, string owner, bool withTags) => Item(
        E("securityGroupRuleId", r.RuleId),
        E("groupId", r.GroupId),
        E("groupOwnerId", owner),
        E("isEgress", B(r.IsEgress)),
        E("ipProtocol", r.Protocol),
        E("fromPort", Inv(r.FromPort ?? -1)),
        E("toPort", Inv(r.ToPort ?? -1)),
        r.CidrIpv4 is null ? null : E("cidrIpv4", r.CidrIpv4),
        r.CidrIpv6 is null ? null : E("cidrIpv6", r.CidrIpv6),
        r.PrefixListId is null ? null : E("prefixListId", r.PrefixListId),
        r.ReferencedGroupId is null ? null : E("referencedGroupInfo", E("groupId", r.ReferencedGroupId), E("userId", r.ReferencedUserId)),
        r.Description is null ? null : E("description", r.Description),
        withTags ? TagSet(TagsOf(r.RuleId)) : (TagsOf(r.RuleId).Count > 0 ? TagSet(TagsOf(r.RuleId)) : null),
        E("securityGroupRuleArn", $"arn:aws:ec2:{_ctx.Region}:{owner}:security-group-rule/{r.RuleId}"));

    private IEnumerable<object?> DescribeSecurityGroupRules(Ec2Call c)
    {
        var ids = c.P.List("SecurityGroupRuleId");
        var all = _groups.Values.Where(g => g.AccountId == c.Account).SelectMany(g => g.Rules).ToList();
        if (ids.Count > 0)
        {
            var missing = ids.FirstOrDefault(id => all.All(r => r.RuleId != id));
            if (missing is not null) throw new Ec2Exception("InvalidSecurityGroupRuleId.NotFound", $"The security group rule ID '{missing}' does not exist");
            all = all.Where(r => ids.Contains(r.RuleId)).ToList();
        }
        var table = new FilterTable<SgRule>(r => TagsOf(r.RuleId))
            .Add("group-id", r => r.GroupId)
            .Add("security-group-rule-id", r => r.RuleId);
        var filtered = table.Apply(all, c.P.Filters()).ToList();
        c.CommitPoint();
        var (page, next) = Ec2Paging.Page(filtered, c.P.Int("MaxResults"), c.P["NextToken"], "DescribeSecurityGroupRules");
        yield return E("securityGroupRuleSet", page.Select(r => RuleXml(r, _groups[r.GroupId].AccountId, withTags: true)));
        if (next is not null) yield return E("nextToken", next);
    }

    private IEnumerable<object?> CreateSecurityGroup(Ec2Call c)
    {
        var name = c.P.Required("GroupName");
        var description = c.P.Required("GroupDescription");
        // The model states these only in the members' documentation: "Up to 255 characters in length. Can't start with sg-."
        if (name.Length > 255 || name.StartsWith("sg-", StringComparison.OrdinalIgnoreCase))
            throw new Ec2Exception("InvalidParameterValue", $"Value ({name}) for parameter GroupName is invalid. Group names may not be in the format sg-*.");
        if (description.Length > 255)
            throw new Ec2Exception("InvalidParameterValue", "Value for parameter GroupDescription is invalid. Length exceeds 255 characters.");
        var vpcId = c.P["VpcId"];
        Vpc vpc;
        if (vpcId is null)
            vpc = _vpcs.Values.FirstOrDefault(v => v.AccountId == c.Account && v.IsDefault)
                  ?? throw new Ec2Exception("VPCIdNotSpecified", "No default VPC for this user");
        else if (!_vpcs.TryGetValue(vpcId, out vpc!) || vpc.AccountId != c.Account)
            throw new Ec2Exception("InvalidVpcID.NotFound", $"The vpc ID '{vpcId}' does not exist");
        if (_groups.Values.Any(g => g.VpcId == vpc.VpcId && g.GroupName == name))
            throw new Ec2Exception("InvalidGroup.Duplicate", $"The security group '{name}' already exists for VPC '{vpc.VpcId}'");
        var tags = c.P.TagSpecifications("security-group");
        c.CommitPoint();
        var group = new SecurityGroup { AccountId = c.Account, GroupId = NewId("sg"), GroupName = name, Description = description, VpcId = vpc.VpcId };
        // Every new VPC group starts with allow-all IPv4 egress; isolation groups must revoke it.
        group.Rules.Add(new SgRule { RuleId = NewId("sgr"), GroupId = group.GroupId, IsEgress = true, Protocol = "-1", CidrIpv4 = "0.0.0.0/0" });
        _groups[group.GroupId] = group;
        if (tags.Count > 0) SetTags(group.GroupId, tags);
        yield return E("return", "true");
        yield return E("groupId", group.GroupId);
        yield return E("securityGroupArn", $"arn:aws:ec2:{_ctx.Region}:{c.Account}:security-group/{group.GroupId}");
        if (tags.Count > 0) yield return TagSet(TagsOf(group.GroupId));
    }

    private IEnumerable<object?> DeleteSecurityGroup(Ec2Call c)
    {
        SecurityGroup g;
        if (c.P["GroupId"] is { } id) g = GetGroup(c, id);
        else if (c.P["GroupName"] is { } name)
        {
            var defaultVpc = _vpcs.Values.FirstOrDefault(v => v.AccountId == c.Account && v.IsDefault);
            g = _groups.Values.FirstOrDefault(x => x.AccountId == c.Account && x.GroupName == name && x.VpcId == defaultVpc?.VpcId)
                ?? throw new Ec2Exception("InvalidGroup.NotFound", $"The security group '{name}' does not exist in default VPC '{defaultVpc?.VpcId}'");
        }
        else throw new Ec2Exception("MissingParameter", "The request must contain the parameter groupName or groupId");
        if (g.GroupName == "default")
            throw new Ec2Exception("CannotDelete", $"the specified group: \"{g.GroupId}\" name: \"default\" cannot be deleted by a user");
        if (_enis.Values.Any(e => e.Groups.Contains(g.GroupId)) ||
            _groups.Values.Any(o => o.GroupId != g.GroupId && o.Rules.Any(r => r.ReferencedGroupId == g.GroupId)))
            throw new Ec2Exception("DependencyViolation", $"resource {g.GroupId} has a dependent object");
        c.CommitPoint();
        _groups.Remove(g.GroupId);
        _tags.Remove(g.GroupId);
        yield return E("return", "true");
        yield return E("groupId", g.GroupId);
    }

    /// <summary>IpPermissions.N.* (and the legacy top-level ingress form) expanded into one rule per target.</summary>
    private List<SgRule> ParsePermissions(Ec2Call c, SecurityGroup group, bool egress)
    {
        var p = c.P;
        var rules = new List<SgRule>();
        SgRule Rule(string proto, int? from, int? to, string? v4 = null, string? v6 = null, string? refGroup = null, string? refUser = null, string? pl = null, string? desc = null) => new()
        {
            RuleId = "", GroupId = group.GroupId, IsEgress = egress, Protocol = proto, FromPort = from, ToPort = to,
            CidrIpv4 = v4, CidrIpv6 = v6, ReferencedGroupId = refGroup, ReferencedUserId = refUser, PrefixListId = pl, Description = desc,
        };

        foreach (var n in p.StructIndices("IpPermissions"))
        {
            var pre = $"IpPermissions.{n}.";
            var proto = NormalizeProtocol(p[pre + "IpProtocol"] ?? throw new Ec2Exception("MissingParameter", "The request must contain the parameter ipProtocol"));
            var (from, to) = Ports(proto, p.Int(pre + "FromPort"), p.Int(pre + "ToPort"));
            int before = rules.Count;
            foreach (var m in p.StructIndices(pre + "IpRanges"))
                rules.Add(Rule(proto, from, to, v4: Cidr(p[$"{pre}IpRanges.{m}.CidrIp"], false), desc: p[$"{pre}IpRanges.{m}.Description"]));
            foreach (var m in p.StructIndices(pre + "Ipv6Ranges"))
                rules.Add(Rule(proto, from, to, v6: Cidr(p[$"{pre}Ipv6Ranges.{m}.CidrIpv6"], true), desc: p[$"{pre}Ipv6Ranges.{m}.Description"]));
            foreach (var m in p.StructIndices(pre + "Groups"))
            {
                var gid = p[$"{pre}Groups.{m}.GroupId"];
                if (gid is null && p[$"{pre}Groups.{m}.GroupName"] is { } gname)
                    gid = _groups.Values.FirstOrDefault(x => x.AccountId == c.Account && x.VpcId == group.VpcId && x.GroupName == gname)?.GroupId
                          ?? throw new Ec2Exception("InvalidGroup.NotFound", $"The security group '{gname}' does not exist");
                if (gid is null) throw new Ec2Exception("MissingParameter", "The request must contain the parameter groupId");
                var referenced = GetGroup(c, gid);
                rules.Add(Rule(proto, from, to, refGroup: referenced.GroupId, refUser: p[$"{pre}Groups.{m}.UserId"] ?? referenced.AccountId, desc: p[$"{pre}Groups.{m}.Description"]));
            }
            foreach (var m in p.StructIndices(pre + "PrefixListIds"))
            {
                var pl = p[$"{pre}PrefixListIds.{m}.PrefixListId"] ?? throw new Ec2Exception("MissingParameter", "The request must contain the parameter prefixListId");
                if (!pl.StartsWith("pl-", StringComparison.Ordinal)) throw new Ec2Exception("InvalidPrefixListId.Malformed", $"Invalid id: \"{pl}\"");
                rules.Add(Rule(proto, from, to, pl: pl, desc: p[$"{pre}PrefixListIds.{m}.Description"]));
            }
            if (rules.Count == before)
                throw new Ec2Exception("InvalidParameterValue", "The request must specify a source or destination: an IP range, an IPv6 range, a security group or a prefix list.");
        }

        if (!egress && (p["CidrIp"] is not null || p["SourceSecurityGroupName"] is not null || p["IpProtocol"] is not null))
        {
            var proto = NormalizeProtocol(p["IpProtocol"] ?? "-1");
            var (from, to) = Ports(proto, p.Int("FromPort"), p.Int("ToPort"));
            if (p["CidrIp"] is { } cidr) rules.Add(Rule(proto, from, to, v4: Cidr(cidr, false)));
            if (p["SourceSecurityGroupName"] is { } sname)
            {
                var src = _groups.Values.FirstOrDefault(x => x.AccountId == c.Account && x.VpcId == group.VpcId && x.GroupName == sname)
                          ?? throw new Ec2Exception("InvalidGroup.NotFound", $"The security group '{sname}' does not exist");
                rules.Add(Rule("-1", null, null, refGroup: src.GroupId, refUser: src.AccountId));
            }
        }
        return rules;
    }

    private static (int?, int?) Ports(string proto, int? from, int? to)
    {
        switch (proto)
        {
            case "-1":
                return (null, null);
            case "tcp" or "udp":
                if (from is null || to is null)
                    throw new Ec2Exception("InvalidParameterValue", "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange");
                if (from < 0 || to > 65535 || from > to)
                    throw new Ec2Exception("InvalidParameterValue", $"Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange (from {from}, to {to})");
                return (from, to);
            case "icmp" or "icmpv6":
                if (from is < -1 or > 255 || to is < -1 or > 255)
                    throw new Ec2Exception("InvalidParameterValue", $"Invalid value '{from}' for ICMP type or code");
                return (from ?? -1, to ?? -1);
            default:
                if (!int.TryParse(proto, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < 0 || n > 255)
                    throw new Ec2Exception("InvalidParameterValue", $"Invalid value '{proto}' for IP protocol. Unknown protocol.");
                return (null, null);
        }
    }

    private static string Cidr(string? cidr, bool v6)
    {
        if (cidr is null) throw new Ec2Exception("MissingParameter", v6 ? "The request must contain the parameter cidrIpv6" : "The request must contain the parameter cidrIp");
        var slash = cidr.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(cidr[..slash], out var addr) || !int.TryParse(cidr[(slash + 1)..], out var bits) ||
            addr.AddressFamily != (v6 ? System.Net.Sockets.AddressFamily.InterNetworkV6 : System.Net.Sockets.AddressFamily.InterNetwork) ||
            bits < 0 || bits > (v6 ? 128 : 32))
            throw new Ec2Exception("InvalidParameterValue", $"CIDR block {cidr} is malformed");
        return cidr;
    }

    private IEnumerable<object?> Authorize(Ec2Call c, bool egress)
    {
        var group = ResolveGroupForRuleChange(c, egress);
        var rules = ParsePermissions(c, group, egress);
        if (rules.Count == 0) throw new Ec2Exception("MissingParameter", "The request must contain the parameter ipPermissions");
        foreach (var r in rules)
            if (group.Rules.Any(x => x.SameAs(r)) || rules.Count(x => x.SameAs(r)) > 1)
                throw new Ec2Exception("InvalidPermission.Duplicate",
                    $"the specified rule \"peer: {r.CidrIpv4 ?? r.CidrIpv6 ?? r.ReferencedGroupId ?? r.PrefixListId}, {r.Protocol.ToUpperInvariant()}, from port: {r.FromPort}, to port: {r.ToPort}, ALLOW\" already exists");
        if (group.Rules.Count(x => x.IsEgress == egress) + rules.Count > 60)
            throw new Ec2Exception("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.");
        var tags = c.P.TagSpecifications("security-group-rule");
        c.CommitPoint();
        var added = new List<SgRule>();
        foreach (var r in rules)
        {
            var rule = new SgRule
            {
                RuleId = NewId("sgr"), GroupId = r.GroupId, IsEgress = r.IsEgress, Protocol = r.Protocol, FromPort = r.FromPort, ToPort = r.ToPort,
                CidrIpv4 = r.CidrIpv4, CidrIpv6 = r.CidrIpv6, ReferencedGroupId = r.ReferencedGroupId, ReferencedUserId = r.ReferencedUserId,
                PrefixListId = r.PrefixListId, Description = r.Description,
            };
            group.Rules.Add(rule);
            if (tags.Count > 0) SetTags(rule.RuleId, tags);
            added.Add(rule);
        }
        GroupRulesChanged(group.GroupId);
        yield return E("return", "true");
        yield return E("securityGroupRuleSet", added.Select(r => RuleXml(r, group.AccountId, withTags: false)));
    }

    private SecurityGroup ResolveGroupForRuleChange(Ec2Call c, bool egress)
    {
        if (c.P["GroupId"] is { } id) return GetGroup(c, id);
        if (!egress && c.P["GroupName"] is { } name)
        {
            var defaultVpc = _vpcs.Values.FirstOrDefault(v => v.AccountId == c.Account && v.IsDefault);
            return _groups.Values.FirstOrDefault(x => x.AccountId == c.Account && x.GroupName == name && x.VpcId == defaultVpc?.VpcId)
                   ?? throw new Ec2Exception("InvalidGroup.NotFound", $"The security group '{name}' does not exist in default VPC '{defaultVpc?.VpcId}'");
        }
        throw new Ec2Exception("MissingParameter", "The request must contain the parameter groupId");
    }

    private IEnumerable<object?> Revoke(Ec2Call c, bool egress)
    {
        var group = ResolveGroupForRuleChange(c, egress);
        var ruleIds = c.P.List("SecurityGroupRuleId");
        var toRemove = new List<SgRule>();
        var unknown = new List<SgRule>();
        if (ruleIds.Count > 0)
        {
            foreach (var id in ruleIds)
            {
                var rule = group.Rules.FirstOrDefault(r => r.RuleId == id && r.IsEgress == egress)
                           ?? throw new Ec2Exception("InvalidSecurityGroupRuleId.NotFound", $"The security group rule ID '{id}' does not exist");
                toRemove.Add(rule);
            }
        }
        else
        {
            var wanted = ParsePermissions(c, group, egress);
            if (wanted.Count == 0) throw new Ec2Exception("MissingParameter", "The request must contain the parameter ipPermissions or securityGroupRuleIds");
            foreach (var w in wanted)
            {
                var match = group.Rules.FirstOrDefault(r => r.SameAs(w));
                if (match is null) unknown.Add(w);
                else if (!toRemove.Contains(match)) toRemove.Add(match);
            }
        }
        c.CommitPoint();
        foreach (var r in toRemove) { group.Rules.Remove(r); _tags.Remove(r.RuleId); }
        if (toRemove.Count > 0) GroupRulesChanged(group.GroupId);
        yield return E("return", "true");
        if (unknown.Count > 0) yield return E("unknownIpPermissionSet", Permissions(unknown));
        if (toRemove.Count > 0)
            yield return E("revokedSecurityGroupRuleSet", toRemove.Select(r => Item(
                E("securityGroupRuleId", r.RuleId),
                E("groupId", r.GroupId),
                E("isEgress", B(r.IsEgress)),
                E("ipProtocol", r.Protocol),
                E("fromPort", Inv(r.FromPort ?? -1)),
                E("toPort", Inv(r.ToPort ?? -1)),
                r.CidrIpv4 is null ? null : E("cidrIpv4", r.CidrIpv4),
                r.CidrIpv6 is null ? null : E("cidrIpv6", r.CidrIpv6),
                r.PrefixListId is null ? null : E("prefixListId", r.PrefixListId),
                r.ReferencedGroupId is null ? null : E("referencedGroupId", r.ReferencedGroupId),
                r.Description is null ? null : E("description", r.Description))));
    }
}
