using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Management.Automation;
using System.Reflection;
using System.Text.Json.Nodes;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Lambda;
using GuardDutyIR.Lab.Scenarios;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.LambdaRuntime;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Bench.AutoResponse;

/// <summary>
/// dotnet run -c Release --project bench/GuardDutyIR.Bench.AutoResponse [-- --warm N] [--latency-ms M]
///
/// Event-to-isolated latency of the Lambda handler: the time from GuardDuty putting the finding on the bus to every ENI
/// of the instance being on the isolation group alone, through the Lab's EventBridge rule, the function's Runtime API,
/// the runtime loop and the handler, with the layer and function packages the build made. Measured for the first
/// invocation (a fresh runspace that imports the module, in this process and as a new runtime process) and warm (the
/// same runspace), with the Lab's count of calls per invocation, and against Set-InstanceQuarantine (and the same
/// pipeline as the handler's) called directly in the same engine, in the same run.
/// </summary>
internal static class Benchmark
{
    private const string RuleName = "GuardDuty-Event-EC2-MaliciousIPCaller";
    private const string IsolationGroup = "GuardDutyIR-Isolation";

    private sealed record Run(string Name, TimeSpan? EventToIsolated, TimeSpan EventToResponse, TimeSpan? Handler, TimeSpan? Init, LabCounterSnapshot Calls, string Status);

