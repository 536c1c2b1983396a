using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Amazon.EC2;
using Amazon.EC2.Model;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Containment;

/// <summary>Options of New-ForensicSnapshot.</summary>
public sealed record SnapshotOptions
{
    public bool PerVolume { get; init; }
    public bool Wait { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromHours(2);
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);
    public string? CopyToRegion { get; init; }
    public string? KmsKeyId { get; init; }
    public IReadOnlyList<string> ShareWithAccountIds { get; init; } = Array.Empty<string>();
    /// <summary>How long to keep retrying when the account's concurrent-snapshot limit is reached.</summary>
    public TimeSpan LimitRetryFor { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>What earlier steps of the pipeline did to the instance, carried on each snapshot.</summary>
    public IReadOnlyList<string> EarlierActions { get; init; } = Array.Empty<string>();
}

/// <summary>An instance as described before a forensic action, so the confirmation can name what will be acted on.</summary>
public class ForensicTarget
{
    internal ForensicTarget(InstanceFacts facts, string region)
    {
        Facts = facts;
        Region = region;
    }

    internal InstanceFacts Facts { get; }
    public string InstanceId => Facts.InstanceId;
    public string Region { get; }
    public string State => Facts.StateName;
    /// <summary>Attached EBS volumes: volume ID → device.</summary>
    public IReadOnlyDictionary<string, string> Volumes => Facts.Volumes.ToDictionary(v => v.Ebs.VolumeId, v => v.DeviceName, StringComparer.Ordinal);
}

/// <summary>What New-ForensicSnapshot will do to one instance: the snapshots to take and those of the case to reuse.</summary>
public sealed class SnapshotPlan : ForensicTarget
{
    internal SnapshotPlan(InstanceFacts facts, string region) : base(facts, region) { }

    public string? CaseId { get; internal init; }
    public string? FindingId { get; internal init; }
    internal GdFinding? Finding { get; init; }
    /// <summary>Snapshots this case already took, by volume.</summary>
    internal IReadOnlyDictionary<string, Snapshot> Reused { get; init; } = new Dictionary<string, Snapshot>();
    /// <summary>Volumes that still need a snapshot.</summary>
    public IReadOnlyList<string> Missing { get; internal init; } = Array.Empty<string>();

    /// <summary>The action, for ShouldProcess ("Performing the operation … on target i-…").</summary>
    public string Describe(bool perVolume)
    {
        var volumes = Volumes;
        var what = Missing.Count == 0 ? "take no new snapshot"
            : $"snapshot {string.Join(", ", Missing.Select(v => $"{v} ({volumes[v]})"))} " + (perVolume || Missing.Count < volumes.Count ? "one CreateSnapshot per volume" : "in one crash-consistent CreateSnapshots");
        var reuse = Reused.Count == 0 ? "" : "; reuse " + string.Join(", ", Reused.Select(r => $"{r.Value.SnapshotId} of {r.Key}"));
        return $"{what} for case {CaseId ?? "(none)"}{reuse}";
    }
}

/// <summary>What Stop-/Remove-CompromisedInstance will do: the evidence found, and whether the gate is forced open.</summary>
public sealed class ShutdownPlan : ForensicTarget
{
    internal ShutdownPlan(InstanceFacts facts, string region) : base(facts, region) { }

    public string? CaseId { get; internal init; }
    public bool Terminate { get; internal init; }
    /// <summary>Volume → the completed snapshot of the case that covers it.</summary>
    public IReadOnlyDictionary<string, string> Covered { get; internal init; } = new Dictionary<string, string>();
    public IReadOnlyList<string> Missing { get; internal init; } = Array.Empty<string>();

    /// <summary>The action, for ShouldProcess.</summary>
    public string Describe() =>
        $"{(Terminate ? "Terminate" : "Stop")}; evidence of case {CaseId ?? "(none)"}: " +
        (Covered.Count == 0 ? "none" : string.Join(", ", Covered.Select(c => $"{c.Key} in {c.Value}"))) +
        (Missing.Count == 0 ? "" : $"; NO completed snapshot of {string.Join(", ", Missing)} (-Force)");
}

/// <summary>
/// Evidence: EBS snapshots of every volume (crash-consistent CreateSnapshots, never just the first volume), waited on
/// until completed (never a sleep and a hope), copied re-encrypted and shared; console output and screenshot with
/// SHA-256; and the guarded stop or terminate that refuses while any volume lacks a completed snapshot of the case.
/// </summary>
public sealed class ForensicService
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

