using GuardDutyIR.Lab.Ec2;
using GuardDutyIR.Lab.Lambda;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.Core;

/// <summary>
/// A running Lab: an AWS-compatible endpoint on 127.0.0.1 with the scenario's state. Start one per test (port 0)
/// or share one; dispose to stop.
/// </summary>
public sealed class LabHost : IAsyncDisposable
{
    private readonly LabServer _server;

    private LabHost(LabOptions options, LabContext context, IReadOnlyList<ILabService> services, LabServer server)
    {
        Options = options;
        Context = context;
        Services = services;
        _server = server;
    }

    public static Task<LabHost> StartAsync(LabOptions options, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        var world = ScenarioWorld.Create(options.Scenario, options.Seed, options.ScaleOptions, options.Region);
        var credentials = new LabCredentialStore(world.AccountId, world.MemberAccountId, options.Seed, options.Clock);
        // Roles of the scenario (instance roles) can be assumed too, so a responder can act as them.
        foreach (var role in world.Roles)
            credentials.AddRole(new LabRole(role.AccountId, role.RoleName, role.RoleId, null));
        var context = new LabContext(options, world, credentials);
        var services = LabServiceCatalog.CreateServices(context);
        context.AddServices(services);
        ScenarioSeeder.Seed(context, world);

        var server = new LabServer(context, services, options.Port);
        var host = new LabHost(options, context, services, server);
        host.RegisterCoreAdmin();
        foreach (var s in services.OfType<ILabAdminEndpoints>()) s.RegisterAdminEndpoints(context.Admin);
        new InstanceMetadataEndpoint(context).Register(context.Admin);
        server.Start();
        return Task.FromResult(host);
    }

    public LabOptions Options { get; }
    public LabContext Context { get; }
    public IReadOnlyList<ILabService> Services { get; }

    public int Port => _server.Port;
    /// <summary>http://127.0.0.1:port (no trailing slash), for ServiceURL / AWS_ENDPOINT_URL.</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}";
    public string Region => Context.Region;
    public string AccountId => Context.World.AccountId;
    public string MemberAccountId => Context.World.MemberAccountId;
    /// <summary>The Lab's default principal (an IAM user of the main account).</summary>
    public string AccessKeyId => Context.Credentials.Main.AccessKeyId;
    public string SecretAccessKey => Context.Credentials.Main.SecretAccessKey;
    public ScenarioWorld World => Context.World;
    public LabCredentialStore Credentials => Context.Credentials;
    public LabCounters Counters => Context.Counters;
    /// <summary>Calls held unanswered on purpose, and how many of each action arrived.</summary>
    public LabHolds Holds => Context.Holds;
    public LabThrottle Throttle => Context.Throttle;
    public LabFaults Faults => Context.Faults;

    public Ec2Service Ec2 => GetService<Ec2Service>() ?? throw new InvalidOperationException("EC2 is not registered");

    /// <summary>The Lab's Lambda functions and their invocations.</summary>
    public LabLambda Lambda => Context.Lambda;

    /// <summary>
    /// Declares a Lambda function (idempotent) in the main account, or in <paramref name="accountId"/>, and starts its
    /// runtime API endpoint; EventBridge rules may target its ARN.
    /// </summary>
    public LambdaFunction RegisterLambdaFunction(string functionName, string? accountId = null, TimeSpan? timeout = null) =>
        Context.Lambda.Register(functionName, accountId, timeout);

    /// <summary>
    /// The function's runtime API endpoint as host:port (127.0.0.1 and a port of its own), the value a runtime reads from
    /// AWS_LAMBDA_RUNTIME_API; declares the function when the Lab does not know it yet.
    /// </summary>
    public string LambdaRuntimeEndpoint(string functionName) => Context.Lambda.Register(functionName).RuntimeApi;

