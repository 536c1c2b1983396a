using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using static GuardDutyIR.Lab.Ec2.Ec2Xml;

namespace GuardDutyIR.Lab.Ec2;

/// <summary>An EC2 key pair (name and fingerprint only: the Lab never holds key material).</summary>
internal sealed record KeyPair(string AccountId, string KeyName, string KeyPairId, string Fingerprint, DateTimeOffset CreateTime);

/// <summary>An instance's metadata service settings as the IMDS endpoint enforces them.</summary>
public sealed record InstanceMetadataSettings(string InstanceId, string AccountId, string State, string HttpTokens, int HttpPutResponseHopLimit, string HttpEndpoint);

public sealed partial class Ec2Service
{
    private readonly Dictionary<string, KeyPair> _keyPairs = new(StringComparer.Ordinal);

    /// <summary>Registers a key pair of an account (idempotent by name), as CreateKeyPair/ImportKeyPair would have.</summary>
    internal void AddKeyPair(string accountId, string keyName, DateTimeOffset created)
    {
        lock (_gate)
        {
            if (_keyPairs.Values.Any(k => k.AccountId == accountId && k.KeyName == keyName)) return;
            var hash = SHA1.HashData(Encoding.UTF8.GetBytes(accountId + "/" + keyName));
            var fingerprint = string.Join(":", hash.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
            var id = "key-" + Convert.ToHexString(hash, 0, 9).ToLowerInvariant()[..17];
            _keyPairs[id] = new KeyPair(accountId, keyName, id, fingerprint, created);
        }
    }

    /// <summary>The instance's metadata options and state; null for an unknown instance.</summary>
    public InstanceMetadataSettings? MetadataSettings(string instanceId)
    {
        lock (_gate)
            return _instances.TryGetValue(instanceId, out var i)
                ? new InstanceMetadataSettings(i.InstanceId, i.AccountId, i.State, i.HttpTokens, i.HttpPutResponseHopLimit, i.HttpEndpoint)
                : null;
    }

    /// <summary>An instance as another Lab service sees it (Systems Manager's agent view).</summary>
    public sealed record InstanceSummary(string InstanceId, string State, string PrivateIp, string? ProfileArn, DateTimeOffset LaunchTime);

    /// <summary>Every instance of an account, states advanced to now.</summary>
    public IReadOnlyList<InstanceSummary> InstancesOf(string accountId)
    {
        lock (_gate)
        {
            Advance(_ctx.Clock.GetUtcNow());
            return _instances.Values.Where(i => i.AccountId == accountId).OrderBy(i => i.InstanceId, StringComparer.Ordinal)
                .Select(i => new InstanceSummary(i.InstanceId, i.State, i.PrivateIp,
                    _iam.Values.FirstOrDefault(a => a.InstanceId == i.InstanceId && a.State == "associated")?.ProfileArn, i.LaunchTime))
                .ToList();
        }
    }

    /// <summary>The instance profile ARN currently associated with an instance, if any.</summary>
    public string? AssociatedProfileArn(string instanceId)
    {
        lock (_gate)
            return _iam.Values.FirstOrDefault(a => a.InstanceId == instanceId && a.State == "associated")?.ProfileArn;
    }

    public string? AssociatedProfileId(string instanceId)
    {
        lock (_gate)
            return _iam.Values.FirstOrDefault(a => a.InstanceId == instanceId && a.State == "associated")?.ProfileId;
    }

    private XElement MetadataOptionsXml(Instance i, string state) => E("metadataOptions", MetadataOptionsContent(i, state));

    private static object[] MetadataOptionsContent(Instance i, string state) => new object[]
    {
        E("state", state), E("httpTokens", i.HttpTokens), E("httpPutResponseHopLimit", I(i.HttpPutResponseHopLimit)),
        E("httpEndpoint", i.HttpEndpoint),
    };

    private IEnumerable<object?> ModifyInstanceMetadataOptions(Ec2Call c)
    {
        var p = c.P;
        var i = GetInstance(c, p.Required("InstanceId"));
        // The enums were checked against the model already; the hop limit's range is documented, not modelled.
        int? hops = p.Int("HttpPutResponseHopLimit");
        if (hops is < 1 or > 64)
            throw new Ec2Exception("InvalidParameterValue", $"Value ({hops}) for parameter HttpPutResponseHopLimit is invalid. The value must be between 1 and 64.");
        if (i.State is "terminated" or "shutting-down")
            throw new Ec2Exception("IncorrectInstanceState", $"The instance '{i.InstanceId}' is not in a state from which it can be modified.");
        c.CommitPoint();
        if (p["HttpTokens"] is { } tokens) i.HttpTokens = tokens;
        if (hops is { } h) i.HttpPutResponseHopLimit = h;
        if (p["HttpEndpoint"] is { } endpoint) i.HttpEndpoint = endpoint;
        // The change is "pending" in the answer and applied by the time anyone describes the instance again.
        yield return E("instanceId", i.InstanceId);
        yield return E("instanceMetadataOptions", MetadataOptionsContent(i, "pending"));
    }

    private IEnumerable<object?> DescribeKeyPairs(Ec2Call c)
    {
        var p = c.P;
        var names = p.List("KeyName");
        var ids = p.List("KeyPairId");
        var mine = _keyPairs.Values.Where(k => k.AccountId == c.Account).ToList();
        foreach (var n in names)
            if (!mine.Any(k => k.KeyName == n)) throw new Ec2Exception("InvalidKeyPair.NotFound", $"The key pair '{n}' does not exist");
        foreach (var id in ids)
            if (!mine.Any(k => k.KeyPairId == id)) throw new Ec2Exception("InvalidKeyPair.NotFound", $"The key pair ID '{id}' does not exist");
        var table = new FilterTable<KeyPair>(k => TagsOf(k.KeyPairId))
            .Add("key-name", k => k.KeyName)
            .Add("key-pair-id", k => k.KeyPairId)
            .Add("fingerprint", k => k.Fingerprint);
        var selected = table.Apply(mine.Where(k => (names.Count == 0 || names.Contains(k.KeyName)) && (ids.Count == 0 || ids.Contains(k.KeyPairId))), p.Filters()).ToList();
        c.CommitPoint();
        yield return E("keySet", selected.OrderBy(k => k.KeyName, StringComparer.Ordinal).Select(k => Item(
            E("keyPairId", k.KeyPairId), E("keyType", "rsa"), TagSet(TagsOf(k.KeyPairId)), E("createTime", T(k.CreateTime)),
            E("keyName", k.KeyName), E("keyFingerprint", k.Fingerprint))));
    }
}