    // ------------------------------------------------------------------ snapshots

    /// <summary>
    /// Reads what a snapshot run needs, changing nothing: the instance, its volumes, and the snapshots this case already
    /// took of it (reused, never duplicated). A terminated instance has no volumes left to snapshot by instance.
    /// </summary>
    public async Task<SnapshotPlan> PlanSnapshotAsync(string instanceId, string region, string? caseId, string? findingId, GdFinding? finding, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        var ec2 = Gateway(region);
        var f = await DescribeOneAsync(ec2, instanceId, ct).ConfigureAwait(false);
        if (f.StateName == "terminated")
            throw new GuardDutyIRException("InstanceTerminated", ErrorKind.InvalidOperation,
                $"Instance {instanceId} is terminated: its volumes are no longer attached, so there is nothing to snapshot by instance. " +
                "Volumes kept on termination (DeleteOnTermination=false) still exist and can be snapshotted by volume ID.", instanceId);
        var volumes = f.Volumes.ToDictionary(v => v.Ebs.VolumeId, v => v.DeviceName, StringComparer.Ordinal);
        if (volumes.Count == 0)
            throw new GuardDutyIRException("NoVolumes", ErrorKind.InvalidOperation, $"{instanceId} has no attached EBS volume to snapshot.", instanceId);
        var caseTag = NonEmpty(caseId) ?? NonEmpty(f.Tags.GetValueOrDefault(QuarantineTags.Case));
        var findingTag = NonEmpty(findingId) ?? NonEmpty(finding?.Id) ?? NonEmpty(f.Tags.GetValueOrDefault(QuarantineTags.Finding));
        var existing = caseTag is null ? new List<Snapshot>() : await SnapshotsOfCaseAsync(ec2, caseTag, instanceId, ct).ConfigureAwait(false);
        var byVolume = existing.Where(s => s.State?.Value != "error" && volumes.ContainsKey(s.VolumeId)).GroupBy(s => s.VolumeId)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(s => s.StartTime).First(), StringComparer.Ordinal);
        return new SnapshotPlan(f, region)
        {
            CaseId = caseTag, FindingId = findingTag, Finding = finding, Reused = byVolume,
            Missing = volumes.Keys.Where(v => !byVolume.ContainsKey(v)).ToList(),
        };
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    /// <summary>
    /// Snapshots every volume of the plan that has none of its case yet. <paramref name="progress"/> gets a status line
    /// and a percentage (0-100; a snapshot that reports no progress yet counts as 0).
    /// </summary>
    public async Task<IReadOnlyList<ForensicSnapshot>> SnapshotAsync(SnapshotPlan plan, SnapshotOptions o, Action<string, int>? progress, CancellationToken ct)
    {
        var region = plan.Region;
        var instanceId = plan.InstanceId;
        var ec2 = Gateway(region);
        var volumes = plan.Volumes;
        var now = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var caseTag = plan.CaseId;
        var findingTag = plan.FindingId;
        var finding = plan.Finding;
        var results = new List<ForensicSnapshot>();
        // What was done to each snapshot; a reused one starts with the line that says it was found.
        var logs = new Dictionary<ForensicSnapshot, StepLog>();
        ForensicSnapshot Add(ForensicSnapshot s)
        {
            results.Add(s);
            logs[s] = new StepLog();
            return s;
        }
        foreach (var (vol, snap) in plan.Reused)
            Add(ToModel(snap, instanceId, volumes[vol], caseTag, findingTag, finding, region));
        var missing = plan.Missing;

        // Only the tags that have a value: an empty ir:finding would say "no finding" in a way no filter can tell from a real one.
        List<Tag> BaseTags() => Tags(
            (QuarantineTags.Case, caseTag), (QuarantineTags.Finding, findingTag), ("ir:instance", instanceId), ("ir:time", now),
            ("Name", string.Join(' ', new[] { "IR", caseTag, instanceId }.OfType<string>())));
        var description = "GuardDutyIR" + (caseTag is null ? "" : $" case {caseTag}") + (findingTag is null ? "" : $" finding {findingTag}") + $": {instanceId}";

        if (missing.Count > 0)
        {
            if (!o.PerVolume && missing.Count == volumes.Count)
            {
                var request = new CreateSnapshotsRequest
                {
                    InstanceSpecification = new InstanceSpecification { InstanceId = instanceId, ExcludeBootVolume = false },
                    Description = description + " (crash-consistent)",
                    TagSpecifications = new List<TagSpecification> { new() { ResourceType = ResourceType.Snapshot, Tags = BaseTags() } },
                };
                var m = await WithLimitRetryAsync(() => ec2.MutateAsync("CreateSnapshots", instanceId, (c, dry, t) => c.CreateSnapshotsAsync(request, t), ct), o, progress, ct).ConfigureAwait(false);
                foreach (var s in m.Response!.Snapshots ?? new())
                {
                    var device = volumes.GetValueOrDefault(s.VolumeId);
                    // The per-volume tags CreateSnapshots cannot set (one TagSpecification for all of them).
                    var tagged = await ec2.MutateAsync("CreateTags", s.SnapshotId, (c, dry, t) => c.CreateTagsAsync(new CreateTagsRequest
                    { Resources = new List<string> { s.SnapshotId }, Tags = Tags(("ir:volume", s.VolumeId), ("ir:device", device)) }, t), ct).ConfigureAwait(false);
                    var model = Add(new ForensicSnapshot
                    {
                        SnapshotId = s.SnapshotId, VolumeId = s.VolumeId, InstanceId = instanceId, Device = device, State = s.State?.Value ?? "pending",
                        Progress = NonEmpty(s.Progress), StartTime = s.StartTime, CaseId = caseTag, FindingId = findingTag, Finding = finding, Region = region,
                        Encrypted = s.Encrypted ?? false,
                    });
                    logs[model].Done("CreateSnapshots", s.SnapshotId, $"snapshot {s.SnapshotId} of {s.VolumeId} ({device})", m.RequestId, tagged.RequestId);
                }
            }
            else
            {
                foreach (var vol in missing)
                {
                    var tags = BaseTags();
                    tags.AddRange(Tags(("ir:volume", vol), ("ir:device", volumes[vol])));
                    var request = new CreateSnapshotRequest
                    {
                        VolumeId = vol, Description = $"{description} {volumes[vol]}",
                        TagSpecifications = new List<TagSpecification> { new() { ResourceType = ResourceType.Snapshot, Tags = tags } },
                    };
                    var m = await WithLimitRetryAsync(() => ec2.MutateAsync("CreateSnapshot", vol, (c, dry, t) => c.CreateSnapshotAsync(request, t), ct), o, progress, ct).ConfigureAwait(false);
                    var s = m.Response!.Snapshot;
                    var model = Add(new ForensicSnapshot
                    {
                        SnapshotId = s.SnapshotId, VolumeId = vol, InstanceId = instanceId, Device = volumes[vol], State = s.State?.Value ?? "pending", Progress = NonEmpty(s.Progress),
                        StartTime = s.StartTime, CaseId = caseTag, FindingId = findingTag, Finding = finding, Region = region, Encrypted = s.Encrypted ?? false,
                    });
                    logs[model].Done("CreateSnapshot", s.SnapshotId, $"snapshot {s.SnapshotId} of {vol} ({volumes[vol]})", m.RequestId);
                }
            }
        }

        if (o.Wait || o.CopyToRegion is not null || o.ShareWithAccountIds.Count > 0)
            await WaitAsync(ec2, results, o, progress, ct).ConfigureAwait(false);
        if (o.CopyToRegion is not null || o.ShareWithAccountIds.Count > 0)
            foreach (var s in results) await CopyAndShareAsync(s, logs[s], region, o, ct).ConfigureAwait(false);
        foreach (var s in results)
        {
            s.Actions = s.Actions.Concat(logs[s].Actions).ToList();
            s.RequestIds = logs[s].RequestIds;
            s.EarlierActions = o.EarlierActions;
        }
        return results;
    }

