using System.Collections.Concurrent;
using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Engine.LabControl;

/// <summary>What Start-GdLab asks for.</summary>
public sealed class LabStartOptions
{
    public string Scenario { get; init; } = "Workshop";
    public int Seed { get; init; } = 42;
    public int Port { get; init; }
    public string Region { get; init; } = "us-east-1";
    public int Instances { get; init; } = 100;
    public int Vpcs { get; init; } = 4;
    public int Findings { get; init; } = 100;
    public bool Throttling { get; init; }
    public double ErrorRate { get; init; }
    public int LatencyMs { get; init; }
    public double SnapshotCompletionSeconds { get; init; } = 3;
}

/// <summary>
/// Labs running in this process (Start-GdLab): they outlive the pipeline that started them and stop with
/// Stop-GdLab or the process.
/// </summary>
public static class LabControl
{
    private static readonly ConcurrentDictionary<int, (LabHost Host, DateTime StartedAt)> Running = new();

    public static IReadOnlyList<string> Scenarios => new[] { "Workshop", "CompromisedInstance", "CloudTrailInvestigation", "Empty", "Scale" };

    public static async Task<GdLab> StartAsync(LabStartOptions options, CancellationToken cancellationToken)
    {
        if (!Scenarios.Contains(options.Scenario, StringComparer.OrdinalIgnoreCase))
            throw new GuardDutyIRException("UnknownScenario", ErrorKind.InvalidArgument,
                $"'{options.Scenario}' is not a Lab scenario. Use one of: {string.Join(", ", Scenarios)}.", options.Scenario);
        if (options.Port != 0 && Running.ContainsKey(options.Port))
            throw new GuardDutyIRException("LabPortInUse", ErrorKind.ResourceExists, $"A Lab already runs on port {options.Port}.", options.Port);
        LabHost host;
        try
        {
            host = await LabHost.StartAsync(new LabOptions
            {
                Scenario = Scenarios.First(s => s.Equals(options.Scenario, StringComparison.OrdinalIgnoreCase)),
                Seed = options.Seed,
                Port = options.Port,
                Region = options.Region,
                Instances = options.Instances,
                Vpcs = options.Vpcs,
                Findings = options.Findings,
                Throttling = options.Throttling,
                Faults = new FaultOptions { ErrorRate = options.ErrorRate, LatencyMs = options.LatencyMs, Seed = options.Seed },
                SnapshotCompletionSeconds = options.SnapshotCompletionSeconds,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Net.HttpListenerException e)
        {
            throw new GuardDutyIRException("LabPortUnavailable", ErrorKind.ResourceUnavailable,
                $"The Lab cannot listen on 127.0.0.1:{options.Port}: {e.Message}", options.Port, e);
        }
        var startedAt = DateTime.UtcNow;
        Running[host.Port] = (host, startedAt);
        return Describe(host, startedAt);
    }

    public static IReadOnlyList<GdLab> List() => Running.Values.OrderBy(l => l.StartedAt).Select(l => Describe(l.Host, l.StartedAt)).ToList();

    /// <summary>Stops the Lab on a port; false when none runs there.</summary>
    public static async Task<bool> StopAsync(int port)
    {
        if (!Running.TryRemove(port, out var lab)) return false;
        await lab.Host.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    private static GdLab Describe(LabHost host, DateTime startedAt)
    {
        var w = host.World;
        return new GdLab
        {
            EndpointUrl = host.Endpoint,
            Port = host.Port,
            Region = host.Region,
            Scenario = w.Scenario,
            Seed = w.Seed,
            AccountId = host.AccountId,
            MemberAccountId = host.MemberAccountId,
            AccessKeyId = host.AccessKeyId,
            SecretAccessKey = host.SecretAccessKey,
            Throttling = host.Throttle.Enabled,
            StartedAt = startedAt,
            Facts = host.Facts,
        };
    }
}