    /// <summary>
    /// The scenario's cast by name (what Start-GdLab returns as $lab.Facts and /_lab/info serves): the compromised
    /// instance, the threat list, the event data store, and the roles STS lets the Lab's keys assume, with the
    /// ExternalId the member account's responder role demands. Facts the scenario lacks are left out.
    /// </summary>
    public IReadOnlyDictionary<string, string> Facts
    {
        get
        {
            var w = World;
            var creds = Credentials;
            var s3 = GetService<S3.S3Service>();
            var facts = new Dictionary<string, string?>(StringComparer.Ordinal)
            {
                ["CompromisedInstanceId"] = w.CompromisedInstanceId,
                ["MaliciousInstanceId"] = w.MaliciousInstanceId,
                ["MaliciousEip"] = w.MaliciousEip,
                ["BastionInstanceId"] = w.BastionInstanceId,
                ["ThreatListName"] = w.ThreatListName,
                ["ThreatListBucket"] = w.ThreatListBucket,
                ["SnsTopicName"] = w.SnsTopicName,
                ["AutoScalingGroupName"] = w.AutoScalingGroupName,
                ["InvestigatedInstanceId"] = w.InvestigatedInstanceId,
                ["InvestigatedRoleName"] = w.InvestigatedRoleName,
                ["InvestigatedRoleArn"] = w.InvestigatedRoleArn,
                ["ExfilSourceIp"] = w.ExfilSourceIp,
                ["ExfilBucket"] = w.ExfilBucket,
                ["TrailBucket"] = s3?.TrailBucket,
                ["EvidenceBucket"] = s3?.EvidenceBucket,
                ["EventDataStoreId"] = GetService<CloudTrail.CloudTrailService>()?.EventDataStoreId,
                ["MemberResponderRoleArn"] = creds.MemberResponder.Arn,
                ["MemberResponderExternalId"] = creds.MemberResponder.RequiredExternalId,
                ["MemberAuditorRoleArn"] = creds.MemberAuditor.Arn,
                ["ResponderRoleArn"] = creds.MainResponder.Arn,
                ["RemediationFunctionArn"] = Context.Lambda.Find(ScenarioSeeder.RemediationFunctionName)?.Arn,
                // The investigated instance's metadata service (append latest/api/token, latest/meta-data/iam/security-credentials/…).
                ["InvestigatedInstanceMetadataEndpoint"] = w.InvestigatedInstanceId is { } inv ? InstanceMetadataEndpointOf(inv) : null,
                ["RemediationRuntimeApi"] = Context.Lambda.Find(ScenarioSeeder.RemediationFunctionName)?.RuntimeApi,
            };
            return facts.Where(f => !string.IsNullOrEmpty(f.Value)).ToDictionary(f => f.Key, f => f.Value!, StringComparer.Ordinal);
        }
    }

    public T? GetService<T>() where T : class => Context.GetService<T>();

    /// <summary>
    /// The base URL of an instance's metadata service on the Lab (what the instance reaches as http://169.254.169.254/),
    /// with a trailing slash: append "latest/api/token" or "latest/meta-data/…".
    /// </summary>
    public string InstanceMetadataEndpointOf(string instanceId) => $"{Endpoint}{InstanceMetadataEndpoint.Prefix}{instanceId}/";

    /// <summary>Denies an action (e.g. "ec2", "ModifyInstanceAttribute") with the protocol's authorization error until allowed again.</summary>
    public void Deny(string service, string action) => Context.DeniedActions[service + ":" + action] = true;
    public void Allow(string service, string action) => Context.DeniedActions.TryRemove(service + ":" + action, out _);

