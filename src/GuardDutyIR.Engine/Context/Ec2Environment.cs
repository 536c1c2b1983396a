namespace GuardDutyIR.Engine.Context;

/// <summary>
/// Decides whether asking the EC2 instance metadata service makes sense. Off EC2 it can only time out (the
/// 15-second hang AWS.Tools users complain about) and it sends traffic to 169.254.169.254.
/// </summary>
internal static class Ec2Environment
{
    public static bool MetadataServiceAllowed()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("AWS_EC2_METADATA_DISABLED"), "true", StringComparison.OrdinalIgnoreCase))
            return false;
        return LooksLikeEc2();
    }

    // Nitro and Xen instances expose their identity through DMI / the hypervisor UUID on Linux; Windows instances
    // answer through the EC2Launch marker directory.
    private static bool LooksLikeEc2()
    {
        foreach (var path in new[] { "/sys/devices/virtual/dmi/id/board_asset_tag", "/sys/hypervisor/uuid", "/sys/devices/virtual/dmi/id/product_uuid" })
        {
            try
            {
                if (!File.Exists(path)) continue;
                var text = File.ReadAllText(path).Trim();
                if (text.StartsWith("i-", StringComparison.Ordinal) || text.StartsWith("ec2", StringComparison.OrdinalIgnoreCase)) return true;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return OperatingSystem.IsWindows()
            && Directory.Exists(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "Amazon", "EC2Launch"));
    }
}
