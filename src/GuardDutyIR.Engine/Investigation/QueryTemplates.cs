using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>One parameter of a query template, with the check its value must pass before it is embedded.</summary>
public sealed record TemplateParameter(string Name, string Description, TemplateValueKind Kind, bool Required = true);

public enum TemplateValueKind
{
    InstanceId,
    AccountId,
    Arn,
    IpAddressList,
    Text,
}

/// <summary>A named CloudTrail query in Lake SQL, with validated parameters.</summary>
public sealed record QueryTemplate(string Name, string Description, string Sql, IReadOnlyList<TemplateParameter> Parameters)
{
    public IEnumerable<string> ParameterNames => Parameters.Select(p => p.Name);

    /// <summary>The parameters as a usage line shows them: optional ones in brackets.</summary>
    public string[] ParameterUsage => Parameters.Select(p => p.Required ? p.Name : $"[{p.Name}]").ToArray();
}

/// <summary>
/// The workshop's five queries and the other questions a responder asks of CloudTrail. Parameter values are
/// validated against their kind and embedded as escaped literals, so no value can change a query's structure.
/// Every template is bounded by a time window (<c>{TimeFilter}</c>), which keeps Lake and Athena scans cheap.
/// </summary>
public static partial class QueryTemplates
{
    private const string TimeFilter = "{TimeFilter}";

    private static readonly TemplateParameter Instance = new("InstanceId", "The EC2 instance whose role credentials made the calls (i-...).", TemplateValueKind.InstanceId);

