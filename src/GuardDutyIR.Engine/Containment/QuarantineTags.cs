using System.Globalization;
using System.Text;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// The tags containment keeps on an instance. The pre-containment state is one compact line of space-separated
/// tokens, split over ir:orig:1..n because a tag value holds at most 256 characters; only characters every AWS
/// tagging API accepts are used (letters, digits, space and _ . : / = + - @).
/// </summary>
public static class QuarantineTags
{
    public const string Case = "ir:case";
    public const string Finding = "ir:finding";
    public const string State = "ir:state";
    public const string QuarantinedAt = "ir:quarantined-at";
    public const string OriginPrefix = "ir:orig:";
    /// <summary>Marks the module's own security groups: isolation or conversion.</summary>
    public const string Purpose = "ir:purpose";
    public const string ManagedBy = "ir:managed-by";
    public const int MaxValueLength = 256;
    /// <summary>Chunks stay a little under the limit so a value never needs trimming.</summary>
    private const int ChunkLength = 250;

    public static string Encode(QuarantineRecord r)
    {
        var tokens = new List<string>
        {
            "dat=" + (r.DisableApiTermination ? "1" : "0"),
            "das=" + (r.DisableApiStop ? "1" : "0"),
            "sib=" + r.ShutdownBehavior,
            "at=" + r.RecordedAt.ToUniversalTime().ToString("yyyyMMddTHHmmssZ", CultureInfo.InvariantCulture),
        };
        foreach (var (eni, groups) in r.NetworkInterfaceGroups) tokens.Add($"eni:{eni}={string.Join('+', groups)}");
        foreach (var (device, dot) in r.DeleteOnTermination) tokens.Add($"dot:{device}={(dot ? "1" : "0")}");
        if (r.InstanceProfileArn is not null) tokens.Add("prof=" + r.InstanceProfileArn);
        // eip:<allocation>=<eni>@<public IP>@<private IP>; records written before the private IP was kept end after the public IP.
        foreach (var (alloc, eni) in r.ElasticIps)
            tokens.Add($"eip:{alloc}={eni}@{r.ElasticIpAddresses.GetValueOrDefault(alloc, "")}@{r.ElasticIpPrivateAddresses.GetValueOrDefault(alloc, "")}");
        foreach (var (eni, timeouts) in r.ConnectionTracking) tokens.Add($"ct:{eni}={timeouts}");
        if (r.AutoScalingGroupName is not null)
        {
            tokens.Add("asgact=" + r.AutoScalingAction);
            // Last, and the rest of the line: a group name may hold characters the other tokens never do.
            tokens.Add("asg=" + r.AutoScalingGroupName);
        }
        foreach (var t in tokens)
            if (t.Any(c => !(char.IsLetterOrDigit(c) || c is ' ' or '_' or '.' or ':' or '/' or '=' or '+' or '-' or '@')) && !t.StartsWith("asg=", StringComparison.Ordinal))
                throw new GuardDutyIRException("UnrecordableValue", ErrorKind.InvalidData, $"Cannot record '{t}' in a tag.", t);
        return "v1 " + string.Join(' ', tokens);
    }

