using System.Security.Cryptography;
using System.Text;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Ec2;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.Iam;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Sns;

namespace GuardDutyIR.Lab.Scenarios;

/// <summary>
/// Puts a scenario's world into the Lab's services before the Lab serves, through the services' own state, so the
/// services only answer the AWS APIs. Everything placed follows from the world alone: the same seed, the same IDs,
/// objects, events and findings.
/// </summary>
internal static class ScenarioSeeder
{
    /// <summary>
    /// Scenario 1's remediation function (the workshop's Lambda that isolates the instance), declared so a runtime loop
    /// can serve it and a rule can target it; no rule is made, so nothing invokes it until one is.
    /// </summary>
    public const string RemediationFunctionName = "GuardDuty-Example-Remediation-EC2MaliciousIPCaller";

    /// <summary>Time the remediation has to isolate an instance (Lambda's default of 3 seconds is too short for that).</summary>
    public static readonly TimeSpan RemediationTimeout = TimeSpan.FromSeconds(60);

    public static void Seed(LabContext context, ScenarioWorld world)
    {
        if (world.CompromisedInstanceId is not null) context.Lambda.Register(RemediationFunctionName, world.AccountId, RemediationTimeout);
        if (context.GetService<Ec2Service>() is { } ec2) Ec2Seeder.Seed(ec2, world);
        if (context.GetService<IamService>() is { } iam) IamSeeder.Seed(iam, world);
        if (context.GetService<AutoScalingService>() is { } autoScaling) Ec2Seeder.Seed(autoScaling, world);
        if (context.GetService<S3Service>() is { } s3) Seed(s3, world);
        if (context.GetService<GuardDutyService>() is { } guardDuty) GuardDutySeeder.Seed(guardDuty, world);
        if (context.GetService<SnsService>() is { } sns) Seed(sns, world);
        if (context.GetService<CloudTrailService>() is { } cloudTrail) Seed(cloudTrail, world);
    }

    /// <summary>The threat list, the bucket the stolen credentials read, the responder's evidence bucket, and the trail's log files.</summary>
    private static void Seed(S3Service s3, ScenarioWorld world)
    {
        var store = s3.Store;
        var created = world.BaseTime.AddDays(-40);
        if (world.ThreatListBucket is { } tlb && world.ThreatListKey is { } tlk)
        {
            store.EnsureBucket(tlb, world.AccountId, world.Region, created);
            store.Put(tlb, new S3StoredObject(tlk, Encoding.UTF8.GetBytes(ThreatListContent(world)), "text/plain", world.BaseTime.AddHours(-3)));
        }
        if (world.ExfilBucket is { } eb)
        {
            store.EnsureBucket(eb, world.AccountId, world.Region, created);
            foreach (var obj in world.ExfilObjects)
                store.Put(eb, new S3StoredObject(obj.Key, () => DeterministicBytes(obj.Bucket + "/" + obj.Key, obj.Size), obj.Size, "application/gzip", obj.Time));
        }
        if (world.Scenario != ScenarioNames.Empty)
        {
            s3.EvidenceBucket = $"guardduty-ir-evidence-{world.AccountId}";
            store.EnsureBucket(s3.EvidenceBucket, world.AccountId, world.Region, created);
        }
        var records = CloudTrailEventGenerator.ForWorld(world);
        if (records.Count > 0)
        {
            var bucket = CloudTrailLogFiles.TrailBucketName(world.AccountId);
            s3.TrailBucket = bucket;
            store.EnsureBucket(bucket, world.AccountId, world.Region, created);
            var keys = new List<string>();
            foreach (var file in CloudTrailLogFiles.Split(records, world.AccountId, world.Seed))
            {
                store.Put(bucket, new S3StoredObject(file.Key, file.GzipContent, "application/x-gzip", file.DeliveredAt));
                keys.Add(file.Key);
            }
            s3.TrailLogKeys = keys;
        }
    }

    /// <summary>The threat list file: one IP or CIDR per line (GuardDuty's TXT format), the malicious EIP among them.</summary>
    private static string ThreatListContent(ScenarioWorld world)
    {
        var sb = new StringBuilder();
        sb.Append("# Example-Threat-List (GuardDutyIR Lab)\n");
        if (world.MaliciousEip is { } ip) sb.Append(ip).Append('\n');
        // Documentation-range entries keep the list realistic without adding matches (GuardDuty ignores private/non-routable IPs).
        sb.Append("198.51.100.66\n203.0.113.0/28\n");
        return sb.ToString();
    }

    /// <summary>Stand-in content for the exfiltrated objects: made from their names, produced only when read.</summary>
    private static byte[] DeterministicBytes(string seed, long size)
    {
        var result = new byte[size];
        var block = SHA256.HashData(Encoding.UTF8.GetBytes(seed));
        for (long i = 0; i < size; i += block.Length)
        {
            Array.Copy(block, 0, result, i, (int)Math.Min(block.Length, size - i));
            block = SHA256.HashData(block);
        }
        return result;
    }

    /// <summary>The responders' topic, with the security team's e-mail subscription still pending confirmation.</summary>
    private static void Seed(SnsService sns, ScenarioWorld world)
    {
        if (world.SnsTopicName is not { } name) return;
        var topic = sns.GetOrCreate(world.AccountId, world.Region, name);
        topic.Attributes["DisplayName"] = "GuardDuty-Example";
        lock (topic.Subscriptions)
            topic.Subscriptions.Add(new SnsSubscription("PendingConfirmation", topic.Arn, "email", "security-team@example.com", world.AccountId, false));
        sns.ScenarioTopicArn = topic.Arn;
    }

    /// <summary>The scenario's events, the event data store over them, and what the workshop's queries should answer.</summary>
    private static void Seed(CloudTrailService cloudTrail, ScenarioWorld world)
    {
        var records = CloudTrailEventGenerator.ForWorld(world);
        cloudTrail.Load(records);
        if (world.Scenario == ScenarioNames.Empty) return;
        var hex = GuardDutyIds.HexOf($"eds|{world.AccountId}|{world.Region}|{world.Seed}", 32);
        var id = $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
        cloudTrail.AddEventDataStore(id, $"arn:aws:cloudtrail:{world.Region}:{world.AccountId}:eventdatastore/{id}", world.AccountId, world.BaseTime.AddDays(-30));
        if (world.InvestigatedInstanceId is { } inst) cloudTrail.Truth = CloudTrailTruth.Compute(records, inst);
    }
}
