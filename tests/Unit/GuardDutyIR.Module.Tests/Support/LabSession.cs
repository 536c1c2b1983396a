using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Module.Tests.Support;

/// <summary>
/// A Lab in the test process and a hosted PowerShell whose session defaults point at it, so scripts run with no
/// AWS parameters while the test reads the Lab's truth and counters directly.
/// </summary>
public sealed class LabSession : IDisposable
{
    private LabSession(LabHost lab, HostedPowerShell host)
    {
        Lab = lab;
        Host = host;
    }

    public LabHost Lab { get; }
    public HostedPowerShell Host { get; }

    public static LabSession Start(LabOptions options)
    {
        var lab = LabHost.StartAsync(options).GetAwaiter().GetResult();
        var host = new HostedPowerShell();
        var set = host.Run("Set-GdDefault -Region $args[0] -EndpointUrl $args[1] -Credential @{ AccessKey = $args[2]; SecretKey = $args[3] }",
            lab.Region, lab.Endpoint, lab.AccessKeyId, lab.SecretAccessKey);
        if (set.Terminating is not null) throw set.Terminating;
        return new LabSession(lab, host);
    }

    public ScriptResult Run(string script, params object?[] args) => Host.Run(script, args);

    public void Dispose()
    {
        Host.Dispose();
        Lab.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
