using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>An instance as Systems Manager knows it: a managed node whose agent pings (Online) or no longer does.</summary>
public sealed record SsmManagedInstance(string InstanceId, string PingStatus, string? AgentVersion, string? PlatformName, DateTime? LastPing);

/// <summary>Systems Manager over json-1.1: only whether an instance is a managed node (DescribeInstanceInformation).</summary>
public sealed class SsmClient : ServiceClientBase
{
    internal SsmClient(AwsProtocolClient client, string region) : base(client, region) { }

    /// <summary>The instance's managed-node record, or null when SSM does not manage it.</summary>
    public async Task<SsmManagedInstance?> DescribeInstanceAsync(string instanceId, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["Filters"] = new JsonArray(new JsonObject { ["Key"] = "InstanceIds", ["Values"] = new JsonArray(instanceId) }),
        };
        var answer = await CallJson11Async("DescribeInstanceInformation", body, cancellationToken).ConfigureAwait(false);
        var item = (answer["InstanceInformationList"] as JsonArray)?.OfType<JsonObject>()
            .FirstOrDefault(i => (i["InstanceId"] as JsonValue)?.GetValue<string>() == instanceId);
        if (item is null) return null;
        static string? S(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        DateTime? lastPing = item["LastPingDateTime"] is JsonValue p && p.TryGetValue<double>(out var epoch)
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(epoch * 1000)).UtcDateTime : null;
        return new SsmManagedInstance(instanceId, S(item, "PingStatus") ?? "", S(item, "AgentVersion"), S(item, "PlatformName"), lastPing);
    }
}
