using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Lab.Tests.Models;

/// <summary>
/// The Lab ships a table of the required members, limits and enums of every operation it serves. This re-derives the
/// table from the AWS service models beside the clone and fails when the two disagree (a hand edit, a model update, an
/// operation added to a service without its table entry). Set GUARDDUTYIR_REGENERATE_LAB_MODEL=1 to rewrite the table.
/// </summary>
public sealed class ServiceModelAgreementTests
{
    private static string Models => Path.Combine(TestPaths.Shared, "aws-models");
    private static string ShippedFile => Path.Combine(TestPaths.RepoRoot, "src", "GuardDutyIR.Lab", "Core", "Model", "aws-model-constraints.json");

    /// <summary>The table as the models give it, for the operations the Lab's services declare.</summary>
    internal static JsonObject Derive(IEnumerable<ILabService> services)
    {
        var commit = File.ReadLines(Path.Combine(Models, "SOURCE.txt")).First().Split(' ')[0];
        var tables = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var s in services.OfType<IModeledService>().Cast<ILabService>())
            tables[s.SigningName] = ModelTrimmer.Trim(Path.Combine(Models, s.SigningName, "service-2.json"), ((IModeledService)s).Operations);
        return new JsonObject
        {
            ["source"] = $"boto/botocore@{commit} botocore/data/<service>/<apiVersion>/service-2.json",
            ["services"] = new JsonObject(tables!),
        };
    }

    [Fact]
    public async Task ShippedTable_IsWhatTheServiceModelsSay()
    {
        await using var lab = await TestLab.StartAsync("Empty");
        var derived = Derive(lab.Services);
        if (Environment.GetEnvironmentVariable("GUARDDUTYIR_REGENERATE_LAB_MODEL") == "1")
            File.WriteAllText(ShippedFile, ModelTrimmer.Serialize(derived));

        var shipped = JsonNode.Parse(ServiceModel.RawTable());
        var differences = Differences(derived, shipped, "").Take(20).ToList();
        Assert.True(differences.Count == 0,
            "The Lab's constraint table disagrees with the AWS models (rebuild with GUARDDUTYIR_REGENERATE_LAB_MODEL=1 and review the diff):\n" +
            string.Join("\n", differences));
    }

    [Fact]
    public async Task EveryServiceTheLabRuns_IsCheckedAgainstItsModel_ExceptS3()
    {
        await using var lab = await TestLab.StartAsync("Empty");
        var unmodeled = lab.Services.Where(s => s is not IModeledService).Select(s => s.SigningName).ToList();
        // No S3 model is kept beside the clone; S3's only bounded input the Lab reads, max-keys, is capped at 1000 as S3 documents.
        Assert.Equal(new[] { "s3" }, unmodeled);
        foreach (var s in lab.Services.OfType<IModeledService>())
            Assert.NotEmpty(s.Operations);
    }

    [Fact]
    public void Table_CarriesTheLimitsTheIssueIsAbout()
    {
        // Spot checks that would fail on a table derived wrongly (e.g. a limit taken from the wrong shape).
        var ec2 = ServiceModel.For("ec2");
        Assert.Equal((null, null), ec2.Range("DescribeVolumes", "MaxResults"));
        Assert.Equal((null, null), ec2.Range("DescribeInstances", "MaxResults"));
        Assert.Equal((5L, 1000L), ec2.Range("DescribeSecurityGroups", "MaxResults"));
        Assert.Equal((1L, 50L), ServiceModel.For("guardduty").Range("ListFindings", "MaxResults"));
        Assert.Equal((1L, 1000L), ServiceModel.For("cloudtrail").Range("GetQueryResults", "MaxQueryResults"));
        Assert.Equal((900L, 43200L), ServiceModel.For("sts").Range("AssumeRole", "DurationSeconds"));
        Assert.Equal((null, null), ServiceModel.For("autoscaling").Range("DescribeAutoScalingGroups", "MaxRecords"));
        Assert.Equal((1L, 100L), ServiceModel.For("events").Range("ListRules", "Limit"));
    }

    private static IEnumerable<string> Differences(JsonNode? expected, JsonNode? actual, string path)
    {
        if (expected is JsonObject eo && actual is JsonObject ao)
        {
            foreach (var (k, v) in eo)
                if (!ao.ContainsKey(k)) yield return $"{path}/{k}: missing from the shipped table";
                else foreach (var d in Differences(v, ao[k], path + "/" + k)) yield return d;
            foreach (var (k, _) in ao)
                if (!eo.ContainsKey(k)) yield return $"{path}/{k}: in the shipped table but not in the models";
            yield break;
        }
        if (!JsonNode.DeepEquals(expected, actual))
            yield return $"{path}: models say {expected?.ToJsonString() ?? "null"}, shipped table says {actual?.ToJsonString() ?? "null"}";
    }
}
