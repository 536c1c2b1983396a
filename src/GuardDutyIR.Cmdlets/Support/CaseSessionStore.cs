using System.Collections.Concurrent;
using System.Management.Automation.Runspaces;

namespace GuardDutyIR.Commands;

/// <summary>The session's active case (Start-GdCase), per runspace like the session defaults.</summary>
internal static class CaseSessionStore
{
    internal sealed record ActiveCase(string CaseId, string Root, string KeyRoot);

    private static readonly ConcurrentDictionary<Guid, ActiveCase> ByRunspace = new();

    private static Guid Key => Runspace.DefaultRunspace?.InstanceId ?? Guid.Empty;

    public static ActiveCase? Current => ByRunspace.TryGetValue(Key, out var active) ? active : null;

    public static void Set(ActiveCase active) => ByRunspace[Key] = active;

    public static void Clear() => ByRunspace.TryRemove(Key, out _);
}
