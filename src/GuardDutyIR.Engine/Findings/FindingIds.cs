namespace GuardDutyIR.Engine.Findings;

/// <summary>
/// GuardDuty finding IDs: letters and digits, 1-300 of them (32 hex characters in practice). Anything else is refused
/// before a call: a filter on it matches nothing and says nothing, and ArchiveFindings or UpdateFindingsFeedback would
/// act on whatever it could match.
/// </summary>
public static class FindingIds
{
    public static bool IsFindingId(string? value) => value is { Length: > 0 and <= 300 } && value.All(char.IsAsciiLetterOrDigit);

    public static GuardDutyIRException InvalidFindingId(string? value) =>
        new("InvalidFindingId", ErrorKind.InvalidArgument, $"'{value}' is not a GuardDuty finding ID (1-300 letters and digits).", value);
}
