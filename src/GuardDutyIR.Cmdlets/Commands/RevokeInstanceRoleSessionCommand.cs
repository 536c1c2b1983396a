using System.Management.Automation;
using GuardDutyIR.Engine.Credentials;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Revokes every session of an instance's role issued before now, the way IAM's "Revoke active sessions" does, so credentials taken from the instance stop working wherever they are used.</para>
/// </summary>
[Cmdlet(VerbsSecurity.Revoke, "InstanceRoleSession", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(RoleSessionRevocation))]
public sealed class RevokeInstanceRoleSessionCommand : GdAwsCmdlet
{
    /// <summary>The instance whose role's sessions are revoked; binds by property name from findings and quarantine results.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [InstanceIdInput]
    public string InstanceId { get; set; } = "";

    /// <summary>The finding ID carried on the result; binds from findings.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? FindingId { get; set; }

    /// <summary>The case the revocation is journaled to; binds from quarantine results; default: the active case.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    /// <summary>
    /// Also move the role's other instances (this region) to a new copy of the role, in a new instance profile of the
    /// same name: their metadata service then hands out credentials of a role the revocation never touched, and the old
    /// role is left to the compromised instance.
    /// </summary>
    [Parameter]
    public SwitchParameter ReplaceRole { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still wins).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        if (InstanceIdInputAttribute.Refusal(InstanceId) is { } refused)
        {
            WriteEngineError(refused);
            return;
        }
        var region = CurrentRegion;
        var caseId = CaseId ?? CaseSessionStore.Current?.CaseId;
        ForResource(InstanceId, () =>
        {
            var revoker = new RoleSessionRevoker(Session);
            // Read first, so the confirmation names the role and every other instance the revocation also cuts off.
            var plan = Await(revoker.PlanForInstanceAsync(InstanceId, region, caseId, FindingId, CancellationToken));
            var others = plan.OtherInstances.Count == 0 ? "no other instance uses it"
                : $"{plan.OtherInstances.Count} other instance(s) use it and lose their current credentials too (they fetch new ones): {string.Join(", ", plan.OtherInstances.Take(20))}{(plan.OtherInstances.Count > 20 ? ", ..." : "")}";
            var replace = ReplaceRole && plan.OtherInstances.Count > 0
                ? $"; then move those {plan.OtherInstances.Count} to a new copy of the role, {RoleSessionRevoker.ReplacementName(plan.RoleName, plan.TokenIssuedBefore)} (or a later stamp), in a new instance profile"
                : "";
            if (!ShouldProcessUnlessForced(Force, $"role {plan.RoleName} of {InstanceId} ({region})",
                    $"Deny every action to the role's sessions issued before now (inline policy {RoleSessionRevoker.PolicyName}); {others}{replace}"))
                return;
            var revoked = Journaled(caseId, plan.RoleArn, region, () => Await(revoker.RevokeAsync(plan, ReplaceRole, CancellationToken)),
                r => r.Status.ToString(), r => r.RequestIds, r => string.Join("; ", r.Actions));
            WriteObject(revoked);
            var failed = revoked.Steps.Where(s => s.Status == GuardDutyIR.StepStatus.Failed).ToList();
            if (failed.Count > 0)
                WriteEngineError(new GuardDutyIRException("RoleReplacementIncomplete", ErrorKind.InvalidOperation,
                    $"The sessions of {plan.RoleName} are revoked, but the other instances were not all moved to a new role: "
                    + string.Join("; ", failed.Select(s => s.ToString())), plan.RoleArn), plan.RoleArn);
        });
    }
}
