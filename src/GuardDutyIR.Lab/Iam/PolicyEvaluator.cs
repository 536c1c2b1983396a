using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Lab.Iam;

/// <summary>What the Lab knows of a request when it evaluates conditions: the time and the session's issue time.</summary>
public sealed record PolicyRequestContext(DateTimeOffset CurrentTime, DateTimeOffset? TokenIssueTime);

/// <summary>
/// The part of IAM policy evaluation the Lab needs: checking a document's grammar when it is written, and finding an
/// explicit Deny that applies to a call. Only statements on every resource ("*") are enforced, since the server does
/// not know a call's resource ARNs; conditions are the date operators on aws:TokenIssueTime and aws:CurrentTime, and a
/// condition on any other key does not match (a key absent from the request context makes the condition false:
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
/// </summary>
public static class PolicyEvaluator
{
    /// <summary>Null when the document is a valid identity policy, else the MalformedPolicyDocument message IAM gives.</summary>
    public static string? Validate(string document) => Validate(document, trustPolicy: false);

    /// <summary>
    /// A role's trust policy is the other way round: each statement names who may assume the role (a Principal) and
    /// carries no Resource (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html).
    /// </summary>
    public static string? ValidateTrustPolicy(string document) => Validate(document, trustPolicy: true);

    private static string? Validate(string document, bool trustPolicy)
    {
        JsonDocument json;
        try { json = JsonDocument.Parse(document); }
        catch (JsonException) { return "Syntax errors in policy."; }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return "Syntax errors in policy.";
            if (root.TryGetProperty("Version", out var v) && v.GetString() is not ("2012-10-17" or "2008-10-17"))
                return "The policy failed legacy parsing";
            if (!root.TryGetProperty("Statement", out var st) || st.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
                return "Syntax errors in policy.";
            foreach (var s in Statements(st))
            {
                if (s.ValueKind != JsonValueKind.Object) return "Syntax errors in policy.";
                if (!s.TryGetProperty("Effect", out var effect) || effect.GetString() is not ("Allow" or "Deny"))
                    return "Syntax errors in policy.";
                var hasPrincipal = s.TryGetProperty("Principal", out _) || s.TryGetProperty("NotPrincipal", out _);
                if (!trustPolicy && hasPrincipal) return "Policy document should not specify a principal.";
                if (trustPolicy && !hasPrincipal) return "Missing required field Principal";
                if (!s.TryGetProperty("Action", out _) && !s.TryGetProperty("NotAction", out _))
                    return "Policy statement must contain actions.";
                if (trustPolicy && (s.TryGetProperty("Resource", out _) || s.TryGetProperty("NotResource", out _)))
                    return "Has prohibited field Resource";
                if (!trustPolicy && !s.TryGetProperty("Resource", out _) && !s.TryGetProperty("NotResource", out _))
                    return "Policy statement must contain resources.";
            }
        }
        return null;
    }

    /// <summary>True when a Deny statement on every resource matches the action and all its conditions hold.</summary>
    public static bool ExplicitlyDenies(string document, string action, PolicyRequestContext context) =>
        AnyStatement(document, "Deny", s =>
            s.TryGetProperty("Resource", out var resource) && Strings(resource).Contains("*")
            && ActionMatches(s, action)
            && (!s.TryGetProperty("Condition", out var condition) || ConditionsHold(condition, context)));

    /// <summary>
    /// True when an Allow statement (without conditions) grants the action on some resource: enough for the Lab to
    /// decide what an instance's agent can do, not a full evaluation.
    /// </summary>
    public static bool Allows(string document, string action) =>
        AnyStatement(document, "Allow", s => !s.TryGetProperty("Condition", out _) && ActionMatches(s, action));

    private static bool ActionMatches(JsonElement statement, string action) =>
        statement.TryGetProperty("Action", out var a) ? Strings(a).Any(p => Matches(p, action))
            : statement.TryGetProperty("NotAction", out var na) && !Strings(na).Any(p => Matches(p, action));

    // A document that does not parse matches nothing (IAM would have refused it when it was put).
    private static bool AnyStatement(string document, string effect, Func<JsonElement, bool> matches)
    {
        JsonDocument json;
        try { json = JsonDocument.Parse(document); }
        catch (JsonException) { return false; }
        using (json)
        {
            if (json.RootElement.ValueKind != JsonValueKind.Object || !json.RootElement.TryGetProperty("Statement", out var st)) return false;
            return Statements(st).Any(s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty("Effect", out var e) && e.GetString() == effect && matches(s));
        }
    }

    private static IEnumerable<JsonElement> Statements(JsonElement st) =>
        st.ValueKind == JsonValueKind.Array ? st.EnumerateArray().ToArray() : new[] { st };

    private static List<string> Strings(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => new List<string> { e.GetString()! },
        JsonValueKind.Array => e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList(),
        _ => new List<string>(),
    };

    /// <summary>IAM action patterns: case-insensitive, * and ? wildcards.</summary>
    private static bool Matches(string pattern, string action) =>
        Regex.IsMatch(action, "^" + Regex.Escape(pattern).Replace("\\*", ".*").Replace("\\?", ".") + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    private static bool ConditionsHold(JsonElement condition, PolicyRequestContext context)
    {
        if (condition.ValueKind != JsonValueKind.Object) return false;
        foreach (var op in condition.EnumerateObject())
        {
            if (op.Value.ValueKind != JsonValueKind.Object) return false;
            foreach (var key in op.Value.EnumerateObject())
            {
                DateTimeOffset? actual = key.Name.ToLowerInvariant() switch
                {
                    "aws:tokenissuetime" => context.TokenIssueTime,
                    "aws:currenttime" => context.CurrentTime,
                    _ => null,
                };
                if (actual is null) return false;
                // Several values for one key are ORed.
                bool any = false;
                foreach (var text in Strings(key.Value))
                {
                    if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var expected)) continue;
                    any |= op.Name switch
                    {
                        "DateLessThan" => actual < expected,
                        "DateLessThanEquals" => actual <= expected,
                        "DateGreaterThan" => actual > expected,
                        "DateGreaterThanEquals" => actual >= expected,
                        "DateEquals" => actual == expected,
                        "DateNotEquals" => actual != expected,
                        _ => false,
                    };
                }
                if (!any) return false;
            }
        }
        return true;
    }
}
