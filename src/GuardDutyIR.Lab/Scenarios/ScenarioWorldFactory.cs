using System.Globalization;

namespace GuardDutyIR.Lab.Scenarios;

/// <summary>
/// Builds a <see cref="ScenarioWorld"/> from (scenario, seed). Only System.Random(seed) feeds the facts: no GUIDs,
/// no clock, so the same seed always yields the same IDs, addresses and times.
/// </summary>
public static class ScenarioWorldFactory
{
    private static readonly DateTimeOffset Epoch = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    public static ScenarioWorld Create(string scenario, int seed, ScaleOptions scale, string region)
    {
        var name = ScenarioNames.All.FirstOrDefault(n => string.Equals(n, scenario, StringComparison.OrdinalIgnoreCase))
                   ?? throw new ArgumentException($"Unknown scenario '{scenario}'. Known: {string.Join(", ", ScenarioNames.All)}", nameof(scenario));
        if (scale.Instances < 0 || scale.Vpcs < 1) throw new ArgumentOutOfRangeException(nameof(scale));
        var b = new Builder(name, seed, scale, region);
        return b.Build();
    }

    private sealed class Builder
    {
        private readonly Random _rng;
        private readonly string _scenario;
        private readonly int _seed;
        private readonly ScaleOptions _scale;
        private readonly string _region;
        private readonly string _account;
        private readonly string _member;
        private readonly DateTimeOffset _base;
        private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
        private readonly HashSet<string> _ips = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _nextHost = new(StringComparer.Ordinal);

        private readonly List<WorldVpc> _vpcs = new();
        private readonly List<WorldSubnet> _subnets = new();
        private readonly List<WorldSecurityGroup> _groups = new();
        private readonly List<WorldInstance> _instances = new();
        private readonly List<WorldElasticIp> _eips = new();
        private readonly List<WorldRole> _roles = new();
        private readonly List<WorldUser> _users = new();
        private readonly List<WorldFlow> _flows = new();
        private readonly List<WorldAutoScalingGroup> _asgs = new();
        private int _vpcOctet = 0;

        public Builder(string scenario, int seed, ScaleOptions scale, string region)
        {
            _scenario = scenario;
            _seed = seed;
            _scale = scale;
            _region = region;
            _rng = new Random(seed);
            _account = AccountNumber();
            do { _member = AccountNumber(); } while (_member == _account);
            _base = Epoch.AddDays(_rng.Next(14)).AddHours(_rng.Next(24)).AddMinutes(_rng.Next(60));
        }

        private string AccountNumber() => (_rng.Next(1, 10)).ToString(CultureInfo.InvariantCulture) + Digits(11);

        private string Digits(int n)
        {
            var c = new char[n];
            for (int i = 0; i < n; i++) c[i] = (char)('0' + _rng.Next(10));
            return new string(c);
        }

        private string Hex(int n)
        {
            const string hex = "0123456789abcdef";
            var c = new char[n];
            for (int i = 0; i < n; i++) c[i] = hex[_rng.Next(16)];
            return new string(c);
        }

        private string Upper(int n)
        {
            const string alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
            var c = new char[n];
            for (int i = 0; i < n; i++) c[i] = alpha[_rng.Next(alpha.Length)];
            return new string(c);
        }

        private string Id(string prefix)
        {
            string id;
            // Current-format AWS IDs are 17 hex digits and in practice start with 0.
            do { id = prefix + "0" + Hex(16); } while (!_ids.Add(id));
            return id;
        }

        private string Az(int i) => _region + (char)('a' + (i % 3));

        private static IReadOnlyDictionary<string, string> Tags(params (string K, string V)[] tags) =>
            tags.ToDictionary(t => t.K, t => t.V, StringComparer.Ordinal);

        private string PublicIp(int first, int secondFrom, int secondCount)
        {
            string ip;
            do { ip = $"{first}.{secondFrom + _rng.Next(secondCount)}.{_rng.Next(256)}.{_rng.Next(1, 255)}"; } while (!_ips.Add(ip));
            return ip;
        }

