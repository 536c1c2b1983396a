using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.CloudTrail;

/// <summary>
/// Deterministic CloudTrail events for a scenario world: the investigated instance's role session (used from the
/// instance and, stolen, from an outside address), its instance-identity session, other instances' roles, IAM users
/// (console with/without MFA, CLI), security-group and IAM changes, AWS service calls and background noise.
/// Only System.Random seeded from the world feeds it, so the same world yields the same event IDs.
/// </summary>
/// <remarks>
/// The workshop's first query uses <c>principalid like '%:i-%'</c>. The instance-identity role
/// (<c>&lt;acct&gt;:aws:ec2-instance:i-…</c>, used by the SSM agent) matches that pattern and also
/// <c>'%:&lt;INSTANCE_ID&gt;'</c>, exactly as it does on AWS. The Lab keeps such events (the SSM agent of the
/// investigated instance) and its truth follows the SQL semantics, so queries 2, 3 and 5 include them.
/// </remarks>
public static class CloudTrailEventGenerator
{
    private static readonly ConditionalWeakTable<ScenarioWorld, IReadOnlyList<CloudTrailRecord>> s_cache = new();

    /// <summary>All events of a world in time order (cached per world instance: S3 and CloudTrail both read them).</summary>
    public static IReadOnlyList<CloudTrailRecord> ForWorld(ScenarioWorld world) =>
        s_cache.GetValue(world, w => new WorldGenerator(w).Generate());

    /// <summary>
    /// A stream of <paramref name="count"/> background events between <paramref name="start"/> and <paramref name="end"/>
    /// in time order, generated one at a time (bounded memory, for benchmarks and large-result tests).
    /// </summary>
    public static IEnumerable<CloudTrailRecord> Bulk(string accountId, string region, int seed, long count, DateTimeOffset start, DateTimeOffset end)
    {
        var g = new Emitter(new Random(unchecked(seed * 7919 + 17)), accountId, region);
        var actors = BulkActors(g, accountId, 40);
        var span = (end - start).Ticks;
        for (long i = 0; i < count; i++)
        {
            var t = new DateTimeOffset(start.Ticks + (count <= 1 ? 0 : span / count * i), TimeSpan.Zero);
            var actor = actors[g.Rng.Next(actors.Count)];
            yield return g.Noise(actor, t);
        }
    }

    private static List<Actor> BulkActors(Emitter g, string account, int n)
    {
        var list = new List<Actor>();
        for (int i = 0; i < n; i++)
        {
            if (i % 3 == 0)
                list.Add(Actor.User(account, $"bulk-user-{i:D3}", "AIDA" + g.Upper(17), "AKIA" + g.Upper(16), console: false, mfa: false, ip: g.PublicIp(), ua: "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe exec-env#CloudShell command/ec2.describe-instances"));
            else
            {
                var instanceId = "i-0" + g.Hex(16);
                list.Add(Actor.InstanceRole(account, $"bulk-role-{i % 5}", "AROA" + g.Upper(17), instanceId, "ASIA" + g.Upper(16), g.PublicIp(), g.BaseCreation));
            }
        }
        return list;
    }

    /// <summary>An identity that makes calls, with the userIdentity element CloudTrail records for it.</summary>
    internal sealed record Actor(string Kind, JsonObject Identity, string SourceIp, string UserAgent, bool Console)
    {
        public static Actor User(string account, string userName, string userId, string accessKey, bool console, bool mfa, string ip, string ua, DateTimeOffset? sessionStart = null)
        {
            var id = new JsonObject
            {
                ["type"] = "IAMUser",
                ["principalId"] = userId,
                ["arn"] = $"arn:aws:iam::{account}:user/{userName}",
                ["accountId"] = account,
                ["accessKeyId"] = accessKey,
                ["userName"] = userName,
            };
            if (console)
                id["sessionContext"] = new JsonObject
                {
                    ["attributes"] = new JsonObject
                    {
                        ["creationDate"] = Iso(sessionStart ?? DateTimeOffset.UnixEpoch),
                        ["mfaAuthenticated"] = mfa ? "true" : "false",
                    },
                };
            return new Actor("IAMUser", id, ip, ua, console);
        }

        public static Actor InstanceRole(string account, string roleName, string roleId, string instanceId, string accessKey, string ip, DateTimeOffset created, string delivery = "2.0") =>
            new("AssumedRole", new JsonObject
            {
                ["type"] = "AssumedRole",
                ["principalId"] = roleId + ":" + instanceId,
                ["arn"] = $"arn:aws:sts::{account}:assumed-role/{roleName}/{instanceId}",
                ["accountId"] = account,
                ["accessKeyId"] = accessKey,
                ["sessionContext"] = new JsonObject
                {
                    ["sessionIssuer"] = new JsonObject
                    {
                        ["type"] = "Role",
                        ["principalId"] = roleId,
                        ["arn"] = $"arn:aws:iam::{account}:role/{roleName}",
                        ["accountId"] = account,
                        ["userName"] = roleName,
                    },
                    ["attributes"] = new JsonObject { ["creationDate"] = Iso(created), ["mfaAuthenticated"] = "false" },
                    ["ec2RoleDelivery"] = delivery,
                },
            }, ip, "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.171.0", false);

