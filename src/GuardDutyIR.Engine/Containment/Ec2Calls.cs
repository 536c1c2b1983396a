using Amazon.EC2;
using Amazon.EC2.Model;

namespace GuardDutyIR.Engine.Containment;

/// <summary>
/// The two attribute calls containment makes most, as the gateway takes them (DryRun passed in): EC2 changes one
/// instance attribute per ModifyInstanceAttribute call, and an ENI's groups or its tracking timeouts per
/// ModifyNetworkInterfaceAttribute call, so each step says only what it sets.
/// </summary>
internal static class Ec2Calls
{
    public static Func<IAmazonEC2, bool, CancellationToken, Task<ModifyInstanceAttributeResponse>> ModifyInstance(string instanceId, Action<ModifyInstanceAttributeRequest> set) =>
        (c, dry, t) => c.ModifyInstanceAttributeAsync(With(new ModifyInstanceAttributeRequest { InstanceId = instanceId, DryRun = dry }, set), t);

    public static Func<IAmazonEC2, bool, CancellationToken, Task<ModifyNetworkInterfaceAttributeResponse>> ModifyEni(string eniId, Action<ModifyNetworkInterfaceAttributeRequest> set) =>
        (c, dry, t) => c.ModifyNetworkInterfaceAttributeAsync(With(new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eniId, DryRun = dry }, set), t);

    private static T With<T>(T request, Action<T> set)
    {
        set(request);
        return request;
    }
}
