using System.Net;
using System.Net.Sockets;
using GuardDutyIR.Lab.Scenarios;

namespace GuardDutyIR.Lab.Ec2;

/// <summary>One scenario flow as the Lab sees it now.</summary>
public sealed record FlowStatus(
    string FlowId,
    string InstanceId,
    string NetworkInterfaceId,
    string Protocol,
    string Direction,
    string LocalIp,
    int LocalPort,
    string RemoteIp,
    int RemotePort,
    string Description,
    /// <summary>Whether the flow has a connection-tracking entry (then group changes do not cut it).</summary>
    bool Tracked,
    /// <summary>Whether packets of the flow would still pass now.</summary>
    bool Passes,
    string? EndedReason,
    DateTimeOffset EstablishedAt,
    IReadOnlyList<string> CurrentGroups);

/// <summary>
/// Security-group connection tracking, per the EC2 User Guide ("Security group connection tracking"):
/// * A flow admitted while its ENI's groups do not make it untracked gets a tracking entry; changing the groups or
///   rules later does not interrupt it ("tracked connections are not immediately interrupted").
/// * A TCP/UDP flow is untracked when the groups allow all traffic for its address family (0.0.0.0/0 for IPv4,
///   ::/0 for IPv6) in both directions, for all ports. Untracked packets are checked against the current rules.
/// * ICMP is always tracked unless LabOptions.IcmpAlwaysTracked is false (the older page's statement).
/// When the groups change, every live flow on the ENI is re-evaluated: a tracked flow becomes untracked if the new
/// groups make it so (the "conversion" step); an untracked flow survives only if a packet in either direction is
/// allowed by the new rules (that packet creates a new tracking entry), and otherwise ends.
/// Idle timeouts (ConnectionTrackingSpecification) are stored on the ENI but never expire these flows: the scenario's
/// flows are active, and timeouts only apply to idle ones.
/// </summary>
internal sealed class ConnectionTracker
{
    private readonly Ec2Service _ec2;
    private readonly bool _icmpAlwaysTracked;
    private readonly List<FlowState> _flows = new();

    private sealed class FlowState
    {
        public required WorldFlow Flow { get; init; }
        public bool Tracked { get; set; }
        public bool Alive { get; set; }
        public string? EndedReason { get; set; }
    }

    public ConnectionTracker(Ec2Service ec2, bool icmpAlwaysTracked)
    {
        _ec2 = ec2;
        _icmpAlwaysTracked = icmpAlwaysTracked;
    }

    public void Seed(IEnumerable<WorldFlow> flows)
    {
        foreach (var f in flows)
        {
            var eni = _ec2.EniById(f.NetworkInterfaceId);
            if (eni is null) continue;
            var proto = Ec2Service.NormalizeProtocol(f.Protocol);
            bool outbound = f.Direction == FlowDirection.Outbound;
            bool admitted = Permits(eni.Groups, eni.AccountId, outbound, f.RemoteIp, proto, outbound ? f.RemotePort : f.LocalPort);
            _flows.Add(new FlowState
            {
                Flow = f,
                Alive = admitted,
                Tracked = admitted && !Untracked(eni.Groups, f.RemoteIp, proto),
                EndedReason = admitted ? null : "not admitted by the ENI's security groups at start",
            });
        }
    }

    /// <summary>Re-evaluates the live flows of an ENI after its groups or one of its groups' rules changed.</summary>
    public void Reevaluate(string networkInterfaceId)
    {
        var eni = _ec2.EniById(networkInterfaceId);
        foreach (var s in _flows.Where(s => s.Alive && s.Flow.NetworkInterfaceId == networkInterfaceId))
        {
            if (eni is null || eni.InstanceId is null)
            {
                End(s, "network interface detached or deleted");
                continue;
            }
            var f = s.Flow;
            var proto = Ec2Service.NormalizeProtocol(f.Protocol);
            bool untrackedNow = Untracked(eni.Groups, f.RemoteIp, proto);
            if (s.Tracked)
            {
                // The tracking entry persists; it is dropped only when the new rules make the flow untracked.
                if (untrackedNow) s.Tracked = false;
                continue;
            }
            bool outbound = f.Direction == FlowDirection.Outbound;
            bool initiatorSide = Permits(eni.Groups, eni.AccountId, outbound, f.RemoteIp, proto, outbound ? f.RemotePort : f.LocalPort);
            // Reply packets: outbound flow replies arrive inbound to the local (ephemeral) port; inbound flow replies leave to the remote port.
            bool replySide = Permits(eni.Groups, eni.AccountId, !outbound, f.RemoteIp, proto, ReplyPort(f, proto));
            if (!initiatorSide && !replySide)
            {
                End(s, "untracked flow denied by the current security group rules");
                continue;
            }
            s.Tracked = !untrackedNow;
        }
    }

