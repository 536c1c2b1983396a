using System.Text.Json;

namespace GuardDutyIR.Engine.Aws;

/// <summary>
/// A page's NextToken found without reading the page, so the next page can be asked for while this one is read. Only
/// where it costs nothing to be sure: the answer object's first member, or its last (where AWS's json-1.1 answers put
/// it, after the rows). Anywhere else, or as anything but a plain string, it is not found here, and the reader of the
/// page finds it; a token found here is what the reader finds, unless the answer names NextToken twice (the reader
/// takes the last) or is not JSON at all (the reader refuses it).
/// </summary>
internal static class PageTokens
{
    private static ReadOnlySpan<byte> Member => "NextToken"u8;

    public static string? Find(byte[] body)
    {
        var token = First(body) ?? Last(body);
        return string.IsNullOrEmpty(token) ? null : token;
    }

    private static string? First(byte[] body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            if (!reader.Read() || reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals(Member)) return null;
            return reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        }
        catch (JsonException)
        {
            return null;   // not JSON where it was looked for: the page's reader says so
        }
        catch (InvalidOperationException)
        {
            return null;   // a string that is no valid UTF-8
        }
    }

    // Read backwards from the end: '}' closes the answer, so a string just before it is the value of the answer's
    // last member, and the string before its ':' is that member's name. A '"' inside a string is always escaped, so
    // the first unescaped '"' going back is where a string starts.
    private static string? Last(byte[] body)
    {
        var span = body.AsSpan();
        var at = SkipSpaceBack(span, span.Length - 1);
        if (at < 0 || span[at] != '}') return null;
        var valueEnd = SkipSpaceBack(span, at - 1);
        if (valueEnd < 0 || span[valueEnd] != '"') return null;
        var valueStart = StringStart(span, valueEnd);
        if (valueStart < 0) return null;
        var colon = SkipSpaceBack(span, valueStart - 1);
        if (colon < 0 || span[colon] != ':') return null;
        var nameEnd = SkipSpaceBack(span, colon - 1);
        if (nameEnd < 0 || span[nameEnd] != '"') return null;
        var nameStart = StringStart(span, nameEnd);
        if (nameStart < 0 || !span[(nameStart + 1)..nameEnd].SequenceEqual(Member)) return null;
        // The value as JSON reads it (escapes, UTF-8 checked): a string literal is a JSON text of its own.
        try
        {
            var reader = new Utf8JsonReader(span[valueStart..(valueEnd + 1)]);
            return reader.Read() ? reader.GetString() : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private static int SkipSpaceBack(ReadOnlySpan<byte> span, int at)
    {
        while (at >= 0 && span[at] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r') at--;
        return at;
    }

    /// <summary>Where the string ending with the '"' at <paramref name="end"/> starts: the unescaped '"' before it (-1: none).</summary>
    private static int StringStart(ReadOnlySpan<byte> span, int end)
    {
        for (var at = span[..end].LastIndexOf((byte)'"'); at >= 0; at = span[..at].LastIndexOf((byte)'"'))
        {
            var slashes = 0;
            while (at - 1 - slashes >= 0 && span[at - 1 - slashes] == '\\') slashes++;
            if (slashes % 2 == 0) return at;
        }
        return -1;
    }
}
