using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Engine.Notifications;

/// <summary>
/// Message text from a template with &lt;PropertyName&gt; placeholders, like an EventBridge input transformer:
/// &lt;InstanceId&gt;, &lt;Finding.Type&gt;, &lt;Detail.service.count&gt;. A placeholder that resolves to nothing renders as
/// an empty string (as an input transformer does); a list renders one item per line.
/// </summary>
public static partial class NotificationTemplate
{
    [GeneratedRegex(@"<([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_:\-]+)*)>")]
    private static partial Regex Placeholder();

    /// <summary>Subject of the workshop's e-mail, with the finding type and instance.</summary>
    public const string DefaultSubject = "GuardDuty Finding | <SeverityLabel> | <Type> | <InstanceId>";

    /// <summary>What the workshop's e-mails carried, plus the actions taken and links to the finding.</summary>
    public const string DefaultMessage =
        "GuardDuty Finding | ID: <Id>: The EC2 instance <InstanceId> may be compromised and should be investigated.\n" +
        "\n" +
        "Type:            <Type>\n" +
        "Severity:        <SeverityLabel> (<Severity>)\n" +
        "Title:           <Title>\n" +
        "Account/Region:  <AccountId> / <Region>\n" +
        "Instance:        <InstanceId> (VPC <VpcId>, private IP <PrivateIpAddress>)\n" +
        "Remote IP:       <RemoteIpAddress> <RemoteCountry> <RemoteOrganization>\n" +
        "Threat list:     <ThreatListName>\n" +
        "First/last seen: <FirstSeen> / <LastSeen> (count <Count>)\n" +
        "\n" +
        "Actions taken:\n<ActionsTaken>\n" +
        "\n" +
        "Finding in the GuardDuty console: <ConsoleUrl>\n" +
        "Instance in the EC2 console:      <InstanceConsoleUrl>\n";

    public static string Render(string template, Func<string, object?> lookup) =>
        Placeholder().Replace(template, m => Format(Resolve(m.Groups[1].Value, lookup)));

    /// <summary>The property names a template uses, for validation and help.</summary>
    public static IReadOnlyList<string> Placeholders(string template) =>
        Placeholder().Matches(template).Select(m => m.Groups[1].Value).Distinct().ToList();

    private static object? Resolve(string path, Func<string, object?> lookup)
    {
        var parts = path.Split('.');
        var value = lookup(parts[0]);
        foreach (var part in parts.Skip(1))
        {
            value = value switch
            {
                null => null,
                IDictionary dictionary => dictionary.Contains(part) ? dictionary[part] : null,
                _ => value.GetType().GetProperty(part)?.GetValue(value),
            };
        }
        return value;
    }

    private static string Format(object? value) => value switch
    {
        null => "",
        string s => s,
        DateTime t => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture),
        double d => d.ToString("0.0##", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        // A part of the finding (<Detail.service.action>) renders as its JSON, as an input transformer renders an
        // object path, never as a .NET type name.
        IDictionary dictionary => Json(dictionary),
        IEnumerable sequence when sequence.Cast<object?>().Any(i => i is IDictionary or (IEnumerable and not string)) => Json(sequence),
        IEnumerable sequence => string.Join("\n", sequence.Cast<object?>().Select(i => "  - " + Format(i))),
        _ => value.ToString() ?? "",
    };

    private static readonly System.Text.Json.JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static string Json(object value) => System.Text.Json.JsonSerializer.Serialize(Plain(value), s_json);

    // Dictionaries with any key type and nested lists, as plain JSON-shaped values.
    private static object? Plain(object? value) => value switch
    {
        null or string or bool => value,
        DateTime t => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        IDictionary d => d.Keys.Cast<object>().ToDictionary(k => Convert.ToString(k, CultureInfo.InvariantCulture) ?? "", k => Plain(d[k])),
        IEnumerable e => e.Cast<object?>().Select(Plain).ToList(),
        IConvertible c when c.GetTypeCode() is >= TypeCode.SByte and <= TypeCode.Decimal => c,
        _ => value.ToString(),
    };

    /// <summary>A subject SNS accepts: one line of printable text, fewer than 100 characters.</summary>
    public static string SafeSubject(string subject)
    {
        var clean = new StringBuilder(subject.Length);
        foreach (var c in subject) clean.Append(char.IsControl(c) ? ' ' : c);
        var text = Regex.Replace(clean.ToString(), " {2,}", " ").Trim();
        return text.Length <= Aws.SnsClient.MaxSubjectLength ? text : text[..(Aws.SnsClient.MaxSubjectLength - 3)] + "...";
    }

    /// <summary>Cuts a message to SNS's 256 KB of UTF-8 without splitting a character, saying that it was cut.</summary>
    public static string FitMessage(string message)
    {
        if (Encoding.UTF8.GetByteCount(message) <= Aws.SnsClient.MaxMessageBytes) return message;
        const string marker = "\n[message truncated to fit the SNS 256 KB limit]";
        var budget = Aws.SnsClient.MaxMessageBytes - Encoding.UTF8.GetByteCount(marker);
        var length = Math.Min(message.Length, budget);
        while (Encoding.UTF8.GetByteCount(message.AsSpan(0, length)) > budget) length -= Math.Max(1, (Encoding.UTF8.GetByteCount(message.AsSpan(0, length)) - budget) / 4);
        if (length > 0 && char.IsHighSurrogate(message[length - 1])) length--;
        return message[..length] + marker;
    }

    /// <summary>GuardDuty console link to one finding.</summary>
    public static string FindingConsoleUrl(string region, string findingId) =>
        $"https://{region}.console.aws.amazon.com/guardduty/home?region={region}#/findings?macros=current&fId={Uri.EscapeDataString(findingId)}";

    public static string InstanceConsoleUrl(string region, string instanceId) =>
        $"https://{region}.console.aws.amazon.com/ec2/home?region={region}#InstanceDetails:instanceId={Uri.EscapeDataString(instanceId)}";
}
