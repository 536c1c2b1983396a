using System.Text;

namespace GuardDutyIR.Lab.Core;

/// <summary>A complete wire response.</summary>
public sealed class LabResponse
{
    public int StatusCode { get; init; } = 200;
    public string ContentType { get; init; } = "application/json";
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);
    public byte[] Body { get; init; } = Array.Empty<byte>();

    /// <summary>The AWS error code when this response is an error (for counters and tests); null on success.</summary>
    public string? ErrorCode { get; init; }

    public static LabResponse Text(int status, string contentType, string body, string? errorCode = null) =>
        new() { StatusCode = status, ContentType = contentType, Body = Encoding.UTF8.GetBytes(body), ErrorCode = errorCode };
}