        /// <summary>The instance-identity role (aws:ec2-instance) the SSM agent uses, as the SSM documentation example shows it.</summary>
        public static Actor InstanceIdentity(string account, string instanceId, string accessKey, string ip, DateTimeOffset created) =>
            new("AssumedRole", new JsonObject
            {
                ["type"] = "AssumedRole",
                ["principalId"] = $"{account}:aws:ec2-instance:{instanceId}",
                ["arn"] = $"arn:aws:sts::{account}:assumed-role/aws:ec2-instance/{instanceId}",
                ["accountId"] = account,
                ["accessKeyId"] = accessKey,
                ["sessionContext"] = new JsonObject
                {
                    ["sessionIssuer"] = new JsonObject
                    {
                        ["type"] = "Role",
                        ["principalId"] = $"{account}:aws:ec2-instance",
                        ["arn"] = $"arn:aws:iam::{account}:role/aws:ec2-instance",
                        ["accountId"] = account,
                        ["userName"] = "aws:ec2-instance",
                    },
                    ["attributes"] = new JsonObject { ["creationDate"] = Iso(created), ["mfaAuthenticated"] = "false" },
                    ["ec2RoleDelivery"] = "2.0",
                },
            }, ip, "Apache-HttpClient/UNAVAILABLE (Java/1.8.0_362)", false);

        public static Actor Service(string invokedBy) =>
            new("AWSService", new JsonObject { ["type"] = "AWSService", ["invokedBy"] = invokedBy }, invokedBy, invokedBy, false);

        public static Actor Root(string account, string ip) =>
            new("Root", new JsonObject
            {
                ["type"] = "Root",
                ["principalId"] = account,
                ["arn"] = $"arn:aws:iam::{account}:root",
                ["accountId"] = account,
            }, ip, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36", true);
    }

    internal static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Builds records; all randomness comes from one seeded Random.</summary>
    internal sealed class Emitter
    {
        public Emitter(Random rng, string account, string region)
        {
            Rng = rng;
            Account = account;
            Region = region;
            BaseCreation = new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
        }

        public Random Rng { get; }
        public string Account { get; }
        public string Region { get; }
        public DateTimeOffset BaseCreation { get; }

        public string Hex(int n)
        {
            const string hex = "0123456789abcdef";
            var c = new char[n];
            for (int i = 0; i < n; i++) c[i] = hex[Rng.Next(16)];
            return new string(c);
        }

        public string Upper(int n)
        {
            const string alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
            var c = new char[n];
            for (int i = 0; i < n; i++) c[i] = alpha[Rng.Next(alpha.Length)];
            return new string(c);
        }

        public string Uuid()
        {
            var h = Hex(32).ToCharArray();
            h[12] = '4';
            h[16] = "89ab"[Rng.Next(4)];
            var s = new string(h);
            return $"{s[..8]}-{s[8..12]}-{s[12..16]}-{s[16..20]}-{s[20..]}";
        }

        public string PublicIp() => $"{new[] { 3, 18, 34, 52, 54 }[Rng.Next(5)]}.{Rng.Next(256)}.{Rng.Next(256)}.{Rng.Next(1, 255)}";

        public static string Host(string source, string region) => source switch
        {
            "iam.amazonaws.com" => "iam.amazonaws.com",
            "signin.amazonaws.com" => "signin.aws.amazon.com",
            "s3.amazonaws.com" => region == "us-east-1" ? "s3.amazonaws.com" : $"s3.{region}.amazonaws.com",
            "sts.amazonaws.com" => region == "us-east-1" ? "sts.amazonaws.com" : $"sts.{region}.amazonaws.com",
            _ => $"{source.Split('.')[0]}.{region}.amazonaws.com",
        };

        public CloudTrailRecord Emit(Actor actor, DateTimeOffset time, string source, string name, string region,
            JsonObject? request = null, JsonObject? response = null, bool readOnly = true, bool management = true,
            string? errorCode = null, string? errorMessage = null, JsonArray? resources = null, JsonObject? additional = null,
            string eventType = "AwsApiCall", string version = "1.08", string? ip = null, string? userAgent = null, string? apiVersion = null,
            bool tls = true, string? sharedEventId = null, string? hostOverride = null)
        {
            var o = new JsonObject
            {
                ["eventVersion"] = version,
                ["userIdentity"] = actor.Identity.DeepClone(),
                ["eventTime"] = Iso(time),
                ["eventSource"] = source,
                ["eventName"] = name,
                ["awsRegion"] = region,
                ["sourceIPAddress"] = ip ?? actor.SourceIp,
                ["userAgent"] = userAgent ?? actor.UserAgent,
            };
            if (errorCode is not null) o["errorCode"] = errorCode;
            if (errorMessage is not null) o["errorMessage"] = errorMessage;
            o["requestParameters"] = request;
            o["responseElements"] = errorCode is null ? response : null;
            if (additional is not null) o["additionalEventData"] = additional;
            o["requestID"] = source == "s3.amazonaws.com" ? Upper(16) : Uuid();
            o["eventID"] = Uuid();
            o["readOnly"] = readOnly;
            if (resources is not null) o["resources"] = resources;
            o["eventType"] = eventType;
            if (apiVersion is not null) o["apiVersion"] = apiVersion;
            o["managementEvent"] = management;
            o["recipientAccountId"] = Account;
            if (sharedEventId is not null) o["sharedEventID"] = sharedEventId;
            o["eventCategory"] = management ? "Management" : "Data";
            if (tls && actor.Kind != "AWSService")
                o["tlsDetails"] = new JsonObject
                {
                    ["tlsVersion"] = "TLSv1.3",
                    ["cipherSuite"] = "TLS_AES_128_GCM_SHA256",
                    ["clientProvidedHostHeader"] = hostOverride ?? Host(source, region),
                };
            if (actor.Console) o["sessionCredentialFromConsole"] = "true";
            return new CloudTrailRecord(o);
        }

