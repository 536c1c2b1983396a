using System.IO.Compression;
using System.Text.Json;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.Tests;

public sealed class CloudTrailEventTests
{
    [Fact]
    public void SameSeed_SameEvents_OtherSeed_OtherEvents()
    {
        var a = CloudTrailEventGenerator.ForWorld(ScenarioWorld.Create(ScenarioNames.Workshop, 77));
        var b = CloudTrailEventGenerator.ForWorld(ScenarioWorld.Create(ScenarioNames.Workshop, 77));
        var c = CloudTrailEventGenerator.ForWorld(ScenarioWorld.Create(ScenarioNames.Workshop, 78));
        Assert.Equal(a.Select(r => r.JsonText), b.Select(r => r.JsonText));
        Assert.NotEqual(a.Select(r => r.EventId), c.Select(r => r.EventId));
        Assert.Equal(a.Count, a.Select(r => r.EventId).Distinct().Count());
        Assert.Empty(CloudTrailEventGenerator.ForWorld(ScenarioWorld.Create(ScenarioNames.Empty, 77)));
    }

    [Fact]
    public void Records_HaveTheCloudTrailFormat_AndTheStory()
    {
        var w = ScenarioWorld.Create(ScenarioNames.CloudTrailInvestigation, 5);
        var records = CloudTrailEventGenerator.ForWorld(w);
        Assert.All(records, r =>
        {
            var j = r.Json;
            Assert.Matches(@"^1\.(0[89]|1[01])$", (string)j["eventVersion"]!);
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", (string)j["eventTime"]!);
            Assert.True(j["readOnly"]!.GetValueKind() is JsonValueKind.True or JsonValueKind.False);
            Assert.True(j.ContainsKey("requestParameters") && j.ContainsKey("responseElements"));
            Assert.Equal(w.AccountId, (string)j["recipientAccountId"]!);
            Assert.Equal(r.ManagementEvent ? "Management" : "Data", (string)j["eventCategory"]!);
        });
        var inst = records.Where(r => r.PrincipalId == w.InvestigatedPrincipalId).ToList();
        var id = inst[0].Json["userIdentity"]!;
        Assert.Equal("AssumedRole", (string)id["type"]!);
        Assert.Equal($"arn:aws:sts::{w.AccountId}:assumed-role/{w.InvestigatedRoleName}/{w.InvestigatedInstanceId}", (string)id["arn"]!);
        Assert.Equal("2.0", (string)id["sessionContext"]!["ec2RoleDelivery"]!);
        Assert.Equal(w.InvestigatedRoleArn, (string)id["sessionContext"]!["sessionIssuer"]!["arn"]!);
        Assert.All(inst, r => Assert.Equal(w.InvestigatedSessionAccessKeyId, r.AccessKeyId));
        Assert.Contains(inst, r => r.SourceIpAddress == w.ExfilSourceIp);
        Assert.Contains(inst, r => r.AwsRegion != w.Region);
        Assert.Equal(w.ExfilObjects.Select(o => o.Key).Order(), inst.Where(r => r.EventName == "PutObject").Select(r => r.RequestParametersMap!["key"]).Order());
        Assert.Contains(records, r => r.EventName == "ConsoleLogin" && (string?)r.Json["additionalEventData"]?["MFAUsed"] == "No");
        Assert.Contains(records, r => r.EventName == "AuthorizeSecurityGroupIngress");
        Assert.Contains(records, r => r.EventName == "AttachRolePolicy");
        Assert.Contains(records, r => r.PrincipalId == $"{w.AccountId}:aws:ec2-instance:{w.InvestigatedInstanceId}");

        var truth = CloudTrailTruth.Compute(records, w.InvestigatedInstanceId!);
        Assert.Equal(w.InvestigatedPrincipalId, truth.TopPrincipalId);
        Assert.Equal(inst.Count(r => r.EventName == "ListBuckets"), truth.InstancesThatListedBuckets[0].Total);
    }

    [Fact]
    public void BulkWriter_StreamsManyEventsIntoTrailFiles()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gdir-bulk-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = CloudTrailLogFiles.WriteBulk(dir, 25_000, seed: 3, eventsPerFile: 5000);
            Assert.Equal(25_000, result.Events);
            Assert.Equal(5, result.Files);
            var files = Directory.GetFiles(dir, "*.json.gz", SearchOption.AllDirectories);
            Assert.Equal(5, files.Length);
            long count = 0;
            foreach (var f in files)
            {
                using var gz = new GZipStream(File.OpenRead(f), CompressionMode.Decompress);
                using var doc = JsonDocument.Parse(gz);
                count += doc.RootElement.GetProperty("Records").GetArrayLength();
                Assert.Contains(Path.Combine("AWSLogs", "111122223333", "CloudTrail", "us-east-1"), f, StringComparison.Ordinal);
            }
            Assert.Equal(25_000, count);
            var again = CloudTrailEventGenerator.Bulk("111122223333", "us-east-1", 3, 10, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(1)).Select(r => r.EventId).ToList();
            Assert.Equal(again, CloudTrailEventGenerator.Bulk("111122223333", "us-east-1", 3, 10, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(1)).Select(r => r.EventId));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
