using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Engine.Tests;

/// <summary>An S3 key never puts a download outside the cache folder; a bad -S3Uri or -CacheDirectory is refused up front.</summary>
public sealed class S3CachePathsTests : IDisposable
{
    private readonly string _parent = Directory.CreateTempSubdirectory("gdir-s3paths-").FullName;
    private string Cache => Path.Combine(_parent, "cache");

    public void Dispose() => Directory.Delete(_parent, recursive: true);

    public static TheoryData<string> HostileKeys => new()
    {
        "../escape.json.gz",
        "AWSLogs/../../escape.json.gz",
        "a/../../b.json",
        "a/../../../b.json",
        "..\\escape.json",
        "AWSLogs\\..\\..\\escape.json",
        "/etc/cron.d/escape.json",
        "//server/share/escape.json",
        "C:\\Windows\\escape.json",
        "C:/escape.json",
        "AWSLogs/C:escape.json",
        "AWSLogs/./x.json",
        "AWSLogs//x.json",
        "AWSLogs/x\0y.json",
        "AWSLogs/x\ny.json",
        "AWSLogs/\u001b[31mred.json",
        "AWSLogs/CON.json",
        "AWSLogs/nul/x.json",
        "AWSLogs/com1.json.gz",
        "AWSLogs/dir./x.json",
        "AWSLogs/x.json ",
        "AWSLogs/" + new string('a', 300) + ".json",
        string.Join('/', Enumerable.Repeat(new string('b', 180), 30)) + "/x.json",
        "AWSLogs/a*b?.json",
        "",
    };

    [Theory]
    [MemberData(nameof(HostileKeys))]
    public void A_key_that_would_leave_the_bucket_folder_or_cannot_be_a_file_name_gets_no_path(string key)
    {
        Assert.Null(S3CachePaths.LocalPath(Cache, "trail-bucket", key, out var reason));
        Assert.False(string.IsNullOrEmpty(reason));
    }

    [Theory]
    [InlineData("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/123456789012_CloudTrail_us-east-1_20261101T0000Z_abc.json.gz")]
    [InlineData("logs/AWSLogs/o-abc123/123456789012/CloudTrail/eu-west-1/2026/11/01/x.json")]
    [InlineData("a..b/c...json")]
    public void A_cloudtrail_key_maps_to_its_folders_inside_the_bucket_folder(string key)
    {
        var local = S3CachePaths.LocalPath(Cache, "trail-bucket", key, out var reason);
        Assert.Null(reason);
        Assert.Equal(Path.Combine(new[] { Cache, "trail-bucket" }.Concat(key.Split('/')).ToArray()), local);
    }

    [Fact]
    public void A_link_inside_the_cache_folder_is_refused()
    {
        Directory.CreateDirectory(Path.Combine(Cache, "trail-bucket"));
        var elsewhere = Directory.CreateDirectory(Path.Combine(_parent, "elsewhere")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(Cache, "trail-bucket", "AWSLogs"), elsewhere);
        var e = Assert.Throws<GuardDutyIRException>(() => S3CachePaths.CheckNoLinks(Cache, Path.Combine(Cache, "trail-bucket", "AWSLogs", "x")));
        Assert.Equal("CacheFolderLink", e.ErrorId);
        S3CachePaths.CheckNoLinks(Cache, Path.Combine(Cache, "trail-bucket"));
    }

    [Theory]
    [InlineData("s3:///x")]
    [InlineData("s3://")]
    [InlineData("s3://../x")]
    [InlineData("s3://./x")]
    [InlineData("s3://a/x")]
    [InlineData("s3://bucket..name/x")]
    [InlineData("s3://-bucket/x")]
    [InlineData("s3://bucket\\..\\x/y")]
    [InlineData("s3://buc ket/x")]
    [InlineData("https://bucket/x")]
    public void A_uri_without_a_bucket_name_is_refused(string uri)
    {
        var e = Assert.Throws<GuardDutyIRException>(() => LakeQueryService.ParseS3Uri(uri));
        Assert.Equal("InvalidS3Uri", e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Equal(uri, e.Target);
    }

    [Theory]
    [InlineData("s3://org-trail/AWSLogs/123456789012/", "org-trail", "AWSLogs/123456789012/")]
    [InlineData("s3://Legacy_Bucket.1", "Legacy_Bucket.1", "")]
    public void A_bucket_uri_splits_into_bucket_and_prefix(string uri, string bucket, string prefix) =>
        Assert.Equal((bucket, prefix), LakeQueryService.ParseS3Uri(uri));

    [Fact]
    public void A_cache_directory_that_is_a_file_is_refused()
    {
        var file = Path.Combine(_parent, "a-file");
        File.WriteAllText(file, "x");
        foreach (var path in new[] { file, Path.Combine(file, "sub") })
        {
            var e = Assert.Throws<GuardDutyIRException>(() => LakeQueryService.ValidateCacheDirectory(path));
            Assert.Equal("InvalidCacheDirectory", e.ErrorId);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
            Assert.Equal(path, e.Target);
        }
        Assert.Equal(Path.Combine(_parent, "new", "cache"), LakeQueryService.ValidateCacheDirectory(Path.Combine(_parent, "new", "cache")));
    }
}