        public static JsonArray Res(params (string Account, string Type, string Arn)[] items) =>
            new(items.Select(i => (JsonNode)new JsonObject { ["accountId"] = i.Account, ["type"] = i.Type, ["ARN"] = i.Arn }).ToArray());

        public JsonArray InstanceRes(string region, string instanceId) =>
            Res((Account, "AWS::EC2::Instance", $"arn:aws:ec2:{region}:{Account}:instance/{instanceId}"));

        public CloudTrailRecord S3Object(Actor actor, DateTimeOffset t, string name, string bucket, string key, long bytes, string? ip = null, bool readOnly = false)
        {
            var request = new JsonObject { ["bucketName"] = bucket, ["Host"] = $"{bucket}.s3.{Region}.amazonaws.com", ["key"] = key };
            var extra = new JsonObject
            {
                ["SignatureVersion"] = "SigV4",
                ["CipherSuite"] = "TLS_AES_128_GCM_SHA256",
                ["bytesTransferredIn"] = readOnly ? 0 : bytes,
                ["bytesTransferredOut"] = readOnly ? bytes : 0,
                ["AuthenticationMethod"] = "AuthHeader",
                ["x-amz-id-2"] = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(Hex(48))),
            };
            var response = readOnly ? null : new JsonObject { ["x-amz-server-side-encryption"] = "AES256" };
            return Emit(actor, t, "s3.amazonaws.com", name, Region, request, response, readOnly, management: false,
                resources: Res((Account, "AWS::S3::Object", $"arn:aws:s3:::{bucket}/{key}"), (Account, "AWS::S3::Bucket", $"arn:aws:s3:::{bucket}")),
                additional: extra, version: "1.10", ip: ip, hostOverride: $"{bucket}.s3.{Region}.amazonaws.com");
        }

        public CloudTrailRecord ListObjects(Actor actor, DateTimeOffset t, string bucket, string? ip = null) =>
            Emit(actor, t, "s3.amazonaws.com", "ListObjects", Region,
                new JsonObject { ["bucketName"] = bucket, ["Host"] = $"{bucket}.s3.{Region}.amazonaws.com", ["prefix"] = "", ["list-type"] = "2" },
                null, readOnly: true, management: false,
                resources: Res((Account, "AWS::S3::Bucket", $"arn:aws:s3:::{bucket}")),
                additional: new JsonObject { ["SignatureVersion"] = "SigV4", ["CipherSuite"] = "TLS_AES_128_GCM_SHA256", ["bytesTransferredIn"] = 0, ["AuthenticationMethod"] = "AuthHeader", ["bytesTransferredOut"] = 1200 + Rng.Next(4000) },
                version: "1.10", ip: ip, hostOverride: $"{bucket}.s3.{Region}.amazonaws.com");

        public CloudTrailRecord ListBuckets(Actor actor, DateTimeOffset t, string? ip = null) =>
            Emit(actor, t, "s3.amazonaws.com", "ListBuckets", Region,
                new JsonObject { ["Host"] = "s3.amazonaws.com" }, null, readOnly: true,
                additional: new JsonObject { ["SignatureVersion"] = "SigV4", ["CipherSuite"] = "TLS_AES_128_GCM_SHA256", ["bytesTransferredIn"] = 0, ["AuthenticationMethod"] = "AuthHeader", ["bytesTransferredOut"] = 1800 + Rng.Next(900) },
                version: "1.09", ip: ip);

        private static readonly (string Source, string Name, bool Global)[] ReadCalls =
        {
            ("ec2.amazonaws.com", "DescribeInstances", false),
            ("ec2.amazonaws.com", "DescribeSecurityGroups", false),
            ("ec2.amazonaws.com", "DescribeVolumes", false),
            ("ec2.amazonaws.com", "DescribeSnapshots", false),
            ("iam.amazonaws.com", "GetRole", true),
            ("iam.amazonaws.com", "ListRoles", true),
            ("sts.amazonaws.com", "GetCallerIdentity", false),
            ("ssm.amazonaws.com", "GetParameter", false),
            ("cloudwatch.amazonaws.com", "GetMetricData", false),
            ("logs.amazonaws.com", "DescribeLogGroups", false),
            ("kms.amazonaws.com", "Decrypt", false),
            ("dynamodb.amazonaws.com", "DescribeTable", false),
        };

        /// <summary>An ordinary read-only management call (the bulk of any trail).</summary>
        public CloudTrailRecord Noise(Actor actor, DateTimeOffset t)
        {
            var (source, name, global) = ReadCalls[Rng.Next(ReadCalls.Length)];
            var region = global ? "us-east-1" : Region;
            JsonObject? req = name switch
            {
                "DescribeInstances" => new JsonObject { ["instancesSet"] = new JsonObject(), ["filterSet"] = new JsonObject() },
                "GetRole" => new JsonObject { ["roleName"] = "app-role-" + Rng.Next(5) },
                "GetParameter" => new JsonObject { ["name"] = "/app/config/" + Rng.Next(20), ["withDecryption"] = Rng.Next(2) == 0 },
                "Decrypt" => new JsonObject { ["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT" },
                "DescribeTable" => new JsonObject { ["tableName"] = "orders-" + Rng.Next(3) },
                _ => null,
            };
            return Emit(actor, t, source, name, region, req, null, readOnly: true);
        }
    }