    public static IReadOnlyList<QueryTemplate> All { get; } = new[]
    {
        new QueryTemplate("InstancesListingBuckets",
            "Workshop query 1: EC2 instances whose role called s3:ListBuckets.",
            """
            select useridentity.principalid, eventsource, eventname, count(*) as total
            from EDS_ID
            where useridentity.principalid like '%:i-%'
            and eventsource = 's3.amazonaws.com'
            and eventname = 'ListBuckets'
            {TimeFilter}
            group by useridentity.principalid, eventsource, eventname
            order by total desc
            """, Array.Empty<TemplateParameter>()),
        new QueryTemplate("InstanceActivity",
            "Workshop query 2: every API call made with the instance's role credentials, by event name.",
            """
            select eventname, count(*) as total
            from EDS_ID
            where useridentity.principalid like {InstanceIdSuffix}
            {TimeFilter}
            group by eventname
            order by total desc
            """, new[] { Instance }),
        new QueryTemplate("InstanceReadOnlyCalls",
            "Workshop query 3: the instance role's read-only calls (reconnaissance).",
            """
            select useridentity.principalid, eventsource, eventname, count(*) as total
            from EDS_ID
            where useridentity.principalid like {InstanceIdSuffix}
            and readonly=true
            {TimeFilter}
            group by useridentity.principalid, eventsource, eventname
            order by total desc
            """, new[] { Instance }),
        new QueryTemplate("InstanceS3Uploads",
            "Workshop query 4: the instance role's S3 PutObject calls, with bucket and key as columns.",
            """
            select useridentity.principalid, eventname, eventsource, element_at(requestparameters, 'bucketName') as bucket,
                   element_at(requestparameters, 'key') as key, eventtime, sourceipaddress
            from EDS_ID
            where useridentity.principalid like {InstanceIdSuffix}
            and eventsource = 's3.amazonaws.com'
            and eventname = 'PutObject'
            {TimeFilter}
            order by eventtime
            """, new[] { Instance }),
        new QueryTemplate("InstanceActivitySummary",
            "Workshop query 5: the instance role's calls by event name, service and region.",
            """
            select eventname, count(*) as total, eventsource, awsregion
            from EDS_ID
            where useridentity.principalid like {InstanceIdSuffix}
            {TimeFilter}
            group by eventname, eventsource, awsregion
            order by total desc
            """, new[] { Instance }),
        new QueryTemplate("InstanceCredentialExfiltration",
            "Calls made with the instance's role credentials from an address that is not the instance's (stolen credentials used elsewhere).",
            """
            select sourceipaddress, useridentity.accesskeyid, eventsource, eventname, awsregion, count(*) as total,
                   min(eventtime) as firstseen, max(eventtime) as lastseen
            from EDS_ID
            where useridentity.principalid like {InstanceIdSuffix}
            and sourceipaddress not like '%.amazonaws.com'
            and sourceipaddress not like 'AWS Internal'
            {KnownIpFilter}
            {TimeFilter}
            group by sourceipaddress, useridentity.accesskeyid, eventsource, eventname, awsregion
            order by total desc
            """, new[] { Instance, new TemplateParameter("KnownIp", "The instance's own addresses (public, Elastic and NAT IPs), which are left out.", TemplateValueKind.IpAddressList, Required: false) }),
        new QueryTemplate("InstanceCredentialsUsedElsewhere",
            "Every call made with the instance's role session (any role it held, any region) from an address that is not the instance's own and not an AWS service: stolen credentials at work, call by call, refused ones included.",
            """
            select eventtime, sourceipaddress, useridentity.arn, useridentity.accesskeyid, eventsource, eventname, awsregion,
                   errorcode, useragent
            from EDS_ID
            where (useridentity.principalid like {InstanceIdSuffix} or useridentity.arn like {InstanceIdSessionSuffix})
            and sourceipaddress not like '%.amazonaws.com'
            and sourceipaddress <> 'AWS Internal'
            {InstanceIpFilter}
            {TimeFilter}
            order by eventtime
            """, new[] { Instance, new TemplateParameter("InstanceIp", "The instance's own addresses (private, public, Elastic and NAT IPs), which are left out.", TemplateValueKind.IpAddressList, Required: false) }),
        new QueryTemplate("InstanceCredentialS3Objects",
            "The S3 objects read or written with the instance's role session, with bucket and key (S3 data events: only where a trail or event data store records them).",
            """
            select eventtime, eventname, element_at(requestparameters, 'bucketName') as bucket, element_at(requestparameters, 'key') as key,
                   sourceipaddress, useridentity.accesskeyid, awsregion, errorcode
            from EDS_ID
            where useridentity.principalid like {InstanceIdSuffix}
            and eventsource = 's3.amazonaws.com'
            and eventname in ('GetObject', 'PutObject', 'CopyObject', 'CompleteMultipartUpload', 'DeleteObject')
            {TimeFilter}
            order by eventtime
            """, new[] { Instance }),
        new QueryTemplate("NetworkChanges",
            "Security group and network ACL changes.",
            """
            select eventtime, useridentity.arn, eventname, awsregion, sourceipaddress, element_at(requestparameters, 'groupId') as groupid,
                   element_at(requestparameters, 'networkAclId') as networkaclid, errorcode
            from EDS_ID
            where eventsource = 'ec2.amazonaws.com'
            and eventname in ('AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress', 'RevokeSecurityGroupIngress',
                              'RevokeSecurityGroupEgress', 'CreateSecurityGroup', 'DeleteSecurityGroup', 'ModifySecurityGroupRules',
                              'CreateNetworkAcl', 'CreateNetworkAclEntry', 'DeleteNetworkAcl', 'DeleteNetworkAclEntry',
                              'ReplaceNetworkAclEntry', 'ReplaceNetworkAclAssociation', 'ModifyNetworkInterfaceAttribute')
            {TimeFilter}
            order by eventtime
            """, Array.Empty<TemplateParameter>()),
        new QueryTemplate("IamChanges",
            "Changes to IAM: users, roles, policies, access keys, login profiles.",
            """
            select eventtime, useridentity.arn, eventname, sourceipaddress, errorcode,
                   element_at(requestparameters, 'userName') as username, element_at(requestparameters, 'roleName') as rolename,
                   element_at(requestparameters, 'policyArn') as policyarn
            from EDS_ID
            where eventsource = 'iam.amazonaws.com'
            and readonly = false
            {TimeFilter}
            order by eventtime
            """, Array.Empty<TemplateParameter>()),
        new QueryTemplate("ConsoleLoginsWithoutMfa",
            "Console sign-ins that did not use MFA.",
            """
            select eventtime, useridentity.arn, useridentity.type, sourceipaddress, useragent,
                   element_at(responseelements, 'ConsoleLogin') as result
            from EDS_ID
            where eventname = 'ConsoleLogin'
            and element_at(additionaleventdata, 'MFAUsed') = 'No'
            {TimeFilter}
            order by eventtime
            """, Array.Empty<TemplateParameter>()),
    };