        private string NextPrivateIp(WorldSubnet subnet)
        {
            _nextHost.TryGetValue(subnet.SubnetId, out var n);
            if (n == 0) n = 10;
            _nextHost[subnet.SubnetId] = n + 1;
            var prefix = subnet.CidrBlock[..subnet.CidrBlock.LastIndexOf('.')];
            // /24 subnets for small worlds; the Scale world uses /20 and spreads hosts over the third octet.
            if (subnet.CidrBlock.EndsWith("/20", StringComparison.Ordinal))
            {
                var parts = subnet.CidrBlock.Split('/')[0].Split('.');
                int third = int.Parse(parts[2], CultureInfo.InvariantCulture) + n / 250;
                return $"{parts[0]}.{parts[1]}.{third}.{n % 250 + 4}";
            }
            return $"{prefix}.{n}";
        }

        private string Mac() => "02:" + string.Join(":", Enumerable.Range(0, 5).Select(_ => Hex(2)));

        private (WorldVpc Vpc, List<WorldSubnet> Subnets) AddVpc(string account, string? name, int subnetCount, bool isDefault = false, bool wide = false)
        {
            var vpcId = Id("vpc-");
            var sgId = Id("sg-");
            string cidr = isDefault ? "172.31.0.0/16" : $"10.{_vpcOctet++}.0.0/16";
            var tags = name is null ? Tags() : Tags(("Name", name));
            var vpc = new WorldVpc(account, vpcId, cidr, isDefault, sgId, tags);
            _vpcs.Add(vpc);
            // The default group: members talk to each other, all egress (as EC2 creates it).
            _groups.Add(new WorldSecurityGroup(account, sgId, "default", "default VPC security group", vpcId, new[]
            {
                new WorldSecurityGroupRule(false, "-1", null, null, ReferencedGroupId: sgId),
                new WorldSecurityGroupRule(true, "-1", null, null, CidrIpv4: "0.0.0.0/0"),
            }, Tags()));
            var subnets = new List<WorldSubnet>();
            var baseOctets = cidr.Split('/')[0].Split('.');
            for (int s = 0; s < subnetCount; s++)
            {
                string sc = wide ? $"{baseOctets[0]}.{baseOctets[1]}.{s * 16}.0/20" : $"{baseOctets[0]}.{baseOctets[1]}.{(isDefault ? s * 16 : s + 1)}.0/{(isDefault ? 20 : 24)}";
                var subnet = new WorldSubnet(account, Id("subnet-"), vpcId, sc, Az(s),
                    name is null ? Tags() : Tags(("Name", $"{name}-subnet-{s + 1}")));
                subnets.Add(subnet);
                _subnets.Add(subnet);
            }
            return (vpc, subnets);
        }

        private WorldSecurityGroup AddGroup(string account, string vpcId, string name, string description, params WorldSecurityGroupRule[] rules)
        {
            var g = new WorldSecurityGroup(account, Id("sg-"), name, description, vpcId, rules, Tags(("Name", name)));
            _groups.Add(g);
            return g;
        }

        private static WorldSecurityGroupRule AllEgress => new(true, "-1", null, null, CidrIpv4: "0.0.0.0/0");

        private WorldRole AddRole(string account, string roleName, bool withProfile)
        {
            var role = new WorldRole(account, roleName, "AROA" + Upper(17),
                withProfile ? roleName : null,
                withProfile ? $"arn:aws:iam::{account}:instance-profile/{roleName}" : null,
                withProfile ? "AIPA" + Upper(17) : null);
            _roles.Add(role);
            return role;
        }