    private sealed class WorldGenerator
    {
        private readonly ScenarioWorld _w;
        private readonly Emitter _g;
        private readonly List<CloudTrailRecord> _records = new();

        public WorldGenerator(ScenarioWorld world)
        {
            _w = world;
            _g = new Emitter(new Random(unchecked(world.Seed * 104729 + 31)), world.AccountId, world.Region);
        }

        private string Acct => _w.AccountId;
        private string Region => _w.Region;

        /// <summary>A time within [from, to], deterministic.</summary>
        private DateTimeOffset Between(DateTimeOffset from, DateTimeOffset to)
        {
            var span = Math.Max(1, (long)(to - from).TotalSeconds);
            return from.AddSeconds(_g.Rng.NextInt64(span));
        }

        public IReadOnlyList<CloudTrailRecord> Generate()
        {
            if (_w.Scenario == ScenarioNames.Empty) return Array.Empty<CloudTrailRecord>();
            bool s1 = _w.CompromisedInstanceId is not null && _w.Scenario != ScenarioNames.Scale;
            bool s2 = _w.InvestigatedInstanceId is not null;

            var users = Users();
            UserActivity(users);
            if (s1) CompromisedScenario(users);
            if (s2) InvestigationScenario();
            OtherInstances();
            Noise(users, _w.Scenario == ScenarioNames.Scale ? Math.Max(200, _w.Instances.Count * 4) : 160);
            return _records.OrderBy(r => r.EventTime).ThenBy(r => r.EventId, StringComparer.Ordinal).ToArray();
        }

        private sealed record UserInfo(string Name, string UserId, string AccessKey);

        private List<UserInfo> Users()
        {
            var list = _w.Users.Where(u => u.AccountId == Acct).Select(u => new UserInfo(u.UserName, u.UserId, u.AccessKeyId)).ToList();
            // Scenario 1 and Scale have no IAM users in the world; the trail still has an administrator and a pipeline.
            if (list.Count == 0)
                foreach (var n in new[] { "alice", "bob", "ci-deployer" })
                    list.Add(new UserInfo(n, "AIDA" + _g.Upper(17), "AKIA" + _g.Upper(16)));
            return list;
        }

