using System.Text.RegularExpressions;
using Amazon.Runtime.CredentialManagement;

namespace GuardDutyIR.Engine.Context;

/// <summary>
/// The shared config and credentials files, read through AWSSDK.Core. A line the SDK cannot parse makes it throw with
/// that line in the message, and in a credentials file the line is often a secret key: the only thing this class lets
/// out of such a failure is the file and the line number.
/// </summary>
internal sealed partial class ProfileStore
{
    private readonly CredentialProfileStoreChain _chain;
    private readonly string? _location;

    public ProfileStore(string? profileLocation)
    {
        _location = profileLocation ?? EnvironmentCredentialsFile();
        _chain = new CredentialProfileStoreChain(_location);
    }

    // AWSSDK.Core resolves AWS_SHARED_CREDENTIALS_FILE once per process, in a static constructor; a PowerShell session
    // (or a test, or a runbook step) that points it at a file later would keep reading the old one. Reading the variable
    // here, each time, makes the file named now the one used.
    private static string? EnvironmentCredentialsFile() =>
        Environment.GetEnvironmentVariable("AWS_SHARED_CREDENTIALS_FILE") is { Length: > 0 } file ? file : null;

    public CredentialProfileStoreChain Chain => _chain;

    public bool TryGetProfile(string name, out CredentialProfile profile)
    {
        CheckDefaultFiles();
        CredentialProfile? found = null;
        var ok = Guard(() => _chain.TryGetProfile(name, out found));
        profile = found!;
        return ok;
    }

    public IReadOnlyList<string> ProfileNames()
    {
        CheckDefaultFiles();
        return Guard(() => _chain.ListProfiles().Select(p => p.Name).Distinct().ToList());
    }

    private void CheckDefaultFiles()
    {
        if (_location is null) EnsureDefaultFilesReadable();
        else Guard(() => new SharedCredentialsFile(_location));
    }

    /// <summary>
    /// Reads the default shared files (AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE, else ~/.aws) and says
    /// ProfileInvalid when one is malformed. The SDK's profile chain skips such a file (a typo would read as "no
    /// credentials"), and AWSSDK.Core's process-wide configuration reads it in a static constructor when the first
    /// client is made: failing there leaves every later client of the PowerShell session broken, with the bad line in
    /// the error. So this runs before any client exists.
    /// </summary>
    public static void EnsureDefaultFilesReadable() =>
        Guard(() => EnvironmentCredentialsFile() is { } file ? new SharedCredentialsFile(file) : new SharedCredentialsFile());

    /// <summary>Runs a read of the files; a malformed file becomes ProfileInvalid naming the file and line.</summary>
    public static T Guard<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (InvalidDataException e)
        {
            throw Malformed(e);
        }
    }

    // AWSSDK.Core says "Line <n>:<the line>\n in file <path> does not contain a section, property or comment.";
    // only the number and the path are kept.
    [GeneratedRegex(@"^Line (?<line>\d+):")]
    private static partial Regex LineNumber();

    [GeneratedRegex(@"\sin file (?<file>.+?) does not contain", RegexOptions.Singleline)]
    private static partial Regex FileName();

    internal static GuardDutyIRException Malformed(InvalidDataException e)
    {
        var line = LineNumber().Match(e.Message) is { Success: true } l ? l.Groups["line"].Value : null;
        var file = FileName().Match(e.Message) is { Success: true } f ? f.Groups["file"].Value.Trim() : null;
        var which = file is null ? "an AWS shared config or credentials file" : $"the AWS shared config or credentials file '{file}'";
        var where = line is null ? $"A line of {which}" : $"Line {line} of {which}";
        // The inner exception is left out on purpose: its message carries the line itself.
        return new GuardDutyIRException("ProfileInvalid", ErrorKind.InvalidData,
            $"{where} is not a [section], a name = value property or a # comment. Fix or remove that line; it is not shown here because it may hold a secret.",
            file is null ? null : line is null ? file : $"{file}:{line}");
    }
}
