using System.Collections.Concurrent;
using System.Management.Automation.Runspaces;

namespace GuardDutyIR.Commands;

/// <summary>
/// Session defaults (region, profile, endpoint, Lab keys) per runspace, so parallel runspaces (ForEach-Object
/// -Parallel, test hosts) do not see each other's settings. Nothing is written to shell-global variables.
/// </summary>
internal static class SessionDefaultsStore
{
    private static readonly ConcurrentDictionary<Guid, SessionDefaults> ByRunspace = new();

    private static Guid Key => Runspace.DefaultRunspace?.InstanceId ?? Guid.Empty;

    public static SessionDefaults? Current => ByRunspace.TryGetValue(Key, out var d) ? d.Clone() : null;

    public static SessionDefaults Update(Action<SessionDefaults> change)
    {
        var updated = ByRunspace.AddOrUpdate(Key,
            _ => { var d = new SessionDefaults(); change(d); return d; },
            (_, existing) => { var d = existing.Clone(); change(d); return d; });
        return updated.Clone();
    }

    public static void Clear() => ByRunspace.TryRemove(Key, out _);
}
