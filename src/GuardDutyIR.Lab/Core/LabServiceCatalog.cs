using GuardDutyIR.Lab.Ec2;
using GuardDutyIR.Lab.Sts;

namespace GuardDutyIR.Lab.Core;

/// <summary>
/// The one place Lab services are registered. Append a line per service; each gets the shared context.
/// After creation the host seeds every IScenarioSeeded service and registers every ILabAdminEndpoints service.
/// </summary>
public static class LabServiceCatalog
{
    public static IReadOnlyList<ILabService> CreateServices(LabContext context) => new ILabService[]
    {
        new Ec2Service(context),
        new AutoScalingService(context),
        new StsService(context),
        // Other helper: GuardDuty, SNS, S3, CloudTrail, Athena go here.
    };
}