    /// <summary>The tags that carry an encoded record: ir:orig:1..n, the first chunk beginning with the count.</summary>
    public static IReadOnlyDictionary<string, string> ToTags(QuarantineRecord r)
    {
        var line = Encode(r);
        // Reserve room for the "n=NN " prefix of the first chunk.
        var chunks = new List<string>();
        for (int i = 0; i < line.Length; i += ChunkLength) chunks.Add(line.Substring(i, Math.Min(ChunkLength, line.Length - i)));
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < chunks.Count; i++)
            tags[OriginPrefix + (i + 1).ToString(CultureInfo.InvariantCulture)] = i == 0 ? $"n={chunks.Count} " + chunks[0] : chunks[i];
        return tags;
    }

    public static bool HasRecord(IReadOnlyDictionary<string, string> tags) => tags.ContainsKey(OriginPrefix + "1");

    public static IEnumerable<string> RecordKeys(IReadOnlyDictionary<string, string> tags) =>
        tags.Keys.Where(k => k.StartsWith(OriginPrefix, StringComparison.Ordinal));

    /// <summary>The record kept in the tags, or null when there is none; a damaged record is an error, never a guess.</summary>
    public static QuarantineRecord? FromTags(IReadOnlyDictionary<string, string> tags, string instanceId)
    {
        if (!tags.TryGetValue(OriginPrefix + "1", out var first)) return null;
        var space = first.IndexOf(' ');
        if (!first.StartsWith("n=", StringComparison.Ordinal) || space < 0 || !int.TryParse(first[2..space], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
            throw Damaged(instanceId, "the first chunk does not start with its count");
        var line = new StringBuilder(first[(space + 1)..]);
        for (int i = 2; i <= n; i++)
        {
            if (!tags.TryGetValue(OriginPrefix + i.ToString(CultureInfo.InvariantCulture), out var chunk)) throw Damaged(instanceId, $"chunk {i} of {n} is missing");
            line.Append(chunk);
        }
        return Decode(line.ToString(), instanceId);
    }

    public static QuarantineRecord Decode(string line, string instanceId)
    {
        if (!line.StartsWith("v1 ", StringComparison.Ordinal)) throw Damaged(instanceId, "unknown version");
        var rest = line[3..];
        string? asg = null;
        var asgAt = rest.IndexOf(" asg=", StringComparison.Ordinal);
        if (rest.StartsWith("asg=", StringComparison.Ordinal)) asgAt = -1;
        if (asgAt >= 0) { asg = rest[(asgAt + 5)..]; rest = rest[..asgAt]; }
        bool dat = false, das = false;
        string sib = "stop", asgAct = "Standby";
        DateTime at = default;
        string? profile = null;
        var enis = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var dots = new Dictionary<string, bool>(StringComparer.Ordinal);
        var eips = new Dictionary<string, string>(StringComparer.Ordinal);
        var eipIps = new Dictionary<string, string>(StringComparer.Ordinal);
        var eipPrivate = new Dictionary<string, string>(StringComparer.Ordinal);
        var cts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var token in rest.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = token.IndexOf('=');
            if (eq < 0) throw Damaged(instanceId, $"token '{token}'");
            var key = token[..eq];
            var value = token[(eq + 1)..];
            switch (key)
            {
                case "dat": dat = value == "1"; break;
                case "das": das = value == "1"; break;
                case "sib": sib = value; break;
                case "at": at = DateTime.ParseExact(value, "yyyyMMddTHHmmssZ", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal); break;
                case "prof": profile = value; break;
                case "asgact": asgAct = value; break;
                default:
                    if (key.StartsWith("eni:", StringComparison.Ordinal)) enis[key[4..]] = value.Split('+', StringSplitOptions.RemoveEmptyEntries);
                    else if (key.StartsWith("dot:", StringComparison.Ordinal)) dots[key[4..]] = value == "1";
                    else if (key.StartsWith("ct:", StringComparison.Ordinal)) cts[key[3..]] = value;
                    else if (key.StartsWith("eip:", StringComparison.Ordinal))
                    {
                        var parts = value.Split('@');
                        eips[key[4..]] = parts[0];
                        if (parts.Length > 1 && parts[1].Length > 0) eipIps[key[4..]] = parts[1];
                        if (parts.Length > 2 && parts[2].Length > 0) eipPrivate[key[4..]] = parts[2];
                    }
                    break;
            }
        }
        return new QuarantineRecord
        {
            DisableApiTermination = dat, DisableApiStop = das, ShutdownBehavior = sib, RecordedAt = at, InstanceProfileArn = profile,
            NetworkInterfaceGroups = enis, DeleteOnTermination = dots, ElasticIps = eips, ElasticIpAddresses = eipIps,
            ElasticIpPrivateAddresses = eipPrivate, ConnectionTracking = cts,
            AutoScalingGroupName = asg, AutoScalingAction = asg is null ? null : asgAct,
        };
    }

    private static GuardDutyIRException Damaged(string instanceId, string why) =>
        new("QuarantineRecordDamaged", ErrorKind.InvalidData, $"The quarantine record on {instanceId} (tags {OriginPrefix}*) cannot be read: {why}.", instanceId);
}
