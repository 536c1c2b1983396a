using System.Collections.Concurrent;
using GuardDutyIR.Lab.Lambda;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.Core;

/// <summary>What every Lab service shares: options, clock, world, credentials, counters, throttling, admin routes and Lambda functions.</summary>
public sealed class LabContext
{
    private readonly List<ILabService> _services = new();

    public LabContext(LabOptions options, ScenarioWorld world, LabCredentialStore credentials)
    {
        Options = options;
        World = world;
        Credentials = credentials;
        Clock = options.Clock ?? TimeProvider.System;
        Counters = new LabCounters();
        Holds = new LabHolds();
        Throttle = new LabThrottle(Clock, options.Throttling, options.ThrottleCapacityScale, options.ThrottleRefillScale);
        Faults = new LabFaults(options.Faults);
        Admin = new LabAdminRouter();
        Lambda = new LabLambda(Clock, world.Region, world.AccountId);
        DeniedActions = new ConcurrentDictionary<string, bool>(options.DeniedActions.Select(a => new KeyValuePair<string, bool>(a, true)), StringComparer.OrdinalIgnoreCase);
    }

    public LabOptions Options { get; }
    public ScenarioWorld World { get; }
    public LabCredentialStore Credentials { get; }
    public TimeProvider Clock { get; }
    public LabCounters Counters { get; }
    public LabHolds Holds { get; }
    public LabThrottle Throttle { get; }
    public LabFaults Faults { get; }
    public LabAdminRouter Admin { get; }
    /// <summary>The Lab's Lambda functions, each served through its own runtime API endpoint (no control-plane API).</summary>
    public LabLambda Lambda { get; }
    public string Region => World.Region;

    /// <summary>"service:Action" entries answered with an authorization error (runtime-editable).</summary>
    public ConcurrentDictionary<string, bool> DeniedActions { get; }

    public bool IsDenied(string service, string action) => DeniedActions.ContainsKey(service + ":" + action);

    /// <summary>
    /// IAM's wording of an implicit deny, which services put in their authorization errors
    /// (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
    /// </summary>
    public static string DenialMessage(string? principalArn, string service, string action, string? resource = null) =>
        $"User: {principalArn} is not authorized to perform: {service}:{action}{(resource is null ? "" : " on resource: " + resource)} because no identity-based policy allows the {service}:{action} action";

    public IReadOnlyList<ILabService> Services => _services;

    internal void AddServices(IEnumerable<ILabService> services) => _services.AddRange(services);

    /// <summary>Another service of the same Lab, for cross-service facts (e.g. S3 bucket contents for GuardDuty).</summary>
    public T? GetService<T>() where T : class => _services.OfType<T>().FirstOrDefault();
}

/// <summary>A service that publishes unauthenticated /_lab/... endpoints for tests and out-of-process tools.</summary>
public interface ILabAdminEndpoints
{
    void RegisterAdminEndpoints(LabAdminRouter router);
}
