using GuardDutyIR.Lab.Athena;
using GuardDutyIR.Lab.CloudTrail;
using GuardDutyIR.Lab.Ec2;
using GuardDutyIR.Lab.Events;
using GuardDutyIR.Lab.GuardDuty;
using GuardDutyIR.Lab.Iam;
using GuardDutyIR.Lab.S3;
using GuardDutyIR.Lab.Sns;
using GuardDutyIR.Lab.Sts;

namespace GuardDutyIR.Lab.Core;

/// <summary>
/// The one place Lab services are registered. Append a line per service; each gets the shared context.
/// After creation the host puts the scenario in place (Scenarios/ScenarioSeeder) and registers every ILabAdminEndpoints service.
/// </summary>
public static class LabServiceCatalog
{
    public static IReadOnlyList<ILabService> CreateServices(LabContext context) => new ILabService[]
    {
        new Ec2Service(context),
        new AutoScalingService(context),
        new StsService(context),
        new IamService(context),
        // S3 first: GuardDuty validates list locations against it and CloudTrail/Athena deliver results to it.
        new S3Service(context),
        new GuardDutyService(context),
        new SnsService(context),
        new CloudTrailService(context),
        new AthenaService(context),
        new EventBridgeService(context),
        new GuardDutyIR.Lab.Ssm.SsmService(context),
    };
}
