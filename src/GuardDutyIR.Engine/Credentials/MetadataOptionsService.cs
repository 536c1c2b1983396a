using Amazon.EC2;
using Amazon.EC2.Model;
using GuardDutyIR.Engine.Containment;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Credentials;

/// <summary>
/// Set-InstanceMetadataOption: require IMDSv2 (session tokens) and bound the response hop limit, so a request forged
/// through the instance's applications can no longer read its role's credentials
/// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-existing-instances.html). Reads the instance
/// first; an instance already as asked is left alone.
/// </summary>
public sealed class MetadataOptionsService(AwsSession session)
{
    public async Task<InstanceMetadataChange> SetAsync(string instanceId, string? region, bool requireToken, int? hopLimit, bool dryRun, string? caseId, CancellationToken ct)
    {
        Ec2Ids.RequireInstanceId(instanceId);
        if (hopLimit is < 1 or > 64)
            throw new GuardDutyIRException("InvalidHopLimit", ErrorKind.InvalidArgument, $"The hop limit must be from 1 to 64, not {hopLimit}.", hopLimit);
        var resolved = session.RegionFor(region);
        var ec2 = new Ec2Gateway(session.Ec2(resolved), resolved, Ec2RateLimiter.FromEnvironment(), dryRun);
        var facts = await Ec2Facts.DescribeAsync(ec2, null, new[] { instanceId }, withAttributes: false, ct).ConfigureAwait(false);
        if (!facts.TryGetValue(instanceId, out var f)) throw Ec2Facts.NotFound(instanceId, resolved);
        var before = f.Instance.MetadataOptions;
        var tokensBefore = before?.HttpTokens?.Value;
        var hopBefore = before?.HttpPutResponseHopLimit;
        var tokens = requireToken ? "required" : tokensBefore;
        var hop = hopLimit ?? hopBefore;
        var log = new StepLog();
        var what = $"HttpTokens {tokensBefore} -> {tokens}, hop limit {hopBefore} -> {hop}";
        if (tokens == tokensBefore && hop == hopBefore)
        {
            log.Skip("ModifyInstanceMetadataOptions", instanceId, $"already HttpTokens {tokensBefore}, hop limit {hopBefore}");
        }
        else
        {
            await log.MutateAsync(ec2, "ModifyInstanceMetadataOptions", instanceId, new StepText("set " + what, "set " + what), "ModifyInstanceMetadataOptions",
                (client, dry, t) => client.ModifyInstanceMetadataOptionsAsync(new ModifyInstanceMetadataOptionsRequest
                {
                    InstanceId = instanceId,
                    HttpTokens = requireToken ? HttpTokensState.Required : null,
                    HttpPutResponseHopLimit = hopLimit,
                    DryRun = dry,
                }, t), ct).ConfigureAwait(false);
        }
        var step = log.Steps.Single();
        return new InstanceMetadataChange
        {
            InstanceId = instanceId, Region = resolved, CaseId = caseId, HttpTokensBefore = tokensBefore, HopLimitBefore = hopBefore,
            HttpTokens = step.Status == StepStatus.Done || step.Status == StepStatus.Skipped ? tokens : tokensBefore,
            HopLimit = step.Status == StepStatus.Done || step.Status == StepStatus.Skipped ? hop : hopBefore,
            Status = step.Status switch
            {
                StepStatus.Done => "Changed",
                StepStatus.Skipped => "Unchanged",
                StepStatus.Failed => "Failed",
                _ => "DryRun",
            },
            Steps = log.Steps,
        };
    }
}
