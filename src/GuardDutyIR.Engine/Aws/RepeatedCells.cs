using System.Buffers.Binary;
using System.Text.Json;

namespace GuardDutyIR.Engine.Aws;

/// <summary>
/// The text of a result page's cells, where most columns hold a few values over and over (a region, a service, an
/// event name, a user agent, an ARN): a value whose bytes were seen before in its column in this page is the string
/// made then, with no new string made or decoded. Each column keeps the last value seen for each of 64 small hashes of
/// the bytes (a miss costs one comparison). Only plain strings are looked up; escaped ones are read as they come. A
/// reader may also say what it makes of a plain string's bytes instead (<see cref="TypedCell"/>): then no string at all.
/// </summary>
internal sealed class RepeatedCells(byte[] body, TypedCell? typed = null)
{
    private const int Slots = 64;
    private Slot[]?[] _columns = new Slot[]?[16];

    private struct Slot
    {
        public int Start;
        public int Length;
        public string? Text;
    }

    /// <summary>
    /// The value the reader stands on as text (see <see cref="ServiceClientBase.Text"/>), in column <paramref name="column"/>;
    /// or what <c>typed</c> makes of a plain string's bytes, when it makes something of them.
    /// </summary>
    public object? Value(ref Utf8JsonReader reader, int column)
    {
        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || reader.HasValueSequence) return ServiceClientBase.Text(ref reader);
        var bytes = reader.ValueSpan;
        if (typed is not null && typed(bytes, out var value)) return value;
        if (column >= _columns.Length) Array.Resize(ref _columns, Math.Max(column + 1, _columns.Length * 2));
        var slots = _columns[column] ??= new Slot[Slots];
        ref var slot = ref slots[Hash(bytes)];
        if (slot.Text is not null && bytes.SequenceEqual(body.AsSpan(slot.Start, slot.Length))) return slot.Text;
        var text = reader.GetString()!;
        // A string token starts at its opening quote; its bytes follow, in this page's body.
        slot = new Slot { Start = (int)reader.TokenStartIndex + 1, Length = bytes.Length, Text = text };
        return text;
    }

    // The length and the first and last eight bytes, mixed (Fibonacci hashing) into six bits.
    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        ulong key = (ulong)bytes.Length;
        if (bytes.Length >= 8) key ^= BinaryPrimitives.ReadUInt64LittleEndian(bytes) ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes[^8..]) * 31;
        else foreach (var b in bytes) key = key * 257 + b;
        return (int)((key * 0x9E3779B97F4A7C15UL) >> 58);
    }
}

/// <summary>
/// A value a result reader may give a plain (unescaped) string cell instead of its text, made from its UTF-8 bytes,
/// so that no string is made for a value that would only be turned into something else (a time).
/// </summary>
internal delegate bool TypedCell(ReadOnlySpan<byte> utf8, out object value);
