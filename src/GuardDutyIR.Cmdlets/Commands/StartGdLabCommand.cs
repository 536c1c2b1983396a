using System.Management.Automation;
using GuardDutyIR.Engine.LabControl;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Starts the Lab: a local AWS-compatible endpoint on 127.0.0.1 that plays the GuardDuty workshop scenarios.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "GdLab", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(GdLab))]
public sealed class StartGdLabCommand : GdCmdlet
{
    /// <summary>Workshop (both scenarios), CompromisedInstance, CloudTrailInvestigation, Empty, or Scale.</summary>
    [Parameter(Position = 0)]
    [ValidateSet("Workshop", "CompromisedInstance", "CloudTrailInvestigation", "Empty", "Scale")]
    public string Scenario { get; set; } = "Workshop";

    /// <summary>The seed every ID, address and event of the scenario is generated from.</summary>
    [Parameter]
    public int Seed { get; set; } = 42;

    /// <summary>The port on 127.0.0.1; 0 (default) picks a free one.</summary>
    [Parameter]
    [ValidateRange(0, 65535)]
    public int Port { get; set; }

    /// <summary>The Lab's region.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(RegionCompleter))]
    public string Region { get; set; } = "us-east-1";

    /// <summary>Scale scenario: number of instances.</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int Instances { get; set; } = 100;

    /// <summary>Scale scenario: number of VPCs.</summary>
    [Parameter]
    [ValidateRange(1, 1_000)]
    public int Vpcs { get; set; } = 4;

    /// <summary>Scale scenario: number of findings.</summary>
    [Parameter]
    [ValidateRange(0, 1_000_000)]
    public int Findings { get; set; } = 100;

    /// <summary>Throttle EC2 with AWS's documented token buckets (RequestLimitExceeded).</summary>
    [Parameter]
    public SwitchParameter Throttling { get; set; }

    /// <summary>Fraction of calls answered with a server error (0 to 1), to rehearse retries.</summary>
    [Parameter]
    [ValidateRange(0.0, 1.0)]
    public double ErrorRate { get; set; }

    /// <summary>Milliseconds added to every call.</summary>
    [Parameter]
    [ValidateRange(0, 60_000)]
    public int LatencyMs { get; set; }

    /// <summary>Seconds a new EBS snapshot takes to complete.</summary>
    [Parameter]
    [ValidateRange(0.0, 3600.0)]
    public double SnapshotCompletionSeconds { get; set; } = 3;

    /// <summary>Do not make the Lab this session's default endpoint, region and credentials.</summary>
    [Parameter]
    public SwitchParameter NoDefault { get; set; }

    protected override void EndProcessing()
    {
        try
        {
            Engine.Context.AwsContextValidator.ValidateRegion(Region);
            if (!ShouldProcess($"127.0.0.1:{(Port == 0 ? "<free port>" : Port)}", $"Start the {Scenario} Lab")) return;
            var lab = Await(LabControl.StartAsync(new LabStartOptions
            {
                Scenario = Scenario,
                Seed = Seed,
                Port = Port,
                Region = Region,
                Instances = Instances,
                Vpcs = Vpcs,
                Findings = Findings,
                Throttling = Throttling,
                ErrorRate = ErrorRate,
                LatencyMs = LatencyMs,
                SnapshotCompletionSeconds = SnapshotCompletionSeconds,
            }, CancellationToken));
            if (!NoDefault)
            {
                SessionDefaultsStore.Update(d =>
                {
                    d.Region = lab.Region;
                    d.EndpointUrl = lab.EndpointUrl;
                    d.ProfileName = null;
                    d.SetKeys(lab.AccessKeyId, lab.SecretAccessKey, null);
                    d.Source = "Start-GdLab";
                });
                WriteVerbose($"Session defaults now point at the Lab: {lab.EndpointUrl} ({lab.Region}).");
            }
            WriteObject(lab);
        }
        catch (GuardDutyIRException e)
        {
            ThrowEngineError(e);
        }
    }
}
