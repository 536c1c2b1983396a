namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// What a step does, said the two ways a result needs: <see cref="Done"/> ("enabled termination protection") once the
/// change is made, <see cref="Planned"/> ("enable termination protection") for what -DryRun only checked
/// ("would …") and for a failure ("failed to …"), so no step claims a change that did not happen.
/// </summary>
internal readonly record struct StepText(string Done, string Planned)
{
    public string For(StepStatus status) => status switch
    {
        StepStatus.Done => Done,
        StepStatus.Failed => "failed to " + Planned,
        // DryRunAllowed, DryRunDenied, and a call DryRun cannot check (Skipped): nothing was changed.
        _ => "would " + Planned,
    };
}