        private void UserActivity(List<UserInfo> users)
        {
            var day = _w.BaseTime.AddDays(-2);
            var aliceIp = $"198.51.100.{_g.Rng.Next(10, 250)}";
            var bobIp = $"203.0.113.{_g.Rng.Next(10, 250)}";
            var alice = users[0];
            var bob = users[Math.Min(1, users.Count - 1)];
            var ci = users[Math.Min(2, users.Count - 1)];
            const string browser = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

            // Console sign-ins: a failed attempt, one with MFA, one without.
            var loginA = day.AddHours(1);
            _records.Add(ConsoleLogin(alice, loginA.AddMinutes(-3), aliceIp, browser, mfa: false, success: false));
            _records.Add(ConsoleLogin(alice, loginA, aliceIp, browser, mfa: true, success: true));
            var loginB = day.AddHours(5);
            _records.Add(ConsoleLogin(bob, loginB, bobIp, browser, mfa: false, success: true));

            var aliceConsole = Actor.User(Acct, alice.Name, alice.UserId, "ASIA" + _g.Upper(16), console: true, mfa: true, ip: aliceIp, ua: "AWS Internal", sessionStart: loginA);
            var bobConsole = Actor.User(Acct, bob.Name, bob.UserId, "ASIA" + _g.Upper(16), console: true, mfa: false, ip: bobIp, ua: "AWS Internal", sessionStart: loginB);
            var ciCli = Actor.User(Acct, ci.Name, ci.UserId, ci.AccessKey, console: false, mfa: false, ip: _g.PublicIp(),
                ua: "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe command/cloudformation.deploy");

            var sg = _w.SecurityGroups.FirstOrDefault(g => g.AccountId == Acct && g.GroupName != "default") ?? _w.SecurityGroups.FirstOrDefault(g => g.AccountId == Acct);
            var t = loginA.AddMinutes(2);
            _records.Add(_g.Emit(aliceConsole, t, "ec2.amazonaws.com", "DescribeInstances", Region, new JsonObject { ["instancesSet"] = new JsonObject(), ["filterSet"] = new JsonObject() }));
            _records.Add(_g.Emit(aliceConsole, t.AddMinutes(1), "ec2.amazonaws.com", "DescribeSecurityGroups", Region, new JsonObject { ["securityGroupSet"] = new JsonObject(), ["filterSet"] = new JsonObject() }));
            if (sg is not null)
            {
                _records.Add(_g.Emit(aliceConsole, t.AddMinutes(4), "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", Region,
                    new JsonObject
                    {
                        ["groupId"] = sg.GroupId,
                        ["ipPermissions"] = new JsonObject
                        {
                            ["items"] = new JsonArray(new JsonObject
                            {
                                ["ipProtocol"] = "tcp", ["fromPort"] = 22, ["toPort"] = 22,
                                ["groups"] = new JsonObject(),
                                ["ipRanges"] = new JsonObject { ["items"] = new JsonArray(new JsonObject { ["cidrIp"] = aliceIp + "/32", ["description"] = "temporary admin access" }) },
                                ["ipv6Ranges"] = new JsonObject(), ["prefixListIds"] = new JsonObject(),
                            }),
                        },
                    },
                    new JsonObject { ["requestId"] = _g.Uuid(), ["_return"] = true, ["securityGroupRuleSet"] = new JsonObject { ["items"] = new JsonArray(new JsonObject { ["groupId"] = sg.GroupId, ["securityGroupRuleId"] = "sgr-0" + _g.Hex(16), ["isEgress"] = false, ["ipProtocol"] = "tcp", ["fromPort"] = 22, ["toPort"] = 22, ["cidrIpv4"] = aliceIp + "/32" }) } },
                    readOnly: false, apiVersion: null));
                _records.Add(_g.Emit(bobConsole, loginB.AddMinutes(30), "ec2.amazonaws.com", "RevokeSecurityGroupIngress", Region,
                    new JsonObject { ["groupId"] = sg.GroupId, ["ipPermissions"] = new JsonObject { ["items"] = new JsonArray(new JsonObject { ["ipProtocol"] = "tcp", ["fromPort"] = 22, ["toPort"] = 22, ["ipRanges"] = new JsonObject { ["items"] = new JsonArray(new JsonObject { ["cidrIp"] = aliceIp + "/32" }) } }) } },
                    new JsonObject { ["requestId"] = _g.Uuid(), ["_return"] = true }, readOnly: false));
            }
            var vpc = _w.Vpcs.FirstOrDefault(v => v.AccountId == Acct && !v.IsDefault) ?? _w.Vpcs.First();
            var newSg = "sg-0" + _g.Hex(16);
            _records.Add(_g.Emit(aliceConsole, t.AddMinutes(9), "ec2.amazonaws.com", "CreateSecurityGroup", Region,
                new JsonObject { ["groupName"] = "ops-temp", ["groupDescription"] = "temporary ops access", ["vpcId"] = vpc.VpcId },
                new JsonObject { ["requestId"] = _g.Uuid(), ["_return"] = true, ["groupId"] = newSg, ["securityGroupArn"] = $"arn:aws:ec2:{Region}:{Acct}:security-group/{newSg}" },
                readOnly: false));

            // IAM changes by the user without MFA: the kind of thing a responder looks for.
            var tb = loginB.AddMinutes(5);
            _records.Add(_g.Emit(bobConsole, tb, "iam.amazonaws.com", "CreateUser", "us-east-1",
                new JsonObject { ["userName"] = "svc-backup" },
                new JsonObject { ["user"] = new JsonObject { ["path"] = "/", ["userName"] = "svc-backup", ["userId"] = "AIDA" + _g.Upper(17), ["arn"] = $"arn:aws:iam::{Acct}:user/svc-backup", ["createDate"] = tb.ToString("MMM d, yyyy h:mm:ss tt", CultureInfo.InvariantCulture) } },
                readOnly: false));
            _records.Add(_g.Emit(bobConsole, tb.AddMinutes(1), "iam.amazonaws.com", "CreateAccessKey", "us-east-1",
                new JsonObject { ["userName"] = "svc-backup" },
                new JsonObject { ["accessKey"] = new JsonObject { ["userName"] = "svc-backup", ["accessKeyId"] = "AKIA" + _g.Upper(16), ["status"] = "Active", ["createDate"] = tb.AddMinutes(1).ToString("MMM d, yyyy h:mm:ss tt", CultureInfo.InvariantCulture) } },
                readOnly: false));
            var someRole = _w.Roles.FirstOrDefault(r => r.AccountId == Acct)?.RoleName ?? "ops-role";
            _records.Add(_g.Emit(bobConsole, tb.AddMinutes(3), "iam.amazonaws.com", "AttachRolePolicy", "us-east-1",
                new JsonObject { ["roleName"] = someRole, ["policyArn"] = "arn:aws:iam::aws:policy/AdministratorAccess" }, null, readOnly: false));
            _records.Add(_g.Emit(bobConsole, tb.AddMinutes(4), "iam.amazonaws.com", "ListAttachedRolePolicies", "us-east-1",
                new JsonObject { ["roleName"] = someRole }, null));

            // The deployment pipeline.
            for (int i = 0; i < 3; i++)
            {
                var tc = day.AddHours(8 + i * 6);
                _records.Add(_g.Emit(ciCli, tc, "cloudformation.amazonaws.com", "DescribeStacks", Region, new JsonObject { ["stackName"] = "app-stack" }, null));
                _records.Add(_g.S3Object(ciCli, tc.AddSeconds(20), "PutObject", $"ci-artifacts-{Acct}", $"builds/{1000 + i}/app.zip", 1024 * 1024 + _g.Rng.Next(100000)));
                _records.Add(_g.Emit(ciCli, tc.AddSeconds(40), "lambda.amazonaws.com", "UpdateFunctionCode20150331v2", Region,
                    new JsonObject { ["functionName"] = "app-api", ["s3Bucket"] = $"ci-artifacts-{Acct}", ["s3Key"] = $"builds/{1000 + i}/app.zip", ["publish"] = true },
                    new JsonObject { ["functionName"] = "app-api", ["functionArn"] = $"arn:aws:lambda:{Region}:{Acct}:function:app-api", ["version"] = (i + 3).ToString(CultureInfo.InvariantCulture) },
                    readOnly: false, apiVersion: "2015-03-31"));
            }

            // The account root signs in once (with MFA): rare and worth flagging.
            var root = Actor.Root(Acct, aliceIp);
            _records.Add(_g.Emit(root, day.AddHours(20), "signin.amazonaws.com", "ConsoleLogin", "us-east-1", null,
                new JsonObject { ["ConsoleLogin"] = "Success" }, readOnly: false,
                additional: new JsonObject { ["LoginTo"] = "https://console.aws.amazon.com/console/home", ["MobileVersion"] = "No", ["MFAUsed"] = "Yes", ["MFAIdentifier"] = $"arn:aws:iam::{Acct}:mfa/root-account-mfa-device" },
                eventType: "AwsConsoleSignIn", version: "1.09", tls: false));
        }

