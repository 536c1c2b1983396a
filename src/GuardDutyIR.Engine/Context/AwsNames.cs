using Amazon;
using Amazon.Runtime.CredentialManagement;

namespace GuardDutyIR.Engine.Context;

/// <summary>Names for argument completion, read locally (no network).</summary>
public static class AwsNames
{
    public static IReadOnlyList<string> KnownRegions() =>
        RegionEndpoint.EnumerableAllRegions.Select(r => r.SystemName).Where(AwsContextValidator.IsValidRegion).Distinct().ToList();

    /// <summary>Whether the profile exists; a malformed file is ProfileInvalid (file and line, never the line's text).</summary>
    public static bool ProfileExists(string name, string? profileLocation) => new ProfileStore(profileLocation).TryGetProfile(name, out _);

    /// <summary>Profile names for completion: nothing, rather than an error, when the files cannot be read.</summary>
    public static IReadOnlyList<string> ProfileNames(string? profileLocation)
    {
        try
        {
            return new ProfileStore(profileLocation).ProfileNames();
        }
        catch (IOException)
        {
            return Array.Empty<string>();
        }
        catch (GuardDutyIRException)
        {
            return Array.Empty<string>();   // completion offers nothing; the commands themselves say ProfileInvalid
        }
    }
}