    /// <summary>Tags from (key, value) pairs, leaving out those without a value.</summary>
    private static List<Tag> Tags(params (string Key, string? Value)[] pairs) =>
        pairs.Where(p => !string.IsNullOrEmpty(p.Value)).Select(p => new Tag(p.Key, p.Value)).ToList();

    /// <summary>A snapshot's reported progress ("42%") as a number; none reported yet is 0.</summary>
    internal static int PercentOf(string? progress) =>
        int.TryParse(progress?.Trim().TrimEnd('%'), NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? Math.Clamp(p, 0, 100) : 0;

    private static async Task<Mutation<T>> WithLimitRetryAsync<T>(Func<Task<Mutation<T>>> call, SnapshotOptions o, Action<string, int>? progress, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + o.LimitRetryFor;
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (AwsServiceException e) when (IsSnapshotLimit(e) && DateTime.UtcNow + delay < deadline)
            {
                // The account's concurrent-snapshot limit is a wait, not a failure and never a success (research-anchors P12).
                progress?.Invoke($"{e.ErrorCode}; retrying in {delay.TotalSeconds:0} s", 0);
                await Task.Delay(delay, ct).ConfigureAwait(false);
                delay = TimeSpan.FromSeconds(Math.Min(30, delay.TotalSeconds * 2));
            }
        }
    }

