using System.Collections;
using System.Management.Automation;
using System.Security;
using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Cases;

namespace GuardDutyIR.Commands;

/// <summary>
/// The case journal as every cmdlet that changes or collects something uses it: the case is the one named by
/// -CaseId (opened, or created on first use, so the Lambda handler and the runbooks journal without Start-GdCase),
/// else the session's active case, else none. A journal that cannot be written is an error of its own after the
/// result: the change happened and its result is still on the pipeline.
/// </summary>
public abstract partial class GdAwsCmdletBase
{
    private readonly Dictionary<string, CaseHandle> _cases = new(StringComparer.Ordinal);
    private string? _caller;

    /// <summary>Whether anything would be journaled: a case is named or one is active.</summary>
    private protected static bool Journaling(string? caseId) => !string.IsNullOrEmpty(caseId) || CaseSessionStore.Current is not null;

    /// <summary>The case an entry goes to, or null when neither -CaseId nor an active case names one.</summary>
    private protected CaseHandle? CaseFor(string? caseId)
    {
        var active = CaseSessionStore.Current;
        var id = string.IsNullOrEmpty(caseId) ? active?.CaseId : caseId;
        if (id is null) return null;
        if (_cases.TryGetValue(id, out var open)) return open;
        var store = active is null ? new CaseStore() : new CaseStore(active.Root, active.KeyRoot);
        return _cases[id] = store.Open(id, create: true);
    }

