using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.GuardDuty;

namespace GuardDutyIR.Lab.Scenarios;

/// <summary>
/// A scenario's GuardDuty: a detector per account, the threat list, and the findings the story produced (drawn from
/// a Random of the seed, so the same seed gives the same finding IDs).
/// </summary>
internal static class GuardDutySeeder
{
    public static void Seed(GuardDutyService guardDuty, ScenarioWorld world)
    {
        // The main account administers the member (GuardDuty restricts list management to the administrator).
        guardDuty.AdministratorAccountId = world.AccountId;
        if (world.Scenario == ScenarioNames.Empty) return;
        var main = guardDuty.AddDetector(world.AccountId, world.Region, GuardDutyIds.DetectorId(world), world.BaseTime.AddDays(-30));
        main.FindingPublishingFrequency = "FIFTEEN_MINUTES";
        var member = guardDuty.AddDetector(world.MemberAccountId, world.Region, GuardDutyIds.DetectorId(world.MemberAccountId, world.Region, world.Seed), world.BaseTime.AddDays(-30));
        var rng = new Random(unchecked(world.Seed * 7727 + 5));
        string NewId() => GuardDutyIds.HexOf("finding|" + rng.Next() + "|" + rng.Next(), 32);

        if (world.ThreatListBucket is { } bucket && world.ThreatListKey is { } key)
        {
            var id = GuardDutyIds.ThreatIntelSetId(world);
            main.ThreatIntelSets[id] = new GuardDutyList
            {
                Id = id,
                Name = world.ThreatListName,
                Format = "TXT",
                Location = $"https://s3.amazonaws.com/{bucket}/{key}",
                Status = "ACTIVE",
                Tags = { ["Name"] = world.ThreatListName },
            };
            guardDuty.ScenarioThreatIntelSetId = id;
        }

        var specs = world.Scenario == ScenarioNames.Scale ? ScaleSpecs(world, rng, NewId) : ScenarioSpecs(world, rng, NewId);
        foreach (var s in specs)
        {
            var finding = FindingFactory.Build(s, world.AccountId, world.Region, main.Id, world);
            main.Put(finding);
            // The story's findings were published when GuardDuty made them; no rule exists yet to receive them.
            guardDuty.PublishFinding(main, finding, s.UpdatedAt ?? s.CreatedAt);
            if (s.Type == "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom" && guardDuty.ScenarioFindingId is null) guardDuty.ScenarioFindingId = s.Id;
        }
        if (world.InstancesIn(world.MemberAccountId).FirstOrDefault() is { } mi)
        {
            var spec = new FindingSpec
            {
                Id = NewId(), Type = "Recon:EC2/PortProbeUnprotectedPort", Severity = 2, CreatedAt = world.BaseTime.AddHours(-20), Instance = mi,
                ActionType = "PORT_PROBE", RemoteIp = "203.0.113.80", LocalPort = 443, ResourceRole = "TARGET",
                Title = $"Unprotected port on EC2 instance {mi.InstanceId} is being probed.",
                Description = $"EC2 instance has an unprotected port which is being probed by a known malicious host.",
            };
            var finding = FindingFactory.Build(spec, world.MemberAccountId, world.Region, member.Id, world);
            member.Put(finding);
            guardDuty.PublishFinding(member, finding, spec.CreatedAt);
        }
    }

