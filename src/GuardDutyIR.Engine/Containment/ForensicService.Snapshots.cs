using System.Globalization;
using Amazon.EC2;
using Amazon.EC2.Model;

namespace GuardDutyIR.Engine.Containment;

public sealed partial class ForensicService
{
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
                // The account's concurrent-snapshot limit is a wait, not a failure and never a success.
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
            // Never public: only the named accounts can create volumes from the evidence.
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
}
