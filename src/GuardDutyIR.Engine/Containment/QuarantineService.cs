using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// Quarantine as AWS's incident-response guidance orders it (research-anchors §3): record the original state first
/// (tags on the instance), protect the evidence, take the instance out of its Auto Scaling group, then per ENI the
/// untracked conversion and the no-rule isolation group, then the optional EIP and instance-profile steps. Idempotent:
/// every step compares the described state with the wanted one and makes no call when they agree.
/// </summary>
public sealed class QuarantineService
{
    private readonly AwsSession _session;
    private readonly ConcurrentDictionary<string, RegionContext> _regions = new(StringComparer.Ordinal);

    public QuarantineService(AwsSession session) => _session = session;

    internal sealed class RegionContext
    {
        public required Ec2Gateway Ec2 { get; init; }
        public required AutoScalingClient AutoScaling { get; init; }
        public required ContainmentGroups Groups { get; init; }
    }

    internal RegionContext Region(string region, QuarantineOptions options) => _regions.GetOrAdd(region, r =>
    {
        var ec2 = new Ec2Gateway(_session.Ec2(r), r, options.RateLimiter ?? Ec2RateLimiter.FromEnvironment(), options.DryRun);
        return new RegionContext { Ec2 = ec2, AutoScaling = _session.AutoScaling(r), Groups = new ContainmentGroups(ec2, options) };
    });

    // ------------------------------------------------------------------ bulk run

    /// <summary>
    /// Starts a bulk run: feed instances with <see cref="QuarantineRun.Add"/>, answer plans from
    /// <see cref="QuarantineRun.Approvals"/> (when asked to), read outcomes from <see cref="QuarantineRun.Outcomes"/>.
    /// </summary>
    public QuarantineRun Start(QuarantineOptions options, bool askApproval, CancellationToken cancellationToken)
    {
        var run = new QuarantineRun(this, options, askApproval, cancellationToken);
        run.Begin();
        return run;
    }

    /// <summary>Quarantines instances one call: for scripts and the benchmark (no approval).</summary>
    public async Task<IReadOnlyList<QuarantineOutcome>> QuarantineAsync(IEnumerable<QuarantineRequest> requests, QuarantineOptions options, CancellationToken ct)
    {
        var run = Start(options, askApproval: false, ct);
        foreach (var r in requests) run.Add(r);
        run.Complete();
        var outcomes = new List<QuarantineOutcome>();
        await foreach (var o in run.Outcomes.ReadAllAsync(ct).ConfigureAwait(false)) outcomes.Add(o);
        await run.Completion.ConfigureAwait(false);
        return outcomes;
    }

    // ------------------------------------------------------------------ one instance

    /// <summary>What has to change on one instance, computed from its described state; empty when it is quarantined.</summary>
    internal sealed class Plan
    {
        public required InstanceFacts Facts { get; init; }
        public required QuarantineRecord Record { get; init; }
        public bool RecordExists { get; init; }
        /// <summary>The earlier run's record lacks something this run changes; its tags are written again with it.</summary>
        public string? RecordAmendment { get; init; }
        public Dictionary<string, string> StartTags { get; } = new(StringComparer.Ordinal);
        public AutoScalingMembership? LeaveGroup { get; set; }
        /// <summary>The Auto Scaling lookup failed: membership unknown, isolate anyway.</summary>
        public GuardDutyIRException? AutoScalingUnknown { get; set; }
        public bool SetTermination { get; set; }
        public bool SetStop { get; set; }
        public bool SetShutdown { get; set; }
        public List<string> KeepVolumes { get; } = new();
        /// <summary>ENIs not yet only on their VPC's isolation group.</summary>
        public List<InstanceNetworkInterface> MoveEnis { get; } = new();
        public Dictionary<string, string?> IsolationGroups { get; } = new(StringComparer.Ordinal);
        /// <summary>Rules found on an existing isolation group (added since it was made); every run revokes them.</summary>
        public Dictionary<string, IReadOnlyList<SecurityGroupRule>> StrayRules { get; } = new(StringComparer.Ordinal);
        public List<InstanceNetworkInterface> LowerTracking { get; } = new();
        public List<Address> DropEips { get; } = new();
        public StepText? ProfileChange { get; set; }