    /// <summary>Appends an entry for this command to the case, when there is one; fills in the caller and parameters.</summary>
    private protected void Journal(string? caseId, JournalDraft draft)
    {
        try
        {
            if (CaseFor(caseId) is not { } handle) return;
            handle.Journal.Append(draft with
            {
                Caller = draft.Caller ?? Caller(draft.Region),
                Parameters = draft.Parameters ?? JournalParameters(),
            }, CancellationToken.None);   // what was done is journaled even while Ctrl+C stops the command
        }
        catch (GuardDutyIRException e)
        {
            WriteError(ToErrorRecord(new GuardDutyIRException("CaseJournalWriteFailed", e.Kind,
                $"The {draft.Action} entry for {draft.Target} could not be written to case '{caseId ?? CaseSessionStore.Current?.CaseId}': {e.Message}", caseId, e)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteError(ToErrorRecord(new GuardDutyIRException("CaseJournalWriteFailed", ErrorKind.ResourceUnavailable,
                $"The {draft.Action} entry for {draft.Target} could not be written to case '{caseId ?? CaseSessionStore.Current?.CaseId}': {e.Message}", caseId, e)));
        }
    }

    /// <summary>Shorthand for a change with a result object and its request IDs.</summary>
    private protected void JournalChange(string? caseId, string? target, string? region, string status, object? result,
        IEnumerable<string>? requestIds = null, string? detail = null, string kind = JournalEntryKinds.Change, IReadOnlyList<CaseArtifact>? artifacts = null) =>
        Journal(caseId, new JournalDraft(kind, MyInvocation.MyCommand.Name, status)
        {
            Target = target,
            Region = region,
            Detail = detail,
            RequestIds = requestIds?.Where(id => !string.IsNullOrEmpty(id)).Distinct().ToList() ?? new List<string>(),
            Result = CaseRecords.ToJson(result),
            Artifacts = artifacts ?? Array.Empty<CaseArtifact>(),
        });

    /// <summary>Runs a change and journals what came of it: its status, result and request IDs, or its failure.</summary>
    private protected T Journaled<T>(string? caseId, string? target, string? region, Func<T> change, Func<T, string> status,
        Func<T, IEnumerable<string>?>? requestIds = null, Func<T, string?>? detail = null)
    {
        T result;
        try
        {
            result = change();
        }
        catch (GuardDutyIRException e)
        {
            JournalFailure(caseId, target, region, e);
            throw;
        }
        JournalChange(caseId, target, region, status(result), result, requestIds?.Invoke(result), detail?.Invoke(result));
        return result;
    }

    /// <summary>A change that was attempted and failed: the error and its request ID, so the journal shows the attempt.</summary>
    private protected void JournalFailure(string? caseId, string? target, string? region, GuardDutyIRException error) =>
        JournalChange(caseId, target, region, "Failed", null, (error as AwsServiceException)?.RequestId is { } id ? new[] { id } : null, $"{error.ErrorId}: {error.Message}");

    /// <summary>
    /// Something collected: its JSON is stored in the case's artifacts folder under its hash and journaled with that
    /// hash. Nothing is stored when no case is named or active.
    /// </summary>
    private protected void JournalCollected(string? caseId, string name, string? target, string? region, string status, object? collected,
        IEnumerable<string>? requestIds = null, string? detail = null)
    {
        CaseHandle? handle;
        try { handle = CaseFor(caseId); }
        catch (GuardDutyIRException e)
        {
            WriteError(ToErrorRecord(new GuardDutyIRException("CaseJournalWriteFailed", e.Kind, $"The {name} could not be journaled: {e.Message}", caseId, e)));
            return;
        }
        if (handle is null) return;
        var json = CaseRecords.ToJson(collected);
        var bytes = System.Text.Encoding.UTF8.GetBytes(json?.ToJsonString() ?? "null");
        CaseArtifact artifact;
        try { artifact = CaseRecords.Store(handle, name, bytes, ".json"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteError(ToErrorRecord(new GuardDutyIRException("CaseJournalWriteFailed", ErrorKind.ResourceUnavailable, $"The {name} could not be stored in case '{handle.CaseId}': {e.Message}", handle.CaseId, e)));
            return;
        }
        Journal(caseId, new JournalDraft(JournalEntryKinds.Artifact, MyInvocation.MyCommand.Name, status)
        {
            Target = target,
            Region = region,
            Detail = detail,
            RequestIds = requestIds?.Where(id => !string.IsNullOrEmpty(id)).Distinct().ToList() ?? new List<string>(),
            Artifacts = new[] { artifact },
        });
    }

    /// <summary>
    /// Who acted: STS GetCallerIdentity's ARN, asked once per command (with -RoleArn it is the assumed role's
    /// session). A command that made no AWS call (a local query) is the local user.
    /// </summary>
    private string Caller(string? region)
    {
        if (_caller is not null) return _caller;
        if (!UsesAws) return _caller = $"local:{Environment.UserName}@{Environment.MachineName}";
        try
        {
            // Not the command's token: a change made just before Ctrl+C is still journaled with who made it.
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            return _caller = Session.GetCallerIdentityAsync(region, patience.Token).GetAwaiter().GetResult().Arn;
        }
        catch (GuardDutyIRException e)
        {
            // Not cached: the next entry tries again.
            return $"unresolved ({e.ErrorId})";
        }
        catch (OperationCanceledException)
        {
            return "unresolved (no answer from STS)";
        }
    }

    // Parameters whose values are or may hold a secret; their presence is recorded, never their value.
    private static readonly HashSet<string> SecretParameters = new(StringComparer.OrdinalIgnoreCase) { "Credential" };

    /// <summary>The command's bound parameters as JSON: plain values as given, objects by their identity, secrets as "(given)".</summary>
    private JsonObject JournalParameters()
    {
        var parameters = new JsonObject();
        foreach (var (name, value) in MyInvocation.BoundParameters.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase))
            parameters[name] = SecretParameters.Contains(name) ? "(given)" : JournalValue(value, 0);
        return parameters;
    }

    private static JsonNode? JournalValue(object? value, int depth) => (value is PSObject wrapped ? wrapped.BaseObject : value) switch
    {
        null => null,
        SwitchParameter s => JsonValue.Create(s.IsPresent),
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        DateTime t => JsonValue.Create(t.ToUniversalTime().ToString("O")),
        PSCredential or SecureString or System.Net.NetworkCredential => JsonValue.Create("(given)"),
        IConvertible c when c.GetTypeCode() is >= TypeCode.SByte and <= TypeCode.Decimal => JsonValue.Create(Convert.ToDecimal(c, System.Globalization.CultureInfo.InvariantCulture)),
        Enum e => JsonValue.Create(e.ToString()),
        GdFinding f => JsonValue.Create($"finding {f.Id}"),
        IDictionary => JsonValue.Create("(hashtable)"),
        IEnumerable sequence when depth == 0 => new JsonArray(sequence.Cast<object?>().Take(1000).Select(v => JournalValue(v, depth + 1)).ToArray()),
        var other => JsonValue.Create(other.GetType().Name),
    };
}
