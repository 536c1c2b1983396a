using System.Management.Automation;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>Containment against a Lab on 127.0.0.1 through the built module, checked on the Lab's own state.</summary>
public sealed class ContainmentTests : IAsyncLifetime
{
    private readonly HostedPowerShell _host = new();
    private LabHost _lab = null!;

    // The Lab does not throttle here, so the client-side EC2 buckets (real AWS rates) would only slow the tests;
    // the benchmark measures the pacing against the Lab's buckets.
    static ContainmentTests() => Environment.SetEnvironmentVariable("GUARDDUTYIR_EC2_RATE_SCALE", "off");

    public async Task InitializeAsync() => _lab = await Start(new LabOptions { Scenario = ScenarioNames.Workshop, SnapshotCompletionSeconds = 1, InstanceTransitionSeconds = 0.5 });

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _lab.DisposeAsync();
    }

    private static Task<LabHost> Start(LabOptions options) => LabHost.StartAsync(options);

    private string Aws(LabHost lab) =>
        $"-Region {lab.Region} -EndpointUrl {lab.Endpoint} -Credential @{{AccessKey='{lab.AccessKeyId}'; SecretKey='{lab.SecretAccessKey}'}}";

    private ScriptResult Run(string script, params object?[] args)
    {
        var result = _host.Run(script, args);
        Assert.Null(result.Terminating);
        return result;
    }

    private static T Prop<T>(PSObject o, string name) => (T)(o.Properties[name].Value is PSObject p ? p.BaseObject : o.Properties[name].Value)!;

    private string IsolationGroup(LabHost lab, string vpcId) => Assert.Single(lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"), g => g.VpcId == vpcId).GroupId;

    [Fact]
    public void A_multi_ENI_instance_is_isolated_per_ENI_and_the_TCP_flow_ends_while_a_rerun_costs_nothing_and_undo_restores_it()
    {
        var id = _lab.World.CompromisedInstanceId!;
        var world = _lab.World.Instance(id);
        var before = _lab.Ec2.ViewInstance(id);
        var tcp = _lab.Ec2.Flows().Single(f => f.InstanceId == id && f.Protocol == "tcp" && f.RemoteIp == _lab.World.MaliciousEip);
        Assert.True(tcp.Passes);

        var result = Run($"Set-InstanceQuarantine -InstanceId $args[0] -CaseId IR-1 -ConversionWaitSeconds 0 {Aws(_lab)}", id);
        Assert.Empty(result.Errors);
        var q = Assert.Single(result.Output);
        Assert.Equal("Quarantined", q.Properties["Status"].Value.ToString());
        Assert.Equal(2, Prop<System.Collections.IEnumerable>(q, "NetworkInterfaces").Cast<object>().Count());
        var iso = IsolationGroup(_lab, world.VpcId);
        foreach (var eni in world.NetworkInterfaces) Assert.Equal(new[] { iso }, _lab.Ec2.GroupsOf(eni.NetworkInterfaceId));
        Assert.Equal(0, _lab.Ec2.GroupsNamed("GuardDutyIR-Isolation").Single(g => g.GroupId == iso).Rules);

        // The two-step method ended the beacon to the threat-listed EIP; ICMP is always tracked and survives (the result says so).
        var flows = _lab.Ec2.Flows().Where(f => f.InstanceId == id).ToList();
        Assert.False(flows.Single(f => f.FlowId == tcp.FlowId).Passes);
        Assert.True(flows.Single(f => f.Protocol == "icmp").Passes);
        Assert.Contains("ICMP", (string)q.Properties["Caveat"].Value);

        var view = _lab.Ec2.ViewInstance(id);
        Assert.True(view.DisableApiTermination);
        Assert.True(view.DisableApiStop);
        Assert.All(view.DeleteOnTermination.Values, dot => Assert.False(dot));

        var test = Run($"Test-InstanceQuarantine $args[0] {Aws(_lab)}", id).Output.Single();
        Assert.True((bool)test.Properties["Passed"].Value, string.Join("\n", Prop<IEnumerable<string>>(test, "Failed")));

        _lab.Counters.Reset();
        var again = Run($"Set-InstanceQuarantine -InstanceId $args[0] -CaseId IR-1 -ConversionWaitSeconds 0 {Aws(_lab)}", id);
        Assert.Empty(again.Errors);
        Assert.Equal("Quarantined", again.Output.Single().Properties["Status"].Value.ToString());
        Assert.Equal(0, _lab.Counters.Snapshot().TotalMutating);

        var undo = Run($"Undo-InstanceQuarantine $args[0] {Aws(_lab)}", id);
        Assert.Empty(undo.Errors);
        Assert.Equal("Released", undo.Output.Single().Properties["Status"].Value.ToString());
        var after = _lab.Ec2.ViewInstance(id);
        Assert.Equal((before.State, before.DisableApiTermination, before.DisableApiStop, before.ShutdownBehavior, before.ProfileArn),
            (after.State, after.DisableApiTermination, after.DisableApiStop, after.ShutdownBehavior, after.ProfileArn));
        Assert.Equal(before.ElasticIps, after.ElasticIps);
        Assert.Equal(before.EniGroups, _lab.Ec2.ViewInstance(id).EniGroups);
        Assert.Equal(before.DeleteOnTermination, _lab.Ec2.ViewInstance(id).DeleteOnTermination);
    }

    [Fact]
    public async Task A_plain_swap_to_the_isolation_group_leaves_the_tracked_TCP_flow_alive()
    {
        await using var lab = await Start(new LabOptions { Scenario = ScenarioNames.CompromisedInstance });
        var id = lab.World.CompromisedInstanceId!;
        // Quarantining the bastion creates the VPC's isolation group; then the compromised ENIs get it in one step.
        Run($"Set-InstanceQuarantine $args[0] -ConversionWaitSeconds 0 {Aws(lab)}", lab.World.BastionInstanceId);
        var iso = IsolationGroup(lab, lab.World.Instance(id).VpcId);
        foreach (var eni in lab.World.Instance(id).NetworkInterfaces) lab.Ec2.SwapGroups(eni.NetworkInterfaceId, new[] { iso });
        var tcp = lab.Ec2.Flows().Single(f => f.InstanceId == id && f.Protocol == "tcp" && f.RemoteIp == lab.World.MaliciousEip);
        Assert.True(tcp.Passes);
        Assert.True(tcp.Tracked);
    }

    [Fact]
    public void An_instance_in_an_Auto_Scaling_group_goes_to_standby_before_the_network_cut()
    {
        var id = _lab.World.AutoScalingInstanceId!;
        var result = Run($"Set-InstanceQuarantine $args[0] -CaseId IR-2 -ConversionWaitSeconds 0 {Aws(_lab)}", id);
        Assert.Empty(result.Errors);
        var names = result.Output.Single().Properties["Steps"].Value;
        var list = ((System.Collections.IEnumerable)(names is PSObject p ? p.BaseObject : names)).Cast<object>().Select(s => s.ToString()!).ToList();
        var standby = list.FindIndex(s => s.StartsWith("EnterAutoScalingStandby", StringComparison.Ordinal));
        var isolate = list.FindIndex(s => s.StartsWith("Isolate", StringComparison.Ordinal));
        Assert.True(standby >= 0 && isolate > standby, string.Join("\n", list));
        Assert.Contains(": Done", list[standby]);
        var test = Run($"Test-InstanceQuarantine $args[0] {Aws(_lab)}", id).Output.Single();
        Assert.True((bool)test.Properties["Passed"].Value, string.Join("\n", Prop<IEnumerable<string>>(test, "Failed")));
    }

    [Fact]
    public void IPv6_rules_go_too_the_conversion_group_opens_both_families_and_the_isolation_group_has_none()
    {
        var id = _lab.World.InvestigatedInstanceId!;
        var eni = _lab.World.Instance(id).PrimaryNetworkInterface.NetworkInterfaceId;
        Assert.True(_lab.Ec2.WouldAllowNewConnection(eni, "2001:db8::7", "tcp", 443, FlowDirection.Inbound));
        var result = Run($"Set-InstanceQuarantine $args[0] -ConversionWaitSeconds 0 {Aws(_lab)}", id);
        Assert.Empty(result.Errors);
        Assert.False(_lab.Ec2.WouldAllowNewConnection(eni, "2001:db8::7", "tcp", 443, FlowDirection.Inbound));
        Assert.False(_lab.Ec2.WouldAllowNewConnection(eni, "2001:db8::7", "tcp", 443, FlowDirection.Outbound));
        var conversion = Assert.Single(_lab.Ec2.GroupsNamed("GuardDutyIR-Conversion"), g => g.VpcId == _lab.World.Instance(id).VpcId);
        Assert.Equal(4, conversion.Rules);   // all traffic, 0.0.0.0/0 and ::/0, in and out
        Assert.Empty(_lab.Ec2.NetworkInterfacesUsing(conversion.GroupId));
    }

    [Fact]
    public void WhatIf_makes_no_mutating_call_and_DryRun_reports_allowed_and_denied()
    {
        var id = _lab.World.CompromisedInstanceId!;
        _lab.Counters.Reset();
        var whatIf = Run($"Set-InstanceQuarantine $args[0] -CaseId IR-3 -WhatIf {Aws(_lab)}", id);
        Assert.Empty(whatIf.Output);
        Assert.Equal(0, _lab.Counters.Snapshot().TotalMutating);

        _lab.Deny("ec2", "ModifyInstanceAttribute");
        try
        {
            var dry = Run($"Set-InstanceQuarantine $args[0] -CaseId IR-3 -DryRun -DisassociateInstanceProfile {Aws(_lab)} | ForEach-Object Steps | ForEach-Object {{ \"$($_.Name)=$($_.Status)\" }}", id);
            var lines = dry.Output.Select(o => o.ToString()).ToList();
            Assert.Contains("EnableTerminationProtection=DryRunDenied", lines);
            Assert.Contains("KeepVolumesOnTermination=DryRunDenied", lines);
            Assert.Contains("RecordOriginalState=DryRunAllowed", lines);
            Assert.Contains(lines, l => l.StartsWith("ConvertToUntracked=DryRunAllowed", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("Isolate=DryRunAllowed", StringComparison.Ordinal));
            Assert.Contains("DisassociateInstanceProfile=Skipped", lines);
            Assert.Equal(0, _lab.Counters.Snapshot().TotalMutating);
            Assert.Empty(_lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"));
        }
        finally { _lab.Allow("ec2", "ModifyInstanceAttribute"); }
    }

    [Fact]
    public void Terminate_is_refused_without_completed_snapshots_and_goes_ahead_after_them()
    {
        var id = _lab.World.CompromisedInstanceId!;
        Run($"Set-InstanceQuarantine $args[0] -CaseId IR-4 -ConversionWaitSeconds 0 {Aws(_lab)}", id);
        var refused = Run($"Remove-CompromisedInstance $args[0] -CaseId IR-4 -Confirm:$false {Aws(_lab)}", id);
        Assert.Equal("EvidenceIncomplete", Assert.Single(refused.Errors).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal("running", _lab.Ec2.InstanceState(id));

        // -WhatIf wins over -Force: the instance and its evidence are read, nothing is changed.
        _lab.Counters.Reset();
        Run($"Remove-CompromisedInstance $args[0] -CaseId IR-4 -Force -WhatIf {Aws(_lab)}", id);
        Assert.Equal(0, _lab.Counters.Snapshot().TotalMutating);
        Assert.Equal("running", _lab.Ec2.InstanceState(id));

        var snaps = Run($"New-ForensicSnapshot $args[0] -CaseId IR-4 -Wait -PollIntervalSeconds 0.3 {Aws(_lab)}", id);
        Assert.Empty(snaps.Errors);
        Assert.Equal(2, snaps.Output.Count);
        Assert.All(snaps.Output, s => Assert.Equal("completed", s.Properties["State"].Value));
        // A second run reuses the case's snapshots instead of taking new ones.
        var again = Run($"New-ForensicSnapshot $args[0] -CaseId IR-4 {Aws(_lab)}", id);
        Assert.All(again.Output, s => Assert.True((bool)s.Properties["Reused"].Value));

        var done = Run($"Remove-CompromisedInstance $args[0] -CaseId IR-4 -Confirm:$false -PollIntervalSeconds 0.2 {Aws(_lab)}", id);
        Assert.Empty(done.Errors);
        Assert.Equal("terminated", done.Output.Single().Properties["State"].Value);
        Assert.Equal("terminated", _lab.Ec2.InstanceState(id));
    }

    [Fact]
    public async Task The_concurrent_snapshot_limit_is_waited_out_not_reported_as_success()
    {
        await using var lab = await Start(new LabOptions { Scenario = ScenarioNames.CompromisedInstance, SnapshotCompletionSeconds = 1, MaxPendingSnapshots = 1 });
        var id = lab.World.CompromisedInstanceId!;
        var result = Run($"New-ForensicSnapshot $args[0] -CaseId IR-8 -PerVolume -Wait -PollIntervalSeconds 0.3 {Aws(lab)}", id);
        Assert.Empty(result.Errors);
        Assert.Equal(2, result.Output.Count);
        Assert.All(result.Output, s => Assert.Equal("completed", s.Properties["State"].Value));
        Assert.True(lab.Counters.Snapshot().Errors.GetValueOrDefault("ec2:CreateSnapshot") >= 1);
    }

    [Fact]
    public void A_piped_finding_travels_on_the_result_with_the_actions_taken_and_tags_the_instance()
    {
        var id = _lab.World.CompromisedInstanceId!;
        var ev = File.ReadAllText(Path.Combine(GuardDutyIR.TestSupport.TestPaths.Samples, "eventbridge-GuardDutyFinding-MaliciousIPCaller.Custom.SYNTHESIZED.json"))
            .Replace("i-0abc1234def567890", id).Replace("eu-west-1", _lab.Region);
        var result = Run($"$args[0] | ConvertFrom-GdFindingEvent | Set-InstanceQuarantine -CaseId IR-9 -ConversionWaitSeconds 0 {Aws(_lab)}", ev);
        Assert.Empty(result.Errors);
        var q = result.Output.Single();
        Assert.Equal(id, q.Properties["InstanceId"].Value);
        Assert.Equal("5ec7a3a0f1b2c3d4e5f6a7b8c9d0e1f2", q.Properties["FindingId"].Value);
        Assert.Equal("GuardDutyIR.GdFinding", PSObject.AsPSObject(q.Properties["Finding"].Value).BaseObject.GetType().FullName);
        var actions = ((System.Collections.IEnumerable)Prop<object>(q, "Actions")).Cast<object>().Select(a => a.ToString()!).ToList();
        Assert.Contains("enabled termination protection", actions);
        Assert.Contains(actions, a => a.StartsWith("moved " + _lab.World.Instance(id).PrimaryNetworkInterface.NetworkInterfaceId + " to GuardDutyIR-Isolation", StringComparison.Ordinal));
        var tags = _lab.Ec2.ResourceTags(id);
        Assert.Equal("5ec7a3a0f1b2c3d4e5f6a7b8c9d0e1f2", tags["ir:finding"]);
        Assert.Equal("IR-9", tags["ir:case"]);
        Assert.Equal("Quarantined", tags["ir:state"]);
    }

    [Fact]
    public void Snapshots_are_copied_re_encrypted_and_shared_with_named_accounts_only()
    {
        var id = _lab.World.BastionInstanceId!;
        var member = _lab.MemberAccountId;
        var result = Run($"New-ForensicSnapshot $args[0] -CaseId IR-10 -PollIntervalSeconds 0.3 -CopyToRegion {_lab.Region} -KmsKeyId alias/forensics -ShareWithAccountId $args[1] {Aws(_lab)}", id, member);
        Assert.Empty(result.Errors);
        var s = Assert.Single(result.Output);
        Assert.Equal("completed", s.Properties["State"].Value);
        Assert.StartsWith("snap-", (string)s.Properties["CopySnapshotId"].Value);
        Assert.NotEqual(s.Properties["SnapshotId"].Value, s.Properties["CopySnapshotId"].Value);
        Assert.Equal(new[] { member }, ((System.Collections.IEnumerable)Prop<object>(s, "SharedWith")).Cast<object>().Select(x => x.ToString()));
    }

    [Fact]
    public void The_guarded_stop_lifts_stop_protection_only_when_it_stops()
    {
        var id = _lab.World.BastionInstanceId!;
        Run($"Set-InstanceQuarantine $args[0] -CaseId IR-11 -ConversionWaitSeconds 0 {Aws(_lab)}", id);
        Assert.True(_lab.Ec2.ViewInstance(id).DisableApiStop);
        var refused = Run($"Stop-CompromisedInstance $args[0] -CaseId IR-11 -Confirm:$false {Aws(_lab)}", id);
        Assert.Equal("EvidenceIncomplete", Assert.Single(refused.Errors).FullyQualifiedErrorId.Split(',')[0]);
        Assert.True(_lab.Ec2.ViewInstance(id).DisableApiStop);
        var stopped = Run($"Stop-CompromisedInstance $args[0] -CaseId IR-11 -Force -Confirm:$false -PollIntervalSeconds 0.2 {Aws(_lab)}", id);
        Assert.Empty(stopped.Errors);
        Assert.Equal("stopped", stopped.Output.Single().Properties["State"].Value);
        Assert.True((bool)stopped.Output.Single().Properties["Forced"].Value);
        Assert.False(_lab.Ec2.ViewInstance(id).DisableApiStop);
        Assert.True(_lab.Ec2.ViewInstance(id).DisableApiTermination);
    }

    [Fact]
    public void Elastic_IPs_profiles_and_tracking_timeouts_are_recorded_removed_and_restored()
    {
        var withEip = _lab.World.MaliciousInstanceId!;
        var withProfile = _lab.World.InvestigatedInstanceId!;
        var before = new[] { withEip, withProfile }.ToDictionary(i => i, i => _lab.Ec2.ViewInstance(i));
        Assert.NotEmpty(before[withEip].ElasticIps);
        Assert.NotNull(before[withProfile].ProfileArn);

        var result = Run($"$args[0] | Set-InstanceQuarantine -CaseId IR-12 -ConversionWaitSeconds 0 -DisassociateElasticIp -DisassociateInstanceProfile -LowerConnectionTracking {Aws(_lab)}",
            (object)new[] { withEip, withProfile });
        Assert.Empty(result.Errors);
        Assert.Equal(2, result.Output.Count);
        Assert.Empty(_lab.Ec2.ViewInstance(withEip).ElasticIps);
        Assert.Null(_lab.Ec2.ViewInstance(withProfile).ProfileArn);
        var tests = Run($"$args[0] | Test-InstanceQuarantine -ExpectElasticIpRemoved -ExpectInstanceProfileRemoved {Aws(_lab)}", (object)new[] { withEip, withProfile });
        Assert.All(tests.Output, t => Assert.True((bool)t.Properties["Passed"].Value));
        var eip = (System.Collections.IDictionary)Prop<object>(PSObject.AsPSObject(Prop<object>(result.Output.Single(o => (string)o.Properties["InstanceId"].Value == withEip), "Original")), "ElasticIpAddresses");
        Assert.Contains(_lab.World.MaliciousEip, eip.Values.Cast<string>());

        var undo = Run($"$args[0] | Undo-InstanceQuarantine {Aws(_lab)}", (object)new[] { withEip, withProfile });
        Assert.Empty(undo.Errors);
        foreach (var (id, view) in before)
        {
            var after = _lab.Ec2.ViewInstance(id);
            Assert.Equal(view.ElasticIps, after.ElasticIps);
            Assert.Equal(view.ProfileArn, after.ProfileArn);
            Assert.Equal(view.EniGroups, after.EniGroups);
            Assert.Equal(view.DeleteOnTermination, after.DeleteOnTermination);
            Assert.Equal((view.DisableApiTermination, view.DisableApiStop, view.ShutdownBehavior), (after.DisableApiTermination, after.DisableApiStop, after.ShutdownBehavior));
        }
    }

    [Fact]
    public void Evidence_files_carry_their_SHA256()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gdir-evidence-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = Run($"Save-InstanceEvidence $args[0] -Path $args[1] -CaseId IR-5 {Aws(_lab)}", _lab.World.CompromisedInstanceId, dir);
            Assert.Empty(result.Errors);
            var files = ((System.Collections.IEnumerable)Prop<object>(result.Output.Single(), "Files")).Cast<object>().Select(f => PSObject.AsPSObject(f)).ToList();
            Assert.Equal(3, files.Count);
            foreach (var f in files)
            {
                var bytes = File.ReadAllBytes((string)f.Properties["Path"].Value);
                Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)).ToLowerInvariant(), f.Properties["Sha256"].Value);
            }
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task Many_instances_under_injected_faults_end_isolated_recoverable_and_without_duplicate_groups()
    {
        await using var lab = await Start(new LabOptions { Scenario = ScenarioNames.Scale, Instances = 200, Vpcs = 4, Faults = new FaultOptions { ErrorRate = 0.2, LatencyMs = 3, Seed = 5, Services = new[] { "ec2" } } });
        var ids = lab.World.Instances.Where(i => i.AccountId == lab.AccountId).Select(i => i.InstanceId).ToArray();
        var result = _host.Run($"$args[0] | Set-InstanceQuarantine -CaseId IR-6 -ConversionWaitSeconds 0 -ThrottleLimit 32 {Aws(lab)}", (object)ids);
        Assert.Null(result.Terminating);
        // A run under 20% errors may leave a few instances unfinished (reported as errors); a re-run finishes them.
        if (result.Errors.Count > 0)
        {
            var rerun = _host.Run($"$args[0] | Set-InstanceQuarantine -CaseId IR-6 -ConversionWaitSeconds 0 -ThrottleLimit 32 {Aws(lab)}", (object)ids);
            Assert.Empty(rerun.Errors);
        }
        // The checks read the Lab's state; they are not what runs under faults.
        lab.Faults.ErrorRate = 0;
        lab.Faults.LatencyMs = 0;
        AssertAllIsolated(lab, ids);
    }

    [Fact]
    public async Task A_run_stopped_midway_leaves_no_ENI_on_the_conversion_group_and_a_rerun_converges()
    {
        await using var lab = await Start(new LabOptions { Scenario = ScenarioNames.Scale, Instances = 60, Vpcs = 3, Faults = new FaultOptions { LatencyMs = 5 } });
        var ids = lab.World.Instances.Where(i => i.AccountId == lab.AccountId).Select(i => i.InstanceId).ToArray();
        _host.Runspace.SessionStateProxy.SetVariable("ids", ids);
        // Stopped at the riskiest moment: while ENIs sit on the all-open conversion group.
        bool Converting() => lab.Ec2.GroupsNamed("GuardDutyIR-Conversion").Any(g => lab.Ec2.NetworkInterfacesUsing(g.GroupId).Count > 0);
        var stopped = _host.RunAndStopWhen($"$ids | Set-InstanceQuarantine -CaseId IR-7 -ConversionWaitSeconds 1 -ThrottleLimit 8 {Aws(lab)}", Converting, TimeSpan.FromSeconds(120));
        // A stop is a stop: never an error record of a wrapped cancellation.
        Assert.IsType<PipelineStoppedException>(stopped.Terminating);
        Assert.Empty(stopped.Errors);
        foreach (var conv in lab.Ec2.GroupsNamed("GuardDutyIR-Conversion")) Assert.Empty(lab.Ec2.NetworkInterfacesUsing(conv.GroupId));

        var rerun = _host.Run($"$ids | Set-InstanceQuarantine -CaseId IR-7 -ConversionWaitSeconds 0 {Aws(lab)}");
        Assert.Null(rerun.Terminating);
        Assert.Empty(rerun.Errors);
        AssertAllIsolated(lab, ids);
    }

    private static IReadOnlyList<PSObject> Steps(PSObject result) =>
        ((System.Collections.IEnumerable)Prop<object>(result, "Steps")).Cast<object>().Select(PSObject.AsPSObject).ToList();

    private static string S(PSObject o, string name) => o.Properties[name].Value?.ToString() ?? "";

    [Fact]
    public void A_rerun_revokes_a_rule_added_to_the_isolation_group_and_says_so()
    {
        var id = _lab.World.BastionInstanceId!;
        Run($"Set-InstanceQuarantine $args[0] -CaseId IR-20 -ConversionWaitSeconds 0 {Aws(_lab)}", id);
        var iso = IsolationGroup(_lab, _lab.World.Instance(id).VpcId);
        var stray = _lab.Ec2.AddRule(iso, egress: false, "tcp", "198.51.100.0/24");
        var before = Run($"Test-InstanceQuarantine $args[0] {Aws(_lab)}", id).Output.Single();
        Assert.False((bool)before.Properties["Passed"].Value);

        _lab.Counters.Reset();
        var again = Run($"Set-InstanceQuarantine $args[0] -CaseId IR-20 -ConversionWaitSeconds 0 {Aws(_lab)}", id);
        Assert.Empty(again.Errors);
        var q = again.Output.Single();
        Assert.Equal("Quarantined", S(q, "Status"));
        var revoke = Assert.Single(Steps(q), s => S(s, "Name") == "RevokeSecurityGroupIngress");
        Assert.Equal("Done", S(revoke, "Status"));
        Assert.Contains(stray, S(revoke, "Detail"));
        Assert.NotEmpty(((System.Collections.IEnumerable)Prop<object>(revoke, "RequestIds")).Cast<object>());
        Assert.Equal(1, _lab.Counters.Snapshot().MutatingOf("ec2", "RevokeSecurityGroupIngress"));
        Assert.Equal(0, _lab.Ec2.GroupsNamed("GuardDutyIR-Isolation").Single(g => g.GroupId == iso).Rules);

        var test = Run($"Test-InstanceQuarantine $args[0] {Aws(_lab)}", id).Output.Single();
        Assert.True((bool)test.Properties["Passed"].Value, string.Join("\n", Prop<IEnumerable<string>>(test, "Failed")));
    }

    [Fact]
    public void Of_many_instances_in_one_VPC_only_one_says_it_created_the_isolation_group()
    {
        var ids = new[] { _lab.World.BastionInstanceId!, _lab.World.MaliciousInstanceId! };
        var result = Run($"$args[0] | Set-InstanceQuarantine -CaseId IR-21 -ConversionWaitSeconds 0 {Aws(_lab)}", (object)ids);
        Assert.Empty(result.Errors);
        AssertOneCreatorOthersReused(result.Output, "CreateIsolationGroup", "GuardDutyIR-Isolation");
        AssertOneCreatorOthersReused(result.Output, "CreateConversionGroup", "GuardDutyIR-Conversion");
    }

    [Fact]
    public async Task Of_parallel_runs_in_one_VPC_only_one_says_it_created_the_isolation_group()
    {
        await using var lab = await Start(new LabOptions { Scenario = ScenarioNames.Workshop, Faults = new FaultOptions { LatencyMs = 20 } });
        var ids = new[] { lab.World.BastionInstanceId!, lab.World.MaliciousInstanceId!, lab.World.CompromisedInstanceId! };
        var hosts = ids.Select(_ => new HostedPowerShell()).ToList();
        try
        {
            using var go = new Barrier(ids.Length);
            var runs = ids.Select((id, i) => Task.Run(() =>
            {
                go.SignalAndWait();
                return hosts[i].Run($"Set-InstanceQuarantine $args[0] -CaseId IR-22 -ConversionWaitSeconds 0 {Aws(lab)}", id);
            })).ToList();
            var results = await Task.WhenAll(runs);
            Assert.All(results, r => Assert.Null(r.Terminating));
            Assert.All(results, r => Assert.Empty(r.Errors));
            AssertOneCreatorOthersReused(results.SelectMany(r => r.Output).ToList(), "CreateIsolationGroup", "GuardDutyIR-Isolation");
            Assert.Single(lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"));
            var iso = IsolationGroup(lab, lab.World.Instance(ids[0]).VpcId);
            Assert.Equal(0, lab.Ec2.GroupsNamed("GuardDutyIR-Isolation").Single().Rules);
            foreach (var id in ids)
                foreach (var eni in lab.World.Instance(id).NetworkInterfaces) Assert.Equal(new[] { iso }, lab.Ec2.GroupsOf(eni.NetworkInterfaceId));
        }
        finally { hosts.ForEach(h => h.Dispose()); }
    }

    private static void AssertOneCreatorOthersReused(IReadOnlyList<PSObject> results, string step, string name)
    {
        var creators = results.Where(r => Steps(r).Any(s => S(s, "Name") == step && S(s, "Status") == "Done")).ToList();
        Assert.Single(creators);
        Assert.Single(results.SelectMany(r => ((System.Collections.IEnumerable)Prop<object>(r, "Actions")).Cast<object>()), a => a.ToString()!.StartsWith("created " + name, StringComparison.Ordinal));
        foreach (var other in results.Except(creators))
        {
            var s = Assert.Single(Steps(other), x => S(x, "Name") == step);
            Assert.Equal("Skipped", S(s, "Status"));
            Assert.StartsWith("reused " + name, S(s, "Detail"));
        }
    }

    [Fact]
    public void A_failed_Auto_Scaling_lookup_does_not_stop_the_network_cut_and_a_rerun_finishes_the_job()
    {
        var id = _lab.World.AutoScalingInstanceId!;
        var asg = _lab.GetService<GuardDutyIR.Lab.Ec2.AutoScalingService>()!;
        _lab.Deny("autoscaling", "DescribeAutoScalingInstances");
        ScriptResult first, notChecked;
        try
        {
            first = Run($"Set-InstanceQuarantine $args[0] -CaseId IR-23 -ConversionWaitSeconds 0 {Aws(_lab)}", id);
            notChecked = Run($"Test-InstanceQuarantine $args[0] {Aws(_lab)} | ForEach-Object Checks | Where-Object Name -eq OutOfAutoScalingGroup", id);
        }
        finally { _lab.Allow("autoscaling", "DescribeAutoScalingInstances"); }
        // What cannot be read is not reported as holding.
        var check = notChecked.Output.Single();
        Assert.False((bool)check.Properties["Passed"].Value);
        Assert.Contains("could not be read", S(check, "Detail"));

        var iso = IsolationGroup(_lab, _lab.World.Instance(id).VpcId);
        foreach (var eni in _lab.World.Instance(id).NetworkInterfaces) Assert.Equal(new[] { iso }, _lab.Ec2.GroupsOf(eni.NetworkInterfaceId));
        Assert.All(_lab.Ec2.ViewInstance(id).DeleteOnTermination.Values, dot => Assert.False(dot));
        var q = first.Output.Single();
        Assert.Equal("PartiallyQuarantined", S(q, "Status"));
        var step = Assert.Single(Steps(q), s => S(s, "Name") == "LeaveAutoScalingGroup");
        Assert.Equal("Failed", S(step, "Status"));
        Assert.Contains("AccessDenied", S(step, "Error"));
        Assert.Contains("volumes are kept on termination", S(step, "Error"));
        Assert.Equal("QuarantineIncomplete", first.SingleError().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal("InService", asg.MembershipOf(id)!.Value.LifecycleState);

        var again = Run($"Set-InstanceQuarantine $args[0] -CaseId IR-23 -ConversionWaitSeconds 0 {Aws(_lab)}", id);
        Assert.Empty(again.Errors);
        Assert.Equal("Quarantined", S(again.Output.Single(), "Status"));
        Assert.Equal("Standby", asg.MembershipOf(id)!.Value.LifecycleState);

        // The group learnt on the re-run is in the record, so the undo puts the instance back in service.
        var undo = Run($"Undo-InstanceQuarantine $args[0] -Confirm:$false {Aws(_lab)}", id);
        Assert.Empty(undo.Errors);
        Assert.Equal("InService", asg.MembershipOf(id)!.Value.LifecycleState);
    }

    [Fact]
    public void Objects_that_are_not_instance_IDs_are_refused_before_any_call_and_the_rest_go_on()
    {
        var bad = new object[] { new System.Collections.Hashtable { ["InstanceId"] = _lab.World.BastionInstanceId }, 42, "i-XYZ", "i-0123", "sg-0123456789abcdef0" };
        foreach (var cmdlet in new[]
        {
            "Set-InstanceQuarantine -ConversionWaitSeconds 0", "Test-InstanceQuarantine", "Undo-InstanceQuarantine -Confirm:$false",
            "New-ForensicSnapshot", "Save-InstanceEvidence -Path ([IO.Path]::GetTempPath())", "Remove-CompromisedInstance -Force -Confirm:$false",
            "Stop-CompromisedInstance -Force -Confirm:$false",
        })
        {
            _lab.Counters.Reset();
            var result = Run($"$args[0] | {cmdlet} {Aws(_lab)}", (object)bad);
            Assert.Equal(0, _lab.Counters.Snapshot().TotalCalls);
            Assert.Empty(result.Output);
            Assert.Equal(bad.Length, result.Errors.Count);
            for (int i = 0; i < bad.Length; i++)
            {
                var e = result.Errors[i];
                Assert.Equal("InvalidInstanceId", e.FullyQualifiedErrorId.Split(',')[0]);
                Assert.Equal(ErrorCategory.InvalidArgument, e.CategoryInfo.Category);
                Assert.Equal(bad[i], e.TargetObject is PSObject p ? p.BaseObject : e.TargetObject);
            }
        }

        // A bad record among good ones: refused, and the good one is worked on.
        var id = _lab.World.BastionInstanceId!;
        var mixed = Run($"$args[0] | Test-InstanceQuarantine {Aws(_lab)}", (object)new object[] { new System.Collections.Hashtable(), id });
        Assert.Equal("InvalidInstanceId", mixed.SingleError().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(id, mixed.Output.Single().Properties["InstanceId"].Value);
    }

    [Fact]
    public void Bad_profile_ARNs_KMS_keys_and_group_names_stop_the_command_before_any_call()
    {
        var id = _lab.World.BastionInstanceId!;
        foreach (var (script, errorId) in new[]
        {
            ("Set-InstanceQuarantine $args[0] -ReplacementInstanceProfileArn 'arn:aws:iam::123:role/x'", "InvalidInstanceProfileArn"),
            ("Test-InstanceQuarantine $args[0] -ReplacementInstanceProfileArn 'deny-all'", "InvalidInstanceProfileArn"),
            ("Set-InstanceQuarantine $args[0] -IsolationGroupName 'sg-isolation'", "InvalidSecurityGroupName"),
            ("New-ForensicSnapshot $args[0] -CopyToRegion us-east-1 -KmsKeyId 'my key'", "InvalidKmsKeyId"),
        })
        {
            _lab.Counters.Reset();
            var result = _host.Run($"{script} {Aws(_lab)}", id);
            Assert.Equal(errorId, result.SingleError().FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(ErrorCategory.InvalidArgument, result.SingleError().CategoryInfo.Category);
            Assert.Equal(0, _lab.Counters.Snapshot().TotalCalls);
        }
    }

    [Fact]
    public void A_snapshot_of_a_terminated_instance_is_refused_as_terminated()
    {
        var id = _lab.World.BastionInstanceId!;
        Run($"Remove-CompromisedInstance $args[0] -Force -Confirm:$false -PollIntervalSeconds 0.2 {Aws(_lab)}", id);
        Assert.Equal("terminated", _lab.Ec2.InstanceState(id));
        var result = Run($"New-ForensicSnapshot $args[0] -CaseId IR-24 {Aws(_lab)}", id);
        var e = result.SingleError();
        Assert.Equal("InstanceTerminated", e.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidOperation, e.CategoryInfo.Category);
        Assert.Equal(id, e.TargetObject);
    }

    [Fact]
    public void WhatIf_comes_after_the_instance_is_resolved_and_changes_nothing()
    {
        var missing = "i-0123456789abcdef0";
        var dir = Path.Combine(Path.GetTempPath(), "gdir-whatif-" + Guid.NewGuid().ToString("N"));
        foreach (var cmdlet in new[] { "New-ForensicSnapshot -CaseId IR-25", $"Save-InstanceEvidence -Path '{dir}'", "Remove-CompromisedInstance -CaseId IR-25 -Force", "Stop-CompromisedInstance -CaseId IR-25 -Force" })
        {
            var gone = Run($"{cmdlet} $args[0] -WhatIf {Aws(_lab)}", missing);
            Assert.Equal("InstanceNotFound", gone.SingleError().FullyQualifiedErrorId.Split(',')[0]);

            _lab.Counters.Reset();
            var real = Run($"{cmdlet} $args[0] -WhatIf {Aws(_lab)}", _lab.World.CompromisedInstanceId);
            Assert.Empty(real.Errors);
            Assert.Empty(real.Output);
            Assert.True(_lab.Counters.Snapshot().TotalCalls > 0);
            Assert.Equal(0, _lab.Counters.Snapshot().TotalMutating);
        }
        Assert.False(Directory.Exists(dir));
        Assert.Equal("running", _lab.Ec2.InstanceState(_lab.World.CompromisedInstanceId!));
    }

    [Fact]
    public void Snapshot_progress_has_a_percentage_and_no_empty_finding_tag()
    {
        var id = _lab.World.CompromisedInstanceId!;
        var result = Run($"New-ForensicSnapshot $args[0] -CaseId IR-26 -Wait -PollIntervalSeconds 0.3 {Aws(_lab)}", id);
        Assert.Empty(result.Errors);
        var progress = result.Progress.Where(p => p.Activity.StartsWith("Snapshots of", StringComparison.Ordinal) && p.RecordType != ProgressRecordType.Completed).ToList();
        Assert.NotEmpty(progress);
        Assert.All(progress, p => Assert.InRange(p.PercentComplete, 0, 100));
        Assert.All(progress, p => Assert.DoesNotContain("-1%", p.StatusDescription));
        foreach (var snap in result.Output)
        {
            var tags = _lab.Ec2.ResourceTags((string)snap.Properties["SnapshotId"].Value);
            Assert.Equal("IR-26", tags["ir:case"]);
            Assert.False(tags.ContainsKey("ir:finding"), "an empty ir:finding tag was set");
            Assert.All(tags.Values, v => Assert.False(string.IsNullOrWhiteSpace(v)));
        }
    }

    [Fact]
    public void DryRun_steps_say_what_would_happen_to_which_group()
    {
        var id = _lab.World.CompromisedInstanceId!;
        var own = _lab.World.Instance(id).NetworkInterfaces.SelectMany(e => e.GroupIds).ToHashSet();
        var result = Run($"Set-InstanceQuarantine $args[0] -CaseId IR-27 -DryRun {Aws(_lab)}", id);
        Assert.Empty(result.Errors);
        var steps = Steps(result.Output.Single());
        Assert.All(steps.Where(s => S(s, "Status").StartsWith("DryRun", StringComparison.Ordinal)),
            s => Assert.StartsWith("would ", S(s, "Detail")));
        foreach (var (name, group) in new[] { ("ConvertToUntracked", "GuardDutyIR-Conversion"), ("Isolate", "GuardDutyIR-Isolation") })
        {
            var planned = steps.Where(s => S(s, "Name") == name).ToList();
            Assert.Equal(2, planned.Count);
            Assert.All(planned, s => Assert.Contains(group, S(s, "Detail")));
            // The groups do not exist yet: the call is checked with the ENI's own group, which the text must not present as the target.
            Assert.All(planned, s => Assert.DoesNotContain(own, g => S(s, "Detail").Contains(g)));
        }
        Assert.Contains(steps, s => S(s, "Name") == "CreateIsolationGroup" && S(s, "Status") == "DryRunAllowed");
        Assert.Empty(_lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"));
    }

    private void AssertAllIsolated(LabHost lab, string[] ids)
    {
        foreach (var vpc in lab.World.Vpcs.Where(v => ids.Any(i => lab.World.Instance(i).VpcId == v.VpcId)))
            Assert.Single(lab.Ec2.GroupsNamed("GuardDutyIR-Isolation"), g => g.VpcId == vpc.VpcId);
        foreach (var conv in lab.Ec2.GroupsNamed("GuardDutyIR-Conversion")) Assert.Empty(lab.Ec2.NetworkInterfacesUsing(conv.GroupId));
        var tests = _host.Run($"$args[0] | Test-InstanceQuarantine {Aws(lab)} | Where-Object {{ -not $_.Passed }} | ForEach-Object {{ $_.InstanceId + ': ' + ($_.Failed -join '; ') }}", (object)ids);
        Assert.Empty(tests.Errors);
        Assert.Empty(tests.Output.Select(o => o.ToString()));
        foreach (var id in ids)
        {
            var w = lab.World.Instance(id);
            var view = lab.Ec2.ViewInstance(id);
            foreach (var eni in w.NetworkInterfaces)
                Assert.Equal(IsolationGroup(lab, w.VpcId), view.EniGroups[eni.NetworkInterfaceId]);
        }
        // Originals recoverable: the record on a sample of instances names each ENI's original groups.
        var sample = ids.Take(10).ToArray();
        var undo = _host.Run($"$args[0] | Undo-InstanceQuarantine -Confirm:$false {Aws(lab)}", (object)sample);
        Assert.Empty(undo.Errors);
        foreach (var id in sample)
            foreach (var eni in lab.World.Instance(id).NetworkInterfaces)
                Assert.Equal(string.Join(",", eni.GroupIds), lab.Ec2.ViewInstance(id).EniGroups[eni.NetworkInterfaceId]);
    }
}