    private static IEnumerable<FindingSpec> ScenarioSpecs(ScenarioWorld w, Random rng, Func<string> newId)
    {
        var t = w.BaseTime;
        if (w.CompromisedInstance is { } c && w.MaliciousEip is { } eip)
        {
            yield return new FindingSpec
            {
                Id = newId(),
                Type = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
                Severity = 5,
                CreatedAt = t.AddMinutes(-40),
                UpdatedAt = t.AddMinutes(-10),
                Instance = c,
                Direction = "OUTBOUND",
                Protocol = "ICMP",
                RemoteIp = eip,
                RemotePort = 0,
                LocalPort = 0,
                ThreatListName = w.ThreatListName,
                Count = 12,
                Geo = GeoInfo.Default,
                Title = $"Unusual outbound communication seen from EC2 instance {c.InstanceId} on a custom threat list.",
                Description = $"EC2 instance {c.InstanceId} is communicating with a disallowed IP address {eip} on the list {w.ThreatListName}.",
            };
        }
        var bastion = w.BastionInstanceId is { } b ? w.Instance(b) : w.Instances.FirstOrDefault(i => i.AccountId == w.AccountId);
        var any = w.Instances.Where(i => i.AccountId == w.AccountId).ToList();
        WorldInstance Pick(int i) => any.Count == 0 ? bastion! : any[i % any.Count];
        if (bastion is null) yield break;
        yield return new FindingSpec
        {
            Id = newId(), Type = "UnauthorizedAccess:EC2/SSHBruteForce", Severity = 3.9, CreatedAt = t.AddHours(-30), Instance = bastion,
            Direction = "INBOUND", RemoteIp = "203.0.113.45", RemotePort = 51234, LocalPort = 22, ResourceRole = "TARGET", Count = 40, Geo = GeoInfo.Outside,
            Title = $"203.0.113.45 is performing SSH brute force attacks against {bastion.InstanceId}.",
            Description = $"203.0.113.45 is performing SSH brute force attacks against {bastion.InstanceId}. Brute force attacks are used to gain unauthorized access to your instance by guessing the SSH password.",
        };
        yield return new FindingSpec
        {
            Id = newId(), Type = "UnauthorizedAccess:EC2/RDPBruteForce", Severity = 4.0, CreatedAt = t.AddHours(-28), Instance = Pick(1),
            Direction = "INBOUND", RemoteIp = "203.0.113.46", RemotePort = 50001, LocalPort = 3389, ResourceRole = "TARGET", Geo = GeoInfo.Outside,
            Title = $"203.0.113.46 is performing RDP brute force attacks against {Pick(1).InstanceId}.",
            Description = "Brute force attacks are used to gain unauthorized access to your instance by guessing the RDP password.",
        };
        yield return new FindingSpec
        {
            Id = newId(), Type = "Behavior:EC2/NetworkPortUnusual", Severity = 6.9, CreatedAt = t.AddHours(-20), Instance = Pick(2),
            Direction = "OUTBOUND", RemoteIp = "198.51.100.77", RemotePort = 6667, LocalPort = 40022, Geo = GeoInfo.Outside,
            Title = $"Unusual outbound communication on port 6667 from EC2 instance {Pick(2).InstanceId}.",
            Description = "EC2 instance is communicating with a remote host on an unusual server port 6667.",
        };
        yield return new FindingSpec
        {
            Id = newId(), Type = "CryptoCurrency:EC2/BitcoinTool.B!DNS", Severity = 7.0, CreatedAt = t.AddHours(-16), Instance = Pick(3),
            ActionType = "DNS_REQUEST", Domain = "pool.minexmr.example",
            Title = $"Bitcoin-related domain name queried by EC2 instance {Pick(3).InstanceId}.",
            Description = "EC2 instance is querying a domain name that is associated with Bitcoin-related activity.",
        };
        if (w.InvestigatedInstance is { } inv && w.ExfilSourceIp is { } exfil)
            yield return new FindingSpec
            {
                Id = newId(), Type = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", Severity = 8.9, CreatedAt = t.AddHours(-2), Instance = inv,
                ActionType = "AWS_API_CALL", Api = "ListBuckets", RemoteIp = exfil, Geo = GeoInfo.Outside,
                AccessKeyId = w.InvestigatedSessionAccessKeyId, PrincipalId = w.InvestigatedPrincipalId, UserName = w.InvestigatedRoleName, Count = 3,
                Title = $"Credentials for instance role {w.InvestigatedRoleName} used from external IP address.",
                Description = $"Credentials that were created exclusively for an EC2 instance using instance role {w.InvestigatedRoleName} have been used from external IP address {exfil}.",
            };
        else
            yield return new FindingSpec
            {
                Id = newId(), Type = "Backdoor:EC2/C&CActivity.B", Severity = 8.9, CreatedAt = t.AddHours(-2), Instance = Pick(4),
                RemoteIp = "198.51.100.99", RemotePort = 8443, Geo = GeoInfo.Outside,
                Title = $"EC2 instance {Pick(4).InstanceId} is querying an IP address that is associated with a known command and control server.",
                Description = "EC2 instance is communicating with a known command and control server.",
            };
        yield return new FindingSpec
        {
            Id = newId(), Type = "Backdoor:EC2/C&CActivity.B!DNS", Severity = 9.0, CreatedAt = t.AddHours(-1), Instance = Pick(5),
            ActionType = "DNS_REQUEST", Domain = "c2.badhost.example",
            Title = $"EC2 instance {Pick(5).InstanceId} is querying a domain name associated with a known command and control server.",
            Description = "EC2 instance is querying a domain name that is associated with a known command and control server.",
        };
        yield return new FindingSpec
        {
            Id = newId(), Type = "Recon:EC2/PortProbeUnprotectedPort", Severity = 2, CreatedAt = t.AddDays(-5), Instance = bastion,
            ActionType = "PORT_PROBE", RemoteIp = "203.0.113.9", LocalPort = 22, ResourceRole = "TARGET", Archived = true, Count = 7, Geo = GeoInfo.Outside,
            Title = $"Unprotected port on EC2 instance {bastion.InstanceId} is being probed.",
            Description = $"EC2 instance has an unprotected port which is being probed by a known malicious host.",
        };
        yield return FindingFactory.Sample("Recon:EC2/Portscan", newId(), t.AddDays(-3));
    }

