using System.IO.Compression;
using System.Text.Json;

namespace GuardDutyIR.TestSupport;

/// <summary>Writes CloudTrail log files ({"Records":[...]}, gzip or plain) for tests of the local query engine.</summary>
public static class TrailLogWriter
{
    public const string Account = "123456789012";

    public static object Record(string version, string principal, string source, string name, bool readOnly, string region = "us-east-1",
        object? requestParameters = null, string time = "2026-11-01T10:00:00Z", string ip = "54.1.2.3") => new
    {
        eventVersion = version,
        userIdentity = new
        {
            type = "AssumedRole",
            principalId = principal,
            arn = $"arn:aws:sts::{Account}:assumed-role/Role/" + principal.Split(':').Last(),
            accountId = Account,
            sessionContext = new { sessionIssuer = new { type = "Role", userName = "Role" }, attributes = new { mfaAuthenticated = "false" }, ec2RoleDelivery = "2.0" },
        },
        eventTime = time,
        eventSource = source,
        eventName = name,
        awsRegion = region,
        sourceIPAddress = ip,
        readOnly,
        requestParameters,
        eventID = Guid.NewGuid().ToString(),
        eventType = "AwsApiCall",
        managementEvent = true,
        recipientAccountId = Account,
        somethingNew = new { x = 1 },
    };

    public static void Write(string path, IEnumerable<object> records, bool gzip)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var json = JsonSerializer.SerializeToUtf8Bytes(new { Records = records });
        if (!gzip)
        {
            File.WriteAllBytes(path, json);
            return;
        }
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        gz.Write(json);
    }

    /// <summary>
    /// A gzip log file that decompresses to about <paramref name="gigabytes"/> GB and never ends its JSON: a head member
    /// then one compressed 4 MiB member repeated (a gzip reader joins members, RFC 1952 section 2.2), so it is a few MB
    /// on disk. Either an endless Records array of small records, or one record whose string never ends.
    /// </summary>
    public static void WriteEndlessGzip(string path, bool endlessRecord, int gigabytes = 16)
    {
        static byte[] Member(string text)
        {
            using var buffer = new MemoryStream();
            using (var gz = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true)) gz.Write(System.Text.Encoding.UTF8.GetBytes(text));
            return buffer.ToArray();
        }
        const int chunk = 4 << 20;
        const string record = "{\"eventVersion\":\"1.08\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"ListBuckets\",\"readOnly\":true},";
        var head = Member(endlessRecord ? "{\"Records\":[{\"eventVersion\":\"1.08\",\"eventName\":\"" : "{\"Records\":[");
        var body = Member(endlessRecord ? new string('a', chunk) : string.Concat(Enumerable.Repeat(record, chunk / record.Length)));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        file.Write(head);
        for (var i = 0; i < gigabytes * 1024 / 4; i++) file.Write(body);
    }

    /// <summary>
    /// The investigated instance (its role lists buckets 3 times, uploads 2 objects, calls from 2 regions and once from
    /// an outside address) and other principals, across a gzip file and a plain file in nested folders.
    /// </summary>
    public static void WriteInvestigation(string root, string instanceId)
    {
        var role = "AROAEXAMPLEROLEID:" + instanceId;
        Write(Path.Combine(root, $"AWSLogs/{Account}/CloudTrail/us-east-1/2026/11/01/a.json.gz"), new[]
        {
            Record("1.08", role, "s3.amazonaws.com", "ListBuckets", true),
            Record("1.09", role, "s3.amazonaws.com", "ListBuckets", true),
            Record("1.11", role, "s3.amazonaws.com", "ListBuckets", true),
            Record("1.08", role, "s3.amazonaws.com", "PutObject", false, requestParameters: new { bucketName = "loot", key = "a/secrets.txt", Host = "loot.s3.amazonaws.com" }),
            Record("1.08", role, "s3.amazonaws.com", "PutObject", false, requestParameters: new { bucketName = "loot", key = "b/db.dump", nested = new { n = 1 } }),
            Record("1.05", role, "ec2.amazonaws.com", "DescribeInstances", true, region: "us-west-2"),
            Record("1.07", role, "ec2.amazonaws.com", "DescribeSecurityGroups", true, region: "us-west-2"),
            Record("1.10", role, "sts.amazonaws.com", "GetCallerIdentity", true, ip: "45.9.9.9"),
        }, gzip: true);
        Write(Path.Combine(root, $"AWSLogs/{Account}/CloudTrail/us-east-1/2026/11/02/b.json"), new[]
        {
            Record("1.08", "AROAOTHER:i-0fedcba9876543210", "s3.amazonaws.com", "ListBuckets", true),
            Record("1.08", "AIDAUSER", "iam.amazonaws.com", "CreateUser", false),
            new { eventVersion = "1.06", eventTime = "2026-11-02T10:00:00Z", eventSource = "signin.amazonaws.com", eventName = "ConsoleLogin", readOnly = false } as object,
        }, gzip: false);
    }
}
