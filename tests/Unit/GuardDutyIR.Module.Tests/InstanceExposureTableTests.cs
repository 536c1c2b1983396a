using System.Management.Automation;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// Get-InstanceExposure on every instance of the Workshop scenario, against a table written from what the scenario
/// seeds (Scenarios/ScenarioWorldFactory, Ec2Seeder, IamSeeder): its metadata options, addresses, security groups, key
/// pair and role policies. Every line the cmdlet emits must be in the table and every line of the table must be emitted.
/// </summary>
public sealed class InstanceExposureTableTests : IClassFixture<InstanceExposureTableTests.Fixture>
{
    public sealed class Fixture : IDisposable
    {
        public LabSession Session { get; } = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Workshop, Seed = 23 });
        public void Dispose() => Session.Dispose();
    }

    static InstanceExposureTableTests() => Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");

    private readonly Fixture _f;

    public InstanceExposureTableTests(Fixture fixture) => _f = fixture;

    private LabHost Lab => _f.Session.Lab;

    // Targets: "@" is the instance itself, "sg:<name>" a security group by name, "Managed <name>"/"Inline <name>" a policy.
    private const string Self = "@";
    private const string SsmCore = "Managed AmazonSSMManagedInstanceCore";

    /// <summary>
    /// The expected lines per instance (by its Name tag), derived from the seeds, never from the rules:
    /// - the two attacked instances (compromised, investigated) allow IMDSv1 with hop limit 1; every other instance has
    ///   IMDSv2 required with the Lab's hop limit of 2 (Warn: containers can reach the metadata service);
    /// - public: the bastion, compromised and investigated instances have an auto-assigned public IP, the malicious one an
    ///   Elastic IP; the ASG worker, the app servers and the member workload none;
    /// - open to 0.0.0.0/0 or ::/0: the bastion's SSH (admin port: Fail), the malicious group's ICMP and HTTP, the web
    ///   group's HTTPS on IPv4 and IPv6 (Warn each); the other groups only admit the VPC, 10.0.0.0/8 or another group;
    /// - every instance was launched with key pair guardduty-example (Warn);
    /// - Systems Manager manages the running instances whose role lets its agent register (every role has
    ///   AmazonSSMManagedInstanceCore): Pass, ping Online; instances without a role are not managed nodes (Warn);
    /// - roles: every role has AmazonSSMManagedInstanceCore (ssm:/ssmmessages:/ec2messages: actions on "*": Warn); the
    ///   web and app roles an inline s3:GetObject on ".../app/*" (Warn); the investigated role the managed s3:* on *
    ///   and inline dynamodb:* on * (Fail) and ssm:GetParameter(s) on ".../parameter/gd-example/*" (Warn);
    /// - the Lab keeps no user data (Pass).
    /// </summary>
    private static readonly Dictionary<string, (string Level, string[] Lines)> Table = new()
    {
        ["GuardDuty-Example: Bastion"] = ("Fail", new[]
        {
            "Pass IMDSv1 @", "Warn IMDS hop limit @", "Warn Public address @",
            "Fail Admin port open to the internet sg:GuardDuty-Example-BastionSG",
            "Warn Key pair @", "Warn SSM managed @", "Pass Role policy @", "Pass User data @",
        }),
        ["GuardDuty-Example: Compromised Instance"] = ("Fail", new[]
        {
            "Fail IMDSv1 @", "Pass IMDS hop limit @", "Warn Public address @", "Pass Port open to the internet @",
            "Warn Key pair @", "Pass SSM managed @",
            $"Warn Role policy {SsmCore}", "Warn Role policy Inline GuardDuty-Example-WebRole-AppData", "Pass User data @",
        }),
        ["GuardDuty-Example: Malicious Instance"] = ("Warn", new[]
        {
            "Pass IMDSv1 @", "Warn IMDS hop limit @", "Warn Public address @",
            "Warn Port open to the internet sg:GuardDuty-Example-MaliciousSG", "Warn Port open to the internet sg:GuardDuty-Example-MaliciousSG",
            "Warn Key pair @", "Warn SSM managed @", "Pass Role policy @", "Pass User data @",
        }),
        ["GuardDuty-Example: ASG Worker"] = ("Warn", new[]
        {
            "Pass IMDSv1 @", "Warn IMDS hop limit @", "Pass Public address @", "Pass Port open to the internet @",
            "Warn Key pair @", "Warn SSM managed @", "Pass Role policy @", "Pass User data @",
        }),
        ["GuardDuty-Example: Credential Instance"] = ("Fail", new[]
        {
            "Fail IMDSv1 @", "Pass IMDS hop limit @", "Warn Public address @",
            "Warn Port open to the internet sg:GuardDuty-Example-WebSG", "Warn Port open to the internet sg:GuardDuty-Example-WebSG",
            "Warn Key pair @", "Pass SSM managed @",
            $"Warn Role policy {SsmCore}", "Fail Role policy Managed GuardDuty-Example-S3FullAccess",
            "Fail Role policy Inline GuardDuty-Example-DynamoDB", "Warn Role policy Inline GuardDuty-Example-Parameters", "Pass User data @",
        }),
        ["app-server-1"] = ("Warn", AppServer),
        ["app-server-2"] = ("Warn", AppServer),
        // The member account's workload, read through the member account's responder role.
        ["member-workload"] = ("Warn", new[]
        {
            "Pass IMDSv1 @", "Warn IMDS hop limit @", "Pass Public address @", "Pass Port open to the internet @",
            "Warn Key pair @", "Warn SSM managed @", "Pass Role policy @", "Pass User data @",
        }),
    };

    private static string[] AppServer => new[]
    {
        "Pass IMDSv1 @", "Warn IMDS hop limit @", "Pass Public address @", "Pass Port open to the internet @",
        "Warn Key pair @", "Pass SSM managed @",
        $"Warn Role policy {SsmCore}", "Warn Role policy Inline GuardDuty-Example-AppServer-AppData", "Pass User data @",
    };

    /// <summary>Every check Get-InstanceExposure knows; the table must use each of them.</summary>
    private static readonly string[] AllChecks =
    {
        "IMDSv1", "IMDS hop limit", "Public address", "Admin port open to the internet", "Port open to the internet",
        "Key pair", "SSM managed", "Role policy", "User data",
    };

    public static TheoryData<string> Instances => new(Table.Keys);

    [Fact]
    public void The_table_names_every_instance_of_the_scenario_and_every_check()
    {
        Assert.Equal(Lab.World.Instances.Select(i => i.Name).Order(StringComparer.Ordinal), Table.Keys.Order(StringComparer.Ordinal));
        var used = Table.Values.SelectMany(t => t.Lines).Select(l => l.Split(' ', 2)[1]).ToList();
        Assert.All(AllChecks, c => Assert.Contains(used, l => l.StartsWith(c + " ", StringComparison.Ordinal)));
    }

    [Theory]
    [MemberData(nameof(Instances))]
    public void Each_instance_gets_the_verdicts_its_seed_calls_for(string name)
    {
        var instance = Lab.World.Instances.Single(i => i.Name == name);
        var member = instance.AccountId == Lab.MemberAccountId;
        var result = member
            ? _f.Session.Run("Get-InstanceExposure -InstanceId $args[0] -RoleArn $args[1] -ExternalId $args[2]",
                instance.InstanceId, Lab.Credentials.MemberResponder.Arn, LabCredentialStore.ResponderExternalId)
            : _f.Session.Run("Get-InstanceExposure -InstanceId $args[0]", instance.InstanceId);
        Assert.Null(result.Terminating);
        Assert.Empty(result.Errors);
        var exposure = Assert.Single(result.Output);

        var checks = ((System.Collections.IEnumerable)exposure.Properties["Checks"].Value).Cast<object>().Select(PSObject.AsPSObject).ToList();
        var actual = checks.Select(c => $"{c.Properties["Level"].Value} {c.Properties["Check"].Value} {c.Properties["Target"].Value}").Order(StringComparer.Ordinal).ToList();
        var (level, lines) = Table[name];
        var expected = lines.Select(l => Resolve(l, instance)).Order(StringComparer.Ordinal).ToList();
        Assert.True(expected.SequenceEqual(actual),
            $"{name}\nexpected:\n  {string.Join("\n  ", expected)}\nactual:\n  {string.Join("\n  ", checks.Select(c => c.ToString()))}");
        Assert.Equal(level, exposure.Properties["Level"].Value.ToString());
        Assert.Equal(lines.Count(l => l.StartsWith("Fail ", StringComparison.Ordinal)), (int)exposure.Properties["Failures"].Value);
        Assert.Equal(lines.Count(l => l.StartsWith("Warn ", StringComparison.Ordinal)), (int)exposure.Properties["Warnings"].Value);
        Assert.Equal(instance.IamRoleName is null ? null : $"arn:aws:iam::{instance.AccountId}:role/{instance.IamRoleName}", exposure.Properties["RoleArn"].Value);

        // The evidence names what the seed put there.
        string Evidence(string check) => string.Join(" | ", checks.Where(c => (string)c.Properties["Check"].Value == check).Select(c => (string)c.Properties["Evidence"].Value));
        if (instance.PublicIp is { } ip) Assert.Contains(ip, Evidence("Public address"));
        Assert.Contains("guardduty-example", Evidence("Key pair"));
        Assert.Equal(instance.IamRoleName is null ? "not a managed node: no Session Manager access or patching through SSM" : "managed node, ping status Online",
            Evidence("SSM managed"));
        if (name == "GuardDuty-Example: Bastion") Assert.Equal("tcp 22 from 0.0.0.0/0", Evidence("Admin port open to the internet"));
        if (name == "GuardDuty-Example: Credential Instance")
            Assert.Equal(new[] { "tcp 443 from 0.0.0.0/0", "tcp 443 from ::/0" }, Evidence("Port open to the internet").Split(" | ").Order(StringComparer.Ordinal));
        if (name == "GuardDuty-Example: Malicious Instance") Assert.StartsWith("Elastic IP ", Evidence("Public address"));
    }

    /// <summary>
    /// The one shape the Scale scenario adds: an instance with several ENIs whose only group open to the internet (the
    /// web tier's HTTPS from 0.0.0.0/0) sits on a secondary ENI, not on the primary one (the instance-level groupSet).
    /// </summary>
    [Fact]
    public void A_group_open_to_the_internet_on_a_secondary_interface_only_is_found()
    {
        using var scale = LabSession.Start(new LabOptions { Scenario = ScenarioNames.Scale, Seed = 23, Instances = 40 });
        var world = scale.Lab.World;
        bool Web(string groupId) => world.Group(groupId).GroupName.StartsWith("scale-web-", StringComparison.Ordinal);
        var instance = world.Instances.First(i => i.AccountId == world.AccountId && !i.SecurityGroupIds.Any(Web)
            && i.NetworkInterfaces.Skip(1).Any(e => e.GroupIds.Any(Web)));
        var web = instance.NetworkInterfaces.SelectMany(e => e.GroupIds).Where(Web).Distinct().Single();

        var result = scale.Run("Get-InstanceExposure -InstanceId $args[0]", instance.InstanceId);
        Assert.Null(result.Terminating);
        var open = ((System.Collections.IEnumerable)Assert.Single(result.Output).Properties["Checks"].Value).Cast<object>().Select(PSObject.AsPSObject)
            .Where(c => ((string)c.Properties["Check"].Value).Contains("open to the internet", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(open);
        Assert.Equal(("Port open to the internet", "Warn", web, "tcp 443 from 0.0.0.0/0"),
            ((string)line.Properties["Check"].Value, line.Properties["Level"].Value.ToString(), (string)line.Properties["Target"].Value, (string)line.Properties["Evidence"].Value));
    }

    private string Resolve(string line, WorldInstance instance)
    {
        var target = line.Split(' ').Last();
        var head = line[..^target.Length];
        if (line.Contains(" Managed ", StringComparison.Ordinal) || line.Contains(" Inline ", StringComparison.Ordinal)) return line;
        if (target == Self) return head + instance.InstanceId;
        if (target.StartsWith("sg:", StringComparison.Ordinal))
            return head + Lab.World.SecurityGroups.Single(g => g.GroupName == target[3..] && g.AccountId == instance.AccountId).GroupId;
        throw new ArgumentException(line);
    }
}
