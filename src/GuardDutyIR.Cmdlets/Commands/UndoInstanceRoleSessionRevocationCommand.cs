using System.Management.Automation;
using GuardDutyIR.Engine.Credentials;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Lifts a session revocation made by Revoke-InstanceRoleSession: removes the deny policy from the role, or puts back the earlier revocation it replaced.</para>
/// </summary>
[Cmdlet(VerbsCommon.Undo, "InstanceRoleSessionRevocation", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(RoleSessionRevocation))]
public sealed class UndoInstanceRoleSessionRevocationCommand : GdAwsCmdlet
{
    /// <summary>The role; binds by property name from Revoke-InstanceRoleSession's results.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    public string RoleName { get; set; } = "";

    /// <summary>The revocation the undone one replaced, put back instead of deleting the policy; binds from Revoke-InstanceRoleSession's results.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? PreviousPolicyDocument { get; set; }

    /// <summary>The role -ReplaceRole made; binds from Revoke-InstanceRoleSession's results. Deleted once no instance uses it.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? ReplacementRoleName { get; set; }

    /// <summary>The instances -ReplaceRole moved ("instance-id=original-profile-arn"); binds from Revoke-InstanceRoleSession's results. Moved back first.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyCollection]
    public string[] MovedInstances { get; set; } = Array.Empty<string>();

    /// <summary>The case the change is journaled to; binds from revocation results; default: the active case.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? CaseId { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still wins).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var region = CurrentRegion;
        var caseId = CaseId ?? CaseSessionStore.Current?.CaseId;
        ForResource(RoleName, () =>
        {
            var action = PreviousPolicyDocument is null
                ? $"Delete the inline policy {RoleSessionRevoker.PolicyName}: the role's older sessions work again"
                : $"Put back the earlier revocation in {RoleSessionRevoker.PolicyName}";
            if (ReplacementRoleName is not null)
                action = $"Move {MovedInstances.Length} instance(s) back from {ReplacementRoleName} to their own profiles; {action}; delete {ReplacementRoleName} and its profile if no instance uses them";
            if (!ShouldProcessUnlessForced(Force, $"role {RoleName}", action)) return;
            var undone = Journaled(caseId, RoleName, region, () => Await(new RoleSessionRevoker(Session).UndoAsync(RoleName, PreviousPolicyDocument, ReplacementRoleName, MovedInstances, region, caseId, CancellationToken)),
                r => r.Status.ToString(), r => r.RequestIds, r => string.Join("; ", r.Actions));
            WriteObject(undone);
        });
    }
}
