using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace GuardDutyIR.Lab.CloudTrail;

/// <summary>One trail log file as CloudTrail delivers it to S3.</summary>
public sealed record CloudTrailLogFile(string Key, byte[] GzipContent, DateTimeOffset DeliveredAt, int EventCount);

/// <summary>Summary of a bulk write.</summary>
public sealed record CloudTrailBulkResult(string Directory, int Files, long Events, long CompressedBytes);

/// <summary>
/// Trail log files in CloudTrail's S3 layout: AWSLogs/&lt;account&gt;/CloudTrail/&lt;region&gt;/yyyy/MM/dd/
/// &lt;account&gt;_CloudTrail_&lt;region&gt;_&lt;yyyyMMddTHHmmZ&gt;_&lt;16 chars&gt;.json.gz, each a gzip of {"Records":[…]}.
/// CloudTrail writes a file per region roughly every 5 minutes, so records are grouped by (region, 5-minute window).
/// </summary>
public static class CloudTrailLogFiles
{
    public static string TrailBucketName(string accountId) => $"aws-cloudtrail-logs-{accountId}-guardduty-example";

    public static string KeyFor(string accountId, string region, DateTimeOffset windowEnd, string suffix) =>
        $"AWSLogs/{accountId}/CloudTrail/{region}/{windowEnd:yyyy}/{windowEnd:MM}/{windowEnd:dd}/{accountId}_CloudTrail_{region}_{windowEnd.UtcDateTime.ToString("yyyyMMdd'T'HHmm'Z'", CultureInfo.InvariantCulture)}_{suffix}.json.gz";

    public static IEnumerable<CloudTrailLogFile> Split(IEnumerable<CloudTrailRecord> records, string accountId, int seed)
    {
        var rng = new Random(unchecked(seed * 6151 + 3));
        var groups = records
            .GroupBy(r => (r.AwsRegion, Window: WindowEnd(r.EventTime)))
            .OrderBy(g => g.Key.Window).ThenBy(g => g.Key.AwsRegion, StringComparer.Ordinal);
        foreach (var g in groups)
        {
            var key = KeyFor(accountId, g.Key.AwsRegion, g.Key.Window, Suffix(rng));
            var list = g.ToList();
            yield return new CloudTrailLogFile(key, Gzip(list), g.Key.Window.AddMinutes(5), list.Count);
        }
    }

    private static DateTimeOffset WindowEnd(DateTimeOffset t)
    {
        var u = t.ToUniversalTime();
        var floor = new DateTimeOffset(u.Year, u.Month, u.Day, u.Hour, u.Minute - u.Minute % 5, 0, TimeSpan.Zero);
        return floor.AddMinutes(5);
    }

    private static string Suffix(Random rng)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        var c = new char[16];
        for (int i = 0; i < c.Length; i++) c[i] = alphabet[rng.Next(alphabet.Length)];
        return new string(c);
    }

    public static byte[] Gzip(IEnumerable<CloudTrailRecord> records)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            WriteRecords(gz, records);
        return ms.ToArray();
    }

    private static void WriteRecords(Stream stream, IEnumerable<CloudTrailRecord> records)
    {
        using var w = new Utf8JsonWriter(stream);
        w.WriteStartObject();
        w.WriteStartArray("Records");
        foreach (var r in records) r.Json.WriteTo(w);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Reads the records of one .json.gz trail file (tests and tools).</summary>
    public static IReadOnlyList<JsonElement> ReadRecords(byte[] gzip)
    {
        using var gz = new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress);
        using var doc = JsonDocument.Parse(gz);
        return doc.RootElement.GetProperty("Records").EnumerateArray().Select(e => e.Clone()).ToArray();
    }

    /// <summary>
    /// Writes <paramref name="events"/> background events as trail log files under <paramref name="directory"/> (S3 key
    /// layout as relative paths), streaming: one file's records at a time are in memory, whatever the total.
    /// </summary>
    public static CloudTrailBulkResult WriteBulk(string directory, long events, int seed = 42, string accountId = "111122223333",
        string region = "us-east-1", int eventsPerFile = 2000, DateTimeOffset? start = null, TimeSpan? span = null)
    {
        if (eventsPerFile < 1) throw new ArgumentOutOfRangeException(nameof(eventsPerFile));
        var from = start ?? new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
        var to = from + (span ?? TimeSpan.FromDays(30));
        var rng = new Random(seed);
        int files = 0;
        long written = 0, bytes = 0;
        var batch = new List<CloudTrailRecord>(eventsPerFile);
        void Flush()
        {
            if (batch.Count == 0) return;
            var last = batch[^1].EventTime;
            var key = KeyFor(accountId, region, last, Suffix(rng));
            var path = Path.Combine(directory, key.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            using (var gz = new GZipStream(fs, CompressionLevel.Fastest))
                WriteRecords(gz, batch);
            bytes += new FileInfo(path).Length;
            files++;
            batch.Clear();
        }
        foreach (var r in CloudTrailEventGenerator.Bulk(accountId, region, seed, events, from, to))
        {
            batch.Add(r);
            written++;
            if (batch.Count == eventsPerFile) Flush();
        }
        Flush();
        return new CloudTrailBulkResult(directory, files, written, bytes);
    }

    /// <summary>UTF-8 size of a record as stored (the Lab's "bytes scanned" unit).</summary>
    internal static long SizeOf(CloudTrailRecord r) => Encoding.UTF8.GetByteCount(r.JsonText);
}
