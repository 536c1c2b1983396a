using System.Threading.Channels;
using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// One bulk quarantine: instances arrive as the pipeline produces them, are described in batches (one
/// DescribeInstances per up to 50), planned, approved (ShouldProcess on the caller's thread), and carried out with at
/// most <see cref="QuarantineOptions.MaxConcurrency"/> instances in flight, so the time any ENI spends on the
/// all-open conversion group stays short even in a run of thousands.
/// </summary>
public sealed class QuarantineRun
{
    private readonly QuarantineService _service;
    private readonly QuarantineOptions _options;
    private readonly bool _askApproval;
    private readonly CancellationToken _ct;
    private readonly Channel<QuarantineRequest> _input = Channel.CreateUnbounded<QuarantineRequest>();
    private readonly Channel<QuarantineOutcome> _outcomes = Channel.CreateUnbounded<QuarantineOutcome>();
    private readonly Channel<QuarantinePlanApproval> _approvals = Channel.CreateUnbounded<QuarantinePlanApproval>();
    private readonly HashSet<(string, string)> _seen = new();
    private readonly SemaphoreSlim _slots;
    private int _received;
    private int _finished;
    private string? _current;

    internal QuarantineRun(QuarantineService service, QuarantineOptions options, bool askApproval, CancellationToken ct)
    {
        _service = service;
        _options = options;
        _askApproval = askApproval;
        _ct = ct;
        _slots = new SemaphoreSlim(Math.Max(1, options.MaxConcurrency));
    }

    public ChannelReader<QuarantineOutcome> Outcomes => _outcomes.Reader;
    public ChannelReader<QuarantinePlanApproval> Approvals => _approvals.Reader;
    public Task Completion { get; private set; } = Task.CompletedTask;
    public QuarantineProgress Progress => new(_received, Volatile.Read(ref _finished), _current, null);

    /// <summary>Queues an instance; the same instance twice in one run is worked on once, a malformed ID never reaches EC2.</summary>
    public void Add(QuarantineRequest request)
    {
        lock (_seen) if (!_seen.Add((request.Region, request.InstanceId))) return;
        Interlocked.Increment(ref _received);
        if (!Ec2Ids.IsInstanceId(request.InstanceId))
        {
            Finish(new QuarantineOutcome(request.InstanceId, request.Region, null, Ec2Ids.InvalidInstanceId(request.InstanceId)));
            return;
        }
        _input.Writer.TryWrite(request);
    }

    public void Complete() => _input.Writer.TryComplete();