    private static async Task<List<Snapshot>> SnapshotsOfCaseAsync(Ec2Gateway ec2, string caseId, string? instanceId, CancellationToken ct)
    {
        var filters = new List<Filter> { new("tag:" + QuarantineTags.Case, new List<string> { caseId }) };
        if (instanceId is not null) filters.Add(new Filter("tag:ir:instance", new List<string> { instanceId }));
        var list = new List<Snapshot>();
        string? next = null;
        do
        {
            var request = new DescribeSnapshotsRequest { OwnerIds = new List<string> { "self" }, Filters = filters, MaxResults = 1000, NextToken = next };
            var response = await ec2.ReadAsync("DescribeSnapshots", caseId, (c, t) => c.DescribeSnapshotsAsync(request, t), ct).ConfigureAwait(false);
            list.AddRange(response.Snapshots ?? new());
            next = response.NextToken;
        }
        while (!string.IsNullOrEmpty(next));
        return list;
    }

    /// <summary>A snapshot this case took in an earlier run.</summary>
    private static ForensicSnapshot ToModel(Snapshot s, string instanceId, string? device, string? caseId, string? findingId, GdFinding? finding, string region) => new()
    {
        SnapshotId = s.SnapshotId, VolumeId = s.VolumeId, InstanceId = instanceId, Device = device, State = s.State?.Value ?? "", Progress = NonEmpty(s.Progress),
        StartTime = s.StartTime, CaseId = caseId, FindingId = findingId, Finding = finding, Region = region, Encrypted = s.Encrypted ?? false, Reused = true,
        Actions = new List<string> { $"snapshot {s.SnapshotId} of {s.VolumeId} ({device}) already taken for this case" },
    };

    /// <summary>Polls until every snapshot is completed; an error state or the timeout is an error.</summary>
    private static async Task WaitAsync(Ec2Gateway ec2, List<ForensicSnapshot> snapshots, SnapshotOptions o, Action<string, int>? progress, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + o.Timeout;
        while (true)
        {
            var request = new DescribeSnapshotsRequest { SnapshotIds = snapshots.Select(s => s.SnapshotId).ToList() };
            var response = await ec2.ReadAsync("DescribeSnapshots", snapshots[0].InstanceId, (c, t) => c.DescribeSnapshotsAsync(request, t), ct).ConfigureAwait(false);
            foreach (var s in response.Snapshots ?? new())
                if (snapshots.FirstOrDefault(x => x.SnapshotId == s.SnapshotId) is { } model)
                {
                    model.State = s.State?.Value ?? model.State;
                    model.Progress = NonEmpty(s.Progress);
                }
            if (snapshots.FirstOrDefault(s => s.State == "error") is { } bad)
                throw new GuardDutyIRException("SnapshotFailed", ErrorKind.InvalidData, $"Snapshot {bad.SnapshotId} of {bad.VolumeId} ended in state error.", bad.SnapshotId);
            int Percent(ForensicSnapshot s) => s.State == "completed" ? 100 : PercentOf(s.Progress);
            progress?.Invoke(string.Join(", ", snapshots.Select(s => $"{s.SnapshotId} {s.State} {Percent(s)}%")), (int)snapshots.Average(Percent));
            if (snapshots.All(s => s.State == "completed")) return;
            if (DateTime.UtcNow >= deadline)
                throw new GuardDutyIRException("SnapshotWaitTimedOut", ErrorKind.OperationTimeout,
                    $"Snapshots of {snapshots[0].InstanceId} not completed after {o.Timeout}: " + string.Join(", ", snapshots.Where(s => s.State != "completed").Select(s => $"{s.SnapshotId} {s.Progress}")), snapshots[0].InstanceId);
            await Task.Delay(o.PollInterval, ct).ConfigureAwait(false);
        }
    }

