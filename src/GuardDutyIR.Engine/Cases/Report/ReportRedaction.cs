using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Engine.Cases.Report;

/// <summary>
/// Keeps secrets out of a report, which is mailed and attached to tickets. CloudTrail records credentials in some
/// responses (AssumeRole and GetSessionToken return a secret access key and a session token), and a query of
/// <c>responseelements</c> brings them along; a value under a secret-sounding name, or that looks like an STS session
/// token, is shown as "(redacted)". Access key IDs are identifiers, not secrets, and stay.
/// </summary>
public static partial class ReportRedaction
{
    public const string Redacted = "(redacted)";

    // A column, JSON property or k=v key that names a secret.
    [GeneratedRegex(@"^(secret(access)?key|sessiontoken|securitytoken|password|passwd|secretstring|secretbinary|privatekey|clientsecret|credentials?)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretName();

    // "name":"value", name=value and name: value forms inside text (CloudTrail Lake renders maps as {k=v, ...}).
    [GeneratedRegex(@"(?<name>""?\b(?:secret(?:Access)?Key|sessionToken|securityToken|password|secretString|privateKey|clientSecret)""?\s*[:=]\s*""?)(?<value>[^"",}\s]+)",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretPair();

    // STS session tokens: base64 of a protobuf that starts "\x21\n\tregion" (IQoJb3JpZ2lu...) or of the older form (FwoGZXIvYXdz...).
    [GeneratedRegex(@"\b(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9+/=]{8,}", RegexOptions.CultureInvariant)]
    private static partial Regex SessionToken();

    public static bool IsSecretName(string name) => SecretName().IsMatch(name.Trim());

    /// <summary>A cell: all of it when its column names a secret, else the secrets inside its text.</summary>
    public static object? Cell(string column, object? value) =>
        value is null ? null
        : IsSecretName(LastPart(column)) ? Redacted
        : value is string s ? Text(s)
        : value;

    /// <summary>Secrets inside text: name/value pairs and session tokens.</summary>
    public static string Text(string text)
    {
        var redacted = SecretPair().Replace(text, m => m.Groups["name"].Value + Redacted);
        return SessionToken().Replace(redacted, Redacted);
    }

    /// <summary>A copy of JSON with every secret-named property's value and every secret in a string redacted.</summary>
    public static JsonNode? Json(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key,
            IsSecretName(p.Key) && p.Value is not null ? (JsonNode?)JsonValue.Create(Redacted) : Json(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Json).ToArray()),
        JsonValue v when v.TryGetValue<string>(out var s) => JsonValue.Create(Text(s)),
        _ => node.DeepClone(),
    };

    // useridentity.sessioncontext.sessionToken style column names: the last part names the value.
    private static string LastPart(string column) => column[(column.LastIndexOf('.') + 1)..];
}
