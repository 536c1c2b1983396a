using Amazon;
using Amazon.Runtime.CredentialManagement;

namespace GuardDutyIR.Engine.Context;

/// <summary>Names for argument completion, read locally (no network).</summary>
public static class AwsNames
{
    public static IReadOnlyList<string> KnownRegions() =>
        RegionEndpoint.EnumerableAllRegions.Select(r => r.SystemName).Where(AwsContextValidator.IsValidRegion).Distinct().ToList();

    public static IReadOnlyList<string> ProfileNames(string? profileLocation)
    {
        try
        {
            return new CredentialProfileStoreChain(profileLocation).ListProfiles().Select(p => p.Name).Distinct().ToList();
        }
        catch (IOException)
        {
            return Array.Empty<string>();
        }
    }
}
