using System.Text.RegularExpressions;
using System.Xml.Linq;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;

namespace GuardDutyIR.Lab.Sts;

/// <summary>STS (awsQuery): GetCallerIdentity and AssumeRole over the Lab's accounts and roles.</summary>
public sealed partial class StsService : ILabService, IModeledService
{
    private readonly LabContext _context;
    private const string Ns = ProtocolErrors.StsNamespace;
    private static readonly ServiceModel s_model = ServiceModel.For("sts");
    private readonly Dictionary<string, Func<LabRequest, LabResponse>> _handlers;

    public StsService(LabContext context)
    {
        _context = context;
        _handlers = new(StringComparer.Ordinal) { ["GetCallerIdentity"] = GetCallerIdentity, ["AssumeRole"] = AssumeRole };
    }

    public string SigningName => "sts";

    public IReadOnlyCollection<string> Operations => _handlers.Keys;

    /// <summary>The roleSessionNameType pattern of the model; its 2-64 length comes from the model table.</summary>
    [GeneratedRegex(@"^[\w+=,.@-]*$")]
    private static partial Regex SessionNamePattern();

    [GeneratedRegex(@"^arn:aws:iam::(\d{12}):role/(.+)$")]
    private static partial Regex RoleArnPattern();

    public Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken)
    {
        var form = request.Form;
        var action = form["Action"] ?? "";
        request.Action = action;
        if (action.Length == 0) return Task.FromResult(Error(request, 400, "MissingAction", "Missing Action"));
        if (!_handlers.TryGetValue(action, out var handler))
            return Task.FromResult(Error(request, 400, "InvalidAction", $"Could not find operation {action} for version 2011-06-15"));
        // STS reports every broken model constraint (required, length, range) in one ValidationError.
        if (s_model.ValidateForm(action, form) is { Count: > 0 } violations)
            return Task.FromResult(Error(request, 400, "ValidationError", ModelViolation.Summary(violations)));
        return Task.FromResult(handler(request));
    }

    private LabResponse GetCallerIdentity(LabRequest request)
    {
        var p = request.Principal!;
        // "No permissions are required to perform this operation", so it is never denied.
        return QueryXml.Success("GetCallerIdentity", Ns, request.RequestId, new[]
        {
            new XElement("UserId", p.UserId),
            new XElement("Account", p.AccountId),
            new XElement("Arn", p.Arn),
        });
    }

    private LabResponse AssumeRole(LabRequest request)
    {
        var form = request.Form;
        var caller = request.Principal!;
        // The model check has required RoleArn and RoleSessionName and bounded every length and DurationSeconds.
        var roleArn = form["RoleArn"]!;
        var sessionName = form["RoleSessionName"]!;
        if (!SessionNamePattern().IsMatch(sessionName))
            return Error(request, 400, "ValidationError",
                $"1 validation error detected: Value '{sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*");
        var duration = form["DurationSeconds"] is { } ds ? int.Parse(ds, System.Globalization.CultureInfo.InvariantCulture) : 3600;
        // Role chaining (a role session assuming a role) is capped at one hour.
        if (caller.Kind == LabPrincipalKind.AssumedRole && duration > 3600)
            return Error(request, 400, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.");
        var externalId = form["ExternalId"];

        var m = RoleArnPattern().Match(roleArn);
        var role = m.Success && _context.Credentials.KnowsAccount(m.Groups[1].Value) ? _context.Credentials.FindRole(roleArn) : null;
        if (!m.Success && !roleArn.StartsWith("arn:", StringComparison.Ordinal))
            return Error(request, 400, "ValidationError", $"{roleArn} is invalid");
        if (role is null || (role.RequiredExternalId is not null && role.RequiredExternalId != externalId) || _context.IsDenied("sts", "AssumeRole"))
            return Error(request, 403, "AccessDenied", $"User: {caller.Arn} is not authorized to perform: sts:AssumeRole on resource: {roleArn}");

        var session = _context.Credentials.IssueSession(role, sessionName, TimeSpan.FromSeconds(duration));
        var sourceIdentity = form["SourceIdentity"];
        var policy = form["Policy"];
        var result = new List<XElement>();
        if (sourceIdentity is not null) result.Add(new XElement("SourceIdentity", sourceIdentity));
        result.Add(new XElement("AssumedRoleUser", new XElement("Arn", session.Arn), new XElement("AssumedRoleId", session.UserId)));
        result.Add(new XElement("Credentials",
            new XElement("AccessKeyId", session.AccessKeyId),
            new XElement("SecretAccessKey", session.SecretAccessKey),
            new XElement("SessionToken", session.SessionToken),
            new XElement("Expiration", QueryXml.Iso(session.Expiration!.Value))));
        // PackedPolicySize is a percentage of the allowed size, present when session policies or tags were passed.
        if (policy is not null || form["PolicyArns.member.1.arn"] is not null || form["Tags.member.1.Key"] is not null)
            result.Add(new XElement("PackedPolicySize", Math.Min(100, 1 + (policy?.Length ?? 0) / 20)));
        return QueryXml.Success("AssumeRole", Ns, request.RequestId, result);
    }

    private static LabResponse Error(LabRequest request, int status, string code, string message) =>
        ProtocolErrors.Query(status, "Sender", code, message, request.RequestId, Ns);
}