        private WorldInstance AddInstance(string account, string name, string role, WorldVpc vpc, WorldSubnet subnet,
            IReadOnlyList<IReadOnlyList<string>> eniGroups, bool publicIp, WorldRole? iamRole, string instanceType = "t3.micro",
            int volumes = 1, bool disableApiTermination = false, IEnumerable<(string, string)>? extraTags = null, int launchDaysAgo = -1)
        {
            var instanceId = Id("i-");
            var enis = new List<WorldNetworkInterface>();
            string? pub = publicIp ? PublicIp(3, 80, 16) : null;
            for (int e = 0; e < eniGroups.Count; e++)
            {
                var eniSubnet = e == 0 ? subnet : _subnets.Where(s => s.VpcId == vpc.VpcId).ElementAt(e % _subnets.Count(s => s.VpcId == vpc.VpcId));
                // Secondary ENIs must be in the instance's AZ on AWS; keep them in the same subnet when the VPC has no other subnet in that AZ.
                if (eniSubnet.AvailabilityZone != subnet.AvailabilityZone) eniSubnet = subnet;
                enis.Add(new WorldNetworkInterface(Id("eni-"), Id("eni-attach-"), e, eniSubnet.SubnetId, vpc.VpcId, NextPrivateIp(eniSubnet), Mac(),
                    eniGroups[e], e == 0 ? pub : null, null, null, e == 0 ? "Primary network interface" : $"{name} secondary interface {e}"));
            }
            var vols = new List<WorldVolume>();
            for (int v = 0; v < volumes; v++)
                vols.Add(new WorldVolume(Id("vol-"), v == 0 ? "/dev/xvda" : "/dev/sd" + (char)('f' + v - 1), v == 0 ? 8 : 20 + 10 * v, "gp3", v == 0, false, v == 0 ? Id("snap-") : null));
            var tags = new Dictionary<string, string>(StringComparer.Ordinal) { ["Name"] = name };
            if (extraTags is not null) foreach (var (k, val) in extraTags) tags[k] = val;
            var launch = _base.AddDays(-(launchDaysAgo >= 0 ? launchDaysAgo : 1 + _rng.Next(30))).AddMinutes(-_rng.Next(1440));
            var inst = new WorldInstance(account, instanceId, name, role, vpc.VpcId, subnet.SubnetId, subnet.AvailabilityZone,
                enis[0].PrivateIp, pub, enis, vols, iamRole?.RoleName, iamRole?.InstanceProfileArn, iamRole?.InstanceProfileId,
                new DateTimeOffset(launch.Year, launch.Month, launch.Day, launch.Hour, launch.Minute, launch.Second, TimeSpan.Zero),
                "ami-" + Hex(17), instanceType, "guardduty-example", Id("r-"), tags, disableApiTermination);
            _instances.Add(inst);
            return inst;
        }

        private WorldElasticIp AttachEip(ref WorldInstance inst, string ip)
        {
            var eip = new WorldElasticIp(inst.AccountId, Id("eipalloc-"), ip, inst.InstanceId, inst.PrimaryNetworkInterface.NetworkInterfaceId, Id("eipassoc-"), Tags(("Name", inst.Name + " EIP")));
            _eips.Add(eip);
            var eni = inst.PrimaryNetworkInterface with { PublicIp = ip, AllocationId = eip.AllocationId, AssociationId = eip.AssociationId };
            var enis = inst.NetworkInterfaces.ToList();
            enis[0] = eni;
            var idx = _instances.IndexOf(inst);
            inst = inst with { PublicIp = ip, NetworkInterfaces = enis };
            _instances[idx] = inst;
            return eip;
        }

        private void AddFlow(WorldInstance inst, int eniIndex, string remoteIp, int remotePort, int localPort, string protocol, FlowDirection dir, int minutesBefore, string description)
        {
            var eni = inst.NetworkInterfaces[eniIndex];
            _flows.Add(new WorldFlow($"flow-{_flows.Count + 1:D3}", inst.InstanceId, eni.NetworkInterfaceId, eni.PrivateIp, localPort, remoteIp, remotePort,
                protocol, dir, _base.AddMinutes(-minutesBefore), description));
        }

        private int Ephemeral() => 32768 + _rng.Next(28231);

