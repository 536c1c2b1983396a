using Amazon.EC2;
using Amazon.EC2.Model;
using GuardDutyIR.Engine.Containment;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Credentials;

/// <summary>
/// Gathers <see cref="ExposureFacts"/> for one instance (EC2 describe, its security groups, user data, SSM, the role's
/// attached and inline policies) and evaluates them. Only reads. SSM or IAM refusing to answer makes that check
/// "Unknown" (a Warn with the reason) rather than failing the whole report.
/// </summary>
public sealed class ExposureCollector
{
    private readonly AwsSession _session;

    public ExposureCollector(AwsSession session) => _session = session;

    /// <summary>Get-InstanceExposure for one instance.</summary>
    public async Task<InstanceExposure> InspectAsync(string instanceId, string? region, string? caseId, string? findingId, CancellationToken ct)
    {
        var resolved = _session.RegionFor(region);
        var facts = await CollectAsync(instanceId, resolved, ct).ConfigureAwait(false);
        return new InstanceExposure
        {
            InstanceId = instanceId, Region = resolved, CaseId = caseId, FindingId = findingId, RoleArn = facts.RoleArn,
            Checks = ExposureRules.Evaluate(facts),
        };
    }

    public async Task<ExposureFacts> CollectAsync(string instanceId, string? region, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        var resolved = _session.RegionFor(region);
        var ec2 = new Ec2Gateway(_session.Ec2(resolved), resolved, Ec2RateLimiter.FromEnvironment(), dryRun: false);
        var described = await Ec2Facts.DescribeAsync(ec2, null, new[] { instanceId }, withAttributes: false, ct).ConfigureAwait(false);
        if (!described.TryGetValue(instanceId, out var f)) throw Ec2Facts.NotFound(instanceId, resolved);
        var i = f.Instance;

        var groupIds = f.NetworkInterfaces.SelectMany(InstanceFacts.GroupsOf).Concat((i.SecurityGroups ?? new()).Select(g => g.GroupId)).Distinct().ToList();
        var ingress = new List<IngressRule>();
        if (groupIds.Count > 0)
        {
            var request = new DescribeSecurityGroupsRequest { GroupIds = groupIds };
            var groups = await ec2.ReadAsync("DescribeSecurityGroups", instanceId, (c, t) => c.DescribeSecurityGroupsAsync(request, t), ct).ConfigureAwait(false);
            foreach (var g in groups.SecurityGroups ?? new())
                foreach (var p in g.IpPermissions ?? new())
                {
                    foreach (var r in p.Ipv4Ranges ?? new()) ingress.Add(new IngressRule(g.GroupId, p.IpProtocol, p.FromPort, p.ToPort, r.CidrIp));
                    foreach (var r in p.Ipv6Ranges ?? new()) ingress.Add(new IngressRule(g.GroupId, p.IpProtocol, p.FromPort, p.ToPort, r.CidrIpv6));
                }
        }

        var userData = await ec2.ReadAsync("DescribeInstanceAttribute", instanceId, async (c, t) =>
            (await c.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = instanceId, Attribute = InstanceAttributeName.UserData }, t).ConfigureAwait(false)).InstanceAttribute?.UserData,
            ct).ConfigureAwait(false);

        string? ssmStatus = null, ssmError = null;
        try
        {
            ssmStatus = (await _session.Ssm(resolved).DescribeInstanceAsync(instanceId, ct).ConfigureAwait(false))?.PingStatus;
        }
        catch (GuardDutyIRException e)
        {
            ssmError = e.Message;
        }

        var profileArn = f.ProfileAssociation?.IamInstanceProfile?.Arn ?? i.IamInstanceProfile?.Arn;
        var (roleArn, policies, roleError) = string.IsNullOrEmpty(profileArn)
            ? (null, Array.Empty<RolePolicy>(), null)
            : await RolePoliciesAsync(profileArn, resolved, ct).ConfigureAwait(false);

        return new ExposureFacts
        {
            InstanceId = instanceId,
            HttpTokens = i.MetadataOptions?.HttpTokens?.Value,
            HopLimit = i.MetadataOptions?.HttpPutResponseHopLimit,
            HttpEndpoint = i.MetadataOptions?.HttpEndpoint?.Value,
            PublicIp = string.IsNullOrEmpty(i.PublicIpAddress) ? null : i.PublicIpAddress,
            ElasticIps = f.ElasticIps.Select(a => a.PublicIp).Where(a => !string.IsNullOrEmpty(a)).ToList(),
            Ingress = ingress,
            KeyName = string.IsNullOrEmpty(i.KeyName) ? null : i.KeyName,
            SsmPingStatus = ssmStatus,
            SsmError = ssmError,
            RoleArn = roleArn ?? (roleError is null ? null : profileArn),
            RolePolicies = policies,
            RoleError = roleError,
            UserData = !string.IsNullOrEmpty(userData),
        };
    }

    private async Task<(string? RoleArn, IReadOnlyList<RolePolicy> Policies, string? Error)> RolePoliciesAsync(string profileArn, string region, CancellationToken ct)
    {
        var iam = _session.Iam(region);
        try
        {
            var profile = await iam.GetInstanceProfileAsync(RoleSessionRevoker.NameFromArn(profileArn), ct).ConfigureAwait(false);
            if (profile.Roles.FirstOrDefault() is not { } role) return (null, Array.Empty<RolePolicy>(), null);
            var policies = new List<RolePolicy>();
            foreach (var attached in await iam.ListAttachedRolePoliciesAsync(role.RoleName, ct).ConfigureAwait(false))
                policies.Add(new RolePolicy(attached.PolicyName, "Managed", await iam.GetDefaultPolicyDocumentAsync(attached.PolicyArn, ct).ConfigureAwait(false)));
            foreach (var name in await iam.ListRolePoliciesAsync(role.RoleName, ct).ConfigureAwait(false))
                policies.Add(new RolePolicy(name, "Inline", await iam.GetRolePolicyAsync(role.RoleName, name, ct).ConfigureAwait(false)));
            return (role.Arn, policies, null);
        }
        catch (GuardDutyIRException e) when (e is not AwsServiceException { Kind: ErrorKind.AuthenticationError })
        {
            return (null, Array.Empty<RolePolicy>(), e.Message);
        }
    }
}
