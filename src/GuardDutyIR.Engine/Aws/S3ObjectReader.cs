using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace GuardDutyIR.Engine.Aws;

/// <summary>
/// S3 GetObject with its body. The SDK returns once the headers have arrived and leaves the body to be read from the
/// network afterwards (https://docs.aws.amazon.com/sdkfornet/v4/apidocs/items/S3/TGetObjectResponse.html), outside its
/// pipeline and so outside the transport translation there: a connection reset or stalled in the middle of the body
/// is translated here, the same ConnectionError or OperationTimeout naming the endpoint as any other call's.
/// </summary>
internal static class S3ObjectReader
{
    public static async Task CopyToAsync(IAmazonS3 s3, string bucket, string key, Stream destination, CancellationToken cancellationToken)
    {
        GetObjectResponse response;
        try
        {
            response = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonServiceException e)
        {
            throw AwsErrors.Translate(e, "S3", "GetObject", $"s3://{bucket}/{key}");
        }
        using (response)
        {
            try
            {
                await CopyWithIdleLimitAsync(response.ResponseStream, destination, s3.Config.Timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (TransportErrors.Classify(e, "S3", "GetObject", Endpoint(s3), s3.Config.Timeout,
                cancellationToken.IsCancellationRequested) is { } translated)
            {
                throw translated;
            }
        }
    }

    // The client's request timeout bounds each wait for more of the body: HttpClient's own timeout ends with the headers.
    private static async Task CopyWithIdleLimitAsync(Stream source, Stream destination, TimeSpan? idleLimit, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        while (true)
        {
            if (idleLimit is { } limit && limit > TimeSpan.Zero) idle.CancelAfter(limit);
            var read = await source.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
            if (read == 0) return;
            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
        }
    }

    public static async Task<string> ReadTextAsync(IAmazonS3 s3, string bucket, string key, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await CopyToAsync(s3, bucket, key, buffer, cancellationToken).ConfigureAwait(false);
        buffer.Position = 0;
        using var reader = new StreamReader(buffer, System.Text.Encoding.UTF8);
        return await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
    }

    private static Uri? Endpoint(IAmazonS3 s3) =>
        s3.Config.ServiceURL is { Length: > 0 } url ? new Uri(url)
        : s3.Config.RegionEndpoint is { } region ? new Uri($"https://s3.{region.SystemName}.amazonaws.com") : null;
}
