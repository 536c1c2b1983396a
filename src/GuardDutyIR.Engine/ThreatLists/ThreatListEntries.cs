using System.Net;
using System.Net.Sockets;

namespace GuardDutyIR.Engine.ThreatLists;

/// <summary>Validation of the entries of a TXT IP list: one IPv4/IPv6 address or CIDR range per line.</summary>
public static class ThreatListEntries
{
    /// <summary>GuardDuty's quotas: 250,000 entries per threat list, 2,000 per trusted IP list.</summary>
    public static int MaxEntries(ThreatListType type) => type == ThreatListType.Threat ? 250_000 : 2_000;

    /// <summary>Normalises every entry or throws naming the first malformed one; nothing is changed on failure.</summary>
    public static (IReadOnlyList<string> Entries, IReadOnlyList<string> NotPublic) Validate(IEnumerable<string> entries, ThreatListType type)
    {
        var normalised = new List<string>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var notPublic = new List<string>();
        foreach (var raw in entries)
        {
            var entry = raw.Trim();
            if (entry.Length == 0 || entry.StartsWith('#')) continue;
            var (address, prefix) = Parse(entry)
                ?? throw new GuardDutyIRException("InvalidThreatListEntry", ErrorKind.InvalidArgument,
                    $"'{raw}' is not an IPv4 or IPv6 address or CIDR range (e.g. 198.51.100.7, 203.0.113.0/24, 2001:db8::/32).", raw);
            var text = prefix is null ? address.ToString() : $"{Network(address, prefix.Value)}/{prefix}";
            if (seen.Add(text)) normalised.Add(text);
            if (!IsPublic(address)) notPublic.Add(text);
        }
        if (normalised.Count > MaxEntries(type))
            throw new GuardDutyIRException("ThreatListTooLarge", ErrorKind.LimitsExceeded,
                $"{normalised.Count} entries exceed GuardDuty's limit of {MaxEntries(type)} for a {type.ToString().ToLowerInvariant()} list.", normalised.Count);
        return (normalised, notPublic);
    }

    /// <summary>Reads a TXT list file: one entry per line, comments and blanks skipped.</summary>
    public static IEnumerable<string> ReadTxt(string text) =>
        text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'));

    private static (IPAddress Address, int? Prefix)? Parse(string entry)
    {
        var slash = entry.IndexOf('/');
        var addressText = slash < 0 ? entry : entry[..slash];
        if (!IPAddress.TryParse(addressText, out var address)) return null;
        // IPAddress.TryParse accepts "1" or "1.2" as shorthand; a list entry must be written out.
        if (address.AddressFamily == AddressFamily.InterNetwork && addressText.Count(c => c == '.') != 3) return null;
        if (slash < 0) return (address, null);
        var max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        return int.TryParse(entry[(slash + 1)..], out var prefix) && prefix >= 0 && prefix <= max ? (address, prefix) : null;
    }

    private static IPAddress Network(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }

    /// <summary>GuardDuty applies lists only to publicly routable addresses; private ones never match.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (IPAddress.IsLoopback(address)) return false;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
            return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.Equals(IPAddress.IPv6Any));
        var b = address.GetAddressBytes();
        return !(b[0] == 10 || b[0] == 0 || b[0] >= 224 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168)
                 || (b[0] == 169 && b[1] == 254) || (b[0] == 100 && b[1] >= 64 && b[1] <= 127));
    }
}