    private async Task CopyAndShareAsync(ForensicSnapshot s, StepLog log, string region, SnapshotOptions o, CancellationToken ct)
    {
        var target = s.SnapshotId;
        var targetRegion = region;
        if (o.CopyToRegion is not null)
        {
            var dest = Gateway(o.CopyToRegion);
            var request = new CopySnapshotRequest
            {
                SourceSnapshotId = s.SnapshotId, SourceRegion = region, Encrypted = true, KmsKeyId = o.KmsKeyId,
                Description = "GuardDutyIR" + (s.CaseId is null ? "" : $" case {s.CaseId}") + $": copy of {s.SnapshotId} ({s.InstanceId} {s.Device})",
                TagSpecifications = new List<TagSpecification> { new() { ResourceType = ResourceType.Snapshot, Tags = Tags(
                    (QuarantineTags.Case, s.CaseId), (QuarantineTags.Finding, s.FindingId), ("ir:instance", s.InstanceId),
                    ("ir:volume", s.VolumeId), ("ir:device", s.Device), ("ir:source-snapshot", s.SnapshotId)) } },
            };
            var encryption = $"encrypted with {o.KmsKeyId ?? "the default EBS key"}";
            await log.RunAsync("CopySnapshot", s.SnapshotId, new StepText($"copied {s.SnapshotId} to {o.CopyToRegion}, {encryption}", $"copy {s.SnapshotId} to {o.CopyToRegion}, {encryption}"), async t =>
            {
                var m = await dest.MutateAsync("CopySnapshot", s.SnapshotId, (c, dry, tt) => c.CopySnapshotAsync(request, tt), t).ConfigureAwait(false);
                s.CopySnapshotId = m.Response!.SnapshotId;
                return StepOutcome.Of(m) with { Detail = $"copied {s.SnapshotId} to {o.CopyToRegion} as {s.CopySnapshotId}, {encryption}" };
            }, ct, throwOnFailure: true).ConfigureAwait(false);
            s.CopyRegion = o.CopyToRegion;
            s.KmsKeyId = o.KmsKeyId;
            target = s.CopySnapshotId!;
            targetRegion = o.CopyToRegion;
        }
        if (o.ShareWithAccountIds.Count > 0)
        {
            // Never public: only the named accounts (research-anchors P13).
            var accounts = o.ShareWithAccountIds.ToList();
            var what = $"{target} with {string.Join(", ", accounts)}";
            await log.MutateAsync(Gateway(targetRegion), "ShareSnapshot", target, new StepText("shared " + what, "share " + what), "ModifySnapshotAttribute",
                (c, dry, t) => c.ModifySnapshotAttributeAsync(new ModifySnapshotAttributeRequest
                {
                    SnapshotId = target, Attribute = SnapshotAttributeName.CreateVolumePermission, OperationType = OperationType.Add, UserIds = accounts,
                }, t), ct, throwOnFailure: true).ConfigureAwait(false);
            s.SharedWith = accounts;
        }
    }

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

    // ------------------------------------------------------------------ guarded stop / terminate

    /// <summary>
    /// The evidence gate: every attached volume needs a completed snapshot tagged with the case. Returns volume → snapshot,
    /// and the volumes that lack one.
    /// </summary>
    /// <summary>
    /// Reads the instance and its evidence, changing nothing, and refuses (EvidenceIncomplete) unless every volume has a
    /// completed snapshot of the case or <paramref name="force"/> is given: a refusal needs no confirmation.
    /// </summary>
    public async Task<ShutdownPlan> PlanShutdownAsync(string instanceId, string region, string? caseId, bool terminate, bool force, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        var ec2 = Gateway(region);
        var f = await DescribeOneAsync(ec2, instanceId, ct).ConfigureAwait(false);
        var covered = new Dictionary<string, string>(StringComparer.Ordinal);
        var snaps = caseId is null ? new List<Snapshot>() : await SnapshotsOfCaseAsync(ec2, caseId, null, ct).ConfigureAwait(false);
        foreach (var v in f.Volumes)
            if (snaps.FirstOrDefault(s => s.VolumeId == v.Ebs.VolumeId && s.State?.Value == "completed") is { } s) covered[v.Ebs.VolumeId] = s.SnapshotId;
        var missing = f.Volumes.Select(v => v.Ebs.VolumeId).Where(v => !covered.ContainsKey(v)).ToList();
        if (missing.Count > 0 && !force)
            throw new GuardDutyIRException("EvidenceIncomplete", ErrorKind.InvalidOperation,
                $"Refusing to {(terminate ? "terminate" : "stop")} {instanceId}: no completed snapshot of case {caseId ?? "(none given)"} for volume(s) {string.Join(", ", missing)}. " +
                "Run New-ForensicSnapshot -Wait first, or pass -Force.", instanceId);
        return new ShutdownPlan(f, region) { CaseId = caseId, Terminate = terminate, Covered = covered, Missing = missing };
    }