    private static IEnumerable<FindingSpec> ScaleSpecs(ScenarioWorld w, Random rng, Func<string> newId)
    {
        var types = new (string Type, string Action, string Dir)[]
        {
            ("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "NETWORK_CONNECTION", "OUTBOUND"),
            ("Recon:EC2/PortProbeUnprotectedPort", "PORT_PROBE", "INBOUND"),
            ("UnauthorizedAccess:EC2/SSHBruteForce", "NETWORK_CONNECTION", "INBOUND"),
            ("Behavior:EC2/NetworkPortUnusual", "NETWORK_CONNECTION", "OUTBOUND"),
            ("CryptoCurrency:EC2/BitcoinTool.B!DNS", "DNS_REQUEST", "OUTBOUND"),
            ("Backdoor:EC2/C&CActivity.B", "NETWORK_CONNECTION", "OUTBOUND"),
            ("Trojan:EC2/DNSDataExfiltration", "DNS_REQUEST", "OUTBOUND"),
        };
        var instances = w.Instances.Where(i => i.AccountId == w.AccountId).ToList();
        for (int i = 0; i < w.Scale.Findings; i++)
        {
            var (type, action, dir) = types[rng.Next(types.Length)];
            var inst = instances[rng.Next(instances.Count)];
            var sev = Math.Round(1 + rng.Next(90) / 10.0, 1);
            bool custom = type.EndsWith(".Custom", StringComparison.Ordinal);
            var ip = custom && w.MaliciousEip is not null ? w.MaliciousEip : $"198.51.100.{rng.Next(1, 255)}";
            yield return new FindingSpec
            {
                Id = newId(), Type = type, Severity = sev, CreatedAt = w.BaseTime.AddMinutes(-rng.Next(60 * 24 * 60)), Instance = inst,
                ActionType = action, Direction = dir, RemoteIp = ip, Domain = action == "DNS_REQUEST" ? $"host{rng.Next(1000)}.example" : null,
                ThreatListName = custom ? w.ThreatListName : null, Archived = rng.Next(10) == 0, Count = 1 + rng.Next(20),
                ResourceRole = dir == "INBOUND" ? "TARGET" : "ACTOR", LocalPort = dir == "INBOUND" ? 22 : 40000 + rng.Next(20000),
                Title = $"{type} on EC2 instance {inst.InstanceId}.",
                Description = $"GuardDuty observed {type} activity involving EC2 instance {inst.InstanceId} and {ip}.",
            };
        }
    }
}
