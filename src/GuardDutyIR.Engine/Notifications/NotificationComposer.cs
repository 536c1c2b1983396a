namespace GuardDutyIR.Engine.Notifications;

/// <summary>One object of a runbook's pipeline as a notification sees it: the finding and instance it is about, what
/// it says was done, and its properties for the template.</summary>
public sealed record NotificationInput(
    object Original,
    GdFinding? Finding,
    string? InstanceId,
    IReadOnlyList<string> Actions,
    Func<string, object?> Property);

/// <summary>One message to publish, for one instance (or one finding that names no instance).</summary>
public sealed record NotificationDraft(string Subject, string Message, GdFinding? Finding, string? InstanceId, IReadOnlyList<object> Inputs)
{
    /// <summary>What the message is about, for ShouldProcess and errors.</summary>
    public string About => Finding is null ? InstanceId ?? "" : InstanceId is null ? $"finding {Finding.Id}" : $"{InstanceId} (finding {Finding.Id})";
}

/// <summary>
/// Turns what a containment runbook pipes into Send-GdNotification into one message per instance with everything done
/// to it. A runbook writes several objects per instance (a quarantine result, then one snapshot per volume), and one
/// e-mail per object, each telling part of the story and some without the finding, is what responders stop reading.
/// Objects are grouped by instance (by finding when there is no instance), in the order they first arrive; the
/// finding is the first one any object of the group carries, and the actions are every object's, in order, once.
/// </summary>
public sealed class NotificationComposer
{
    private readonly List<Group> _groups = new();
    private readonly Dictionary<string, Group> _byKey = new(StringComparer.Ordinal);

    public int Count => _groups.Count;

    /// <summary>Adds one object; one that carries neither a finding nor an instance ID is refused (nothing to tell).</summary>
    public void Add(NotificationInput input)
    {
        var instanceId = NonEmpty(input.InstanceId) ?? NonEmpty(input.Finding?.InstanceId);
        var key = instanceId is not null ? "instance:" + instanceId
            : input.Finding is not null ? "finding:" + input.Finding.Id
            : throw new GuardDutyIRException("NotificationInputUnrecognized", ErrorKind.InvalidArgument,
                $"A {Describe(input.Original)} carries no GuardDuty finding and no instance ID, so there is nothing to notify about. "
                + "Pipe findings (Get-GdFinding, ConvertFrom-GdFindingEvent) or the results of the containment cmdlets.", input.Original);
        if (!_byKey.TryGetValue(key, out var group))
        {
            group = new Group(instanceId);
            _byKey[key] = group;
            _groups.Add(group);
        }
        group.Add(input);
    }

    /// <summary>The messages, one per instance (or finding), rendered from the templates.</summary>
    public IReadOnlyList<NotificationDraft> Compose(string subjectTemplate, string messageTemplate) =>
        _groups.Select(g => new NotificationDraft(
            NotificationTemplate.Render(subjectTemplate, g.Lookup),
            NotificationTemplate.Render(messageTemplate, g.Lookup),
            g.Finding, g.InstanceId, g.Inputs.Select(i => i.Original).ToList())).ToList();

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    // The type, not the value: a piped object may hold anything, a secret included.
    private static string Describe(object value) => value switch
    {
        string => "string",
        _ => value.GetType().Name,
    };

    private sealed class Group(string? instanceId)
    {
        private readonly List<string> _actions = new();
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

        public string? InstanceId { get; } = instanceId;
        public GdFinding? Finding { get; private set; }
        public List<NotificationInput> Inputs { get; } = new();

        public void Add(NotificationInput input)
        {
            Inputs.Add(input);
            Finding ??= input.Finding;
            foreach (var action in input.Actions)
                if (!string.IsNullOrWhiteSpace(action) && _seen.Add(action)) _actions.Add(action);
        }

        /// <summary>A placeholder's value: the computed ones, then the first object that has the property, then the finding's.</summary>
        public object? Lookup(string name)
        {
            switch (name)
            {
                case "ConsoleUrl":
                    return Finding is null ? null : NotificationTemplate.FindingConsoleUrl(Finding.Region, Finding.Id);
                case "InstanceConsoleUrl":
                    return InstanceId is null ? null : NotificationTemplate.InstanceConsoleUrl(Finding?.Region ?? Region() ?? "us-east-1", InstanceId);
                case "ActionsTaken":
                    return _actions.Count > 0 ? _actions : new[] { "none recorded by this pipeline" };
                case "InstanceId":
                    return InstanceId;
                case "Finding":
                    return Finding;
            }
            foreach (var input in Inputs)
                if (input.Property(name) is { } value) return value;
            return Finding is null ? null
                : typeof(GdFinding).GetProperty(name, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase)
                    ?.GetValue(Finding);
        }

        private string? Region() => Inputs.Select(i => i.Property("Region") as string).FirstOrDefault(r => !string.IsNullOrEmpty(r));
    }
}