        private CloudTrailRecord ConsoleLogin(UserInfo u, DateTimeOffset t, string ip, string ua, bool mfa, bool success)
        {
            var actor = new Actor("IAMUser", new JsonObject
            {
                ["type"] = "IAMUser",
                ["principalId"] = u.UserId,
                ["arn"] = $"arn:aws:iam::{Acct}:user/{u.Name}",
                ["accountId"] = Acct,
                ["userName"] = u.Name,
            }, ip, ua, false);
            return _g.Emit(actor, t, "signin.amazonaws.com", "ConsoleLogin", "us-east-1", null,
                new JsonObject { ["ConsoleLogin"] = success ? "Success" : "Failure" }, readOnly: false,
                errorMessage: success ? null : "Failed authentication",
                additional: new JsonObject { ["LoginTo"] = "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true", ["MobileVersion"] = "No", ["MFAUsed"] = mfa ? "Yes" : "No" },
                eventType: "AwsConsoleSignIn", version: "1.09", tls: false);
        }

        private void CompromisedScenario(List<UserInfo> users)
        {
            var admin = users[0];
            var adminIp = _w.AdminSourceIp ?? "198.51.100.10";
            var a = Actor.User(Acct, admin.Name, admin.UserId, admin.AccessKey, console: false, mfa: false, ip: adminIp,
                ua: "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe command/cloudformation.deploy");
            var t = _w.BaseTime.AddHours(-6);
            var detectorId = GuardDutyIds.DetectorId(_w);
            _records.Add(_g.Emit(a, t, "guardduty.amazonaws.com", "CreateDetector", Region,
                new JsonObject { ["enable"] = true, ["findingPublishingFrequency"] = "FIFTEEN_MINUTES" },
                new JsonObject { ["detectorId"] = detectorId }, readOnly: false));
            if (_w.ThreatListBucket is { } bucket && _w.ThreatListKey is { } key)
                _records.Add(_g.Emit(a, t.AddMinutes(20), "guardduty.amazonaws.com", "CreateThreatIntelSet", Region,
                    new JsonObject { ["detectorId"] = detectorId, ["name"] = _w.ThreatListName, ["format"] = "TXT", ["location"] = $"https://s3.amazonaws.com/{bucket}/{key}", ["activate"] = true },
                    new JsonObject { ["threatIntelSetId"] = GuardDutyIds.ThreatIntelSetId(_w) }, readOnly: false));
            if (_w.SnsTopicName is { } topic)
                _records.Add(_g.Emit(a, t.AddMinutes(25), "sns.amazonaws.com", "CreateTopic", Region,
                    new JsonObject { ["name"] = topic }, new JsonObject { ["topicArn"] = $"arn:aws:sns:{Region}:{Acct}:{topic}" }, readOnly: false));
            _records.Add(_g.Emit(a, t.AddMinutes(26), "events.amazonaws.com", "PutRule", Region,
                new JsonObject { ["name"] = "GuardDuty-Event-EC2-MaliciousIPCaller", ["eventPattern"] = "{\"source\":[\"aws.guardduty\"],\"detail-type\":[\"GuardDuty Finding\"]}", ["state"] = "ENABLED" },
                new JsonObject { ["ruleArn"] = $"arn:aws:events:{Region}:{Acct}:rule/GuardDuty-Event-EC2-MaliciousIPCaller" }, readOnly: false));
            foreach (var inst in new[] { _w.CompromisedInstanceId, _w.MaliciousInstanceId, _w.BastionInstanceId }.OfType<string>())
                _records.Add(_g.Emit(a, t.AddMinutes(30), "ec2.amazonaws.com", "RunInstances", Region,
                    new JsonObject { ["instancesSet"] = new JsonObject { ["items"] = new JsonArray(new JsonObject { ["imageId"] = _w.Instance(inst).ImageId, ["minCount"] = 1, ["maxCount"] = 1 }) }, ["instanceType"] = _w.Instance(inst).InstanceType },
                    new JsonObject { ["requestId"] = _g.Uuid(), ["instancesSet"] = new JsonObject { ["items"] = new JsonArray(new JsonObject { ["instanceId"] = inst }) } },
                    readOnly: false, resources: _g.InstanceRes(Region, inst)));
            if (_w.MaliciousEipAllocationId is { } alloc)
                _records.Add(_g.Emit(a, t.AddMinutes(33), "ec2.amazonaws.com", "AssociateAddress", Region,
                    new JsonObject { ["allocationId"] = alloc, ["instanceId"] = _w.MaliciousInstanceId },
                    new JsonObject { ["requestId"] = _g.Uuid(), ["_return"] = true, ["associationId"] = "eipassoc-0" + _g.Hex(16) }, readOnly: false));
        }

