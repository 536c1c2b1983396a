using System.Globalization;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// Types for result values that arrive as strings. Athena sends each column's type; CloudTrail Lake sends every value
/// as a string with no type, so Lake values are typed by rule: CloudTrail's own text fields (IDs, names, addresses,
/// which may look numeric, like account IDs with leading zeros) stay text; times become DateTime; "true"/"false"
/// become booleans; other whole numbers (counts, sums) become long and decimals double.
/// </summary>
public static partial class ValueTyping
{
    private static readonly HashSet<string> TextColumns = new(StringComparer.OrdinalIgnoreCase)
    {
        "eventversion", "principalid", "arn", "accountid", "accesskeyid", "username", "invokedby", "eventsource", "eventname",
        "awsregion", "sourceipaddress", "useragent", "errorcode", "errormessage", "requestid", "eventid", "eventtype", "apiversion",
        "recipientaccountid", "sharedeventid", "vpcendpointid", "eventcategory", "type", "bucket", "key", "groupid", "rolename",
        "policyarn", "networkaclid", "result", "requestparameters", "responseelements", "additionaleventdata", "useridentity",
    };

    [GeneratedRegex(@"^-?(0|[1-9]\d{0,17})$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^-?\d+\.\d+([eE][-+]?\d+)?$")]
    private static partial Regex Decimal();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z| UTC)?$")]
    private static partial Regex Timestamp();

    public static object? FromLake(string column, string? value)
    {
        if (value is null) return null;
        if (Timestamp().IsMatch(value) && ParseTime(value) is { } t) return t;
        if (TextColumns.Contains(column)) return value;
        if (value is "true" or "false") return value == "true";
        if (Integer().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        if (Decimal().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        return value;
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")]
    private static partial Regex IsoUtc();

    /// <summary>
    /// Athena's ColumnInfo.Type names (Presto/Trino types). AWS's CloudTrail table keeps eventtime as ISO-8601 text,
    /// so a text column holding CloudTrail's time format is a time too, as it is on Lake and locally.
    /// </summary>
    public static object? FromAthena(string column, string type, string? value)
    {
        if (value is null) return null;
        if (type.Equals("varchar", StringComparison.OrdinalIgnoreCase) && IsoUtc().IsMatch(value) && ParseTime(value) is { } iso) return iso;
        switch (type.ToLowerInvariant())
        {
            case "bigint" or "integer" or "int" or "smallint" or "tinyint":
                return long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l : value;
            case "double" or "float" or "real" or "decimal":
                return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : value;
            case "boolean":
                return value.Equals("true", StringComparison.OrdinalIgnoreCase);
            case var t when t.StartsWith("timestamp", StringComparison.Ordinal) || t == "date":
                return ParseTime(value) ?? (object)value;
            default:
                return value;
        }
    }

    private static DateTime? ParseTime(string value) =>
        DateTime.TryParse(value.Replace(" UTC", "Z"), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}
