namespace GuardDutyIR;

/// <summary>The verdict of one exposure check.</summary>
public enum ExposureLevel
{
    Pass,
    Warn,
    Fail,
}

/// <summary>One line of Get-InstanceExposure: a check, its verdict, the resource it is about, and the evidence.</summary>
public sealed class ExposureCheck
{
    public string Check { get; internal init; } = "";
    public ExposureLevel Level { get; internal init; }
    /// <summary>The resource the line is about (the instance, a security group, a policy).</summary>
    public string Target { get; internal init; } = "";
    public string Evidence { get; internal init; } = "";

    public override string ToString() => $"{Level.ToString().ToUpperInvariant()} {Check} {Target}: {Evidence}";
}

/// <summary>How an instance could have been reached and what its role could do, one check per line.</summary>
public sealed class InstanceExposure
{
    public string InstanceId { get; internal init; } = "";
    public string Region { get; internal init; } = "";
    public string? CaseId { get; internal init; }
    public string? FindingId { get; internal init; }
    public string? RoleArn { get; internal init; }
    public IReadOnlyList<ExposureCheck> Checks { get; internal init; } = new List<ExposureCheck>();
    public int Failures => Checks.Count(c => c.Level == ExposureLevel.Fail);
    public int Warnings => Checks.Count(c => c.Level == ExposureLevel.Warn);
    /// <summary>The worst verdict of any check.</summary>
    public ExposureLevel Level => Checks.Count == 0 ? ExposureLevel.Pass : Checks.Max(c => c.Level);
}