    public static QueryTemplate Get(string name) =>
        All.FirstOrDefault(t => t.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new GuardDutyIRException("UnknownQueryTemplate", ErrorKind.InvalidArgument,
            $"No query template named '{name}'. Templates: {string.Join(", ", All.Select(t => t.Name))}.", name);

    [GeneratedRegex(@"^i-([0-9a-f]{8}|[0-9a-f]{17})\z")]
    private static partial Regex InstanceIdPattern();

    [GeneratedRegex(@"^[0-9]{12}\z")]
    private static partial Regex AccountIdPattern();

    [GeneratedRegex(@"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:[A-Za-z0-9_+=,.@:/-]+\z")]
    private static partial Regex ArnPattern();

    /// <summary>
    /// The template's Lake SQL with every parameter validated and embedded as a literal, and the time window
    /// as timestamp bounds. Unknown parameters and missing required ones are errors: nothing is guessed.
    /// </summary>
    public static string Render(QueryTemplate template, IReadOnlyDictionary<string, object?> parameters, DateTime? since, DateTime? until)
    {
        foreach (var name in parameters.Keys)
            if (!template.Parameters.Any(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
                throw new GuardDutyIRException("UnknownTemplateParameter", ErrorKind.InvalidArgument,
                    $"Template {template.Name} has no parameter '{name}'. Its parameters: {(template.Parameters.Count == 0 ? "none" : string.Join(", ", template.ParameterNames))}.", name);
        if (since is { } s && until is { } u && s > u)
            throw new GuardDutyIRException("InvalidTimeWindow", ErrorKind.InvalidArgument, $"-Since ({s:o}) is after -Until ({u:o}).", since);

        var sql = template.Sql;
        foreach (var p in template.Parameters)
        {
            var value = parameters.FirstOrDefault(kv => kv.Key.Equals(p.Name, StringComparison.OrdinalIgnoreCase)).Value;
            if (value is null && p.Required)
                throw new GuardDutyIRException("MissingTemplateParameter", ErrorKind.InvalidArgument,
                    $"Template {template.Name} needs -Parameter @{{ {p.Name} = ... }}: {p.Description}", p.Name);
            switch (p.Kind)
            {
                case TemplateValueKind.InstanceId:
                    var id = Validate(value, p, InstanceIdPattern(), "an EC2 instance ID such as i-0abc1234def567890");
                    // The role session name of an instance profile is the instance ID: principalId ends with ":i-...".
                    sql = sql.Replace("{" + p.Name + "Suffix}", SqlTokenizer.Literal("%:" + id));
                    // ... and the session ARN (arn:aws:sts::<account>:assumed-role/<role>/<instance id>) ends with "/i-...".
                    sql = sql.Replace("{" + p.Name + "SessionSuffix}", SqlTokenizer.Literal("%/" + id));
                    sql = sql.Replace("{" + p.Name + "}", SqlTokenizer.Literal(id));
                    break;
                case TemplateValueKind.AccountId:
                    sql = sql.Replace("{" + p.Name + "}", SqlTokenizer.Literal(Validate(value, p, AccountIdPattern(), "a 12-digit account ID")));
                    break;
                case TemplateValueKind.Arn:
                    sql = sql.Replace("{" + p.Name + "}", SqlTokenizer.Literal(Validate(value, p, ArnPattern(), "an ARN")));
                    break;
                case TemplateValueKind.IpAddressList:
                    var ips = value is null ? new List<string>() : ToList(value).Select(v => ValidateIp(v, p)).ToList();
                    sql = sql.Replace("{" + p.Name + "Filter}", ips.Count == 0 ? "" : $"and sourceipaddress not in ({string.Join(", ", ips.Select(SqlTokenizer.Literal))})");
                    break;
                default:
                    sql = sql.Replace("{" + p.Name + "}", SqlTokenizer.Literal(value?.ToString() ?? ""));
                    break;
            }
        }
        return sql.Replace(TimeFilter, TimeCondition(since, until)).Replace("\n\n", "\n");
    }

    /// <summary>eventtime bounds as Trino timestamp literals (Lake; the translator adapts them for Athena and DuckDB).</summary>
    public static string TimeCondition(DateTime? since, DateTime? until)
    {
        static string Stamp(DateTime t) => "timestamp '" + t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + "'";
        var parts = new List<string>();
        if (since is { } s) parts.Add("and eventtime >= " + Stamp(s));
        if (until is { } u) parts.Add("and eventtime <= " + Stamp(u));
        return string.Join("\n", parts);
    }

    private static string Validate(object? value, TemplateParameter p, Regex pattern, string expected)
    {
        var text = value is IEnumerable<object> many ? throw Bad(p, value, expected + " (one value)") : value?.ToString()?.Trim() ?? "";
        if (!pattern.IsMatch(text)) throw Bad(p, value, expected);
        return text;
    }

    private static string ValidateIp(object? value, TemplateParameter p)
    {
        var text = value?.ToString()?.Trim() ?? "";
        if (!IPAddress.TryParse(text, out var ip) || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && text.Count(c => c == '.') != 3))
            throw Bad(p, value, "IP addresses");
        return ip.ToString();
    }

    private static IEnumerable<object?> ToList(object value) =>
        value is string s ? new[] { s } : value is System.Collections.IEnumerable e ? e.Cast<object?>() : new[] { value };

    private static GuardDutyIRException Bad(TemplateParameter p, object? value, string expected) =>
        new("InvalidTemplateParameter", ErrorKind.InvalidArgument, $"-Parameter {p.Name} must be {expected}; '{value}' is not.", value);
}
