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

    private NotificationService? _service;

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

    protected override void ProcessRecord()
    {
        var finding = FindingOf(InputObject);
        object? Lookup(string name) => name switch
        {
            "ConsoleUrl" => finding is null ? null : NotificationTemplate.FindingConsoleUrl(finding.Region, finding.Id),
            "InstanceConsoleUrl" => finding?.InstanceId is null ? null : NotificationTemplate.InstanceConsoleUrl(finding.Region, finding.InstanceId),
            "ActionsTaken" => ActionsOf(InputObject),
            _ => InputObject.Properties[name]?.Value ?? (finding is null ? null : typeof(GdFinding).GetProperty(name)?.GetValue(finding)),
        };
        var subject = NotificationTemplate.Render(Subject, Lookup);
        var message = NotificationTemplate.Render(Message, Lookup);
        var target = finding?.Id ?? InputObject.ToString();
        if (!ShouldProcess(TopicArn, $"Publish notification for {target}: '{NotificationTemplate.SafeSubject(subject)}'")) return;

        var attributes = MessageAttribute?.Cast<DictionaryEntry>().ToDictionary(e => e.Key.ToString()!, e => e.Value?.ToString() ?? "");
        ForResource(TopicArn, () =>
        {
            var sent = Await(_service!.PublishAsync(TopicArn, subject, message, attributes, finding?.Id, finding?.InstanceId, CancellationToken));
            if (PassThru)
            {
                InputObject.Properties.Remove("NotificationMessageId");
                InputObject.Properties.Add(new PSNoteProperty("NotificationMessageId", sent.MessageId));
                WriteObject(InputObject);
            }
            else
            {
                WriteObject(sent);
            }
        });
    }

    private static GdFinding? FindingOf(PSObject input) =>
        input.BaseObject as GdFinding ?? input.Properties["Finding"]?.Value switch
        {
            GdFinding f => f,
            PSObject { BaseObject: GdFinding f } => f,
            _ => null,
        };

    // Later steps of a runbook (quarantine, snapshots) describe what they did in an Actions or Steps list.
    private static object ActionsOf(PSObject input)
    {
        var actions = input.Properties["Actions"]?.Value ?? input.Properties["Steps"]?.Value;
        return actions is IEnumerable list and not string ? list : new[] { "none recorded by this pipeline" };
    }
}
