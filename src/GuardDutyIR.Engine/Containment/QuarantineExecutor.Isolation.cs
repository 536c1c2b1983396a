using Amazon.EC2.Model;

namespace GuardDutyIR.Engine.Containment;

internal sealed partial class QuarantineExecutor
{
    /// <summary>
    /// Step 4 for the ENIs not yet isolated: every one to the all-open conversion group, which ends tracking of its
    /// TCP/UDP flows (EC2 "untracked connections"), a wait, then every one to the no-rule isolation group.
    /// </summary>
    private async Task IsolateAsync(List<EniQuarantine> enis, Dictionary<string, string> isolationGroups,
        IReadOnlyList<(string Vpc, Task<ContainmentGroups.GroupState> Ready)> conversionGroups, CancellationToken ct)
    {
        var conversion = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (vpc, ready) in conversionGroups)
        {
            // Under DryRun the group is found, or its creation only checked; the ENI calls are then checked with a stand-in.
            var conv = await ready.ConfigureAwait(false);
            conv.ReportTo(_log, F.InstanceId);
            conversion[vpc] = conv.Error is null ? conv.GroupId : null;
        }

        var movable = _plan.MoveEnis.Where(e => _o.DryRun || isolationGroups.ContainsKey(e.VpcId)).ToList();
        foreach (var e in _plan.MoveEnis.Except(movable))
            _log.Fail("Isolate", e.NetworkInterfaceId, $"move {e.NetworkInterfaceId} to {_o.IsolationGroupName}", $"no usable isolation group in {e.VpcId}; the ENI was left unchanged");
        if (movable.Count == 0) return;

        var converted = new List<InstanceNetworkInterface>();
        try
        {
            var done = await Task.WhenAll(movable.Select(e => ConvertAsync(e, conversion.GetValueOrDefault(e.VpcId), ct))).ConfigureAwait(false);
            for (int i = 0; i < movable.Count; i++)
                if (done[i]?.Status == StepStatus.Done) converted.Add(movable[i]);
            if (converted.Count > 0 && _o.ConversionWait > TimeSpan.Zero) await Task.Delay(_o.ConversionWait, ct).ConfigureAwait(false);
        }
        finally
        {
            // Always, even after a failure or Ctrl+C: an ENI must never stay on the all-open group. The calls get their
            // own time limit instead of the (possibly cancelled) pipeline token.
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await Task.WhenAll(movable.Select(e => IsolateOneAsync(e, enis.First(x => x.NetworkInterfaceId == e.NetworkInterfaceId),
                isolationGroups.GetValueOrDefault(e.VpcId), converted.Contains(e), conversion.GetValueOrDefault(e.VpcId), limit.Token))).ConfigureAwait(false);
        }
    }

    // A group that does not exist yet (DryRun only) is named, never replaced in the text by the stand-in the call used.
    private static string Named(string name, string? id) => id is null ? $"{name}, once created," : $"{name} {id}";
    private static string StandIn(InstanceNetworkInterface e, string? group) => group ?? InstanceFacts.GroupsOf(e).FirstOrDefault() ?? "";
    private static string CheckedWith(string? id) => id is null ? " (DryRun checked the call with the ENI's current groups)" : "";

    private Task<QuarantineStep> MoveAsync(string name, InstanceNetworkInterface e, StepText text, List<string> groups, CancellationToken ct) =>
        _log.MutateAsync(_ctx.Ec2, name, e.NetworkInterfaceId, text, "ModifyNetworkInterfaceAttribute",
            Ec2Calls.ModifyEni(e.NetworkInterfaceId, r => r.Groups = groups), ct);

    private async Task<QuarantineStep?> ConvertAsync(InstanceNetworkInterface e, string? conv, CancellationToken ct)
    {
        if (conv is null && !_o.DryRun)
        {
            _log.Fail("ConvertToUntracked", e.NetworkInterfaceId, $"move {e.NetworkInterfaceId} to {_o.ConversionGroupName}", "no conversion group; going straight to isolation (tracked flows may survive)");
            return null;
        }
        var move = $"{e.NetworkInterfaceId} to {Named(_o.ConversionGroupName, conv)} (untracked conversion)";
        return await MoveAsync("ConvertToUntracked", e, new StepText("moved " + move, "move " + move + CheckedWith(conv)), new List<string> { StandIn(e, conv) }, ct).ConfigureAwait(false);
    }

    private async Task IsolateOneAsync(InstanceNetworkInterface e, EniQuarantine record, string? known, bool wasConverted, string? conversion, CancellationToken ct)
    {
        var iso = StandIn(e, known);
        var move = $"{e.NetworkInterfaceId} to {Named(_o.IsolationGroupName, known)} (no rules)";
        var s = await MoveAsync("Isolate", e, new StepText("moved " + move, "move " + move + CheckedWith(known)), new List<string> { iso }, ct).ConfigureAwait(false);
        if (s.Status == StepStatus.Done)
        {
            record.NewGroups = new[] { iso };
            record.IsolationGroupId = iso;
        }
        else if (!_o.DryRun && wasConverted)
        {
            // Isolation failed on an ENI that is now wide open: put its own groups back rather than leave it open.
            var original = record.OriginalGroups.ToList();
            var back = $"{e.NetworkInterfaceId} back on [{string.Join(", ", original)}] after the failed isolation";
            var reverted = await MoveAsync("RevertConversion", e, new StepText("put " + back, "put " + back), original, ct).ConfigureAwait(false);
            record.NewGroups = reverted.Status == StepStatus.Done ? original : new[] { conversion ?? "?" };
        }
    }
}
