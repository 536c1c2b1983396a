using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// What the network can do to a call, on 127.0.0.1: nothing listening, a reset in the middle of an answer, a server that
/// does not speak TLS behind an https URL, a server that accepts and never answers. Each ends as one stable ErrorId
/// (ConnectionError or OperationTimeout) naming the endpoint, for our own clients and AWSSDK's alike, within the
/// configured timeouts.
/// </summary>
public sealed class TransportFaultTests : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public TransportFaultTests()
    {
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
        _listener.Start();
    }

    private int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }

    // Generous limits unless a test is about a limit: where the answer under test is a ConnectionError, a fake server
    // slowed by a busy machine must not turn it into an OperationTimeout (a TLS case did, in CI, at 2 s).
    private static AwsSession Session(string endpoint, double requestTimeoutSeconds = 10) => AwsSession.Resolve(new AwsContextOptions
    {
        Region = "us-east-1",
        EndpointUrl = endpoint,
        Credential = new NetworkCredential("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    }, new SessionDefaults { ConnectTimeoutSec = 10, RequestTimeoutSec = requestTimeoutSeconds });

    /// <summary>Accepts connections and hands each to <paramref name="serve"/>.</summary>
    private void Serve(Func<TcpClient, Task> serve) => _ = Task.Run(async () =>
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(async () =>
            {
                try { await serve(client); }
                catch (Exception) { }
            });
        }
    });

    private static async Task ReadRequestHeadAsync(NetworkStream stream)
    {
        var buffer = new byte[8192];
        var seen = new StringBuilder();
        while (!seen.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer);
            if (n == 0) return;
            seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    private static async Task<GuardDutyIRException> Fails(Func<AwsSession, Task> call, AwsSession session)
    {
        using (session) return await Assert.ThrowsAsync<GuardDutyIRException>(() => call(session));
    }

    private static Task GuardDutyCall(AwsSession s) => s.GuardDuty().GetDetectorAsync("12abc34d567e8fa901bc2d34e56789f0");

    private static Task Ec2Call(AwsSession s) => s.Ec2(null).DescribeInstancesAsync(new Amazon.EC2.Model.DescribeInstancesRequest());

    private static Task StsCall(AwsSession s) => s.GetCallerIdentityAsync(null, CancellationToken.None);

    /// <summary>
    /// Every service the cmdlets call: our own protocol client in each of its wire protocols (rest-json GuardDuty,
    /// json-1.1 CloudTrail, Athena, EventBridge and SSM, awsQuery SNS and IAM) and AWSSDK's EC2, S3 and STS clients.
    /// S3's reset comes in the middle of an object's body, which is read after the SDK has returned.
    /// </summary>
    public static TheoryData<string> Clients => new() { "own", "ec2", "sts", "s3", "cloudtrail", "athena", "eventbridge", "sns", "iam", "ssm" };

    private static Func<AwsSession, Task> Call(string client) => client switch
    {
        "own" => GuardDutyCall,
        "ec2" => Ec2Call,
        // GetObject and its body, as the S3 trail download and the threat list read it: the body comes after the SDK returns.
        "s3" => s => S3ObjectReader.ReadTextAsync(s.S3(null), "evidence-bucket", "AWSLogs/k.json.gz", CancellationToken.None),
        "cloudtrail" => s => s.CloudTrail().DescribeQueryAsync("0123456789abcdef0123456789abcdef0123"),
        "athena" => s => s.Athena().GetQueryExecutionAsync("01234567-89ab-cdef-0123-456789abcdef"),
        "eventbridge" => s => s.EventBridge().DescribeRuleAsync("GuardDuty-Rule", null, CancellationToken.None),
        "sns" => s => s.Sns().PublishAsync("arn:aws:sns:us-east-1:123456789012:t", "m", "s"),
        "iam" => s => s.Iam().GetRoleAsync("SomeRole", CancellationToken.None),
        "ssm" => s => s.Ssm().DescribeInstanceAsync("i-0123456789abcdef0", CancellationToken.None),
        _ => StsCall,
    };

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task Nothing_listening_is_a_ConnectionError_naming_the_endpoint(string client)
    {
        var port = Port;
        _listener.Stop();   // the port is now closed: connections are refused

        var error = await Fails(Call(client), Session($"http://127.0.0.1:{port}"));

        Assert.Equal("ConnectionError", error.ErrorId);
        Assert.Equal(ErrorKind.ConnectionError, error.Kind);
        Assert.Equal($"http://127.0.0.1:{port}", error.Target);
        Assert.Contains("refused", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task A_reset_in_the_middle_of_an_answer_is_a_ConnectionError(string client)
    {
        Serve(async tcp =>
        {
            using (tcp)
            {
                var stream = tcp.GetStream();
                await ReadRequestHeadAsync(stream);
                await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5000\r\n\r\n<Resp"));
                await stream.FlushAsync();
                tcp.Client.LingerState = new LingerOption(true, 0);   // close with RST, not FIN
            }
        });

        var error = await Fails(Call(client), Session($"http://127.0.0.1:{Port}"));

        Assert.Equal("ConnectionError", error.ErrorId);
        Assert.Equal($"http://127.0.0.1:{Port}", error.Target);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task An_https_endpoint_that_does_not_speak_TLS_is_a_ConnectionError(string client)
    {
        Serve(async tcp =>
        {
            using (tcp)
            {
                var stream = tcp.GetStream();
                var buffer = new byte[1024];
                _ = await stream.ReadAsync(buffer);   // the ClientHello, or the part of it that has arrived
                await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
            }
        });

        var error = await Fails(Call(client), Session($"https://127.0.0.1:{Port}"));

        Assert.Equal("ConnectionError", error.ErrorId);
        Assert.Equal($"https://127.0.0.1:{Port}", error.Target);
        Assert.Contains("TLS", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task An_endpoint_that_never_answers_is_an_OperationTimeout_after_the_usual_three_attempts(string client)
    {
        var attempts = 0;
        Serve(async tcp =>
        {
            using (tcp)
            {
                await ReadRequestHeadAsync(tcp.GetStream());
                Interlocked.Increment(ref attempts);
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }
        });

        var error = await Fails(Call(client), Session($"http://127.0.0.1:{Port}", requestTimeoutSeconds: 0.5));

        Assert.Equal("OperationTimeout", error.ErrorId);
        Assert.Equal(ErrorKind.OperationTimeout, error.Kind);
        Assert.Equal($"http://127.0.0.1:{Port}", error.Target);
        // Each attempt was given up after the request timeout (HttpClient's default would hold each for 100 s), and a dead
        // endpoint gets the SDK's usual three attempts, EC2's included (its 9 are for throttling only). The SDK may add
        // one or two when it judges a timed-out pooled connection stale, which it does more often on a loaded machine.
        Assert.InRange(Volatile.Read(ref attempts), 2, 5);
    }

    [Fact]
    public async Task An_S3_object_whose_body_stops_coming_is_an_OperationTimeout()
    {
        // The headers arrive at once (the SDK returns), then the body stalls: only the read's own limit ends the wait.
        Serve(async tcp =>
        {
            using (tcp)
            {
                var stream = tcp.GetStream();
                await ReadRequestHeadAsync(stream);
                await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5000\r\n\r\n{\"Records\":["));
                await stream.FlushAsync();
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }
        });
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var error = await Fails(Call("s3"), Session($"http://127.0.0.1:{Port}", requestTimeoutSeconds: 0.5));

        Assert.Equal("OperationTimeout", error.ErrorId);
        Assert.Equal($"http://127.0.0.1:{Port}", error.Target);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task The_callers_own_cancellation_stays_a_cancellation()
    {
        Serve(async tcp =>
        {
            using (tcp)
            {
                await ReadRequestHeadAsync(tcp.GetStream());
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }
        });
        using var session = Session($"http://127.0.0.1:{Port}", requestTimeoutSeconds: 30);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => session.GuardDuty().GetDetectorAsync("12abc34d567e8fa901bc2d34e56789f0", cancel.Token));
    }

    [Fact]
    public void A_name_that_does_not_resolve_is_a_ConnectionError_that_says_DNS()
    {
        // Not sent for real: the test machine must not query DNS servers. This is the exception SocketsHttpHandler raises.
        var failure = new HttpRequestException(HttpRequestError.NameResolutionError, "Name or service not known (guardduty.nowhere.example:443)",
            new SocketException((int)SocketError.HostNotFound));

        var error = TransportErrors.Classify(failure, "GuardDuty", "ListDetectors", new Uri("https://user:secret@guardduty.nowhere.example/path?x=1"), TimeSpan.FromSeconds(5), cancelledByCaller: false);

        Assert.NotNull(error);
        Assert.Equal("ConnectionError", error!.ErrorId);
        Assert.Contains("DNS", error.Message, StringComparison.Ordinal);
        Assert.Equal("https://guardduty.nowhere.example", error.Target);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Timeouts_come_from_defaults_then_the_environment_then_the_built_in_values()
    {
        Environment.SetEnvironmentVariable(TransportSettings.RequestTimeoutVariable, "7.5");
        try
        {
            Assert.Equal(TimeSpan.FromSeconds(3), TransportSettings.Resolve(null, 3).RequestTimeout);
            Assert.Equal(TimeSpan.FromSeconds(7.5), TransportSettings.Resolve(null, null).RequestTimeout);
            Assert.Equal(TransportSettings.DefaultConnectTimeout, TransportSettings.Resolve(null, null).ConnectTimeout);
            Environment.SetEnvironmentVariable(TransportSettings.RequestTimeoutVariable, "soon");
            Assert.Equal("InvalidTimeout", Assert.Throws<GuardDutyIRException>(() => TransportSettings.Resolve(null, null)).ErrorId);
            Assert.Equal("InvalidTimeout", Assert.Throws<GuardDutyIRException>(() => TransportSettings.Resolve(0, null)).ErrorId);
        }
        finally
        {
            Environment.SetEnvironmentVariable(TransportSettings.RequestTimeoutVariable, null);
        }
    }
}
