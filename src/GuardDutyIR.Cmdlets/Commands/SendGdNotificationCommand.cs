using System.Collections;
using System.Management.Automation;
using GuardDutyIR.Engine.Notifications;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Publishes a finding, with whatever containment results travel with it, to an SNS topic.</para>
/// </summary>
[Cmdlet(VerbsCommunications.Send, "GdNotification", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(GdNotification))]
public sealed class SendGdNotificationCommand : GdAwsCmdlet
{
    /// <summary>A finding, or any object from a later step of the runbook (it may carry the finding in a Finding property).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public PSObject InputObject { get; set; } = null!;

    /// <summary>The SNS topic, arn:aws:sns:&lt;region&gt;:&lt;account&gt;:&lt;name&gt;. The call goes to the topic's region.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public string TopicArn { get; set; } = "";

    /// <summary>Subject template with &lt;Property&gt; placeholders; cut to one line under 100 characters.</summary>
    [Parameter]
    public string Subject { get; set; } = NotificationTemplate.DefaultSubject;

    /// <summary>Message template with &lt;Property&gt; placeholders, like an EventBridge input transformer.</summary>
    [Parameter]
    public string Message { get; set; } = NotificationTemplate.DefaultMessage;

    /// <summary>SNS message attributes (name = string value), for subscription filter policies.</summary>
    [Parameter]
    public IDictionary? MessageAttribute { get; set; }

    /// <summary>Write the input object on, with the message ID added as NotificationMessageId.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>
    /// At most one message per finding and instance: a message sent is recorded on the instance (tag
    /// ir:notified:&lt;finding ID&gt;), and an instance that already has one for the finding is not sent another.
    /// </summary>
    [Parameter]
    public SwitchParameter OncePerFinding { get; set; }

    private NotificationService? _service;
    private readonly NotificationComposer _composer = new();

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        try
        {
            NotificationService.TopicRegion(TopicArn);
        }
        catch (GuardDutyIRException e)
        {
            ThrowEngineError(e);
        }
        _service = new NotificationService(Session);
    }

    /// <summary>Gathers the objects: one message per instance tells everything the pipeline did to it, so it is sent at the end.</summary>
    /// <summary>The case this change is journaled to; default: the session's active case.</summary>
    [Parameter]
    public string? CaseId { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            _composer.Add(ToInput(InputObject));
        }
        catch (GuardDutyIRException e)
        {
            ReportFailure(e, InputObject);
        }
    }

    protected override void EndProcessing()
    {
        var attributes = MessageAttribute?.Cast<DictionaryEntry>().ToDictionary(e => e.Key.ToString()!, e => e.Value?.ToString() ?? "");
        foreach (var draft in _composer.Compose(Subject, Message))
        {
            // Only a message about an instance and a finding can be recorded: the record lives on the instance.
            var once = OncePerFinding && draft.InstanceId is not null && draft.Finding is not null;
            var instanceRegion = draft.Finding?.Region is { Length: > 0 } r ? r : CurrentRegion;
            if (once)
            {
                GdNotification? earlier = null;
                try
                {
                    earlier = Await(_service!.SentBeforeAsync(TopicArn, draft.InstanceId!, instanceRegion, draft.Finding!.Id, CancellationToken));
                }
                catch (GuardDutyIRException e) when (!StopsCommand(e))
                {
                    // Not knowing must not keep the responders uninformed: a second message is the lesser harm.
                    WriteWarning($"{draft.About}: could not read whether this finding's message was already sent ({e.Message}); sending it.");
                }
                if (earlier is not null)
                {
                    WriteVerbose($"{draft.About}: message {earlier.MessageId} was sent at {earlier.SentAt:u}; not sending another.");
                    Emit(draft, earlier);
                    JournalChange(CaseOf(draft), draft.InstanceId ?? draft.Finding?.Id, TopicRegion, "AlreadySent", earlier, null,
                        $"{draft.About}: message {earlier.MessageId} was sent at {earlier.SentAt:u}; not sent again", JournalEntryKinds.Skip);
                    continue;
                }
            }
            if (!ShouldProcess(TopicArn, $"Publish notification for {draft.About}: '{NotificationTemplate.SafeSubject(draft.Subject)}'")) continue;
            ForResource(draft.InstanceId ?? draft.Finding?.Id, () =>
            {
                var sent = Await(_service!.PublishAsync(TopicArn, draft.Subject, draft.Message, attributes, draft.Finding?.Id, draft.InstanceId, CancellationToken));
                if (once)
                {
                    // The message is out; failing to record it only means a repeat could send it again.
                    try { Await(_service!.RecordSentAsync(sent, instanceRegion, CancellationToken)); }
                    catch (GuardDutyIRException e) { WriteWarning($"{draft.About}: message {sent.MessageId} was sent but not recorded on the instance, so a repeat may send it again: {e.Message}"); }
                }
                Emit(draft, sent);
                JournalChange(CaseOf(draft), draft.InstanceId ?? draft.Finding?.Id, TopicRegion, "Sent", sent, sent.RequestId is null ? null : new[] { sent.RequestId },
                    $"{draft.About}: '{NotificationTemplate.SafeSubject(draft.Subject)}' to {TopicArn}");
            });
        }
    }

    /// <summary>-CaseId, else the case of what was piped in (quarantine results and snapshots carry theirs), else the active case.</summary>
    private string? CaseOf(NotificationDraft draft) => CaseId ?? draft.Inputs
        .Select(i => PSObject.AsPSObject(i).Properties["CaseId"]?.Value?.ToString()).FirstOrDefault(id => !string.IsNullOrEmpty(id));

    private string? TopicRegion => TopicArn.Split(':') is { Length: > 3 } parts ? parts[3] : null;

    private void Emit(NotificationDraft draft, GdNotification sent)
    {
        if (!PassThru)
        {
            WriteObject(sent);
            return;
        }
        foreach (var input in draft.Inputs.OfType<PSObject>())
        {
            input.Properties.Remove("NotificationMessageId");
            input.Properties.Add(new PSNoteProperty("NotificationMessageId", sent.MessageId));
            WriteObject(input);
        }
    }

    private static NotificationInput ToInput(PSObject input)
    {
        var finding = input.BaseObject as GdFinding ?? Unwrap(input.Properties["Finding"]?.Value) as GdFinding;
        var instanceId = Unwrap(input.Properties["InstanceId"]?.Value) as string;
        var actions = Texts(input.Properties["EarlierActions"]?.Value)
            .Concat(Texts(input.Properties["Actions"]?.Value ?? input.Properties["Steps"]?.Value)).ToList();
        return new NotificationInput(input, finding, instanceId, actions, name => Unwrap(input.Properties[name]?.Value));
    }

    private static object? Unwrap(object? value) => value is PSObject wrapped ? wrapped.BaseObject : value;

    private static IEnumerable<string> Texts(object? value) => Unwrap(value) switch
    {
        null => Enumerable.Empty<string>(),
        string text => new[] { text },
        IEnumerable list => list.Cast<object?>().Select(i => Unwrap(i)?.ToString() ?? "").Where(t => t.Length > 0),
        var other => new[] { other.ToString() ?? "" },
    };
}
