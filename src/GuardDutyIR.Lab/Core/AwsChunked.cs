using System.Text;

namespace GuardDutyIR.Lab.Core;

/// <summary>
/// Decodes an aws-chunked body (x-amz-content-sha256: STREAMING-…), which the AWS SDKs send for S3 uploads over
/// plain HTTP: "hex-size[;chunk-signature=…]\r\n data \r\n" repeated, ended by a zero-size chunk and optional trailers.
/// Chunk signatures are not re-verified; the seed signature over the headers already was.
/// </summary>
public static class AwsChunked
{
    public static bool IsStreaming(IReadOnlyDictionary<string, string> headers) =>
        headers.TryGetValue("x-amz-content-sha256", out var v) && v.StartsWith("STREAMING-", StringComparison.Ordinal);

    public static byte[] Decode(byte[] body) => Decode(body, out _);

    /// <summary>Decodes the body and returns the trailing headers (x-amz-checksum-*, which the SDKs send there when they compute it while streaming).</summary>
    public static byte[] Decode(byte[] body, out Dictionary<string, string> trailers)
    {
        trailers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        using var output = new MemoryStream(body.Length);
        int pos = 0;
        while (pos < body.Length)
        {
            int lineEnd = IndexOfCrLf(body, pos);
            if (lineEnd < 0) break;
            var header = Encoding.ASCII.GetString(body, pos, lineEnd - pos);
            var sizeText = header.Split(';')[0].Trim();
            if (!int.TryParse(sizeText, System.Globalization.NumberStyles.HexNumber, null, out var size)) break;
            pos = lineEnd + 2;
            if (size == 0)
            {
                ReadTrailers(body, pos, trailers);
                break;
            }
            output.Write(body, pos, Math.Min(size, body.Length - pos));
            pos += size + 2;
        }
        return output.ToArray();
    }

    // "name:value\r\n" lines after the last chunk, ended by an empty line (x-amz-trailer-signature among them).
    private static void ReadTrailers(byte[] body, int pos, Dictionary<string, string> trailers)
    {
        while (pos < body.Length)
        {
            int lineEnd = IndexOfCrLf(body, pos);
            var line = Encoding.ASCII.GetString(body, pos, (lineEnd < 0 ? body.Length : lineEnd) - pos);
            if (line.Length == 0) break;
            int colon = line.IndexOf(':');
            if (colon > 0) trailers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            if (lineEnd < 0) break;
            pos = lineEnd + 2;
        }
    }

    private static int IndexOfCrLf(byte[] b, int from)
    {
        for (int i = from; i < b.Length - 1; i++) if (b[i] == '\r' && b[i + 1] == '\n') return i;
        return -1;
    }
}
