using System.Collections.Concurrent;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// Quarantine as AWS's incident-response guidance orders it
/// (https://docs.aws.amazon.com/security-ir/latest/userguide/ec2-containment.html), for the cmdlets: a bulk run
/// (<see cref="QuarantineRun"/>: describe, <see cref="QuarantinePlanner"/>, approval, <see cref="QuarantineExecutor"/>),
/// the check (<see cref="QuarantineVerifier"/>) and the restore (<see cref="QuarantineRestorer"/>). One set of
/// clients, pacing buckets and containment groups per region for the service's lifetime.
/// </summary>
public sealed class QuarantineService
{
    private readonly AwsSession _session;
    private readonly ConcurrentDictionary<string, ContainmentRegion> _regions = new(StringComparer.Ordinal);

    public QuarantineService(AwsSession session) => _session = session;

    internal ContainmentRegion Region(string region, QuarantineOptions options) => _regions.GetOrAdd(region, r =>
        new ContainmentRegion(new Ec2Gateway(_session.Ec2(r), r, options.RateLimiter ?? Ec2RateLimiter.FromEnvironment(), options.DryRun), _session.AutoScaling(r), options));

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

    /// <summary>Quarantines instances in one call: for scripts and the benchmark (no approval).</summary>
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

    /// <summary>Test-InstanceQuarantine: every guarantee of a quarantine, checked on the instance as it is now.</summary>
    public async Task<QuarantineTestResult> TestAsync(string instanceId, string region, QuarantineOptions o, bool expectProfileRemoved, bool expectEipRemoved, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        return await QuarantineVerifier.VerifyAsync(Region(region, o), instanceId, o, expectProfileRemoved, expectEipRemoved, ct).ConfigureAwait(false);
    }

    /// <summary>Describes the instance and returns what Undo would change, for ShouldProcess.</summary>
    public async Task<(string Plan, QuarantineRecord Record)> PlanUndoAsync(string instanceId, string region, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        return await QuarantineRestorer.PlanAsync(Region(region, new QuarantineOptions()), instanceId, ct).ConfigureAwait(false);
    }

    /// <summary>Puts back every recorded original, per ENI, and removes the record.</summary>
    public async Task<QuarantineResult> UndoAsync(string instanceId, string region, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        return await QuarantineRestorer.RestoreAsync(Region(region, new QuarantineOptions()), instanceId, ct).ConfigureAwait(false);
    }
}
