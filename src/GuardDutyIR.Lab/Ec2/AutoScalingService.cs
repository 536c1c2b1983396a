using System.Xml.Linq;
using GuardDutyIR.Lab.Core;
using GuardDutyIR.Lab.Core.Model;

namespace GuardDutyIR.Lab.Ec2;

/// <summary>An Auto Scaling group as the Lab holds it.</summary>
internal sealed class AutoScalingGroup
{
    public required string AccountId { get; init; }
    public required string Name { get; init; }
    public required string LaunchTemplateId { get; init; }
    public required string LaunchTemplateName { get; init; }
    public int Min { get; set; }
    public int Max { get; set; }
    public int Desired { get; set; }
    public required List<string> Zones { get; init; }
    public required List<string> Subnets { get; init; }
    public DateTimeOffset Created { get; init; }
    /// <summary>InstanceId → lifecycle state (InService, Standby).</summary>
    public Dictionary<string, string> Instances { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// EC2 Auto Scaling (awsQuery, .member.N lists, Result wrapper): enough to take an instance out of its group before
/// containment (EnterStandby / DetachInstances) and to put it back.
/// </summary>
public sealed class AutoScalingService : ILabService, IModeledService
{
    private const string Ns = ProtocolErrors.AutoScalingNamespace;
    private static readonly ServiceModel s_model = ServiceModel.For("autoscaling");
    private readonly LabContext _ctx;
    private readonly object _gate = new();
    private readonly Dictionary<string, AutoScalingGroup> _groups = new(StringComparer.Ordinal);
    private Random _ids;

    private readonly Dictionary<string, Func<LabRequest, LabResponse>> _handlers;

    public AutoScalingService(LabContext context)
    {
        _ctx = context;
        _ids = new Random(context.Options.Seed ^ 0xA5C);
        _handlers = new(StringComparer.Ordinal)
        {
            ["DescribeAutoScalingInstances"] = DescribeAutoScalingInstances,
            ["DescribeAutoScalingGroups"] = DescribeAutoScalingGroups,
            ["EnterStandby"] = EnterStandby,
            ["ExitStandby"] = ExitStandby,
            ["DetachInstances"] = DetachInstances,
            ["AttachInstances"] = AttachInstances,
        };
    }

    public string SigningName => "autoscaling";

    public IReadOnlyCollection<string> Operations => _handlers.Keys;

    /// <summary>Puts a group in place (the scenario's groups, before the Lab serves).</summary>
    internal void Add(AutoScalingGroup group)
    {
        lock (_gate) _groups[group.Name] = group;
    }

    /// <summary>An instance's group and lifecycle state, as the Lab holds them (null when it is in no group).</summary>
    public (string Group, string LifecycleState)? MembershipOf(string instanceId)
    {
        lock (_gate)
            return _groups.Values.FirstOrDefault(g => g.Instances.ContainsKey(instanceId)) is { } g ? (g.Name, g.Instances[instanceId]) : null;
    }

    public Task<LabResponse> HandleAsync(LabRequest request, CancellationToken cancellationToken)
    {
        var action = request.Form["Action"] ?? "";
        request.Action = action;
        if (!_handlers.TryGetValue(action, out var handler))
            return Task.FromResult(ProtocolErrors.Query(400, "Sender", "InvalidAction", $"Could not find operation {action} for version 2011-01-01", request.RequestId, Ns));
        // As EC2 does: an action the test denied answers AccessDenied, the awsQuery form of an IAM refusal.
        if (_ctx.IsDenied("autoscaling", action))
            return Task.FromResult(ProtocolErrors.Query(403, "Sender", "AccessDenied",
                LabContext.DenialMessage(request.Principal?.Arn, "autoscaling", action),
                request.RequestId, Ns));
        // Like the other Coral query services, Auto Scaling reports every broken model constraint in one ValidationError.
        if (s_model.ValidateForm(action, request.Form) is { Count: > 0 } violations)
            return Task.FromResult(ProtocolErrors.Query(400, "Sender", "ValidationError", ModelViolation.Summary(violations), request.RequestId, Ns));
        try
        {
            lock (_gate) return Task.FromResult(handler(request));
        }
        catch (Ec2Exception ex)
        {
            return Task.FromResult(ProtocolErrors.Query(ex.Status, "Sender", ex.Code, ex.Message, request.RequestId, Ns));
        }
    }

    private static Exception Validation(string message) => new Ec2Exception("ValidationError", message);

    /// <summary>The group named by AutoScalingGroupName, which the model check has already required.</summary>
    private AutoScalingGroup GetGroup(LabRequest r, string? name)
    {
        if (name is null || !_groups.TryGetValue(name, out var g) || g.AccountId != r.AccountId) throw Validation($"AutoScalingGroup name not found - no such group: {name}");
        return g;
    }

    private XElement LaunchTemplate(AutoScalingGroup g) =>
        new("LaunchTemplate", new XElement("LaunchTemplateId", g.LaunchTemplateId), new XElement("LaunchTemplateName", g.LaunchTemplateName), new XElement("Version", "$Default"));

    private XElement InstanceXml(AutoScalingGroup g, string instanceId, bool withGroupName)
    {
        var facts = _ctx.GetService<Ec2Service>()?.InstanceFacts(instanceId);
        return new XElement("member",
            new XElement("InstanceId", instanceId),
            new XElement("InstanceType", facts?.Type ?? "t3.micro"),
            withGroupName ? new XElement("AutoScalingGroupName", g.Name) : null,
            new XElement("AvailabilityZone", facts?.Az ?? g.Zones.FirstOrDefault()),
            new XElement("LifecycleState", g.Instances[instanceId]),
            new XElement("HealthStatus", withGroupName ? "HEALTHY" : "Healthy"),
            LaunchTemplate(g),
            new XElement("ProtectedFromScaleIn", "false"));
    }

    private LabResponse DescribeAutoScalingInstances(LabRequest r)
    {
        var ids = QueryXml.MemberList(r.Form, "InstanceIds");
        var rows = _groups.Values.Where(g => g.AccountId == r.AccountId)
            .SelectMany(g => g.Instances.Keys.Select(i => (Group: g, Id: i)))
            .Where(x => ids.Count == 0 || ids.Contains(x.Id))
            .OrderBy(x => x.Id, StringComparer.Ordinal).ToList();
        // "The default value is 50 and the maximum value is 50" (DescribeAutoScalingInstances MaxRecords).
        var (page, next) = Page(rows, r.Form["MaxRecords"], r.Form["NextToken"], 50, 50);
        var result = new List<XElement> { new("AutoScalingInstances", page.Select(x => InstanceXml(x.Group, x.Id, true))) };
        if (next is not null) result.Add(new XElement("NextToken", next));
        return QueryXml.Success("DescribeAutoScalingInstances", Ns, r.RequestId, result);
    }

    private LabResponse DescribeAutoScalingGroups(LabRequest r)
    {
        var names = QueryXml.MemberList(r.Form, "AutoScalingGroupNames");
        IEnumerable<AutoScalingGroup> groups = _groups.Values.Where(g => g.AccountId == r.AccountId && (names.Count == 0 || names.Contains(g.Name)));
        for (int f = 1; r.Form[$"Filters.member.{f}.Name"] is { } fname; f++)
        {
            var values = QueryXml.MemberList(r.Form, $"Filters.member.{f}.Values");
            groups = fname switch
            {
                "tag-key" => groups.Where(_ => false),
                "tag-value" => groups.Where(_ => false),
                var t when t.StartsWith("tag:", StringComparison.Ordinal) => groups.Where(_ => false),
                _ => throw Validation($"Filter name {fname} is invalid"),
            };
            _ = values;
        }
        var list = groups.OrderBy(g => g.Name, StringComparer.Ordinal).ToList();
        // "The default value is 50 and the maximum value is 100" (DescribeAutoScalingGroups MaxRecords).
        var (page, next) = Page(list, r.Form["MaxRecords"], r.Form["NextToken"], 50, 100);
        var result = new List<XElement>
        {
            new("AutoScalingGroups", page.Select(g => new XElement("member",
                new XElement("AutoScalingGroupName", g.Name),
                new XElement("AutoScalingGroupARN", $"arn:aws:autoscaling:{_ctx.Region}:{g.AccountId}:autoScalingGroup:{Uuid(g.Name)}:autoScalingGroupName/{g.Name}"),
                LaunchTemplate(g),
                new XElement("MinSize", g.Min),
                new XElement("MaxSize", g.Max),
                new XElement("DesiredCapacity", g.Desired),
                new XElement("DefaultCooldown", 300),
                new XElement("AvailabilityZones", g.Zones.Select(z => new XElement("member", z))),
                new XElement("LoadBalancerNames"),
                new XElement("TargetGroupARNs"),
                new XElement("HealthCheckType", "EC2"),
                new XElement("HealthCheckGracePeriod", 300),
                new XElement("Instances", g.Instances.Keys.OrderBy(i => i, StringComparer.Ordinal).Select(i => InstanceXml(g, i, false))),
                new XElement("CreatedTime", QueryXml.IsoMillis(g.Created)),
                new XElement("SuspendedProcesses"),
                new XElement("VPCZoneIdentifier", string.Join(",", g.Subnets)),
                new XElement("EnabledMetrics"),
                new XElement("Tags"),
                new XElement("TerminationPolicies", new XElement("member", "Default")),
                new XElement("NewInstancesProtectedFromScaleIn", "false"),
                new XElement("ServiceLinkedRoleARN", $"arn:aws:iam::{g.AccountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")))),
        };
        if (next is not null) result.Add(new XElement("NextToken", next));
        return QueryXml.Success("DescribeAutoScalingGroups", Ns, r.RequestId, result);
    }

    private static string Uuid(string name)
    {
        var h = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name))).ToLowerInvariant();
        return $"{h[..8]}-{h[8..12]}-{h[12..16]}-{h[16..20]}-{h[20..32]}";
    }

    private List<string> InstanceIds(LabRequest r)
    {
        var ids = QueryXml.MemberList(r.Form, "InstanceIds");
        if (ids.Count == 0) throw Validation("The request must contain the parameter InstanceIds");
        return ids;
    }

    /// <summary>ShouldDecrementDesiredCapacity, which the model requires of EnterStandby and DetachInstances.</summary>
    private static bool ParseDecrement(LabRequest r) =>
        string.Equals(r.Form["ShouldDecrementDesiredCapacity"], "true", StringComparison.OrdinalIgnoreCase);

    private LabResponse EnterStandby(LabRequest r)
    {
        var g = GetGroup(r, r.Form["AutoScalingGroupName"]);
        var ids = InstanceIds(r);
        var decrement = ParseDecrement(r);
        foreach (var id in ids)
        {
            if (!g.Instances.TryGetValue(id, out var state)) throw Validation($"The instance {id} is not part of Auto Scaling group {g.Name}.");
            if (state != "InService") throw Validation($"The instance {id} is not in InService.");
        }
        if (decrement && g.Desired - ids.Count < g.Min)
            throw Validation($"Cannot decrement desired capacity below the minimum size of {g.Min} for group {g.Name}.");
        foreach (var id in ids) g.Instances[id] = "Standby";
        if (decrement) g.Desired -= ids.Count;
        return Activities(r, "EnterStandby", g, ids.Select(id => $"Moving EC2 instance to Standby: {id}"),
            decrement ? "the desired capacity was decremented" : "the desired capacity was not decremented (a replacement would launch on AWS)");
    }

    private LabResponse ExitStandby(LabRequest r)
    {
        var g = GetGroup(r, r.Form["AutoScalingGroupName"]);
        var ids = InstanceIds(r);
        foreach (var id in ids)
        {
            if (!g.Instances.TryGetValue(id, out var state)) throw Validation($"The instance {id} is not part of Auto Scaling group {g.Name}.");
            if (state != "Standby") throw Validation($"The instance {id} is not in Standby.");
        }
        if (g.Desired + ids.Count > g.Max)
            throw Validation($"Cannot increment desired capacity above the maximum size of {g.Max} for group {g.Name}.");
        foreach (var id in ids) g.Instances[id] = "InService";
        g.Desired += ids.Count;
        return Activities(r, "ExitStandby", g, ids.Select(id => $"Moving EC2 instance out of Standby: {id}"), "the desired capacity was incremented");
    }

    private LabResponse DetachInstances(LabRequest r)
    {
        var g = GetGroup(r, r.Form["AutoScalingGroupName"]);
        var ids = InstanceIds(r);
        var decrement = ParseDecrement(r);
        foreach (var id in ids)
            if (!g.Instances.ContainsKey(id)) throw Validation($"The instance {id} is not part of Auto Scaling group {g.Name}.");
        if (decrement && g.Desired - ids.Count(id => g.Instances[id] == "InService") < g.Min)
            throw Validation($"Cannot decrement desired capacity below the minimum size of {g.Min} for group {g.Name}.");
        foreach (var id in ids)
        {
            if (decrement && g.Instances[id] == "InService") g.Desired--;
            g.Instances.Remove(id);
        }
        return Activities(r, "DetachInstances", g, ids.Select(id => $"Detaching EC2 instance: {id}"), "an instance was detached");
    }

    private LabResponse AttachInstances(LabRequest r)
    {
        var g = GetGroup(r, r.Form["AutoScalingGroupName"]);
        var ids = QueryXml.MemberList(r.Form, "InstanceIds");
        var ec2 = _ctx.GetService<Ec2Service>();
        foreach (var id in ids)
        {
            if (ec2 is not null && !ec2.InstanceExists(r.AccountId, id)) throw Validation($"Instance {id} is not in a valid state or does not exist.");
            if (_groups.Values.Any(o => o.Instances.ContainsKey(id))) throw Validation($"The instance {id} is already part of an Auto Scaling group.");
        }
        if (g.Desired + ids.Count > g.Max)
            throw Validation($"Cannot attach: the desired capacity would exceed the maximum size of {g.Max} for group {g.Name}.");
        foreach (var id in ids) g.Instances[id] = "InService";
        g.Desired += ids.Count;
        return QueryXml.Success("AttachInstances", Ns, r.RequestId, null, withResultWrapper: false);
    }

    private LabResponse Activities(LabRequest r, string action, AutoScalingGroup g, IEnumerable<string> descriptions, string cause)
    {
        var now = _ctx.Clock.GetUtcNow();
        var items = descriptions.Select(d => new XElement("member",
            new XElement("ActivityId", NewUuid()),
            new XElement("AutoScalingGroupName", g.Name),
            new XElement("Description", d),
            new XElement("Cause", $"At {now.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'} {cause}."),
            new XElement("StartTime", QueryXml.IsoMillis(now)),
            new XElement("StatusCode", "InProgress"),
            new XElement("Progress", 50),
            new XElement("Details", "{\"Subnet ID\":\"" + g.Subnets.FirstOrDefault() + "\"}"))).ToList();
        return QueryXml.Success(action, Ns, r.RequestId, new[] { new XElement("Activities", items) });
    }

    private string NewUuid()
    {
        var b = new byte[16];
        _ids.NextBytes(b);
        return new Guid(b).ToString();
    }

    /// <summary>
    /// One page. The model sets no bound on MaxRecords (and has already checked it is an integer), so no value is
    /// refused: the documented maximum caps the page, and a value below 1 gets the default page.
    /// </summary>
    private static (List<T>, string?) Page<T>(List<T> items, string? maxText, string? token, int defaultSize, int largest)
    {
        int max = maxText is not null && int.TryParse(maxText, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var m) && m > 0
            ? Math.Min(m, largest) : defaultSize;
        int offset = 0;
        if (!string.IsNullOrEmpty(token) && (!int.TryParse(token, out offset) || offset < 0)) throw new Ec2Exception("InvalidNextToken", "The token is invalid.");
        var page = items.Skip(offset).Take(max).ToList();
        return (page, offset + page.Count < items.Count ? (offset + page.Count).ToString(System.Globalization.CultureInfo.InvariantCulture) : null);
    }
}