    private static async Task<int> Main(string[] args)
    {
        var warm = 8;
        var latency = 0;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--warm" && i + 1 < args.Length) warm = Math.Max(1, int.Parse(args[++i], CultureInfo.InvariantCulture));
            else if (args[i] == "--latency-ms" && i + 1 < args.Length) latency = int.Parse(args[++i], CultureInfo.InvariantCulture);
        }
        string Metadata(string key) => typeof(Benchmark).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
        var packages = Metadata("AutomationPackagesDir");
        var root = Directory.CreateTempSubdirectory("gdir-bench-lambda-").FullName;
        try
        {
            var opt = Path.Combine(root, "opt");
            var task = Path.Combine(root, "task");
            ZipFile.ExtractToDirectory(Path.Combine(packages, "GuardDutyIR-lambda-layer.zip"), opt);
            ZipFile.ExtractToDirectory(Path.Combine(packages, "GuardDutyIR-lambda-function.zip"), task);
            return await RunAsync(opt, task, Metadata("LambdaRuntimeDll"), warm, latency);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<int> RunAsync(string opt, string task, string runtimeDll, int warmRuns, int latencyMs)
    {
        await using var lab = await LabHost.StartAsync(new LabOptions { Scenario = ScenarioNames.Workshop, SnapshotCompletionSeconds = 1 });
        lab.Faults.LatencyMs = latencyMs;
        var function = lab.Lambda.Find(lab.Facts["RemediationFunctionArn"])!;
        var topic = lab.GetService<SnsService>()!.ScenarioTopicArn!;
        var instanceId = lab.World.CompromisedInstanceId!;
        var enis = lab.World.Instance(instanceId).NetworkInterfaces.Select(e => e.NetworkInterfaceId).ToList();
        var ruleArn = LabEvents.PutLambdaRule(lab, RuleName,
            $$$"""{"source":["aws.guardduty"],"detail":{"type":["{{{LabEvents.MaliciousIpCaller}}}"]}}""", function.Arn);

        // The function's environment, as Lambda sets it: the execution role's keys and region, and the handler's settings.
        var environment = new Dictionary<string, string>
        {
            ["AWS_LAMBDA_RUNTIME_API"] = function.RuntimeApi,
            ["_HANDLER"] = "Invoke-GdAutoResponse.ps1::Invoke-GdAutoResponse",
            ["LAMBDA_TASK_ROOT"] = task,
            ["AWS_LAMBDA_FUNCTION_NAME"] = function.Name,
            ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "1024",
            ["AWS_REGION"] = lab.Region,
            ["AWS_ACCESS_KEY_ID"] = lab.AccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = lab.SecretAccessKey,
            ["AWS_ENDPOINT_URL"] = lab.Endpoint,
            ["AWS_EC2_METADATA_DISABLED"] = "true",
            ["GUARDDUTYIR_MIN_SEVERITY"] = "Medium",
            ["GUARDDUTYIR_FINDING_TYPES"] = LabEvents.MaliciousIpCaller,
            ["GUARDDUTYIR_TOPIC_ARN"] = topic,
            // The conversion wait (5 s by default) is the same sleep on every path; it would only hide the rest.
            ["GUARDDUTYIR_CONVERSION_WAIT_SEC"] = "0",
        };
        foreach (var (k, v) in environment) Environment.SetEnvironmentVariable(k, v);
        Environment.SetEnvironmentVariable("PSModulePath", null);

        var clock = Stopwatch.StartNew();
        var runs = new List<Run>();

        // 1. First invocation in this process: the event is put, then the runtime starts (a fresh runspace dot-sources
        //    the handler, which imports the module from the layer), takes the invocation and runs it.
        lab.Counters.Reset();
        var watcher = WatchIsolated(lab, enis, clock);
        var t0 = clock.Elapsed;
        var coldFinding = LabEvents.PublishScenarioFinding(lab, f => f["id"] = NewFindingId());
        using var loop = new LambdaRuntimeLoop(new LambdaRuntimeOptions { RuntimeApi = function.RuntimeApi, Handler = environment["_HANDLER"], TaskRoot = task, ModulePaths = new[] { Path.Combine(opt, "modules") } });
        await loop.InitializeAsync();
        var outcome = await loop.InvokeNextAsync();
        var response = clock.Elapsed - t0;
        runs.Add(new Run("first invocation, fresh runspace", await watcher - t0, response, outcome.HandlerDuration, loop.InitDuration, lab.Counters.Snapshot(), StatusOf(outcome.Body)));

        // 2. Warm: the same runtime, a new finding each time (a new case: new snapshots, a new message), the instance
        //    released between runs; interleaved with the direct calls in the same engine.
        var direct = new List<Run>();
        var pipeline = new List<Run>();
        for (var i = 0; i < warmRuns; i++)
        {
            Reset(lab, loop, instanceId);
            watcher = WatchIsolated(lab, enis, clock);
            t0 = clock.Elapsed;
            LabEvents.PublishScenarioFinding(lab, f => f["id"] = NewFindingId());
            outcome = await loop.InvokeNextAsync();
            response = clock.Elapsed - t0;
            runs.Add(new Run("warm", await watcher - t0, response, outcome.HandlerDuration, null, lab.Counters.Snapshot(), StatusOf(outcome.Body)));

            if (i == warmRuns - 1)
            {
                // 3. The same event delivered again (EventBridge delivers at least once): re-checked, nothing changed.
                lab.Counters.Reset();
                lab.Lambda.QueueInvocation(function.Arn, lab.Lambda.Invocations.Last(x => x.Source == ruleArn).Payload, ruleArn, out _);
                t0 = clock.Elapsed;
                outcome = await loop.InvokeNextAsync();
                runs.Add(new Run("repeated delivery", null, clock.Elapsed - t0, outcome.HandlerDuration, null, lab.Counters.Snapshot(), StatusOf(outcome.Body)));
            }

            Reset(lab, loop, instanceId);
            direct.Add(Direct(lab, loop, enis, clock, "direct Set-InstanceQuarantine",
                "Set-InstanceQuarantine -InstanceId $args[0] -CaseId $args[1] -ConversionWaitSeconds 0 -Confirm:$false", instanceId, "BASE-" + NewFindingId()));

            Reset(lab, loop, instanceId);
            var evt = LabEvents.ScenarioFindingEvent(lab);
            evt["detail"]!["id"] = NewFindingId();
            pipeline.Add(Direct(lab, loop, enis, clock, "direct pipeline",
                "$args[0] | ConvertFrom-GdFindingEvent | Set-InstanceQuarantine -CaseId ('GD-' + $args[1]) -ConversionWaitSeconds 0 -Confirm:$false | " +
                "New-ForensicSnapshot -Confirm:$false | Send-GdNotification -TopicArn $args[2] -OncePerFinding -Confirm:$false",
                evt.ToJsonString(), (string)evt["detail"]!["id"]!, topic));
        }

        // 4. First invocation of a new runtime process, as Lambda starts one for a cold start; the isolation groups are
        //    deleted first, so it creates them as the first invocation in this process did.
        Reset(lab, loop, instanceId);
        foreach (var name in new[] { IsolationGroup, "GuardDutyIR-Conversion" })
            foreach (var g in lab.Ec2.GroupsNamed(name)) LabEvents.Ec2(lab, "DeleteSecurityGroup", ("GroupId", g.GroupId));
        runs.Add(await ColdProcessAsync(lab, runtimeDll, opt, enis, ruleArn, clock));

        Report(lab, runs, direct, pipeline, latencyMs, enis.Count, lab.World.Instance(instanceId).Volumes.Count);
        return runs.All(r => r.Status is "Isolated" or "AlreadyIsolated") ? 0 : 1;
    }

    private static string NewFindingId() => Guid.NewGuid().ToString("N");

    private static string StatusOf(string body) => (string?)JsonNode.Parse(body)?["status"] ?? "?";

    /// <summary>Polls the Lab's EC2 until every ENI is on an isolation group alone: the moment the instance is isolated.</summary>
    private static Task<TimeSpan> WatchIsolated(LabHost lab, IReadOnlyList<string> enis, Stopwatch clock) => Task.Factory.StartNew(() =>
    {
        var guard = Stopwatch.StartNew();
        while (guard.Elapsed < TimeSpan.FromMinutes(2))
        {
            var isolation = lab.Ec2.GroupsNamed(IsolationGroup).Select(g => g.GroupId).ToHashSet(StringComparer.Ordinal);
            if (isolation.Count > 0 && enis.All(e => lab.Ec2.GroupsOf(e) is { Count: 1 } g && isolation.Contains(g[0]))) return clock.Elapsed;
            Thread.Sleep(1);
        }
        throw new TimeoutException("The instance was not isolated within 2 minutes.");
    }, TaskCreationOptions.LongRunning);

    /// <summary>Untimed: the instance released to its recorded state, the notification records removed, counters zeroed.</summary>
    private static void Reset(LabHost lab, LambdaRuntimeLoop loop, string instanceId)
    {
        using (var ps = PowerShell.Create())
        {
            ps.Runspace = loop.Runspace;
            ps.AddScript("Undo-InstanceQuarantine -InstanceId $args[0] -Confirm:$false | Out-Null").AddArgument(instanceId);
            ps.Invoke();
            if (ps.HadErrors) throw new InvalidOperationException("Undo failed: " + string.Join("; ", ps.Streams.Error));
        }
        var tags = lab.Ec2.ResourceTags(instanceId).Keys.Where(k => k.StartsWith("ir:notified:", StringComparison.Ordinal)).ToList();
        if (tags.Count > 0)
            LabEvents.Ec2(lab, "DeleteTags", tags.Select((k, i) => ($"Tag.{i + 1}.Key", k)).Prepend(("ResourceId.1", instanceId)).ToArray());
        lab.Counters.Reset();
    }

    private static Run Direct(LabHost lab, LambdaRuntimeLoop loop, IReadOnlyList<string> enis, Stopwatch clock, string name, string script, params object[] args)
    {
        var watcher = WatchIsolated(lab, enis, clock);
        using var ps = PowerShell.Create();
        ps.Runspace = loop.Runspace;
        ps.AddScript(script);
        foreach (var a in args) ps.AddArgument(a);
        var t0 = clock.Elapsed;
        ps.Invoke();
        var done = clock.Elapsed - t0;
        if (ps.HadErrors) throw new InvalidOperationException($"{name} failed: " + string.Join("; ", ps.Streams.Error));
        return new Run(name, watcher.GetAwaiter().GetResult() - t0, done, done, null, lab.Counters.Snapshot(), "Isolated");
    }

    private static async Task<Run> ColdProcessAsync(LabHost lab, string runtimeDll, string opt, IReadOnlyList<string> enis, string ruleArn, Stopwatch clock)
    {
        var watcher = WatchIsolated(lab, enis, clock);
        var t0 = clock.Elapsed;
        LabEvents.PublishScenarioFinding(lab, f => f["id"] = NewFindingId());
        var invocation = lab.Lambda.Invocations.Last(x => x.Source == ruleArn);
        var start = new ProcessStartInfo("dotnet", new[] { "exec", runtimeDll, "--module-path", Path.Combine(opt, "modules") })
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await invocation.Completion.WaitAsync(TimeSpan.FromMinutes(2));
            var response = clock.Elapsed - t0;
            var isolated = await watcher - t0;
            string log;
            lock (output) log = output.ToString();
            var init = log.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("INIT_DURATION_MS=", StringComparison.Ordinal));
            var status = invocation.Status == LambdaInvocationStatus.Succeeded ? StatusOf(invocation.Response!) : "Error: " + invocation.Error;
            return new Run("first invocation, new runtime process", isolated, response, invocation.CompletedAt - invocation.DeliveredAt,
                init is null ? null : TimeSpan.FromMilliseconds(double.Parse(init["INIT_DURATION_MS=".Length..], CultureInfo.InvariantCulture)),
                lab.Counters.Snapshot(), status);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static string Ms(TimeSpan? t) => t is null ? "-" : t.Value.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms";

    private static TimeSpan Median(IEnumerable<TimeSpan> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string Calls(LabCounterSnapshot c) => $"{c.TotalCalls} ({c.TotalMutating} mutating)";

    private static void Report(LabHost lab, List<Run> runs, List<Run> direct, List<Run> pipeline, int latencyMs, int enis, int volumes)
    {
        var warm = runs.Where(r => r.Name == "warm").ToList();
        var summary = new List<Run>
        {
            runs.Single(r => r.Name == "first invocation, new runtime process"),
            runs.Single(r => r.Name == "first invocation, fresh runspace"),
            Summarize($"warm, median of {warm.Count}", warm),
            runs.Single(r => r.Name == "repeated delivery"),
            Summarize($"direct Set-InstanceQuarantine, median of {direct.Count}", direct),
            Summarize($"direct pipeline, median of {pipeline.Count}", pipeline),
        };
        Console.WriteLine("GuardDutyIR auto-response: GuardDuty event -> EventBridge rule -> Runtime API -> handler -> every ENI on the isolation group");
        Console.WriteLine($"Lab {lab.World.Scenario}: instance with {enis} ENIs and {volumes} volumes; added latency per AWS call {latencyMs} ms; conversion wait 0 s; " +
                          "the handler and the direct pipeline quarantine, snapshot (not waited for) and notify");
        Console.WriteLine();
        Console.WriteLine($"{"",-48} {"event->isolated",16} {"event->response",16} {"handler",10} {"init",10}  {"calls per invocation",-22} status");
        foreach (var r in summary)
            Console.WriteLine($"{r.Name,-48} {Ms(r.EventToIsolated),16} {Ms(r.EventToResponse),16} {Ms(r.Handler),10} {Ms(r.Init),10}  {Calls(r.Calls),-22} {r.Status}");
        Console.WriteLine();
        var warmIsolated = Median(warm.Select(r => r.EventToIsolated!.Value));
        var warmResponse = Median(warm.Select(r => r.EventToResponse));
        double Ratio(TimeSpan a, TimeSpan b) => a.TotalMilliseconds / b.TotalMilliseconds;
        Console.WriteLine($"warm handler event->isolated / direct Set-InstanceQuarantine call->isolated: {Ratio(warmIsolated, Median(direct.Select(r => r.EventToIsolated!.Value))):0.00}");
        Console.WriteLine($"warm handler event->response / direct pipeline call->done:                  {Ratio(warmResponse, Median(pipeline.Select(r => r.EventToResponse))):0.00}");
        Console.WriteLine($"first invocation (new process) event->isolated / warm event->isolated:     {Ratio(summary[0].EventToIsolated!.Value, warmIsolated):0.0}");
        Console.WriteLine($"first invocation (fresh runspace) event->isolated / warm event->isolated:   {Ratio(summary[1].EventToIsolated!.Value, warmIsolated):0.0}");
        Console.WriteLine();
        foreach (var r in new[] { summary[1], warm[^1], summary[3] })
            Console.WriteLine($"calls, {r.Name}: " + string.Join(", ", r.Calls.Calls.Select(c => $"{c.Key}={c.Value}")));
    }

    private static Run Summarize(string name, List<Run> runs) => new(name,
        runs.All(r => r.EventToIsolated is not null) ? Median(runs.Select(r => r.EventToIsolated!.Value)) : null,
        Median(runs.Select(r => r.EventToResponse)),
        runs.All(r => r.Handler is not null) ? Median(runs.Select(r => r.Handler!.Value)) : null,
        null,
        runs[^1].Calls,
        string.Join("/", runs.Select(r => r.Status).Distinct()));
}
