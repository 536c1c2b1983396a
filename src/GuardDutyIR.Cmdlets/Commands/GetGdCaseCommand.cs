using System.Management.Automation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Lists the incident cases (or the session's active one) with their journal's entry count and status.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "GdCase")]
[OutputType(typeof(GdCase))]
public sealed class GetGdCaseCommand : GdCaseCommandBase
{
    /// <summary>Case IDs, wildcards allowed; every case when not given.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string[]? CaseId { get; set; }

    /// <summary>Only the session's active case.</summary>
    [Parameter]
    public SwitchParameter Active { get; set; }

    protected override void ProcessRecord()
    {
        var store = Store();
        if (Active)
        {
            if (CaseSessionStore.Current is { } active)
                ForCase(active.CaseId, () => WriteObject(Describe(store, store.Open(active.CaseId, create: false))));
            return;
        }
        var patterns = (CaseId ?? new[] { "*" }).Select(Wildcard).ToList();
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var handle in store.List())
        {
            if (!patterns.Any(p => p!.IsMatch(handle.CaseId))) continue;
            found.Add(handle.CaseId);
            WriteObject(Describe(store, handle));
        }
        foreach (var id in CaseId ?? Array.Empty<string>())
            if (!WildcardPattern.ContainsWildcardCharacters(id) && !found.Contains(id))
                WriteEngineError(new GuardDutyIRException("CaseNotFound", ErrorKind.ObjectNotFound, $"There is no case '{id}' in '{store.Root}'.", id));
    }
}
