using System.Globalization;
using System.Text.RegularExpressions;
using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// Result values typed by column: the quick checks and the time read from digits give exactly what the patterns and
/// DateTime.TryParse give (the rule as first written, kept here as the reference), for times of every shape and for
/// values that only look like them.
/// </summary>
public sealed class ValueTypingTests
{
    // The rule as written before the quick paths: every cell through the patterns and DateTime.TryParse.
    private static readonly HashSet<string> TextColumns = new(StringComparer.OrdinalIgnoreCase) { "eventname", "eventid", "sourceipaddress", "arn" };
    private static readonly Regex Integer = new(@"^-?(0|[1-9]\d{0,17})$");
    private static readonly Regex Decimal = new(@"^-?\d+\.\d+([eE][-+]?\d+)?$");
    private static readonly Regex Timestamp = new(@"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z| UTC)?$");
    private static readonly Regex IsoUtc = new(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$");

    private static DateTime? ParseTime(string value) =>
        DateTime.TryParse(value.Replace(" UTC", "Z"), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    private static object? ReferenceLake(string column, string? value)
    {
        if (value is null) return null;
        if (Timestamp.IsMatch(value) && ParseTime(value) is { } t) return t;
        if (TextColumns.Contains(column)) return value;
        if (value is "true" or "false") return value == "true";
        if (Integer.IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        if (Decimal.IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        return value;
    }

    private static object? ReferenceAthena(string type, string? value)
    {
        if (value is null) return null;
        if (type.Equals("varchar", StringComparison.OrdinalIgnoreCase) && IsoUtc.IsMatch(value) && ParseTime(value) is { } iso) return iso;
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

    // Equal value, type and (for times) kind.
    private static void Same(object? expected, object? actual, string what)
    {
        Assert.True(Equals(expected, actual) && expected?.GetType() == actual?.GetType()
                    && (expected is not DateTime e || e.Kind == ((DateTime)actual!).Kind),
            $"{what}: expected {expected} ({expected?.GetType().Name}), got {actual} ({actual?.GetType().Name})");
    }

    private static IEnumerable<string> Values()
    {
        var random = new Random(14);
        string Two(int n) => n.ToString("00", CultureInfo.InvariantCulture);
        for (var i = 0; i < 4000; i++)
        {
            // Mostly valid fields, sometimes out of range (month 13, day 31 of a short month, hour 24, second 60, year 0).
            var year = random.Next(10) switch { 0 => 0, 1 => random.Next(1, 100), 2 => 9999, _ => random.Next(1970, 2100) };
            var month = random.Next(20) == 0 ? 13 : random.Next(1, 13);
            var day = random.Next(10) == 0 ? random.Next(28, 32) : random.Next(1, 29);
            var hour = random.Next(30) == 0 ? 24 : random.Next(24);
            var second = random.Next(30) == 0 ? 60 : random.Next(60);
            var fraction = random.Next(4) == 0 ? "" : "." + string.Concat(Enumerable.Range(0, random.Next(0, 11)).Select(_ => (char)('0' + random.Next(10))));
            var separator = random.Next(2) == 0 ? " " : "T";
            var suffix = random.Next(5) switch { 0 => "", 1 => " UTC", 2 => "z", 3 => "+00:00", _ => "Z" };
            yield return $"{year:0000}-{Two(month)}-{Two(day)}{separator}{Two(hour)}:{Two(random.Next(60))}:{Two(second)}{fraction}{suffix}";
        }
        foreach (var odd in new[]
        {
            "2024-05-01 12:03:04.000", "2024-05-01T12:03:04Z", "2024-05-01T12:03:04.123456789Z", "2024-05-01T12:03:04.9999999Z", "2024-05-01T12:03:04.99999995Z",
            "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-05-01T12:03:04Z\n", "2024-05-01 12:03:04\n", "2024-05-01T12:03:04Z\r\n",
            "２０２４-05-01T12:03:04Z", "2024-05-01T12:03:04Z ", " 2024-05-01T12:03:04Z", "2024-05-01T12:03:04.Z", "2024-5-01T12:03:04Z", "2024-05-01t12:03:04Z",
            "2024-05-01 12:03:04 UTC", "2024-05-01T12:03:04 UTC", "2024-05-01 12:03:04UTC", "2024-05-01", "12:03:04", "20240501T120304Z",
            "0f2a7a1e-1111-4111-8111-111111111111", "1234567890123456789", "123456789012345678", "-42", "0", "007", "3.25", "-1.5e3", "1e5", "٣", "٣.٥",
            "true", "false", "True", "TRUE", "", " ", "-", "10.0.0.1", "2001:db8::8a2e:370:7334:1234:5678", "arn:aws:iam::123456789012:role/x", "NaN", "Infinity",
        })
            yield return odd;
    }

    [Fact]
    public void Lake_values_are_typed_as_the_patterns_and_TryParse_type_them()
    {
        var fromBytes = 0;
        foreach (var value in Values())
        {
            foreach (var column in new[] { "eventname", "eventtime", "total" })
            {
                Same(ReferenceLake(column, value), ValueTyping.FromLake(column, value), $"Lake {column} '{value}'");
                // A page's reader may type a time from the cell's bytes: only ever as the rule types the text, in any column.
                if (ValueTyping.LakeTime(System.Text.Encoding.UTF8.GetBytes(value), out var typed))
                {
                    Same(ReferenceLake(column, value), typed, $"Lake {column} '{value}' from its bytes");
                    fromBytes++;
                }
            }
        }
        Assert.True(fromBytes > 1000, $"only {fromBytes} values were typed from their bytes");
        Assert.Null(ValueTyping.FromLake("total", null));
    }

    [Fact]
    public void Athena_values_are_typed_as_the_patterns_and_TryParse_type_them()
    {
        foreach (var value in Values())
            foreach (var type in new[] { "varchar", "VARCHAR", "timestamp", "timestamp(3) with time zone", "date", "bigint", "double", "boolean", "array(varchar)", "varchar(10)" })
                Same(ReferenceAthena(type, value), ValueTyping.FromAthena("c", type, value), $"Athena {type} '{value}'");
        Assert.Null(ValueTyping.FromAthena("c", "bigint", null));
    }

    [Fact]
    public void A_time_in_CloudTrail_s_forms_is_a_UTC_DateTime_to_the_tick()
    {
        var expected = new DateTime(2024, 5, 1, 12, 3, 4, DateTimeKind.Utc).AddTicks(1234567);
        foreach (var text in new[] { "2024-05-01 12:03:04.1234567", "2024-05-01T12:03:04.1234567Z", "2024-05-01 12:03:04.1234567 UTC" })
        {
            var time = Assert.IsType<DateTime>(ValueTyping.FromLake("eventtime", text));
            Assert.Equal(expected, time);
            Assert.Equal(DateTimeKind.Utc, time.Kind);
        }
        Assert.Equal(expected, ValueTyping.FromAthena("eventtime", "varchar", "2024-05-01T12:03:04.1234567Z"));
        Assert.Equal("2024-05-01 12:03:04.1234567", ValueTyping.FromAthena("eventtime", "varchar", "2024-05-01 12:03:04.1234567"));
    }
}