        private void InvestigationScenario()
        {
            var inst = _w.InvestigatedInstance!;
            var roleName = _w.InvestigatedRoleName!;
            var roleId = _w.InvestigatedRoleId!;
            var key = _w.InvestigatedSessionAccessKeyId!;
            var outside = _w.ExfilSourceIp!;
            var instanceIp = inst.PublicIp ?? inst.PrivateIp;
            var start = _w.BaseTime.AddHours(-3);
            var end = _w.BaseTime.AddMinutes(-10);
            var session = start.AddMinutes(-30);
            var role = Actor.InstanceRole(Acct, roleName, roleId, inst.InstanceId, key, instanceIp, session);
            var bucket = _w.ExfilBucket ?? $"guardduty-example-data-{Acct}";
            const string cli = "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe command/s3.ls";
            const string boto = "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.144";

            // EC2 hands the instance its role credentials (AWSService identity: not matched by principalid filters).
            var svc = Actor.Service("ec2.amazonaws.com");
            _records.Add(_g.Emit(svc, session, "sts.amazonaws.com", "AssumeRole", Region,
                new JsonObject { ["roleArn"] = _w.InvestigatedRoleArn, ["roleSessionName"] = inst.InstanceId },
                new JsonObject { ["credentials"] = new JsonObject { ["accessKeyId"] = key, ["sessionToken"] = "IQoJb3JpZ2luX2Vj" + _g.Hex(40), ["expiration"] = session.AddHours(6).ToString("MMM d, yyyy, h:mm:ss tt", CultureInfo.InvariantCulture) } },
                readOnly: true, resources: Emitter.Res((Acct, "AWS::IAM::Role", _w.InvestigatedRoleArn!)), sharedEventId: _g.Uuid(), tls: false));

            void At(Func<DateTimeOffset, CloudTrailRecord> make) => _records.Add(make(Between(start, end)));

            // From the instance itself.
            for (int i = 0; i < 4; i++) At(t => _g.ListBuckets(role, t, instanceIp) );
            for (int i = 0; i < 2; i++) At(t => _g.Emit(role, t, "sts.amazonaws.com", "GetCallerIdentity", Region, null, null, userAgent: cli));
            for (int i = 0; i < 3; i++) At(t => _g.Emit(role, t, "ec2.amazonaws.com", "DescribeInstances", Region, new JsonObject { ["instancesSet"] = new JsonObject(), ["filterSet"] = new JsonObject() }, null));
            var objects = _w.ExfilObjects.Count > 0 ? _w.ExfilObjects : new[] { new WorldS3Object(bucket, "uploads/archive-1.tar.gz", 4096, end) };
            for (int i = 0; i < objects.Count; i++)
            {
                var o = objects[i];
                // The last upload goes out from the outside address with the stolen session.
                _records.Add(_g.S3Object(role, o.Time, "PutObject", o.Bucket, o.Key, o.Size, ip: i == objects.Count - 1 ? outside : instanceIp));
            }

            // With the stolen credentials, from outside AWS: reconnaissance across services and regions.
            var stolen = role with { SourceIp = outside, UserAgent = boto };
            At(t => _g.Emit(stolen, t, "sts.amazonaws.com", "GetCallerIdentity", "us-west-2", null, null));
            for (int i = 0; i < 3; i++) At(t => _g.ListBuckets(stolen, t));
            for (int i = 0; i < 2; i++) At(t => _g.ListObjects(stolen, t, bucket));
            At(t => _g.Emit(stolen, t, "s3.amazonaws.com", "GetBucketAcl", Region, new JsonObject { ["bucketName"] = bucket, ["Host"] = $"{bucket}.s3.amazonaws.com", ["acl"] = "" }, null,
                resources: Emitter.Res((Acct, "AWS::S3::Bucket", $"arn:aws:s3:::{bucket}"))));
            for (int i = 0; i < 2; i++) At(t => _g.Emit(stolen, t, "ec2.amazonaws.com", "DescribeInstances", "us-west-2", new JsonObject { ["instancesSet"] = new JsonObject(), ["filterSet"] = new JsonObject() }, null));
            for (int i = 0; i < 2; i++) At(t => _g.Emit(stolen, t, "ec2.amazonaws.com", "DescribeSecurityGroups", "us-west-2", new JsonObject { ["securityGroupSet"] = new JsonObject(), ["filterSet"] = new JsonObject() }, null));
            for (int i = 0; i < 2; i++) At(t => _g.Emit(stolen, t, "iam.amazonaws.com", "ListRoles", "us-east-1", null, null));
            At(t => _g.Emit(stolen, t, "iam.amazonaws.com", "ListUsers", "us-east-1", null, null, errorCode: "AccessDenied",
                errorMessage: $"User: arn:aws:sts::{Acct}:assumed-role/{roleName}/{inst.InstanceId} is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::{Acct}:user/ because no identity-based policy allows the iam:ListUsers action"));
            At(t => _g.Emit(stolen, t, "iam.amazonaws.com", "GetAccountAuthorizationDetails", "us-east-1", null, null, errorCode: "AccessDenied",
                errorMessage: $"User: arn:aws:sts::{Acct}:assumed-role/{roleName}/{inst.InstanceId} is not authorized to perform: iam:GetAccountAuthorizationDetails on resource: * because no identity-based policy allows the iam:GetAccountAuthorizationDetails action"));
            At(t => _g.Emit(stolen, t, "lambda.amazonaws.com", "ListFunctions20150331", "eu-west-1", null, null, apiVersion: "2015-03-31"));
            At(t => _g.Emit(stolen, t, "dynamodb.amazonaws.com", "ListTables", "us-west-2", null, null));
            At(t => _g.Emit(stolen, t, "secretsmanager.amazonaws.com", "ListSecrets", Region, null, null, errorCode: "AccessDenied",
                errorMessage: $"User: arn:aws:sts::{Acct}:assumed-role/{roleName}/{inst.InstanceId} is not authorized to perform: secretsmanager:ListSecrets because no identity-based policy allows the secretsmanager:ListSecrets action"));
            At(t => _g.Emit(stolen, t, "ec2.amazonaws.com", "RunInstances", "us-west-2",
                new JsonObject { ["instancesSet"] = new JsonObject { ["items"] = new JsonArray(new JsonObject { ["imageId"] = "ami-0" + _g.Hex(16), ["minCount"] = 1, ["maxCount"] = 4 }) }, ["instanceType"] = "c5.4xlarge" },
                null, readOnly: false, errorCode: "Client.UnauthorizedOperation", errorMessage: "You are not authorized to perform this operation. Encoded authorization failure message: " + _g.Hex(60)));

            // The SSM agent on the instance (instance-identity role).
            var identity = Actor.InstanceIdentity(Acct, inst.InstanceId, "ASIA" + _g.Upper(16), instanceIp, session.AddMinutes(1));
            for (int i = 0; i < 2; i++)
                At(t => _g.Emit(identity, t, "ssm.amazonaws.com", "RequestManagedInstanceRoleToken", Region,
                    new JsonObject { ["fingerprint"] = inst.InstanceId }, null, readOnly: true, management: false,
                    resources: Emitter.Res((Acct, "AWS::SSM::ManagedNode", $"arn:aws:ec2:{Region}:{Acct}:instance/{inst.InstanceId}")), tls: false));
            for (int i = 0; i < 3; i++)
                At(t => _g.Emit(identity, t, "ssm.amazonaws.com", "UpdateInstanceInformation", Region,
                    new JsonObject { ["instanceId"] = inst.InstanceId, ["agentVersion"] = "3.3.859.0", ["platformType"] = "Linux", ["agentStatus"] = "Active" }, null, readOnly: false));
        }