    private static async Task<string> WaitForStateAsync(Ec2Gateway ec2, string instanceId, string want, TimeSpan timeout, TimeSpan pollInterval, Action<string>? progress, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var state = (await DescribeOneAsync(ec2, instanceId, ct).ConfigureAwait(false)).StateName;
            progress?.Invoke($"{instanceId}: {state}");
            if (state == want) return state;
            if (DateTime.UtcNow >= deadline)
                throw new GuardDutyIRException("InstanceStateWaitTimedOut", ErrorKind.OperationTimeout, $"{instanceId} is {state}, not {want}, after {timeout}.", instanceId);
            await Task.Delay(pollInterval, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Stops or terminates after the gate: lifts the protections only now, then waits for the final state.</summary>
    public async Task<InstanceShutdown> ShutdownAsync(ShutdownPlan plan, TimeSpan timeout, TimeSpan pollInterval, Action<string>? progress, CancellationToken ct)
    {
        var (instanceId, region, caseId, terminate, covered, missing, f) = (plan.InstanceId, plan.Region, plan.CaseId, plan.Terminate, plan.Covered, plan.Missing, plan.Facts);
        var ec2 = Gateway(region);
        var want = terminate ? "terminated" : "stopped";
        if (f.StateName == want || (terminate && f.StateName == "shutting-down") || (!terminate && f.StateName == "stopping"))
        {
            // Already there (several snapshots of one instance piped in): no call, just wait for the final state.
            var state0 = await WaitForStateAsync(ec2, instanceId, want, timeout, pollInterval, progress, ct).ConfigureAwait(false);
            var already = new StepLog();
            already.Skip(terminate ? "TerminateInstance" : "StopInstance", instanceId, $"already {f.StateName}");
            return new InstanceShutdown
            {
                InstanceId = instanceId, Region = region, CaseId = caseId, Action = terminate ? "Terminate" : "Stop", PreviousState = f.StateName, State = state0,
                EvidenceSnapshots = covered, Forced = false, Steps = already.Steps,
            };
        }
        await Ec2Facts.ReadAttributesAsync(ec2, f, ct).ConfigureAwait(false);
        var log = new StepLog();
        Task<QuarantineStep> Step<T>(string name, StepText text, string action, Func<IAmazonEC2, bool, CancellationToken, Task<T>> call) where T : Amazon.Runtime.AmazonWebServiceResponse =>
            log.MutateAsync(ec2, name, instanceId, text, action, call, ct, throwOnFailure: true);
        // Protections come off only right before the call that needs it (research-anchors P14).
        if (f.DisableApiTermination && terminate)
            await Step("DisableTerminationProtection", new StepText("lifted termination protection", "lift termination protection"), "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = instanceId, DisableApiTermination = false }, t)).ConfigureAwait(false);
        if (f.DisableApiStop)
            await Step("DisableStopProtection", new StepText("lifted stop protection", "lift stop protection"), "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = instanceId, DisableApiStop = false }, t)).ConfigureAwait(false);
        var previous = f.StateName;
        if (terminate)
            await Step("TerminateInstance", new StepText("terminated the instance", "terminate the instance"), "TerminateInstances",
                (c, dry, t) => c.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = new List<string> { instanceId } }, t)).ConfigureAwait(false);
        else
            await Step("StopInstance", new StepText("stopped the instance", "stop the instance"), "StopInstances",
                (c, dry, t) => c.StopInstancesAsync(new StopInstancesRequest { InstanceIds = new List<string> { instanceId } }, t)).ConfigureAwait(false);
        var state = await WaitForStateAsync(ec2, instanceId, want, timeout, pollInterval, progress, ct).ConfigureAwait(false);
        return new InstanceShutdown
        {
            InstanceId = instanceId, Region = region, CaseId = caseId, Action = terminate ? "Terminate" : "Stop", PreviousState = previous, State = state,
            EvidenceSnapshots = covered, Forced = missing.Count > 0, Steps = log.Steps,
        };
    }
}