    private void RegisterCoreAdmin()
    {
        Context.Admin.Map("/_lab/info", _ => new
        {
            endpoint = Endpoint,
            region = Region,
            accountId = AccountId,
            memberAccountId = MemberAccountId,
            accessKeyId = AccessKeyId,
            secretAccessKey = SecretAccessKey,
            scenario = World.Scenario,
            seed = World.Seed,
            baseTime = World.BaseTime,
            services = Services.Select(s => s.SigningName).ToArray(),
            facts = Facts,
            // Every role STS will issue a session for, and the ExternalId it must be given (null when none).
            roles = Credentials.Roles.OrderBy(r => r.Arn, StringComparer.Ordinal)
                .Select(r => new { arn = r.Arn, accountId = r.AccountId, externalId = r.RequiredExternalId }).ToArray(),
            throttling = Throttle.Enabled,
            // Each function's runtime API, for AWS_LAMBDA_RUNTIME_API of a runtime loop.
            lambdaFunctions = Context.Lambda.Functions.Select(f => new { name = f.Name, arn = f.Arn, runtimeApi = f.RuntimeApi }).ToArray(),
            admin = Context.Admin.Paths,
        });
        Context.Admin.Map("/_lab/counters", r =>
        {
            if (r.Method is "POST" or "DELETE" || r.Query["reset"] == "true")
            {
                var before = Counters.Snapshot();
                Counters.Reset();
                return before;
            }
            return Counters.Snapshot();
        });
        Context.Admin.Map("/_lab/counters/reset", _ => { Counters.Reset(); return new { reset = true }; });
        Context.Admin.Map("/_lab/throttling", r =>
        {
            if (r.Query["enabled"] is { } e) { Throttle.Enabled = e == "true"; Throttle.Reset(); }
            return new { enabled = Throttle.Enabled, capacityScale = Throttle.CapacityScale, refillScale = Throttle.RefillScale };
        });
        Context.Admin.Map("/_lab/lambda/functions", r =>
        {
            if (r.Method == "POST" && r.Query["name"] is { } name)
            {
                var timeout = r.Query["timeoutSeconds"] is { } ts ? TimeSpan.FromSeconds(double.Parse(ts, System.Globalization.CultureInfo.InvariantCulture)) : (TimeSpan?)null;
                var f = Context.Lambda.Register(name, r.Query["accountId"], timeout);
                return new { name = f.Name, arn = f.Arn, runtimeApi = f.RuntimeApi, timeoutSeconds = f.Timeout.TotalSeconds };
            }
            return Context.Lambda.Functions.Select(f => new
            {
                name = f.Name, arn = f.Arn, runtimeApi = f.RuntimeApi, timeoutSeconds = f.Timeout.TotalSeconds, initErrors = f.InitErrors,
            }).ToArray();
        });
        Context.Admin.Map("/_lab/lambda/invocations", r =>
        {
            var function = r.Query["function"] is { } fn ? Context.Lambda.Find(fn)?.Arn ?? fn : null;
            return Context.Lambda.Invocations.Where(i => function is null || i.FunctionArn == function).Select(i => new
            {
                i.RequestId, i.FunctionArn, i.InvokedFunctionArn, i.Source, Status = i.Status.ToString(), i.Payload, i.QueuedAt, i.DeliveredAt,
                i.DeadlineMs, i.CompletedAt, i.Response, i.ErrorType, i.Error, i.TraceId,
            }).ToArray();
        });
        // The activity behind a finding happens again: GuardDuty counts it and sends the updated finding to EventBridge, as
        // the workshop's ping keeps doing; how a rehearsal makes a rule fire without a sample finding.
        Context.Admin.Map("/_lab/guardduty/occurrence", r =>
        {
            if (r.Method != "POST") return LabAdminRouter.JsonResponse(405, new { error = "MethodNotAllowed", message = "POST ?findingId=...[&accountId=...]" });
            var findingId = r.Query["findingId"] ?? GetService<GuardDuty.GuardDutyService>()?.ScenarioFindingId;
            var finding = findingId is null ? null : GetService<GuardDuty.GuardDutyService>()?.RecordOccurrence(r.Query["accountId"] ?? AccountId, findingId);
            return finding is null
                ? LabAdminRouter.JsonResponse(404, new { error = "FindingNotFound", message = $"No finding {findingId} in the account." })
                : new { findingId, count = (int?)finding["service"]?["count"], updatedAt = (string?)finding["updatedAt"] };
        });
        Context.Admin.Map("/_lab/faults", r =>
        {
            if (r.Query["errorRate"] is { } er) Faults.ErrorRate = double.Parse(er, System.Globalization.CultureInfo.InvariantCulture);
            if (r.Query["dropRate"] is { } dr) Faults.DropRate = double.Parse(dr, System.Globalization.CultureInfo.InvariantCulture);
            if (r.Query["latencyMs"] is { } l) Faults.LatencyMs = int.Parse(l, System.Globalization.CultureInfo.InvariantCulture);
            return new { errorRate = Faults.ErrorRate, dropRate = Faults.DropRate, latencyMs = Faults.LatencyMs };
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync().ConfigureAwait(false);
        await Context.Lambda.DisposeAsync().ConfigureAwait(false);
    }
}
