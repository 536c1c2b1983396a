using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon.EC2;
using Amazon.Runtime;
using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Engine.Containment;

/// <summary>What one mutating call came to: done (with its request ID) or, under DryRun, allowed or denied.</summary>
internal readonly record struct Mutation<T>(StepStatus Status, string? RequestId, T? Response, string? Error);

/// <summary>
/// Every EC2 call of the containment services goes through here: paced by the client-side buckets, SDK errors turned
/// into <see cref="AwsServiceException"/> with the resource as target, and, under DryRun, every mutating call sent
/// with DryRun=true and its answer read as EC2 defines it (DryRunOperation = allowed, UnauthorizedOperation = denied).
/// </summary>
internal sealed class Ec2Gateway
{
    public Ec2Gateway(IAmazonEC2 client, string region, Ec2RateLimiter limiter, bool dryRun)
    {
        Client = client;
        Region = region;
        Limiter = limiter;
        DryRun = dryRun;
    }

    public IAmazonEC2 Client { get; }
    public string Region { get; }
    public Ec2RateLimiter Limiter { get; }
    public bool DryRun { get; }

    public async Task<T> ReadAsync<T>(string action, object? target, Func<IAmazonEC2, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        await Limiter.AcquireAsync(action, cancellationToken).ConfigureAwait(false);
        try
        {
            return await call(Client, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonServiceException e)
        {
            throw AwsErrors.Translate(e, "EC2", action, target);
        }
    }

    /// <summary>How long a change already sent may take to answer after the run was stopped.</summary>
    internal static readonly TimeSpan SentChangeGrace = TimeSpan.FromSeconds(1);

    /// <summary>A mutating call; <paramref name="call"/> receives whether to send DryRun=true.</summary>
    public async Task<Mutation<T>> MutateAsync<T>(string action, object? target, Func<IAmazonEC2, bool, CancellationToken, Task<T>> call,
        CancellationToken cancellationToken) where T : AmazonWebServiceResponse
    {
        // The IAM instance-profile actions have no DryRun member: under DryRun they are not sent at all.
        if (DryRun && action.Contains("IamInstanceProfile", StringComparison.Ordinal))
            return new Mutation<T>(StepStatus.Skipped, null, null, $"{action} has no DryRun; not checked");
        await Limiter.AcquireAsync(action, cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        // Once sent, a change is given a short grace after Ctrl+C instead of being abandoned at once: its answer says
        // whether it happened and carries its request ID for the record, and an abandoned request can still be carried
        // out by EC2 after the calls that follow it (an ENI put on the all-open conversion group after the stop's
        // roll-forward had already moved it to isolation).
        using var sent = new CancellationTokenSource();
        using var stop = cancellationToken.Register(static s => ((CancellationTokenSource)s!).CancelAfter(SentChangeGrace), sent);
        try
        {
            var response = await call(Client, DryRun, sent.Token).ConfigureAwait(false);
            if (DryRun)
                // EC2 never answers a DryRun with success; a client or emulator that does has not checked anything.
                throw new GuardDutyIRException("DryRunNotHonoured", ErrorKind.InvalidOperation, $"EC2 {action} answered a DryRun request with success.", target);
            return new Mutation<T>(StepStatus.Done, response.ResponseMetadata?.RequestId, response, null);
        }
        catch (AmazonServiceException e) when (DryRun && e.ErrorCode == "DryRunOperation")
        {
            return new Mutation<T>(StepStatus.DryRunAllowed, e.RequestId, null, null);
        }
        catch (AmazonServiceException e) when (DryRun && e.ErrorCode == "UnauthorizedOperation")
        {
            return new Mutation<T>(StepStatus.DryRunDenied, e.RequestId, null, $"{e.ErrorCode}: {e.Message}");
        }
        catch (AmazonServiceException e)
        {
            throw AwsErrors.Translate(e, "EC2", action, target);
        }
    }

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new ConstantClassConverter() },
    };

    /// <summary>An SDK object (an instance description) as JSON, for the record and the evidence folder.</summary>
    public static string ToJson(object value) => JsonSerializer.Serialize(value, value.GetType(), s_json);

    // SDK enums are ConstantClass objects; as JSON they are their string value.
    private sealed class ConstantClassConverter : JsonConverter<ConstantClass>
    {
        public override bool CanConvert(Type typeToConvert) => typeof(ConstantClass).IsAssignableFrom(typeToConvert);
        public override ConstantClass Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException();
        public override void Write(Utf8JsonWriter writer, ConstantClass value, JsonSerializerOptions options) => writer.WriteStringValue(value.Value);
    }
}