        public ScenarioWorld Build()
        {
            // Every region of every account has a default VPC; CreateSecurityGroup without VpcId lands there.
            AddVpc(_account, null, 3, isDefault: true);

            string? compromised = null, malicious = null, bastion = null, maliciousEip = null, maliciousAlloc = null, adminIp = null;
            string? asgName = null, asgInstance = null;
            string? investigated = null, invRoleName = null, invRoleId = null, invRoleArn = null, invKey = null, exfilIp = null, exfilBucket = null;
            var exfilObjects = new List<WorldS3Object>();

            bool s1 = _scenario is ScenarioNames.Workshop or ScenarioNames.CompromisedInstance;
            bool s2 = _scenario is ScenarioNames.Workshop or ScenarioNames.CloudTrailInvestigation;

            if (s1 || s2)
            {
                var (vpc, subnets) = AddVpc(_account, "GuardDuty-Example-VPC", 2);
                var sn = subnets[0];
                var bastionSg = AddGroup(_account, vpc.VpcId, "GuardDuty-Example-BastionSG", "SSH to the bastion",
                    new WorldSecurityGroupRule(false, "tcp", 22, 22, CidrIpv4: "0.0.0.0/0", Description: "SSH"), AllEgress);
                var appSg = AddGroup(_account, vpc.VpcId, "GuardDuty-Example-AppSG", "Application tier",
                    new WorldSecurityGroupRule(false, "tcp", 443, 443, CidrIpv4: vpc.CidrBlock, Description: "HTTPS from the VPC"),
                    new WorldSecurityGroupRule(false, "tcp", 22, 22, ReferencedGroupId: bastionSg.GroupId, Description: "SSH from the bastion"),
                    AllEgress);

                if (s1)
                {
                    var compromisedSg = AddGroup(_account, vpc.VpcId, "GuardDuty-Example-CompromisedSG", "Web instance",
                        new WorldSecurityGroupRule(false, "tcp", 22, 22, ReferencedGroupId: bastionSg.GroupId, Description: "SSH from the bastion"),
                        new WorldSecurityGroupRule(false, "tcp", 80, 80, CidrIpv4: vpc.CidrBlock, Description: "HTTP from the VPC"),
                        AllEgress);
                    var maliciousSg = AddGroup(_account, vpc.VpcId, "GuardDuty-Example-MaliciousSG", "Attacker instance",
                        new WorldSecurityGroupRule(false, "icmp", -1, -1, CidrIpv4: "0.0.0.0/0", Description: "ping"),
                        new WorldSecurityGroupRule(false, "tcp", 80, 80, CidrIpv4: "0.0.0.0/0"),
                        AllEgress);
                    var webRole = AddRole(_account, "GuardDuty-Example-WebRole", withProfile: true);

                    var b = AddInstance(_account, "GuardDuty-Example: Bastion", "bastion", vpc, sn, new[] { (IReadOnlyList<string>)new[] { bastionSg.GroupId } }, true, null);
                    bastion = b.InstanceId;
                    // Two ENIs: instance-level GroupId changes fail on it, so isolation has to go ENI by ENI.
                    var c = AddInstance(_account, "GuardDuty-Example: Compromised Instance", "compromised", vpc, sn,
                        new[] { (IReadOnlyList<string>)new[] { compromisedSg.GroupId }, new[] { appSg.GroupId } }, true, webRole, volumes: 2);
                    compromised = c.InstanceId;
                    var m = AddInstance(_account, "GuardDuty-Example: Malicious Instance", "malicious", vpc, sn, new[] { (IReadOnlyList<string>)new[] { maliciousSg.GroupId } }, false, null);
                    var mEip = AttachEip(ref m, PublicIp(44, 192, 32));
                    malicious = m.InstanceId;
                    maliciousEip = mEip.PublicIp;
                    maliciousAlloc = mEip.AllocationId;
                    // An unassociated EIP, as accounts usually have one lying around.
                    _eips.Add(new WorldElasticIp(_account, Id("eipalloc-"), PublicIp(44, 192, 32), null, null, null, Tags(("Name", "GuardDuty-Example spare"))));

                    var asgNameValue = "GuardDuty-Example-ASG";
                    var w = AddInstance(_account, "GuardDuty-Example: ASG Worker", "asg-worker", vpc, subnets[1], new[] { (IReadOnlyList<string>)new[] { appSg.GroupId } }, false, null,
                        extraTags: new[] { ("aws:autoscaling:groupName", asgNameValue) });
                    asgName = asgNameValue;
                    asgInstance = w.InstanceId;
                    _asgs.Add(new WorldAutoScalingGroup(_account, asgNameValue, "lt-" + Hex(17), "GuardDuty-Example-LT", 1, 3, 1,
                        new[] { w.InstanceId }, new[] { subnets[1].AvailabilityZone }, new[] { subnets[1].SubnetId }));

                    adminIp = $"198.51.100.{_rng.Next(10, 250)}";
                    AddFlow(c, 0, maliciousEip, 8, 8, "icmp", FlowDirection.Outbound, 50, "ping from the compromised instance to the threat-listed EIP");
                    AddFlow(c, 0, maliciousEip, 80, Ephemeral(), "tcp", FlowDirection.Outbound, 45, "HTTP beacon from the compromised instance to the threat-listed EIP");
                    AddFlow(c, 0, b.PrivateIp, Ephemeral(), 22, "tcp", FlowDirection.Inbound, 30, "SSH session from the bastion to the compromised instance");
                    AddFlow(c, 1, _instances.First(i => i.InstanceId == asgInstance).PrivateIp, Ephemeral(), 443, "tcp", FlowDirection.Inbound, 20, "HTTPS from the ASG worker to the compromised instance's app interface");
                    AddFlow(b, 0, adminIp, Ephemeral(), 22, "tcp", FlowDirection.Inbound, 35, "administrator SSH session to the bastion");
                }

                if (s2)
                {
                    var webSg = AddGroup(_account, vpc.VpcId, "GuardDuty-Example-WebSG", "Public web server",
                        new WorldSecurityGroupRule(false, "tcp", 443, 443, CidrIpv4: "0.0.0.0/0", Description: "HTTPS"),
                        new WorldSecurityGroupRule(false, "tcp", 443, 443, CidrIpv6: "::/0", Description: "HTTPS v6"),
                        AllEgress,
                        new WorldSecurityGroupRule(true, "-1", null, null, CidrIpv6: "::/0"));
                    var role = AddRole(_account, "GuardDuty-Example-EC2-Compromised", withProfile: true);
                    var appRole = AddRole(_account, "GuardDuty-Example-AppServer", withProfile: true);
                    var inv = AddInstance(_account, "GuardDuty-Example: Credential Instance", "investigated", vpc, subnets[1],
                        new[] { (IReadOnlyList<string>)new[] { webSg.GroupId } }, true, role, volumes: 2);
                    investigated = inv.InstanceId;
                    invRoleName = role.RoleName;
                    invRoleId = role.RoleId;
                    invRoleArn = role.Arn;
                    invKey = "ASIA" + Upper(16);
                    exfilIp = $"45.{_rng.Next(9, 200)}.{_rng.Next(256)}.{_rng.Next(1, 255)}";
                    exfilBucket = $"guardduty-example-data-{_account}";
                    for (int i = 0; i < 3; i++)
                        exfilObjects.Add(new WorldS3Object(exfilBucket, $"uploads/{Hex(8)}/archive-{i + 1}.tar.gz", 1024L * (200 + _rng.Next(5000)), _base.AddMinutes(-90 + i * 7)));
                    for (int i = 0; i < 2; i++)
                        AddInstance(_account, $"app-server-{i + 1}", "workload", vpc, subnets[i % 2], new[] { (IReadOnlyList<string>)new[] { appSg.GroupId } }, false, appRole);
                    foreach (var user in new[] { "alice", "bob", "ci-deployer" })
                        _users.Add(new WorldUser(_account, user, "AIDA" + Upper(17), "AKIA" + Upper(16)));
                    AddFlow(inv, 0, $"52.216.{_rng.Next(256)}.{_rng.Next(1, 255)}", 443, Ephemeral(), "tcp", FlowDirection.Outbound, 10, "HTTPS to Amazon S3");
                }
            }

            if (_scenario == ScenarioNames.Scale)
            {
                var vpcs = new List<(WorldVpc Vpc, List<WorldSubnet> Subnets, WorldSecurityGroup[] Groups)>();
                for (int v = 0; v < _scale.Vpcs; v++)
                {
                    var (vpc, subnets) = AddVpc(_account, $"scale-vpc-{v + 1}", 3, wide: true);
                    var web = AddGroup(_account, vpc.VpcId, $"scale-web-{v + 1}", "web tier",
                        new WorldSecurityGroupRule(false, "tcp", 443, 443, CidrIpv4: "0.0.0.0/0"), AllEgress);
                    var app = AddGroup(_account, vpc.VpcId, $"scale-app-{v + 1}", "app tier",
                        new WorldSecurityGroupRule(false, "tcp", 8080, 8080, ReferencedGroupId: web.GroupId), AllEgress);
                    var db = AddGroup(_account, vpc.VpcId, $"scale-db-{v + 1}", "data tier",
                        new WorldSecurityGroupRule(false, "tcp", 5432, 5432, ReferencedGroupId: app.GroupId), AllEgress);
                    vpcs.Add((vpc, subnets, new[] { web, app, db }));
                }
                var roles = Enumerable.Range(1, 3).Select(i => AddRole(_account, $"scale-role-{i}", true)).ToArray();
                for (int i = 0; i < _scale.Instances; i++)
                {
                    var (vpc, subnets, groups) = vpcs[i % vpcs.Count];
                    var subnet = subnets[_rng.Next(subnets.Count)];
                    int eniCount = 1 + _rng.Next(3);
                    var eniGroups = Enumerable.Range(0, eniCount).Select(_ => (IReadOnlyList<string>)new[] { groups[_rng.Next(groups.Length)].GroupId }).ToList();
                    var inst = AddInstance(_account, $"scale-{i + 1:D5}", "workload", vpc, subnet, eniGroups, _rng.Next(4) == 0,
                        _rng.Next(2) == 0 ? roles[_rng.Next(roles.Length)] : null, volumes: 1 + _rng.Next(2));
                    if (i == 0)
                    {
                        compromised = inst.InstanceId;
                        AddFlow(inst, 0, PublicIp(44, 192, 32), 443, Ephemeral(), "tcp", FlowDirection.Outbound, 15, "HTTPS to a threat-listed address");
                        maliciousEip = _flows[^1].RemoteIp;
                    }
                }
            }

            if (_scenario != ScenarioNames.Empty)
            {
                // The member account: its own VPC and one workload, reachable through the cross-account responder role.
                var (mvpc, msubnets) = AddVpc(_member, "member-vpc", 1);
                var msg = AddGroup(_member, mvpc.VpcId, "member-app", "member workload", new WorldSecurityGroupRule(false, "tcp", 443, 443, CidrIpv4: "10.0.0.0/8"), AllEgress);
                AddInstance(_member, "member-workload", "workload", mvpc, msubnets[0], new[] { (IReadOnlyList<string>)new[] { msg.GroupId } }, false, null);
            }

            return new ScenarioWorld
            {
                Scenario = _scenario,
                Seed = _seed,
                Region = _region,
                AccountId = _account,
                MemberAccountId = _member,
                BaseTime = _base,
                Scale = _scale,
                Vpcs = _vpcs,
                Subnets = _subnets,
                SecurityGroups = _groups,
                Instances = _instances,
                ElasticIps = _eips,
                Roles = _roles,
                Users = _users,
                Flows = _flows,
                AutoScalingGroups = _asgs,
                CompromisedInstanceId = compromised,
                MaliciousInstanceId = malicious,
                BastionInstanceId = bastion,
                MaliciousEip = maliciousEip,
                MaliciousEipAllocationId = maliciousAlloc,
                ThreatListBucket = s1 || _scenario == ScenarioNames.Scale ? $"guardduty-example-{_account}-{_region}" : null,
                ThreatListKey = s1 || _scenario == ScenarioNames.Scale ? "threatlist/Example-Threat-List.txt" : null,
                SnsTopicName = s1 || s2 || _scenario == ScenarioNames.Scale ? "GuardDuty-Example" : null,
                AdminSourceIp = adminIp,
                AutoScalingGroupName = asgName,
                AutoScalingInstanceId = asgInstance,
                InvestigatedInstanceId = investigated,
                InvestigatedRoleName = invRoleName,
                InvestigatedRoleId = invRoleId,
                InvestigatedRoleArn = invRoleArn,
                InvestigatedPrincipalId = investigated is null ? null : invRoleId + ":" + investigated,
                InvestigatedSessionAccessKeyId = invKey,
                ExfilSourceIp = exfilIp,
                ExfilBucket = exfilBucket,
                ExfilObjects = exfilObjects,
            };
        }
    }
}