    /// <summary>Ends the flows of an instance that stopped or terminated.</summary>
    public void EndInstance(string instanceId, string reason)
    {
        foreach (var s in _flows.Where(s => s.Alive && s.Flow.InstanceId == instanceId)) End(s, reason);
    }

    private static void End(FlowState s, string reason)
    {
        s.Alive = false;
        s.Tracked = false;
        s.EndedReason = reason;
    }

    private static int ReplyPort(WorldFlow f, string proto)
    {
        if (proto == "icmp") return 0; // echo reply
        return f.Direction == FlowDirection.Outbound ? f.LocalPort : f.RemotePort;
    }

    public IReadOnlyList<FlowStatus> Snapshot() => _flows.Select(s =>
    {
        var eni = _ec2.EniById(s.Flow.NetworkInterfaceId);
        return new FlowStatus(s.Flow.FlowId, s.Flow.InstanceId, s.Flow.NetworkInterfaceId, s.Flow.Protocol, s.Flow.Direction.ToString(),
            s.Flow.LocalIp, s.Flow.LocalPort, s.Flow.RemoteIp, s.Flow.RemotePort, s.Flow.Description, s.Tracked, s.Alive, s.EndedReason,
            s.Flow.EstablishedAt, eni?.Groups.ToList() ?? new List<string>());
    }).ToList();

    /// <summary>Whether the groups' rules in one direction admit a packet to/from remoteIp with this protocol and port.</summary>
    public bool Permits(IReadOnlyList<string> groups, string accountId, bool egress, string remoteIp, string protocol, int port)
    {
        foreach (var r in _ec2.RulesOf(groups))
        {
            if (r.IsEgress != egress) continue;
            if (!ProtocolMatches(r, protocol, port)) continue;
            if (RemoteMatches(r, accountId, remoteIp)) return true;
        }
        return false;
    }

    private bool Untracked(IReadOnlyList<string> groups, string remoteIp, string protocol)
    {
        if (protocol == "icmp" && _icmpAlwaysTracked) return false;
        bool v6 = IPAddress.TryParse(remoteIp, out var a) && a.AddressFamily == AddressFamily.InterNetworkV6;
        var everything = v6 ? "::/0" : "0.0.0.0/0";
        var rules = _ec2.RulesOf(groups);
        bool AllOpen(bool egress) => rules.Any(r => r.IsEgress == egress &&
            (v6 ? r.CidrIpv6 == everything : r.CidrIpv4 == everything) &&
            (r.Protocol == "-1" || (r.Protocol == protocol && (protocol == "icmp" ? r.FromPort == -1 : r.FromPort <= 0 && r.ToPort >= 65535))));
        return AllOpen(false) && AllOpen(true);
    }

    private static bool ProtocolMatches(SgRule r, string protocol, int port)
    {
        if (r.Protocol == "-1") return true;
        if (r.Protocol != protocol) return false;
        if (protocol == "icmp" || protocol == "icmpv6") return r.FromPort is null or -1 || r.FromPort == port;
        if (protocol is "tcp" or "udp") return r.FromPort is { } from && r.ToPort is { } to && port >= from && port <= to;
        return true;
    }

    private bool RemoteMatches(SgRule r, string accountId, string remoteIp)
    {
        if (r.CidrIpv4 is not null) return InCidr(remoteIp, r.CidrIpv4);
        if (r.CidrIpv6 is not null) return InCidr(remoteIp, r.CidrIpv6);
        // A group reference admits the private addresses of ENIs in that group (never public/EIP addresses).
        if (r.ReferencedGroupId is not null) return _ec2.IpHasGroup(accountId, remoteIp, r.ReferencedGroupId);
        return false; // prefix lists: the Lab has no managed prefix lists with contents
    }

    public static bool InCidr(string ip, string cidr)
    {
        var slash = cidr.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(ip, out var addr) || !IPAddress.TryParse(cidr[..slash], out var net)) return false;
        if (addr.AddressFamily != net.AddressFamily) return false;
        if (!int.TryParse(cidr[(slash + 1)..], out var bits)) return false;
        var a = addr.GetAddressBytes();
        var n = net.GetAddressBytes();
        for (int i = 0; i < a.Length && bits > 0; i++, bits -= 8)
        {
            int mask = bits >= 8 ? 0xFF : (0xFF << (8 - bits)) & 0xFF;
            if ((a[i] & mask) != (n[i] & mask)) return false;
        }
        return true;
    }
}
