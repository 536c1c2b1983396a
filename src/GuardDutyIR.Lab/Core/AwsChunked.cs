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

    public static byte[] Decode(byte[] body)
    {
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
            if (size == 0) break;
            output.Write(body, pos, Math.Min(size, body.Length - pos));
            pos += size + 2;
        }
        return output.ToArray();
    }

    private static int IndexOfCrLf(byte[] b, int from)
    {
        for (int i = from; i < b.Length - 1; i++) if (b[i] == '\r' && b[i + 1] == '\n') return i;
        return -1;
    }
}
