using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Amazon.EC2.Model;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// Evidence: EBS snapshots of every volume (crash-consistent CreateSnapshots, never just the first volume), waited on
/// until completed (never a sleep and a hope), copied re-encrypted and shared; console output and screenshot with
/// SHA-256; and the guarded stop or terminate that refuses while any volume lacks a completed snapshot of the case.
/// </summary>
public sealed partial class ForensicService
{
    private readonly AwsSession _session;

    public ForensicService(AwsSession session) => _session = session;

    private readonly Dictionary<string, Ec2Gateway> _gateways = new(StringComparer.Ordinal);

    // One gateway (and so one set of buckets) per region for the service's lifetime.
    private Ec2Gateway Gateway(string region)
    {
        lock (_gateways)
        {
            if (!_gateways.TryGetValue(region, out var g)) _gateways[region] = g = new Ec2Gateway(_session.Ec2(region), region, Ec2RateLimiter.FromEnvironment(), dryRun: false);
            return g;
        }
    }

    private static async Task<InstanceFacts> DescribeOneAsync(Ec2Gateway ec2, string instanceId, CancellationToken ct)
    {
        var facts = await Ec2Facts.DescribeAsync(ec2, null, new[] { instanceId }, withAttributes: false, ct).ConfigureAwait(false);
        return facts.TryGetValue(instanceId, out var f) ? f : throw Ec2Facts.NotFound(instanceId, ec2.Region);
    }

    /// <summary>Describes the instance (after checking its ID), for a confirmation that names what is acted on.</summary>
    public async Task<ForensicTarget> ResolveAsync(string instanceId, string region, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        return new ForensicTarget(await DescribeOneAsync(Gateway(region), instanceId, ct).ConfigureAwait(false), region);
    }

    private static bool IsSnapshotLimit(AwsServiceException e) =>
        e.ErrorCode is "ConcurrentSnapshotLimitExceeded" or "SnapshotCreationPerVolumeRateExceeded" or "SnapshotLimitExceeded" || e.IsThrottling;

    // ------------------------------------------------------------------ evidence capture

    /// <summary>Saves the description, console output and screenshot of an instance resolved by <see cref="ResolveAsync"/>.</summary>
    public async Task<InstanceEvidence> CaptureAsync(ForensicTarget target, string directory, string? caseId, string? findingId, GdFinding? finding, CancellationToken ct)
    {
        var region = target.Region;
        var instanceId = target.InstanceId;
        var ec2 = Gateway(region);
        var f = target.Facts;
        Directory.CreateDirectory(directory);
        var stamp = DateTime.UtcNow.ToString("yyyyMMddTHHmmssZ", CultureInfo.InvariantCulture);
        var files = new List<EvidenceFile>();
        var missing = new List<string>();

        async Task Save(string kind, string extension, byte[] data)
        {
            var path = Path.Combine(directory, $"{instanceId}-{stamp}-{kind}.{extension}");
            await File.WriteAllBytesAsync(path, data, ct).ConfigureAwait(false);
            files.Add(new EvidenceFile { Kind = kind, Path = Path.GetFullPath(path), Length = data.Length, Sha256 = Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant() });
        }

        await Save("description", "json", Encoding.UTF8.GetBytes(Ec2Gateway.ToJson(f.Instance))).ConfigureAwait(false);
        try
        {
            var console = await ec2.ReadAsync("GetConsoleOutput", instanceId, (c, t) => c.GetConsoleOutputAsync(new GetConsoleOutputRequest { InstanceId = instanceId, Latest = true }, t), ct).ConfigureAwait(false);
            await Save("console", "txt", Decode(console.Output)).ConfigureAwait(false);
        }
        catch (GuardDutyIRException e) { missing.Add("console output: " + e.Message); }
        try
        {
            var shot = await ec2.ReadAsync("GetConsoleScreenshot", instanceId, (c, t) => c.GetConsoleScreenshotAsync(new GetConsoleScreenshotRequest { InstanceId = instanceId, WakeUp = true }, t), ct).ConfigureAwait(false);
            await Save("screenshot", "jpg", Convert.FromBase64String(shot.ImageData ?? "")).ConfigureAwait(false);
        }
        catch (GuardDutyIRException e) { missing.Add("screenshot: " + e.Message); }
        return new InstanceEvidence
        {
            InstanceId = instanceId, Region = region, CaseId = caseId ?? f.Tags.GetValueOrDefault(QuarantineTags.Case),
            FindingId = findingId ?? finding?.Id ?? f.Tags.GetValueOrDefault(QuarantineTags.Finding), Finding = finding,
            CapturedAt = DateTime.UtcNow, Files = files, Missing = missing,
        };
    }

    // EC2 sends console output base64-encoded; keep the raw text if it is not.
    private static byte[] Decode(string? output)
    {
        if (string.IsNullOrEmpty(output)) return Array.Empty<byte>();
        try { return Convert.FromBase64String(output); }
        catch (FormatException) { return Encoding.UTF8.GetBytes(output); }
    }
}
