using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// Types for result values that arrive as strings. Athena sends each column's type; CloudTrail Lake sends every value
/// as a string with no type, so Lake values are typed by rule: CloudTrail's own text fields (IDs, names, addresses,
/// which may look numeric, like account IDs with leading zeros) stay text; times become DateTime; "true"/"false"
/// become booleans; other whole numbers (counts, sums) become long and decimals double.
/// </summary>
/// <remarks>
/// A result stream types every cell, so what a column is (a text column of Lake, an Athena type) is decided once per
/// column list, and each cell is told from the rest by its first characters before any pattern or parser runs; a time
/// in the usual ASCII form is read from its digits. What the patterns below accept stays the rule: anything the quick
/// checks cannot settle goes through them and <see cref="DateTime.TryParse(string, IFormatProvider, DateTimeStyles, out DateTime)"/>.
/// </remarks>
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

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")]
    private static partial Regex IsoUtc();

    public static object? FromLake(string column, string? value) => FromLake(IsLakeTextColumn(column), value);

    /// <summary>Whether a Lake column is one of CloudTrail's text fields, whose values stay text unless they are times.</summary>
    internal static bool IsLakeTextColumn(string column) => TextColumns.Contains(column);

    /// <summary>A Lake value of a column already known to be (or not be) a text column.</summary>
    internal static object? FromLake(bool textColumn, string? value)
    {
        if (value is null) return null;
        if (IsTime(value, TimeForm.Lake, out var t)) return t;
        if (textColumn) return value;
        if (value is "true" or "false") return value == "true";
        // Both number patterns start with '-' or a digit (\d is any Unicode digit, as in the patterns).
        if (value.Length == 0 || !(value[0] == '-' || char.IsDigit(value[0]))) return value;
        if (Integer().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        if (Decimal().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        return value;
    }

    /// <summary>What an Athena column type means for its values.</summary>
    internal enum AthenaColumn
    {
        /// <summary>varchar: text, or a time when it holds CloudTrail's ISO-8601 UTC form.</summary>
        Varchar,
        Integer,
        Float,
        Boolean,
        Time,
        /// <summary>Anything else (arrays, maps, rows, varchar(n), ...): the text as sent.</summary>
        Text,
    }

    /// <summary>What the values of a column of this Athena type become.</summary>
    internal static AthenaColumn AthenaColumnOf(string type)
    {
        if (type.Equals("varchar", StringComparison.OrdinalIgnoreCase)) return AthenaColumn.Varchar;
        return type.ToLowerInvariant() switch
        {
            "bigint" or "integer" or "int" or "smallint" or "tinyint" => AthenaColumn.Integer,
            "double" or "float" or "real" or "decimal" => AthenaColumn.Float,
            "boolean" => AthenaColumn.Boolean,
            var t when t.StartsWith("timestamp", StringComparison.Ordinal) || t == "date" => AthenaColumn.Time,
            _ => AthenaColumn.Text,
        };
    }

    /// <summary>
    /// Athena's ColumnInfo.Type names (Presto/Trino types). AWS's CloudTrail table keeps eventtime as ISO-8601 text,
    /// so a text column holding CloudTrail's time format is a time too, as it is on Lake and locally.
    /// </summary>
    public static object? FromAthena(string column, string type, string? value) => FromAthena(AthenaColumnOf(type), value);

    /// <summary>An Athena value of a column whose type is already known.</summary>
    internal static object? FromAthena(AthenaColumn column, string? value)
    {
        if (value is null) return null;
        switch (column)
        {
            case AthenaColumn.Varchar:
                return IsTime(value, TimeForm.IsoUtc, out var iso) ? iso : value;
            case AthenaColumn.Integer:
                return long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l : value;
            case AthenaColumn.Float:
                return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : value;
            case AthenaColumn.Boolean:
                return value.Equals("true", StringComparison.OrdinalIgnoreCase);
            case AthenaColumn.Time:
                // Any form DateTime.TryParse reads; the usual one from its digits.
                return ReadTime(value, TimeForm.Lake) is { Parsed: true } quick ? quick.Time : ParseTime(value) ?? (object)value;
            default:
                return value;
        }
    }

    /// <summary>The two time patterns: Lake's (space or T, optional Z or " UTC") and CloudTrail's ISO-8601 UTC.</summary>
    private enum TimeForm { Lake, IsoUtc }

    /// <summary>Whether <paramref name="value"/> matches the form's pattern and reads as a time: the pattern's rule, quickly.</summary>
    private static bool IsTime(string value, TimeForm form, out DateTime time)
    {
        time = default;
        // Both patterns need 19 characters at least and a digit first.
        if (value.Length < 19 || !char.IsDigit(value[0])) return false;
        var read = ReadTime(value, form);
        if (read.Parsed)
        {
            time = read.Time;
            return true;
        }
        // Not the form in ASCII, and no character the pattern could read otherwise (a Unicode digit; $ before a final
        // newline): the pattern does not match either.
        if (!read.Shaped && value[^1] != '\n' && Ascii.IsValid(value)) return false;
        if ((form == TimeForm.Lake ? Timestamp() : IsoUtc()).IsMatch(value) && ParseTime(value) is { } t)
        {
            time = t;
            return true;
        }
        return false;
    }

    /// <summary>
    /// yyyy-MM-dd[ T]HH:mm:ss[.f{1,9}][Z| UTC] in ASCII digits (the form's variant of it), as UTC. Shaped: the text is
    /// of that form; Parsed: and its fields make a time DateTime.TryParse reads the same way (a valid date, up to seven
    /// fraction digits: more are rounded by TryParse, left to it).
    /// </summary>
    private static (bool Shaped, bool Parsed, DateTime Time) ReadTime(ReadOnlySpan<char> v, TimeForm form)
    {
        if (v.Length < 19 || v[4] != '-' || v[7] != '-' || v[13] != ':' || v[16] != ':') return default;
        if (!(v[10] == 'T' || (v[10] == ' ' && form == TimeForm.Lake))) return default;
        if (!Digits(v, 0, 4, out var year) || !Digits(v, 5, 2, out var month) || !Digits(v, 8, 2, out var day)
            || !Digits(v, 11, 2, out var hour) || !Digits(v, 14, 2, out var minute) || !Digits(v, 17, 2, out var second)) return default;
        var at = 19;
        var fraction = 0;
        var fractionDigits = 0;
        if (at < v.Length && v[at] == '.')
        {
            at++;
            while (at < v.Length && char.IsAsciiDigit(v[at]) && fractionDigits < 10)
            {
                if (fractionDigits < 7) fraction = fraction * 10 + (v[at] - '0');
                fractionDigits++;
                at++;
            }
            if (fractionDigits is 0 or > 9) return default;
        }
        var rest = v[at..];
        var suffixOk = form == TimeForm.IsoUtc ? rest is "Z" : rest is "" or "Z" or " UTC";
        if (!suffixOk) return default;
        if (fractionDigits > 7 || year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
            return (true, false, default);
        for (var n = fractionDigits; n < 7; n++) fraction *= 10;
        return (true, true, new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc).AddTicks(fraction));
    }

    private static bool Digits(ReadOnlySpan<char> v, int start, int count, out int number)
    {
        number = 0;
        for (var i = start; i < start + count; i++)
        {
            if (!char.IsAsciiDigit(v[i])) return false;
            number = number * 10 + (v[i] - '0');
        }
        return true;
    }

    /// <summary>
    /// A Lake cell's UTF-8 bytes as the time they are, when they are one in the usual ASCII form: what
    /// <see cref="FromLake(bool, string?)"/> makes of them in any column (a time is a time first), without their string.
    /// Anything else (no time, or one the quick read leaves to the patterns) is left to be read as text.
    /// </summary>
    internal static bool LakeTime(ReadOnlySpan<byte> utf8, out object value)
    {
        value = null!;
        // yyyy-MM-dd HH:mm:ss, up to nine fraction digits and " UTC": 19 to 33 characters, a digit first.
        if (utf8.Length is < 19 or > 33 || !char.IsAsciiDigit((char)utf8[0])) return false;
        Span<char> text = stackalloc char[utf8.Length];
        for (var i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] >= 0x80) return false;
            text[i] = (char)utf8[i];
        }
        var read = ReadTime(text, TimeForm.Lake);
        if (!read.Parsed) return false;
        value = read.Time;
        return true;
    }

    private static DateTime? ParseTime(string value) =>
        DateTime.TryParse(value.Replace(" UTC", "Z"), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}
