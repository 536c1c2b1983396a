using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Commands;

/// <summary>
/// Turns what PowerShell hands a cmdlet (PSCustomObject from ConvertFrom-Json or the Lambda runtime's
/// $LambdaInput, hashtables, arrays, strings) into JSON for the engine, without needing ConvertTo-Json.
/// </summary>
internal static class PSObjectJson
{
    private const int MaxDepth = 64;

    public static JsonNode? ToJson(object? value, int depth = 0)
    {
        if (depth > MaxDepth) throw new GuardDutyIRException("InputNestedTooDeep", ErrorKind.InvalidData, $"The input is nested more than {MaxDepth} levels deep.");
        switch (value)
        {
            case null:
                return null;
            case PSObject ps when ps.BaseObject is PSCustomObject:
                {
                    var o = new JsonObject();
                    foreach (var p in ps.Properties) o[p.Name] = ToJson(p.Value, depth + 1);
                    return o;
                }
            case PSObject ps:
                return ToJson(ps.BaseObject, depth);
            case string s:
                return JsonValue.Create(s);
            case bool b:
                return JsonValue.Create(b);
            case DateTime t:
                return JsonValue.Create(t.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture));
            case DateTimeOffset t:
                return JsonValue.Create(t.UtcDateTime.ToString("o", CultureInfo.InvariantCulture));
            case byte or sbyte or short or ushort or int or uint or long or ulong:
                return JsonValue.Create(Convert.ToInt64(value, CultureInfo.InvariantCulture));
            case float or double or decimal:
                return JsonValue.Create(Convert.ToDouble(value, CultureInfo.InvariantCulture));
            case IDictionary dictionary:
                {
                    var o = new JsonObject();
                    foreach (DictionaryEntry entry in dictionary) o[entry.Key.ToString() ?? ""] = ToJson(entry.Value, depth + 1);
                    return o;
                }
            case IEnumerable sequence:
                {
                    var a = new JsonArray();
                    foreach (var item in sequence) a.Add(ToJson(item, depth + 1));
                    return a;
                }
            default:
                return JsonValue.Create(value.ToString());
        }
    }
}
