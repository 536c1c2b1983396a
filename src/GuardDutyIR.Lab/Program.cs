using System.Globalization;
using GuardDutyIR.Lab.Core;

// Standalone Lab: `dotnet run --project src/GuardDutyIR.Lab -- --port 4566 --scenario Workshop --seed 42`.
// Binds 127.0.0.1 only and prints the environment a client needs.
var options = new LabOptions();
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--port": options = options with { Port = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
        case "--scenario": options = options with { Scenario = Next() }; break;
        case "--seed": options = options with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
        case "--region": options = options with { Region = Next() }; break;
        case "--instances": options = options with { Instances = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
        case "--vpcs": options = options with { Vpcs = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
        case "--findings": options = options with { Findings = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
        case "--throttling": options = options with { Throttling = true }; break;
        case "--error-rate": options = options with { Faults = options.Faults with { ErrorRate = double.Parse(Next(), CultureInfo.InvariantCulture) } }; break;
        case "--latency-ms": options = options with { Faults = options.Faults with { LatencyMs = int.Parse(Next(), CultureInfo.InvariantCulture) } }; break;
        case "--drop-rate": options = options with { Faults = options.Faults with { DropRate = double.Parse(Next(), CultureInfo.InvariantCulture) } }; break;
        case "--snapshot-seconds": options = options with { SnapshotCompletionSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) }; break;
        case "-h" or "--help":
            Console.WriteLine("GuardDutyIR Lab options: --port N (0 = free port) --scenario Workshop|CompromisedInstance|CloudTrailInvestigation|Empty|Scale --seed N --region R");
            Console.WriteLine("  --instances N --vpcs N --findings N (Scale)  --throttling  --error-rate P --drop-rate P --latency-ms N  --snapshot-seconds S");
            return 0;
        default:
            Console.Error.WriteLine($"Unknown option {args[i]} (try --help)");
            return 2;
    }
}

await using var lab = await LabHost.StartAsync(options);
Console.WriteLine($"# GuardDutyIR Lab: scenario {lab.World.Scenario}, seed {lab.World.Seed}, account {lab.AccountId} (member {lab.MemberAccountId})");
Console.WriteLine($"AWS_ACCESS_KEY_ID={lab.AccessKeyId}");
Console.WriteLine($"AWS_SECRET_ACCESS_KEY={lab.SecretAccessKey}");
Console.WriteLine($"AWS_REGION={lab.Region}");
Console.WriteLine($"AWS_DEFAULT_REGION={lab.Region}");
Console.WriteLine($"AWS_ENDPOINT_URL={lab.Endpoint}");
Console.WriteLine($"# Member account role: {lab.Facts["MemberResponderRoleArn"]} (ExternalId {lab.Facts["MemberResponderExternalId"]}); read-only: {lab.Facts["MemberAuditorRoleArn"]}");
foreach (var f in lab.Lambda.Functions)
    Console.WriteLine($"# Lambda {f.Name}: AWS_LAMBDA_RUNTIME_API={f.RuntimeApi} ({f.Arn})");
Console.WriteLine($"# Lab info: {lab.Endpoint}/_lab/info   flows: {lab.Endpoint}/_lab/flows   counters: {lab.Endpoint}/_lab/counters");
Console.WriteLine("# Ctrl+C to stop.");

var done = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; done.TrySetResult(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => done.TrySetResult();
await done.Task;
return 0;
