using System.Text;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// Our own clients must read whatever headers a real or compatible endpoint sends. x-amz-crc32 is a checksum of the
/// body (DynamoDB always sends it; compatible servers send it on other services too): a correct one is accepted, a
/// wrong one is an integrity failure.
/// </summary>
public sealed class ResponseHeaderTests : IDisposable
{
    private const string AutoScalingAnswer =
        "<DescribeAutoScalingInstancesResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">" +
        "<DescribeAutoScalingInstancesResult><AutoScalingInstances><member><InstanceId>i-0123456789abcdef0</InstanceId>" +
        "<AutoScalingGroupName>web</AutoScalingGroupName><LifecycleState>InService</LifecycleState></member></AutoScalingInstances>" +
        "</DescribeAutoScalingInstancesResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeAutoScalingInstancesResponse>";

    private const string CloudTrailAnswer = "{\"EventDataStores\":[]}";

    private readonly WireStub _stub = new();

    public void Dispose() => _stub.Dispose();

    private AwsSession Session() => StubSessions.For(_stub);

    private static StubResponse WithCrc(string body, string contentType, uint? crc = null) =>
        new(200, body, new()
        {
            ["Content-Type"] = contentType,
            ["x-amz-crc32"] = (crc ?? Crc32(Encoding.UTF8.GetBytes(body))).ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    // CRC-32 (IEEE 802.3, reflected, as zlib and the x-amz-crc32 header use it).
    private static uint Crc32(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    [Fact]
    public async Task Query_client_accepts_a_correct_crc32_header()
    {
        _stub.Enqueue(WithCrc(AutoScalingAnswer, "text/xml"));
        using var session = Session();

        var found = await session.AutoScaling().DescribeInstancesAsync(new[] { "i-0123456789abcdef0" }, CancellationToken.None);

        Assert.Equal("web", Assert.Single(found).GroupName);
    }

    [Fact]
    public async Task Json_client_accepts_a_correct_crc32_header()
    {
        _stub.Enqueue(WithCrc(CloudTrailAnswer, "application/x-amz-json-1.1"));
        using var session = Session();

        var stores = new List<System.Text.Json.Nodes.JsonObject>();
        await foreach (var store in session.CloudTrail().ListEventDataStoresAsync(CancellationToken.None)) stores.Add(store);

        Assert.Empty(stores);
    }

    [Fact]
    public async Task A_wrong_crc32_is_refused_as_corrupt_data()
    {
        // The SDK retries a checksum mismatch as a transient fault; every answer here is corrupt.
        _stub.Default = WithCrc(AutoScalingAnswer, "text/xml", crc: 12345);
        using var session = Session();

        var error = await Assert.ThrowsAsync<GuardDutyIRException>(() => session.AutoScaling().DescribeInstancesAsync(new[] { "i-0123456789abcdef0" }, CancellationToken.None));

        Assert.Equal("CorruptResponse", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Equal(_stub.Url.TrimEnd('/'), error.Target);
    }
}