        public string Describe(QuarantineOptions o, string region)
        {
            var f = Facts;
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"Quarantine {f.InstanceId} in {region} ({f.StateName}, {f.NetworkInterfaces.Count} ENI(s)):");
            void Line(string s) => sb.Append("\n  - ").Append(s);
            if (!RecordExists) Line($"record the original state in tags {QuarantineTags.OriginPrefix}1..n");
            else if (RecordAmendment is not null) Line($"add to the recorded original state: {RecordAmendment}");
            var caseTags = StartTags.Where(t => !t.Key.StartsWith(QuarantineTags.OriginPrefix, StringComparison.Ordinal)).ToList();
            if (RecordExists && caseTags.Count > 0) Line("tag " + string.Join(", ", caseTags.Select(t => $"{t.Key}={t.Value}")));
            if (AutoScalingUnknown is not null)
                Line($"Auto Scaling membership unknown ({AutoScalingUnknown.Message}): isolate anyway, with the volumes kept on termination");
            if (LeaveGroup is not null) Line($"{(o.AutoScaling == AutoScalingAction.Detach ? "detach from" : "put in standby in")} Auto Scaling group {LeaveGroup.GroupName}");
            if (SetTermination) Line("enable termination protection (DisableApiTermination=true)");
            if (SetStop) Line("enable stop protection (DisableApiStop=true)");
            if (SetShutdown) Line($"set instance-initiated shutdown behaviour to stop (was {f.ShutdownBehavior})");
            if (KeepVolumes.Count > 0) Line("keep volumes on termination (DeleteOnTermination=false): " + string.Join(", ", KeepVolumes));
            foreach (var (vpc, rules) in StrayRules)
                Line($"revoke the {rules.Count} rule(s) added to isolation group {IsolationGroups[vpc]} in {vpc}: " + string.Join(", ", rules.Select(ContainmentGroups.Describe)));
            foreach (var eni in MoveEnis)
            {
                var iso = IsolationGroups.GetValueOrDefault(eni.VpcId);
                Line($"{eni.NetworkInterfaceId} (device {eni.Attachment?.DeviceIndex}, {eni.VpcId}): [{string.Join(", ", InstanceFacts.GroupsOf(eni))}] -> " +
                     $"{o.ConversionGroupName} (all traffic, IPv4+IPv6) for {o.ConversionWait.TotalSeconds:0.#} s -> {o.IsolationGroupName} {iso ?? "(to be created, no rules)"}");
            }
            foreach (var eni in LowerTracking) Line($"{eni.NetworkInterfaceId}: connection tracking timeouts TCP 60 s, UDP stream 60 s, UDP 30 s (now {InstanceFacts.TrackingOf(eni)})");
            foreach (var a in DropEips) Line($"disassociate Elastic IP {a.PublicIp} ({a.AllocationId}) from {a.NetworkInterfaceId} ({a.PrivateIpAddress})");
            if (ProfileChange is { } profile) Line(profile.Planned);
            if (sb.ToString().IndexOf("\n", StringComparison.Ordinal) < 0) Line("nothing: already quarantined");
            return sb.ToString();
        }
    }

    internal static QuarantineRecord BuildRecord(InstanceFacts f, QuarantineOptions o) => new()
    {
        DisableApiTermination = f.DisableApiTermination,
        DisableApiStop = f.DisableApiStop,
        ShutdownBehavior = f.ShutdownBehavior,
        RecordedAt = DateTime.UtcNow,
        NetworkInterfaceGroups = f.NetworkInterfaces.ToDictionary(e => e.NetworkInterfaceId, e => InstanceFacts.GroupsOf(e), StringComparer.Ordinal),
        DeleteOnTermination = f.Volumes.ToDictionary(v => v.DeviceName, v => v.Ebs.DeleteOnTermination ?? false, StringComparer.Ordinal),
        InstanceProfileArn = f.ProfileAssociation?.IamInstanceProfile?.Arn,
        ElasticIps = f.ElasticIps.ToDictionary(a => a.AllocationId, a => a.NetworkInterfaceId, StringComparer.Ordinal),
        ElasticIpAddresses = f.ElasticIps.ToDictionary(a => a.AllocationId, a => a.PublicIp, StringComparer.Ordinal),
        ElasticIpPrivateAddresses = f.ElasticIps.Where(a => a.PrivateIpAddress is not null).ToDictionary(a => a.AllocationId, a => a.PrivateIpAddress, StringComparer.Ordinal),
        ConnectionTracking = o.LowerConnectionTracking
            ? f.NetworkInterfaces.ToDictionary(e => e.NetworkInterfaceId, InstanceFacts.TrackingOf, StringComparer.Ordinal)
            : new Dictionary<string, string>(),
        AutoScalingGroupName = f.AutoScaling is { LifecycleState: "InService" or "Pending" } ? f.AutoScaling.GroupName : null,
        AutoScalingAction = f.AutoScaling is { LifecycleState: "InService" or "Pending" } ? o.AutoScaling.ToString() : null,
    };

    /// <summary>
    /// An earlier run's record extended by what this run is about to change that it does not cover (an Auto Scaling
    /// group that run could not read, timeouts or Elastic IPs it left alone), so an undo can still put them back; null
    /// when the record covers everything.
    /// </summary>
    internal static (QuarantineRecord Record, string What)? Amend(QuarantineRecord r, InstanceFacts f, QuarantineOptions o)
    {
        var asg = r.AutoScalingGroupName is null && f.AutoScaling is { LifecycleState: "InService" or "Pending" } m ? m : null;
        var eips = o.DisassociateElasticIps ? f.ElasticIps.Where(a => a.AssociationId is not null && !r.ElasticIps.ContainsKey(a.AllocationId)).ToList() : new List<Address>();
        var tracking = o.LowerConnectionTracking ? f.NetworkInterfaces.Where(e => NeedsLowering(e) && !r.ConnectionTracking.ContainsKey(e.NetworkInterfaceId)).ToList() : new List<InstanceNetworkInterface>();
        if (asg is null && eips.Count == 0 && tracking.Count == 0) return null;
        var what = new List<string>();
        if (asg is not null) what.Add($"Auto Scaling group {asg.GroupName}");
        if (eips.Count > 0) what.Add("Elastic IP(s) " + string.Join(", ", eips.Select(a => a.AllocationId)));
        if (tracking.Count > 0) what.Add("tracking timeouts of " + string.Join(", ", tracking.Select(e => e.NetworkInterfaceId)));
        static Dictionary<string, T> With<T>(IReadOnlyDictionary<string, T> d, IEnumerable<KeyValuePair<string, T>> more)
        {
            var copy = new Dictionary<string, T>(d, StringComparer.Ordinal);
            foreach (var (k, v) in more) copy[k] = v;
            return copy;
        }
        var record = new QuarantineRecord
        {
            DisableApiTermination = r.DisableApiTermination, DisableApiStop = r.DisableApiStop, ShutdownBehavior = r.ShutdownBehavior, RecordedAt = r.RecordedAt,
            NetworkInterfaceGroups = r.NetworkInterfaceGroups, DeleteOnTermination = r.DeleteOnTermination, InstanceProfileArn = r.InstanceProfileArn,
            ElasticIps = With(r.ElasticIps, eips.Select(a => KeyValuePair.Create(a.AllocationId, a.NetworkInterfaceId))),
            ElasticIpAddresses = With(r.ElasticIpAddresses, eips.Select(a => KeyValuePair.Create(a.AllocationId, a.PublicIp))),
            ElasticIpPrivateAddresses = With(r.ElasticIpPrivateAddresses, eips.Where(a => a.PrivateIpAddress is not null).Select(a => KeyValuePair.Create(a.AllocationId, a.PrivateIpAddress))),
            ConnectionTracking = With(r.ConnectionTracking, tracking.Select(e => KeyValuePair.Create(e.NetworkInterfaceId, InstanceFacts.TrackingOf(e)))),
            AutoScalingGroupName = asg?.GroupName ?? r.AutoScalingGroupName,
            AutoScalingAction = asg is not null ? o.AutoScaling.ToString() : r.AutoScalingAction,
        };
        return (record, string.Join("; ", what));
    }

    private static bool NeedsLowering(InstanceNetworkInterface eni) => (eni.ConnectionTrackingConfiguration?.TcpEstablishedTimeout ?? 432000) > 60;

    internal async Task<Plan> PlanAsync(RegionContext ctx, InstanceFacts f, QuarantineRequest req, QuarantineOptions o, CancellationToken ct)
    {
        var existing = QuarantineTags.FromTags(f.Tags, f.InstanceId);
        var amended = existing is null ? null : Amend(existing, f, o);
        var plan = new Plan
        {
            Facts = f, Record = amended?.Record ?? existing ?? BuildRecord(f, o), RecordExists = existing is not null, RecordAmendment = amended?.What,
        };
        if (existing is null || amended is not null)
            foreach (var (k, v) in QuarantineTags.ToTags(plan.Record)) plan.StartTags[k] = v;
        if (existing is null)
        {
            plan.StartTags[QuarantineTags.State] = "Quarantining";
            plan.StartTags[QuarantineTags.QuarantinedAt] = plan.Record.RecordedAt.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        }
        if (req.CaseId is { Length: > 0 } c && f.Tags.GetValueOrDefault(QuarantineTags.Case) != c) plan.StartTags[QuarantineTags.Case] = c;
        var findingId = req.FindingId ?? req.Finding?.Id;
        if (findingId is { Length: > 0 } fid && f.Tags.GetValueOrDefault(QuarantineTags.Finding) != fid) plan.StartTags[QuarantineTags.Finding] = fid;

        plan.AutoScalingUnknown = f.AutoScalingError;
        if (f.AutoScaling is { LifecycleState: "InService" or "Pending" } m) plan.LeaveGroup = m;
        plan.SetTermination = o.TerminationProtection && !f.DisableApiTermination;
        plan.SetStop = o.StopProtection && !f.DisableApiStop;
        plan.SetShutdown = o.ShutdownBehaviorStop && f.ShutdownBehavior != "stop";
        if (o.PreserveVolumes) plan.KeepVolumes.AddRange(f.Volumes.Where(v => v.Ebs.DeleteOnTermination == true).Select(v => v.DeviceName));

        foreach (var vpc in f.NetworkInterfaces.Select(e => e.VpcId).Distinct())
        {
            var iso = await ctx.Groups.FindAsync(vpc, GroupPurpose.Isolation, ct).ConfigureAwait(false);
            plan.IsolationGroups[vpc] = iso;
            if (iso is not null && await ctx.Groups.StrayRulesAsync(iso, GroupPurpose.Isolation, ct).ConfigureAwait(false) is { Count: > 0 } stray)
                plan.StrayRules[vpc] = stray;
        }
        foreach (var eni in f.NetworkInterfaces)
        {
            var iso = plan.IsolationGroups[eni.VpcId];
            var groups = InstanceFacts.GroupsOf(eni);
            if (iso is null || groups.Count != 1 || groups[0] != iso) plan.MoveEnis.Add(eni);
            if (o.LowerConnectionTracking && NeedsLowering(eni)) plan.LowerTracking.Add(eni);
        }
        if (o.DisassociateElasticIps) plan.DropEips.AddRange(f.ElasticIps.Where(a => a.AssociationId is not null));
        var current = f.ProfileAssociation;
        if (o.ReplacementInstanceProfileArn is { } replacement)
        {
            if (current is null) plan.ProfileChange = new StepText($"associated instance profile {replacement}", $"associate instance profile {replacement}");
            else if (current.IamInstanceProfile?.Arn != replacement)
                plan.ProfileChange = new StepText($"replaced instance profile {current.IamInstanceProfile?.Arn} with {replacement}", $"replace instance profile {current.IamInstanceProfile?.Arn} with {replacement}");
        }
        else if (o.DisassociateInstanceProfile && current is not null)
            plan.ProfileChange = new StepText($"disassociated instance profile {current.IamInstanceProfile?.Arn} ({current.AssociationId})",
                $"disassociate instance profile {current.IamInstanceProfile?.Arn} ({current.AssociationId})");
        return plan;
    }

    /// <summary>Carries out a plan. Never throws for a failed step (it is recorded); only cancellation ends it early.</summary>
    internal async Task<QuarantineResult> ExecuteAsync(RegionContext ctx, Plan plan, QuarantineRequest req, QuarantineOptions o, string region, CancellationToken ct)
    {
        var f = plan.Facts;
        var steps = new List<QuarantineStep>();
        var actions = new List<string>();
        var result = new QuarantineResult
        {
            InstanceId = f.InstanceId, Region = region, CaseId = req.CaseId ?? f.Tags.GetValueOrDefault(QuarantineTags.Case),
            FindingId = req.FindingId ?? req.Finding?.Id ?? f.Tags.GetValueOrDefault(QuarantineTags.Finding), Finding = req.Finding,
            Steps = steps, Original = plan.Record, OriginalDescription = Ec2Gateway.ToJson(f.Instance),
        };
        var ec2 = ctx.Ec2;
        object gate = new();

        async Task<QuarantineStep> Step<T>(string name, string target, StepText text, string action,
            Func<IAmazonEC2, bool, CancellationToken, Task<T>> call, CancellationToken token) where T : AmazonWebServiceResponse
        {
            var step = new QuarantineStep { Name = name, Target = target, Detail = text.Planned };
            lock (gate) steps.Add(step);
            try
            {
                var m = await ec2.MutateAsync(action, target, call, token).ConfigureAwait(false);
                step.Status = m.Status;
                step.Error = m.Error;
                if (m.RequestId is not null) ((List<string>)step.RequestIds).Add(m.RequestId);
            }
            catch (GuardDutyIRException e)
            {
                step.Status = StepStatus.Failed;
                step.Error = e.Message;
            }
            step.Detail = text.For(step.Status);
            if (step.Status == StepStatus.Done) lock (gate) actions.Add(step.Detail);
            return step;
        }

        void Skip(string name, string target, string detail)
        {
            lock (gate) steps.Add(new QuarantineStep { Name = name, Target = target, Status = StepStatus.Skipped, Detail = detail });
        }

        void Report(IEnumerable<QuarantineStep> made)
        {
            lock (gate)
                foreach (var s in made)
                {
                    steps.Add(s);
                    if (s.Status == StepStatus.Done) actions.Add(s.Detail);
                }
        }

        // 1. Record first (and the case tags), before anything changes.
        if (plan.StartTags.Count > 0)
        {
            var tags = plan.StartTags.Select(t => new Tag(t.Key, t.Value)).ToList();
            var text = !plan.RecordExists ? new StepText($"recorded the original state in {tags.Count} tag(s)", $"record the original state in {tags.Count} tag(s)")
                : plan.RecordAmendment is { } what ? new StepText($"added to the recorded original state: {what}", $"add to the recorded original state: {what}")
                : new StepText("tagged the case", "tag the case");
            var rec = await Step("RecordOriginalState", f.InstanceId, text, "CreateTags",
                (c, dry, t) => c.CreateTagsAsync(new CreateTagsRequest { Resources = new List<string> { f.InstanceId }, Tags = tags, DryRun = dry }, t), ct).ConfigureAwait(false);
            // Without a record nothing could be restored: change nothing else (a DryRun has nothing to lose).
            if (rec.Status == StepStatus.Failed && !plan.RecordExists)
            {
                result.Status = QuarantineStatus.Failed;
                result.Actions = actions;
                return result;
            }
        }
        else Skip("RecordOriginalState", f.InstanceId, "the original state was recorded by an earlier run");

        // 2. Out of the Auto Scaling group before the network cut: an isolated instance fails its health checks and the group would terminate it.
        QuarantineStep? unknownGroup = null;
        if (plan.AutoScalingUnknown is not null)
        {
            // Not knowing must not keep the instance on the network: step 3 keeps its volumes on termination, so the
            // evidence outlives a termination by the group; the step says so once step 3 is done.
            unknownGroup = new QuarantineStep { Name = "LeaveAutoScalingGroup", Target = f.InstanceId, Status = StepStatus.Failed, Detail = "find and leave the instance's Auto Scaling group" };
            lock (gate) steps.Add(unknownGroup);
        }
        else if (plan.LeaveGroup is { } asg)
        {
            var step = new QuarantineStep { Name = o.AutoScaling == AutoScalingAction.Detach ? "DetachFromAutoScalingGroup" : "EnterAutoScalingStandby", Target = asg.GroupName };
            lock (gate) steps.Add(step);
            var planned = (o.AutoScaling == AutoScalingAction.Detach ? "detach from " : "put in standby in ") + asg.GroupName;
            if (o.DryRun)
            {
                step.Status = StepStatus.Skipped;
                step.Detail = $"would {planned} (Auto Scaling has no DryRun; not checked)";
            }
            else
            {
                try
                {
                    // Decrement the desired capacity only when the group's minimum allows it; otherwise the group launches a replacement.
                    var (min, desired, _) = await ctx.AutoScaling.DescribeCapacityAsync(asg.GroupName, ct).ConfigureAwait(false);
                    var decrement = desired - 1 >= min;
                    var id = o.AutoScaling == AutoScalingAction.Detach
                        ? await ctx.AutoScaling.DetachInstanceAsync(asg.GroupName, f.InstanceId, decrement, ct).ConfigureAwait(false)
                        : await ctx.AutoScaling.EnterStandbyAsync(asg.GroupName, f.InstanceId, decrement, ct).ConfigureAwait(false);
                    step.Status = StepStatus.Done;
                    step.Detail = (o.AutoScaling == AutoScalingAction.Detach ? "detached from " : "put in standby in ") + asg.GroupName + (decrement ? " (desired capacity decremented)" : " (the group may launch a replacement)");
                    if (id is not null) ((List<string>)step.RequestIds).Add(id);
                    lock (gate) actions.Add(step.Detail);
                }
                catch (GuardDutyIRException e)
                {
                    step.Status = StepStatus.Failed;
                    step.Detail = "failed to " + planned;
                    step.Error = e.Message;
                }
            }
        }

        // 3. Protect the evidence: one attribute per ModifyInstanceAttribute call, the independent ones at once.
        var protections = new List<Task<QuarantineStep>>();
        if (plan.SetTermination)
            protections.Add(Step("EnableTerminationProtection", f.InstanceId, new StepText("enabled termination protection", "enable termination protection"), "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = f.InstanceId, DisableApiTermination = true, DryRun = dry }, t), ct));
        if (plan.SetStop)
            protections.Add(Step("EnableStopProtection", f.InstanceId, new StepText("enabled stop protection", "enable stop protection"), "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = f.InstanceId, DisableApiStop = true, DryRun = dry }, t), ct));
        if (plan.SetShutdown)
            protections.Add(Step("SetShutdownBehaviorStop", f.InstanceId, new StepText("set shutdown behaviour to stop", "set shutdown behaviour to stop"), "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = f.InstanceId, InstanceInitiatedShutdownBehavior = "stop", DryRun = dry }, t), ct));
        Task<QuarantineStep>? keep = null;
        if (plan.KeepVolumes.Count > 0)
        {
            var mappings = plan.KeepVolumes.Select(d => new InstanceBlockDeviceMappingSpecification { DeviceName = d, Ebs = new EbsInstanceBlockDeviceSpecification { DeleteOnTermination = false } }).ToList();
            var devices = string.Join(", ", plan.KeepVolumes);
            protections.Add(keep = Step("KeepVolumesOnTermination", f.InstanceId, new StepText("set DeleteOnTermination=false on " + devices, "set DeleteOnTermination=false on " + devices), "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = f.InstanceId, BlockDeviceMappings = mappings, DryRun = dry }, t), ct));
        }
        await Task.WhenAll(protections).ConfigureAwait(false);
        if (unknownGroup is not null)
        {
            var kept = f.Volumes.All(v => v.Ebs.DeleteOnTermination != true)
                       || (keep is not null && (await keep.ConfigureAwait(false)).Status is StepStatus.Done or StepStatus.DryRunAllowed);
            unknownGroup.Error = $"The Auto Scaling lookup failed ({plan.AutoScalingUnknown!.Message}). If the instance is in a group it is still in service there, and the group may " +
                "terminate it once the isolated instance fails its health checks. " +
                (kept ? "Its EBS volumes are kept on termination (DeleteOnTermination=false), so the evidence survives that. "
                      : "Not all of its EBS volumes are kept on termination: snapshot them now (New-ForensicSnapshot). ") +
                "The network was cut anyway; run Set-InstanceQuarantine again once Auto Scaling answers.";
        }

        // 4. The network, per ENI. Every run makes each VPC's isolation group ready (found or created, its rules read and
        // repaired), even when every ENI is already on it: a rule added to the group since must not survive a re-run.
        var isolationGroups = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var vpc in f.NetworkInterfaces.Select(e => e.VpcId).Distinct())
        {
            var iso = await ctx.Groups.EnsureAsync(vpc, GroupPurpose.Isolation, ct).ConfigureAwait(false);
            Report(iso.StepsFor(f.InstanceId));
            if (iso.GroupId is not null && iso.Error is null) isolationGroups[vpc] = iso.GroupId;
        }
        var enis = f.NetworkInterfaces.Select(e => new EniQuarantine
        {
            NetworkInterfaceId = e.NetworkInterfaceId, VpcId = e.VpcId, DeviceIndex = e.Attachment?.DeviceIndex ?? 0,
            OriginalGroups = plan.Record.NetworkInterfaceGroups.TryGetValue(e.NetworkInterfaceId, out var og) ? og : InstanceFacts.GroupsOf(e),
            NewGroups = InstanceFacts.GroupsOf(e),
            IsolationGroupId = isolationGroups.GetValueOrDefault(e.VpcId) ?? plan.IsolationGroups.GetValueOrDefault(e.VpcId),
        }).ToList();
        result.NetworkInterfaces = enis;
        if (plan.MoveEnis.Count > 0)
            await IsolateAsync(ctx, plan, o, enis, isolationGroups, Report, gate, steps, Step<ModifyNetworkInterfaceAttributeResponse>, ct).ConfigureAwait(false);
        else Skip("Isolate", f.InstanceId, "every ENI is already only on its VPC's isolation group");
        result.IsolationGroups = isolationGroups;

        // 5. Optional: shorter idle timeouts, EIPs, the instance profile.
        foreach (var eni in plan.LowerTracking)
            await Step("LowerConnectionTracking", eni.NetworkInterfaceId,
                new StepText($"lowered connection-tracking timeouts of {eni.NetworkInterfaceId} from {InstanceFacts.TrackingOf(eni)} to 60/60/30 s",
                    $"lower connection-tracking timeouts of {eni.NetworkInterfaceId} from {InstanceFacts.TrackingOf(eni)} to 60/60/30 s"), "ModifyNetworkInterfaceAttribute",
                (c, dry, t) => c.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest
                {
                    NetworkInterfaceId = eni.NetworkInterfaceId, DryRun = dry,
                    ConnectionTrackingSpecification = new ConnectionTrackingSpecificationRequest { TcpEstablishedTimeout = 60, UdpStreamTimeout = 60, UdpTimeout = 30 },
                }, t), ct).ConfigureAwait(false);
        foreach (var a in plan.DropEips)
        {
            var what = $"Elastic IP {a.PublicIp} ({a.AllocationId}) from {a.NetworkInterfaceId} ({a.PrivateIpAddress})";
            await Step("DisassociateElasticIp", a.AllocationId, new StepText("disassociated " + what, "disassociate " + what), "DisassociateAddress",
                (c, dry, t) => c.DisassociateAddressAsync(new DisassociateAddressRequest { AssociationId = a.AssociationId, DryRun = dry }, t), ct).ConfigureAwait(false);
        }
        if (plan.ProfileChange is { } profileText)
        {
            var current = f.ProfileAssociation;
            if (o.ReplacementInstanceProfileArn is { } arn && current is not null)
                await Step("ReplaceInstanceProfile", current.AssociationId, profileText, "ReplaceIamInstanceProfileAssociation",
                    (c, dry, t) => c.ReplaceIamInstanceProfileAssociationAsync(new ReplaceIamInstanceProfileAssociationRequest
                    { AssociationId = current.AssociationId, IamInstanceProfile = new IamInstanceProfileSpecification { Arn = arn } }, t), ct).ConfigureAwait(false);
            else if (o.ReplacementInstanceProfileArn is { } arn2)
                await Step("AssociateInstanceProfile", f.InstanceId, profileText, "AssociateIamInstanceProfile",
                    (c, dry, t) => c.AssociateIamInstanceProfileAsync(new AssociateIamInstanceProfileRequest
                    { InstanceId = f.InstanceId, IamInstanceProfile = new IamInstanceProfileSpecification { Arn = arn2 } }, t), ct).ConfigureAwait(false);
            else if (current is not null)
                await Step("DisassociateInstanceProfile", current.AssociationId, profileText, "DisassociateIamInstanceProfile",
                    (c, dry, t) => c.DisassociateIamInstanceProfileAsync(new DisassociateIamInstanceProfileRequest { AssociationId = current.AssociationId }, t), ct).ConfigureAwait(false);
        }

        // 6. The verdict, and the state tag when it changed.
        var failed = steps.Any(s => s.Status == StepStatus.Failed);
        result.Status = o.DryRun ? QuarantineStatus.DryRun
            : !failed ? QuarantineStatus.Quarantined
            : enis.All(e => e.NewGroups.Count == 1 && e.NewGroups[0] == e.IsolationGroupId) ? QuarantineStatus.PartiallyQuarantined
            : steps.Any(s => s.Status == StepStatus.Done) ? QuarantineStatus.PartiallyQuarantined : QuarantineStatus.Failed;
        var state = result.Status.ToString();
        if (!o.DryRun && f.Tags.GetValueOrDefault(QuarantineTags.State) != state)
        {
            var tags = new List<Tag> { new(QuarantineTags.State, state) };
            await Step("TagState", f.InstanceId, new StepText($"tagged {QuarantineTags.State}={state}", $"tag {QuarantineTags.State}={state}"), "CreateTags",
                (c, dry, t) => c.CreateTagsAsync(new CreateTagsRequest { Resources = new List<string> { f.InstanceId }, Tags = tags, DryRun = dry }, t), ct).ConfigureAwait(false);
        }
        result.Actions = actions;
        return result;
    }

    private async Task IsolateAsync(RegionContext ctx, Plan plan, QuarantineOptions o, List<EniQuarantine> enis, Dictionary<string, string> isolationGroups,
        Action<IEnumerable<QuarantineStep>> report, object gate, List<QuarantineStep> steps,
        Func<string, string, StepText, string, Func<IAmazonEC2, bool, CancellationToken, Task<ModifyNetworkInterfaceAttributeResponse>>, CancellationToken, Task<QuarantineStep>> step,
        CancellationToken ct)
    {
        var instanceId = plan.Facts.InstanceId;
        var conversion = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var vpc in plan.MoveEnis.Select(e => e.VpcId).Distinct())
        {
            // Under DryRun the group is found, or its creation only checked; the ENI calls are then checked with a stand-in.
            var conv = await ctx.Groups.EnsureAsync(vpc, GroupPurpose.Conversion, ct).ConfigureAwait(false);
            report(conv.StepsFor(instanceId));
            conversion[vpc] = conv.Error is null ? conv.GroupId : null;
        }

        var movable = plan.MoveEnis.Where(e => o.DryRun || isolationGroups.ContainsKey(e.VpcId)).ToList();
        foreach (var e in plan.MoveEnis.Except(movable))
            lock (gate) steps.Add(new QuarantineStep { Name = "Isolate", Target = e.NetworkInterfaceId, Status = StepStatus.Failed, Detail = $"move {e.NetworkInterfaceId} to {o.IsolationGroupName}", Error = $"no usable isolation group in {e.VpcId}; the ENI was left unchanged" });
        if (movable.Count == 0) return;

        // A group that does not exist yet (DryRun only) is named, never replaced in the text by the stand-in the call used.
        static string Named(string name, string? id) => id is null ? $"{name}, once created," : $"{name} {id}";
        string StandIn(InstanceNetworkInterface e, string? g) => g ?? InstanceFacts.GroupsOf(e).FirstOrDefault() ?? "";
        static string CheckedWith(string? id) => id is null ? " (DryRun checked the call with the ENI's current groups)" : "";

        async Task<QuarantineStep?> Convert(InstanceNetworkInterface e)
        {
            var conv = conversion.GetValueOrDefault(e.VpcId);
            if (conv is null && !o.DryRun)
            {
                lock (gate) steps.Add(new QuarantineStep { Name = "ConvertToUntracked", Target = e.NetworkInterfaceId, Status = StepStatus.Failed, Detail = $"move {e.NetworkInterfaceId} to {o.ConversionGroupName}", Error = "no conversion group; going straight to isolation (tracked flows may survive)" });
                return null;
            }
            var group = StandIn(e, conv);
            var move = $"{e.NetworkInterfaceId} to {Named(o.ConversionGroupName, conv)} (untracked conversion)";
            return await step("ConvertToUntracked", e.NetworkInterfaceId, new StepText("moved " + move, "move " + move + CheckedWith(conv)), "ModifyNetworkInterfaceAttribute",
                (c, dry, t) => c.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = e.NetworkInterfaceId, Groups = new List<string> { group }, DryRun = dry }, t), ct)
                .ConfigureAwait(false);
        }

        var converted = new List<InstanceNetworkInterface>();
        try
        {
            // Step 1: every ENI to the all-open group, which ends tracking of its TCP/UDP flows (EC2 "untracked connections").
            var done = await Task.WhenAll(movable.Select(Convert)).ConfigureAwait(false);
            for (int i = 0; i < movable.Count; i++)
                if (done[i]?.Status == StepStatus.Done) converted.Add(movable[i]);
            if (converted.Count > 0 && o.ConversionWait > TimeSpan.Zero) await Task.Delay(o.ConversionWait, ct).ConfigureAwait(false);
        }
        finally
        {
            // Step 2, always, even after a failure or Ctrl+C: an ENI must never stay on the all-open group. The calls
            // get their own time limit instead of the (possibly cancelled) pipeline token.
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            var isolations = movable.Select(async e =>
            {
                var known = isolationGroups.GetValueOrDefault(e.VpcId);
                var iso = StandIn(e, known);
                var move = $"{e.NetworkInterfaceId} to {Named(o.IsolationGroupName, known)} (no rules)";
                var s = await step("Isolate", e.NetworkInterfaceId, new StepText("moved " + move, "move " + move + CheckedWith(known)), "ModifyNetworkInterfaceAttribute",
                    (c, dry, t) => c.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = e.NetworkInterfaceId, Groups = new List<string> { iso }, DryRun = dry }, t), limit.Token).ConfigureAwait(false);
                var record = enis.First(x => x.NetworkInterfaceId == e.NetworkInterfaceId);
                if (s.Status == StepStatus.Done)
                {
                    record.NewGroups = new[] { iso };
                    record.IsolationGroupId = iso;
                }
                else if (!o.DryRun && converted.Contains(e))
                {
                    // Isolation failed on an ENI that is now wide open: put its own groups back rather than leave it open.
                    var original = record.OriginalGroups.ToList();
                    var back = $"{e.NetworkInterfaceId} back on [{string.Join(", ", original)}] after the failed isolation";
                    var reverted = await step("RevertConversion", e.NetworkInterfaceId, new StepText("put " + back, "put " + back), "ModifyNetworkInterfaceAttribute",
                        (c, dry, t) => c.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = e.NetworkInterfaceId, Groups = original, DryRun = dry }, t), limit.Token).ConfigureAwait(false);
                    record.NewGroups = reverted.Status == StepStatus.Done ? original : new[] { conversion.GetValueOrDefault(e.VpcId) ?? "?" };
                }
            }).ToList();
            await Task.WhenAll(isolations).ConfigureAwait(false);
        }
    }

    // ------------------------------------------------------------------ test

    public async Task<QuarantineTestResult> TestAsync(string instanceId, string region, QuarantineOptions o, bool expectProfileRemoved, bool expectEipRemoved, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        var ctx = Region(region, o);
        var facts = await Ec2Facts.DescribeAsync(ctx.Ec2, ctx.AutoScaling, new[] { instanceId }, withAttributes: true, ct).ConfigureAwait(false);
        if (!facts.TryGetValue(instanceId, out var f)) throw Ec2Facts.NotFound(instanceId, region);
        var checks = new List<QuarantineCheck>();
        void Check(string name, string target, bool passed, string detail) => checks.Add(new QuarantineCheck { Name = name, Target = target, Passed = passed, Detail = detail });

        QuarantineRecord? record = null;
        try { record = QuarantineTags.FromTags(f.Tags, instanceId); }
        catch (GuardDutyIRException e) { Check("OriginalStateRecorded", instanceId, false, e.Message); }
        if (record is not null) Check("OriginalStateRecorded", instanceId, true, $"recorded {record.RecordedAt:u}: {record.NetworkInterfaceGroups.Count} ENI(s)");
        else if (checks.Count == 0) Check("OriginalStateRecorded", instanceId, false, $"no {QuarantineTags.OriginPrefix}* tags: nothing could be restored");

        var isolation = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var vpc in f.NetworkInterfaces.Select(e => e.VpcId).Distinct())
        {
            var id = await ctx.Groups.FindAsync(vpc, GroupPurpose.Isolation, ct).ConfigureAwait(false);
            isolation[vpc] = id;
            if (id is null) { Check("IsolationGroupHasNoRules", vpc, false, "no isolation group in this VPC"); continue; }
            var rules = await ctx.Groups.RulesAsync(id, ct).ConfigureAwait(false);
            Check("IsolationGroupHasNoRules", id, rules.Count == 0, rules.Count == 0 ? "no inbound or outbound rules"
                : $"{rules.Count(r => r.IsEgress == false)} inbound and {rules.Count(r => r.IsEgress == true)} outbound rule(s): " +
                  string.Join(", ", rules.Select(ContainmentGroups.Describe)));
        }
        foreach (var eni in f.NetworkInterfaces)
        {
            var groups = InstanceFacts.GroupsOf(eni);
            var iso = isolation.GetValueOrDefault(eni.VpcId);
            Check("OnlyIsolationGroup", eni.NetworkInterfaceId, iso is not null && groups.Count == 1 && groups[0] == iso, "groups: " + string.Join(", ", groups));
        }
        Check("TerminationProtection", instanceId, f.DisableApiTermination, $"DisableApiTermination={f.DisableApiTermination}");
        Check("StopProtection", instanceId, f.DisableApiStop, $"DisableApiStop={f.DisableApiStop}");
        Check("ShutdownBehaviorStop", instanceId, f.ShutdownBehavior == "stop", $"InstanceInitiatedShutdownBehavior={f.ShutdownBehavior}");
        foreach (var v in f.Volumes)
            Check("VolumeKeptOnTermination", v.Ebs.VolumeId, v.Ebs.DeleteOnTermination != true, $"{v.DeviceName} DeleteOnTermination={v.Ebs.DeleteOnTermination}");
        var profile = f.ProfileAssociation?.IamInstanceProfile?.Arn;
        Check("InstanceProfile", instanceId, !expectProfileRemoved || profile is null || (o.ReplacementInstanceProfileArn is not null && profile == o.ReplacementInstanceProfileArn),
            profile is null ? "no instance profile associated" : $"associated: {profile}");
        Check("ElasticIps", instanceId, !expectEipRemoved || f.ElasticIps.Count == 0,
            f.ElasticIps.Count == 0 ? "no Elastic IP associated" : "associated: " + string.Join(", ", f.ElasticIps.Select(a => $"{a.PublicIp} ({a.AllocationId})")));
        if (f.AutoScalingError is { } unknown)
            Check("OutOfAutoScalingGroup", instanceId, false, $"Auto Scaling membership could not be read: {unknown.Message}");
        else if (record?.AutoScalingGroupName is { } asg)
            Check("OutOfAutoScalingGroup", asg, f.AutoScaling is null || f.AutoScaling.LifecycleState.StartsWith("Standby", StringComparison.Ordinal) || f.AutoScaling.LifecycleState.Contains("Standby", StringComparison.Ordinal),
                f.AutoScaling is null ? "not in any group" : $"{f.AutoScaling.GroupName}: {f.AutoScaling.LifecycleState}");
        Check("StateTag", instanceId, f.Tags.GetValueOrDefault(QuarantineTags.State) == "Quarantined", $"{QuarantineTags.State}={f.Tags.GetValueOrDefault(QuarantineTags.State) ?? "(none)"}");
        return new QuarantineTestResult { InstanceId = instanceId, Region = region, CaseId = f.Tags.GetValueOrDefault(QuarantineTags.Case), Checks = checks };
    }

    // ------------------------------------------------------------------ undo

    /// <summary>Describes the instance and returns what Undo would change, for ShouldProcess.</summary>
    public async Task<(string Plan, QuarantineRecord Record)> PlanUndoAsync(string instanceId, string region, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        var ctx = Region(region, new QuarantineOptions());
        var facts = await Ec2Facts.DescribeAsync(ctx.Ec2, ctx.AutoScaling, new[] { instanceId }, withAttributes: false, ct).ConfigureAwait(false);
        if (!facts.TryGetValue(instanceId, out var f)) throw Ec2Facts.NotFound(instanceId, region);
        var record = QuarantineTags.FromTags(f.Tags, instanceId)
            ?? throw new GuardDutyIRException("NoQuarantineRecord", ErrorKind.ObjectNotFound, $"{instanceId} has no quarantine record ({QuarantineTags.OriginPrefix}* tags); there is nothing to restore.", instanceId);
        var sb = new StringBuilder($"Restore {instanceId} to its state of {record.RecordedAt:u}:");
        foreach (var (eni, groups) in record.NetworkInterfaceGroups) sb.Append($"\n  - {eni}: security groups [{string.Join(", ", groups)}]");
        foreach (var (alloc, eni) in record.ElasticIps)
            sb.Append($"\n  - Elastic IP {record.ElasticIpAddresses.GetValueOrDefault(alloc)} ({alloc}) on {eni} ({record.ElasticIpPrivateAddresses.GetValueOrDefault(alloc) ?? "primary private IP"})");
        foreach (var (eni, timeouts) in record.ConnectionTracking) sb.Append($"\n  - {eni}: connection-tracking timeouts {timeouts} s");
        sb.Append($"\n  - instance profile: {record.InstanceProfileArn ?? "none"}");
        sb.Append($"\n  - DisableApiTermination={record.DisableApiTermination}, DisableApiStop={record.DisableApiStop}, shutdown behaviour {record.ShutdownBehavior}");
        foreach (var (device, dot) in record.DeleteOnTermination) sb.Append($"\n  - {device} DeleteOnTermination={dot}");
        if (record.AutoScalingGroupName is { } asg) sb.Append($"\n  - back into Auto Scaling group {asg} ({record.AutoScalingAction})");
        return (sb.ToString(), record);
    }

    /// <summary>Puts back every recorded original, per ENI, and removes the record.</summary>
    public async Task<QuarantineResult> UndoAsync(string instanceId, string region, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        var o = new QuarantineOptions();
        var ctx = Region(region, o);
        var facts = await Ec2Facts.DescribeAsync(ctx.Ec2, ctx.AutoScaling, new[] { instanceId }, withAttributes: true, ct).ConfigureAwait(false);
        if (!facts.TryGetValue(instanceId, out var f)) throw Ec2Facts.NotFound(instanceId, region);
        var record = QuarantineTags.FromTags(f.Tags, instanceId)
            ?? throw new GuardDutyIRException("NoQuarantineRecord", ErrorKind.ObjectNotFound, $"{instanceId} has no quarantine record ({QuarantineTags.OriginPrefix}* tags); there is nothing to restore.", instanceId);
        var steps = new List<QuarantineStep>();
        var actions = new List<string>();
        var ec2 = ctx.Ec2;

        async Task Step<T>(string name, string target, string detail, string action, Func<IAmazonEC2, bool, CancellationToken, Task<T>> call) where T : AmazonWebServiceResponse
        {
            var step = new QuarantineStep { Name = name, Target = target, Detail = detail };
            steps.Add(step);
            try
            {
                var m = await ec2.MutateAsync(action, target, call, ct).ConfigureAwait(false);
                step.Status = m.Status;
                if (m.RequestId is not null) ((List<string>)step.RequestIds).Add(m.RequestId);
                if (m.Status == StepStatus.Done) actions.Add(detail);
            }
            catch (GuardDutyIRException e)
            {
                step.Status = StepStatus.Failed;
                step.Error = e.Message;
            }
        }

        var enis = new List<EniQuarantine>();
        foreach (var eni in f.NetworkInterfaces)
        {
            var current = InstanceFacts.GroupsOf(eni);
            if (!record.NetworkInterfaceGroups.TryGetValue(eni.NetworkInterfaceId, out var original)) continue;
            var entry = new EniQuarantine { NetworkInterfaceId = eni.NetworkInterfaceId, VpcId = eni.VpcId, DeviceIndex = eni.Attachment?.DeviceIndex ?? 0, OriginalGroups = original, NewGroups = current };
            enis.Add(entry);
            if (current.SequenceEqual(original)) continue;
            var groups = original.ToList();
            await Step("RestoreGroups", eni.NetworkInterfaceId, $"restored {eni.NetworkInterfaceId} to [{string.Join(", ", groups)}]", "ModifyNetworkInterfaceAttribute",
                (c, dry, t) => c.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni.NetworkInterfaceId, Groups = groups, DryRun = dry }, t)).ConfigureAwait(false);
            if (steps[^1].Status == StepStatus.Done) entry.NewGroups = groups;
        }
        foreach (var (eniId, timeouts) in record.ConnectionTracking)
        {
            if (f.NetworkInterfaces.FirstOrDefault(e => e.NetworkInterfaceId == eniId) is { } now && InstanceFacts.TrackingOf(now) == timeouts) continue;
            var parts = timeouts.Split('/').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
            await Step("RestoreConnectionTracking", eniId, $"restored connection-tracking timeouts of {eniId} to {timeouts} s", "ModifyNetworkInterfaceAttribute",
                (c, dry, t) => c.ModifyNetworkInterfaceAttributeAsync(new ModifyNetworkInterfaceAttributeRequest
                {
                    NetworkInterfaceId = eniId, DryRun = dry,
                    ConnectionTrackingSpecification = new ConnectionTrackingSpecificationRequest { TcpEstablishedTimeout = parts[0], UdpStreamTimeout = parts[1], UdpTimeout = parts[2] },
                }, t)).ConfigureAwait(false);
        }
        foreach (var (alloc, eniId) in record.ElasticIps)
        {
            // Back on the private IP it was on; a record made before private IPs were kept has none: the primary one.
            var privateIp = record.ElasticIpPrivateAddresses.GetValueOrDefault(alloc);
            if (f.ElasticIps.Any(a => a.AllocationId == alloc && a.NetworkInterfaceId == eniId && (privateIp is null || a.PrivateIpAddress == privateIp))) continue;
            await Step("RestoreElasticIp", alloc, $"associated Elastic IP {record.ElasticIpAddresses.GetValueOrDefault(alloc)} ({alloc}) with {eniId} ({privateIp ?? "primary private IP"}) again", "AssociateAddress",
                (c, dry, t) => c.AssociateAddressAsync(new AssociateAddressRequest
                { AllocationId = alloc, NetworkInterfaceId = eniId, PrivateIpAddress = privateIp, AllowReassociation = false, DryRun = dry }, t)).ConfigureAwait(false);
        }
        var assoc = f.ProfileAssociation;
        if (record.InstanceProfileArn is { } arn && assoc is null)
            await Step("RestoreInstanceProfile", instanceId, $"associated instance profile {arn} again", "AssociateIamInstanceProfile",
                (c, dry, t) => c.AssociateIamInstanceProfileAsync(new AssociateIamInstanceProfileRequest { InstanceId = instanceId, IamInstanceProfile = new IamInstanceProfileSpecification { Arn = arn } }, t)).ConfigureAwait(false);
        else if (record.InstanceProfileArn is { } arn2 && assoc is not null && assoc.IamInstanceProfile?.Arn != arn2)
            await Step("RestoreInstanceProfile", assoc.AssociationId, $"replaced the instance profile with the original {arn2}", "ReplaceIamInstanceProfileAssociation",
                (c, dry, t) => c.ReplaceIamInstanceProfileAssociationAsync(new ReplaceIamInstanceProfileAssociationRequest { AssociationId = assoc.AssociationId, IamInstanceProfile = new IamInstanceProfileSpecification { Arn = arn2 } }, t)).ConfigureAwait(false);
        else if (record.InstanceProfileArn is null && assoc is not null)
            await Step("RestoreInstanceProfile", assoc.AssociationId, "removed the replacement instance profile (there was none before)", "DisassociateIamInstanceProfile",
                (c, dry, t) => c.DisassociateIamInstanceProfileAsync(new DisassociateIamInstanceProfileRequest { AssociationId = assoc.AssociationId }, t)).ConfigureAwait(false);
        if (f.DisableApiTermination != record.DisableApiTermination)
            await Step("RestoreTerminationProtection", instanceId, $"DisableApiTermination back to {record.DisableApiTermination}", "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = instanceId, DisableApiTermination = record.DisableApiTermination, DryRun = dry }, t)).ConfigureAwait(false);
        if (f.DisableApiStop != record.DisableApiStop)
            await Step("RestoreStopProtection", instanceId, $"DisableApiStop back to {record.DisableApiStop}", "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = instanceId, DisableApiStop = record.DisableApiStop, DryRun = dry }, t)).ConfigureAwait(false);
        if (f.ShutdownBehavior != record.ShutdownBehavior)
            await Step("RestoreShutdownBehavior", instanceId, $"shutdown behaviour back to {record.ShutdownBehavior}", "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = instanceId, InstanceInitiatedShutdownBehavior = record.ShutdownBehavior, DryRun = dry }, t)).ConfigureAwait(false);
        var dots = f.Volumes.Where(v => record.DeleteOnTermination.TryGetValue(v.DeviceName, out var want) && (v.Ebs.DeleteOnTermination ?? false) != want)
            .Select(v => new InstanceBlockDeviceMappingSpecification { DeviceName = v.DeviceName, Ebs = new EbsInstanceBlockDeviceSpecification { DeleteOnTermination = record.DeleteOnTermination[v.DeviceName] } }).ToList();
        if (dots.Count > 0)
            await Step("RestoreDeleteOnTermination", instanceId, "DeleteOnTermination back to its original value on " + string.Join(", ", dots.Select(d => d.DeviceName)), "ModifyInstanceAttribute",
                (c, dry, t) => c.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = instanceId, BlockDeviceMappings = dots, DryRun = dry }, t)).ConfigureAwait(false);
        if (record.AutoScalingGroupName is { } asg)
        {
            var step = new QuarantineStep { Name = "RestoreAutoScaling", Target = asg };
            steps.Add(step);
            if (f.AutoScalingError is { } unknown)
            {
                // Without the membership no restore can be chosen safely (attaching an instance that is in service fails).
                step.Status = StepStatus.Failed;
                step.Detail = $"put the instance back in {asg}";
                step.Error = $"Auto Scaling membership could not be read: {unknown.Message}";
            }
            else
            {
                try
                {
                    string? id = null;
                    if (record.AutoScalingAction == nameof(AutoScalingAction.Detach) && f.AutoScaling is null) id = await ctx.AutoScaling.AttachInstanceAsync(asg, instanceId, ct).ConfigureAwait(false);
                    else if (f.AutoScaling?.LifecycleState == "Standby") id = await ctx.AutoScaling.ExitStandbyAsync(asg, instanceId, ct).ConfigureAwait(false);
                    step.Status = id is null ? StepStatus.Skipped : StepStatus.Done;
                    step.Detail = id is null ? "already back in the group" : $"back in service in {asg}";
                    if (id is not null) { ((List<string>)step.RequestIds).Add(id); actions.Add(step.Detail); }
                }
                catch (GuardDutyIRException e)
                {
                    step.Status = StepStatus.Failed;
                    step.Error = e.Message;
                }
            }
        }
        var failed = steps.Any(s => s.Status == StepStatus.Failed);
        if (!failed)
        {
            // The record goes only when everything is back, so a failed restore can be run again.
            var keys = QuarantineTags.RecordKeys(f.Tags).Select(k => new Tag { Key = k }).ToList();
            await Step("RemoveRecord", instanceId, $"removed the quarantine record ({keys.Count} tag(s))", "DeleteTags",
                (c, dry, t) => c.DeleteTagsAsync(new DeleteTagsRequest { Resources = new List<string> { instanceId }, Tags = keys, DryRun = dry }, t)).ConfigureAwait(false);
            await Step("TagState", instanceId, $"tagged {QuarantineTags.State}=Released", "CreateTags",
                (c, dry, t) => c.CreateTagsAsync(new CreateTagsRequest { Resources = new List<string> { instanceId }, Tags = new List<Tag> { new(QuarantineTags.State, "Released") }, DryRun = dry }, t)).ConfigureAwait(false);
        }
        return new QuarantineResult
        {
            InstanceId = instanceId, Region = region, CaseId = f.Tags.GetValueOrDefault(QuarantineTags.Case), FindingId = f.Tags.GetValueOrDefault(QuarantineTags.Finding),
            Steps = steps, Actions = actions, NetworkInterfaces = enis, Original = record, OriginalDescription = Ec2Gateway.ToJson(f.Instance),
            Status = steps.Any(s => s.Status == StepStatus.Failed) ? QuarantineStatus.PartiallyQuarantined : QuarantineStatus.Released,
        };
    }
}