    internal void Begin() => Completion = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        var running = new List<Task>();
        Task dispatching = Task.CompletedTask;
        var described = new List<Task>();
        try
        {
            while (await _input.Reader.WaitToReadAsync(_ct).ConfigureAwait(false))
            {
                // Take what has arrived, briefly waiting for more so a piped list is described in few calls.
                var batch = new List<QuarantineRequest>();
                while (batch.Count < Ec2Facts.BatchSize)
                {
                    if (_input.Reader.TryRead(out var r)) { batch.Add(r); continue; }
                    if (batch.Count > 0 && _input.Reader.Completion.IsCompleted) break;
                    var more = _input.Reader.WaitToReadAsync(_ct).AsTask();
                    if (await Task.WhenAny(more, Task.Delay(20, _ct)).ConfigureAwait(false) != more || !await more.ConfigureAwait(false)) break;
                }
                // The batch is described while the one before still waits for slots, so a slot that frees is taken at
                // once instead of after this batch's describe calls; never more than one batch ahead.
                var descriptions = batch.GroupBy(r => r.Region).Select(g => (Region: g.Key, Requests: g.ToList(), Facts: DescribeAsync(g.Key, g.ToList()))).ToList();
                described.AddRange(descriptions.Select(d => (Task)d.Facts));
                await dispatching.ConfigureAwait(false);
                dispatching = DispatchAsync(descriptions, running);
                lock (running) running.RemoveAll(t => t.IsCompleted);
            }
            await dispatching.ConfigureAwait(false);
        }
        finally
        {
            // The channels end even when the run was stopped, so whoever reads the outcomes sees the end of them.
            try
            {
                try { await Task.WhenAll(described.Append(dispatching)).ConfigureAwait(false); }
                catch (OperationCanceledException) when (_ct.IsCancellationRequested) { }
                Task[] all;
                lock (running) all = running.ToArray();
                await Task.WhenAll(all).ConfigureAwait(false);
            }
            finally
            {
                _approvals.Writer.TryComplete();
                _outcomes.Writer.TryComplete();
            }
        }
    }

    /// <summary>
    /// The instances of one region's batch, or the failure every one of them ends with. Once DescribeInstances has
    /// answered, everything else an instance needs before its first change is asked at once: the related facts (profile
    /// associations, Elastic IPs, Auto Scaling), the attributes DescribeInstances does not carry (one call per attribute
    /// and instance) and the batch's VPCs' isolation groups (found, their rules read). So the first change comes two
    /// round trips after the describe instead of four. The attributes and the groups are not awaited here: while the
    /// batch waits for slots they arrive, and one instance's failed read is that instance's outcome alone.
    /// </summary>
    private async Task<(ContainmentRegion? Region, Dictionary<string, InstanceFacts>? Facts, Dictionary<string, Task<ProtectionAttributes>>? Attributes, GuardDutyIRException? Error)> DescribeAsync(string region, List<QuarantineRequest> requests)
    {
        try
        {
            var ctx = _service.Region(region, _options);
            var instances = await Ec2Facts.DescribeInstancesAsync(ctx.Ec2, requests.Select(r => r.InstanceId).ToList(), _ct).ConfigureAwait(false);
            var live = instances.Values.Where(i => !InstanceFacts.IsGone(i)).ToList();
            var attributes = live.ToDictionary(i => i.InstanceId, i => Observed(Ec2Facts.ReadProtectionAsync(ctx.Ec2, i.InstanceId, _ct)), StringComparer.Ordinal);
            foreach (var vpc in live.SelectMany(i => i.NetworkInterfaces ?? new()).Select(e => e.VpcId).Distinct())
                _ = Observed(ctx.Groups.ReadIsolationAsync(new[] { vpc }, _ct));
            var facts = await Ec2Facts.RelatedAsync(ctx.Ec2, ctx.AutoScaling, instances, _ct).ConfigureAwait(false);
            return (ctx, facts, attributes, null);
        }
        catch (GuardDutyIRException e)
        {
            return (null, null, null, e);
        }
    }

    // A run stopped before an instance got its slot never awaits that instance's reads: their failure must not be left unobserved.
    private static T Observed<T>(T task) where T : Task
    {
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return task;
    }

    private async Task DispatchAsync(List<(string Region, List<QuarantineRequest> Requests, Task<(ContainmentRegion? Region, Dictionary<string, InstanceFacts>? Facts, Dictionary<string, Task<ProtectionAttributes>>? Attributes, GuardDutyIRException? Error)> Facts)> descriptions,
        List<Task> running)
    {
        foreach (var (region, requests, described) in descriptions)
        {
            var (ctx, facts, attributes, error) = await described.ConfigureAwait(false);
            if (error is not null)
            {
                foreach (var r in requests) Finish(new QuarantineOutcome(r.InstanceId, region, null, error));
                continue;
            }
            foreach (var r in requests)
            {
                if (!facts!.TryGetValue(r.InstanceId, out var f))
                {
                    Finish(new QuarantineOutcome(r.InstanceId, region, null, Ec2Facts.NotFound(r.InstanceId, region)));
                    continue;
                }
                if (InstanceFacts.IsGone(f.Instance))
                {
                    Finish(new QuarantineOutcome(r.InstanceId, region, null, new GuardDutyIRException("InstanceTerminated", ErrorKind.InvalidOperation,
                        $"Instance {r.InstanceId} is {f.StateName}; there is nothing left to quarantine.", r.InstanceId)));
                    continue;
                }
                await _slots.WaitAsync(_ct).ConfigureAwait(false);
                var one = Task.Run(async () =>
                {
                    try { await OneAsync(ctx!, f, attributes![r.InstanceId], r, region).ConfigureAwait(false); }
                    finally { _slots.Release(); }
                });
                lock (running) running.Add(one);
            }
        }
    }

    private async Task OneAsync(ContainmentRegion ctx, InstanceFacts f, Task<ProtectionAttributes> attributes, QuarantineRequest r, string region)
    {
        try
        {
            _current = r.InstanceId;
            f.Apply(await attributes.ConfigureAwait(false));
            var isolation = await ctx.Groups.ReadIsolationAsync(f.NetworkInterfaces.Select(e => e.VpcId).Distinct(), _ct).ConfigureAwait(false);
            var plan = QuarantinePlanner.Plan(f, isolation, r, _options, DateTime.UtcNow);
            if (_askApproval)
            {
                var approval = new QuarantinePlanApproval(r.InstanceId, region, plan.Describe(_options, region));
                _approvals.Writer.TryWrite(approval);
                if (!await approval.Answered.WaitAsync(_ct).ConfigureAwait(false))
                {
                    Interlocked.Increment(ref _finished);
                    return;
                }
            }
            var result = await new QuarantineExecutor(ctx, plan, _options).RunAsync(r, _ct).ConfigureAwait(false);
            Finish(new QuarantineOutcome(r.InstanceId, region, result, null));
        }
        catch (GuardDutyIRException e)
        {
            Finish(new QuarantineOutcome(r.InstanceId, region, null, e));
        }
        catch (OperationCanceledException) when (_ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (_ct.IsCancellationRequested && e is not GuardDutyIRException)
        {
            // A stop is a stop, whatever shape the interrupted call gave it: never an outcome "QuarantineFailed".
            throw new OperationCanceledException($"Quarantine of {r.InstanceId} was stopped.", e, _ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An unexpected failure of one instance must not end the others' work.
            Finish(new QuarantineOutcome(r.InstanceId, region, null, new GuardDutyIRException("QuarantineFailed", ErrorKind.NotSpecified, $"Quarantine of {r.InstanceId} failed: {e.Message}", r.InstanceId, e)));
        }
    }

    private void Finish(QuarantineOutcome outcome)
    {
        Interlocked.Increment(ref _finished);
        _outcomes.Writer.TryWrite(outcome);
    }
}