        private void OtherInstances()
        {
            var start = _w.BaseTime.AddDays(-2);
            var end = _w.BaseTime.AddMinutes(-5);
            var nat = _g.PublicIp();
            int listBucketsFor = 3;
            foreach (var inst in _w.Instances.Where(i => i.AccountId == Acct && i.IamRoleName is not null && i.InstanceId != _w.InvestigatedInstanceId))
            {
                var role = _w.Roles.First(r => r.AccountId == Acct && r.RoleName == inst.IamRoleName);
                var actor = Actor.InstanceRole(Acct, role.RoleName, role.RoleId, inst.InstanceId, "ASIA" + _g.Upper(16), inst.PublicIp ?? nat, start.AddHours(-1),
                    delivery: _g.Rng.Next(4) == 0 ? "1.0" : "2.0");
                bool scale = _w.Scenario == ScenarioNames.Scale;
                // Descending ListBuckets counts (3, 2, 1, …) keep the first workshop query's ordering free of ties in small worlds.
                int lb = scale ? _g.Rng.Next(0, 3) : Math.Max(listBucketsFor--, 1);
                for (int i = 0; i < lb; i++) _records.Add(_g.ListBuckets(actor, Between(start, end)));
                int n = scale ? 3 + _g.Rng.Next(8) : 6;
                for (int i = 0; i < n; i++) _records.Add(_g.Noise(actor, Between(start, end)));
                var cfg = $"app-config-{Acct}";
                _records.Add(_g.S3Object(actor, Between(start, end), "GetObject", cfg, "config/app.json", 2048, readOnly: true));
            }
        }

        private void Noise(List<UserInfo> users, int count)
        {
            var start = _w.BaseTime.AddDays(-3);
            var end = _w.BaseTime.AddMinutes(-1);
            var actors = users.Select(u => Actor.User(Acct, u.Name, u.UserId, u.AccessKey, console: false, mfa: false, ip: _g.PublicIp(),
                ua: "aws-sdk-java/2.25.60 Linux/6.1 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard")).ToList();
            for (int i = 0; i < count; i++)
                _records.Add(_g.Noise(actors[_g.Rng.Next(actors.Count)], Between(start, end)));
        }
    }
}

/// <summary>GuardDuty IDs that CloudTrail events and the GuardDuty service must agree on (both derive them from the world).</summary>
public static class GuardDutyIds
{
    public static string DetectorId(ScenarioWorld world) => DetectorId(world.AccountId, world.Region, world.Seed);

    public static string DetectorId(string accountId, string region, int seed) => HexOf($"detector|{accountId}|{region}|{seed}", 32);

    public static string ThreatIntelSetId(ScenarioWorld world) => HexOf($"tis|{world.AccountId}|{world.ThreatListName}|{world.Seed}", 32);

    public static string HexOf(string seed, int length)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(seed));
        return Convert.ToHexString(hash).ToLowerInvariant()[..length];
    }
}
