namespace GuardDutyIR;

/// <summary>A running Lab: where it listens and the keys that sign requests to it.</summary>
public sealed class GdLab
{
    /// <summary>http://127.0.0.1:port, for -EndpointUrl, AWS_ENDPOINT_URL or the AWS CLI's --endpoint-url.</summary>
    public string EndpointUrl { get; internal init; } = "";
    public int Port { get; internal init; }
    public string Region { get; internal init; } = "";
    public string Scenario { get; internal init; } = "";
    public int Seed { get; internal init; }
    public string AccountId { get; internal init; } = "";
    /// <summary>A second Lab account, a GuardDuty member, reachable with AssumeRole.</summary>
    public string MemberAccountId { get; internal init; } = "";
    public string AccessKeyId { get; internal init; } = "";
    /// <summary>The Lab's own secret key: it signs only requests to this Lab.</summary>
    public string SecretAccessKey { get; internal init; } = "";
    public bool Throttling { get; internal init; }
    public DateTime StartedAt { get; internal init; }
    /// <summary>The scenario's cast: the compromised instance, the malicious address, the investigated instance, and so on.</summary>
    public IReadOnlyDictionary<string, string> Facts { get; internal init; } = new Dictionary<string, string>();
}
