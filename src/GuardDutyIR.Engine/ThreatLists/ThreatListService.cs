using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.S3.Model;
using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.Engine.Findings;

namespace GuardDutyIR.Engine.ThreatLists;

/// <summary>
/// Threat lists and trusted IP lists: read them, create one from local entries (upload to S3, then create and
/// activate), add entries to one (rewrite its file and re-activate so GuardDuty reloads it), change, delete.
/// </summary>
public sealed class ThreatListService(AwsSession session)
{
    private readonly FindingService _detectors = new(session);

    private static ThreatListKind Kind(ThreatListType type) => type == ThreatListType.Threat ? ThreatListKind.ThreatIntelSet : ThreatListKind.IPSet;

    public async IAsyncEnumerable<GdThreatList> GetListsAsync(string region, string? detectorId, ThreatListType? type, string? listId,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var detector = await _detectors.ResolveDetectorAsync(region, detectorId, cancellationToken).ConfigureAwait(false);
        var client = session.GuardDuty(region);
        foreach (var t in type is { } only ? new[] { only } : new[] { ThreatListType.Threat, ThreatListType.Trusted })
        {
            if (listId is not null)
            {
                yield return await GetAsync(client, region, detector, t, listId, cancellationToken).ConfigureAwait(false);
                continue;
            }
            await foreach (var id in client.ListListsAsync(detector, Kind(t), cancellationToken).ConfigureAwait(false))
                yield return await GetAsync(client, region, detector, t, id, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<GdThreatList> GetAsync(GuardDutyClient client, string region, string detectorId, ThreatListType type, string listId,
        CancellationToken cancellationToken, int? entryCount = null, IReadOnlyList<string>? requestIds = null)
    {
        var set = await client.GetListAsync(detectorId, Kind(type), listId, cancellationToken).ConfigureAwait(false);
        return new GdThreatList
        {
            ListId = listId,
            ListType = type,
            Name = FindingParser.String(set["name"]) ?? "",
            Format = FindingParser.String(set["format"]) ?? "",
            Location = FindingParser.String(set["location"]) ?? "",
            Status = FindingParser.String(set["status"]) ?? "",
            DetectorId = detectorId,
            Region = region,
            Tags = (set["tags"] as JsonObject)?.ToDictionary(p => p.Key, p => FindingParser.String(p.Value) ?? "") ?? new Dictionary<string, string>(),
            EntryCount = entryCount,
            RequestIds = requestIds ?? Array.Empty<string>(),
        };
    }

    /// <summary>The name, bucket and key (default: from the name) of a new list, checked before any call.</summary>
    public static (string Name, string Bucket, string Key) PlanLocation(ThreatListType type, string name, string bucket, string? key) =>
        (ThreatListLocation.ValidateName(name), ThreatListLocation.ValidateBucket(bucket),
            key is null ? ThreatListLocation.DefaultKey(type, name) : ThreatListLocation.ValidateKey(key));

    /// <summary>
    /// Uploads the entries as a TXT list to s3://bucket/key, then creates the list on GuardDuty. The file must not exist
    /// yet (another list may read it); when GuardDuty refuses the list, the uploaded file is removed again, so a failed
    /// command leaves nothing behind.
    /// </summary>
    public async Task<GdThreatList> CreateAsync(string region, string? detectorId, ThreatListType type, string name, IReadOnlyList<string> entries,
        string bucket, string? key, bool activate, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken)
    {
        (name, bucket, var objectKey) = PlanLocation(type, name, bucket, key);
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var detector = await _detectors.ResolveDetectorAsync(region, detectorId, cancellationToken).ConfigureAwait(false);
        if (await ListFileExistsAsync(region, bucket, objectKey, cancellationToken).ConfigureAwait(false))
            throw new GuardDutyIRException("ThreatListFileExists", ErrorKind.ResourceExists,
                $"s3://{bucket}/{objectKey} already exists and may be another list's file. Name another key with -Key, or add entries to "
                + "the existing list with Add-GdThreatListEntry.", $"s3://{bucket}/{objectKey}");
        var putRequestId = await PutListFileAsync(region, bucket, objectKey, entries, cancellationToken).ConfigureAwait(false);
        var client = session.GuardDuty(region);
        // The client token makes a retried create idempotent on the service.
        var token = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes($"{detector}|{type}|{name}|{bucket}/{objectKey}")))[..32];
        string id;
        try
        {
            id = await Admin(() => client.CreateListAsync(detector, Kind(type), name, "TXT", S3Url(bucket, objectKey), activate, tags, token, cancellationToken), name)
                .ConfigureAwait(false);
        }
        catch (GuardDutyIRException e)
        {
            throw await RemoveUploadAfterAsync(e, region, bucket, objectKey).ConfigureAwait(false) ?? e;
        }
        catch (OperationCanceledException)
        {
            await RemoveUploadAfterAsync(null, region, bucket, objectKey).ConfigureAwait(false);
            throw;
        }
        return await GetAsync(client, region, detector, type, id, cancellationToken, entries.Count, new[] { putRequestId }).ConfigureAwait(false);
    }

    // Removes the file this command uploaded. Not cancellable: it is the cleanup of a stop. The returned error says
    // whether the file is gone, so nothing is left behind unnoticed.
    private async Task<GuardDutyIRException?> RemoveUploadAfterAsync(GuardDutyIRException? failure, string region, string bucket, string key)
    {
        string outcome;
        try
        {
            await session.S3(region).DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = key }, CancellationToken.None).ConfigureAwait(false);
            outcome = $"The uploaded file s3://{bucket}/{key} was removed again.";
        }
        catch (Exception e) when (e is AmazonServiceException or GuardDutyIRException)
        {
            outcome = $"The uploaded file s3://{bucket}/{key} could not be removed ({e.Message}); delete it by hand.";
        }
        return failure is null ? null : new GuardDutyIRException(failure.ErrorId, failure.Kind, failure.Message + " " + outcome, failure.Target, failure);
    }

    private async Task<bool> ListFileExistsAsync(string region, string bucket, string key, CancellationToken cancellationToken)
    {
        try
        {
            await session.S3(region).GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AmazonServiceException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
        catch (AmazonServiceException e)
        {
            throw AwsErrors.Translate(e, "S3", "HeadObject", $"s3://{bucket}/{key}");
        }
    }

    /// <summary>Adds entries to an existing TXT list: rewrites its S3 file and re-activates it so GuardDuty reloads it.</summary>
    public async Task<GdThreatList> AddEntriesAsync(string region, string? detectorId, ThreatListType type, string listId, IReadOnlyList<string> entries,
        CancellationToken cancellationToken)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var detector = await _detectors.ResolveDetectorAsync(region, detectorId, cancellationToken).ConfigureAwait(false);
        var client = session.GuardDuty(region);
        var current = await GetAsync(client, region, detector, type, listId, cancellationToken).ConfigureAwait(false);
        if (!current.Format.Equals("TXT", StringComparison.OrdinalIgnoreCase))
            throw new GuardDutyIRException("ThreatListFormatUnsupported", ErrorKind.InvalidOperation,
                $"List '{current.Name}' is in {current.Format} format; entries can be added only to TXT lists.", listId);
        var (bucket, key) = ParseS3Url(current.Location);
        var existing = await GetListFileAsync(region, bucket, key, cancellationToken).ConfigureAwait(false);
        var (merged, _) = ThreatListEntries.Validate(ThreatListEntries.ReadTxt(existing).Concat(entries), type);
        var putRequestId = await PutListFileAsync(region, bucket, key, merged, cancellationToken).ConfigureAwait(false);
        var updateRequestId = await Admin(() => client.UpdateListAsync(detector, Kind(type), listId, null, current.Location, true, cancellationToken), listId)
            .ConfigureAwait(false);
        return await GetAsync(client, region, detector, type, listId, cancellationToken, merged.Count,
            new[] { putRequestId, updateRequestId }.OfType<string>().ToList()).ConfigureAwait(false);
    }

    public async Task<GdThreatList> UpdateAsync(string region, string? detectorId, ThreatListType type, string listId, string? name, string? location,
        bool? activate, CancellationToken cancellationToken)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var detector = await _detectors.ResolveDetectorAsync(region, detectorId, cancellationToken).ConfigureAwait(false);
        var client = session.GuardDuty(region);
        var requestId = await Admin(() => client.UpdateListAsync(detector, Kind(type), listId, name, location, activate, cancellationToken), listId)
            .ConfigureAwait(false);
        return await GetAsync(client, region, detector, type, listId, cancellationToken, null, new[] { requestId }.OfType<string>().ToList()).ConfigureAwait(false);
    }

    public async Task<string?> DeleteAsync(string region, string? detectorId, ThreatListType type, string listId, CancellationToken cancellationToken)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var detector = await _detectors.ResolveDetectorAsync(region, detectorId, cancellationToken).ConfigureAwait(false);
        return await Admin(() => session.GuardDuty(region).DeleteListAsync(detector, Kind(type), listId, cancellationToken), listId).ConfigureAwait(false);
    }

    // Member accounts cannot manage lists; GuardDuty's answer does not say so plainly, so this does.
    private static async Task<T> Admin<T>(Func<Task<T>> call, object target)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (AwsServiceException e) when (e.StatusCode is 400 or 403
            && (e.ServiceMessage.Contains("administrator", StringComparison.OrdinalIgnoreCase) || e.ServiceMessage.Contains("master", StringComparison.OrdinalIgnoreCase)
                || e.ServiceMessage.Contains("member", StringComparison.OrdinalIgnoreCase)))
        {
            throw new GuardDutyIRException("ThreatListRequiresAdministrator", ErrorKind.PermissionDenied,
                "Only the GuardDuty administrator account can manage threat lists and trusted IP lists; run this with the administrator account's credentials "
                + $"(GuardDuty said: {e.ErrorCode}: {e.ServiceMessage}).", target, e);
        }
    }

    public static string S3Url(string bucket, string key) => $"https://s3.amazonaws.com/{bucket}/{string.Join('/', key.Split('/').Select(Uri.EscapeDataString))}";

    /// <summary>Bucket and key of the S3 URL forms GuardDuty accepts (s3://, path-style and virtual-hosted https).</summary>
    public static (string Bucket, string Key) ParseS3Url(string location)
    {
        if (location.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            var rest = location[5..];
            var slash = rest.IndexOf('/');
            if (slash > 0) return (rest[..slash], Uri.UnescapeDataString(rest[(slash + 1)..]));
        }
        else if (Uri.TryCreate(location, UriKind.Absolute, out var uri) && uri.Host.EndsWith("amazonaws.com", StringComparison.OrdinalIgnoreCase))
        {
            var path = uri.AbsolutePath.TrimStart('/');
            var hostBucket = uri.Host.IndexOf(".s3", StringComparison.OrdinalIgnoreCase);
            if (hostBucket > 0) return (uri.Host[..hostBucket], Uri.UnescapeDataString(path));
            var slash = path.IndexOf('/');
            if (slash > 0) return (path[..slash], Uri.UnescapeDataString(path[(slash + 1)..]));
        }
        throw new GuardDutyIRException("InvalidS3Location", ErrorKind.InvalidData, $"'{location}' is not an S3 URL of a list file.", location);
    }

    private async Task<string> PutListFileAsync(string region, string bucket, string key, IReadOnlyList<string> entries, CancellationToken cancellationToken)
    {
        try
        {
            var response = await session.S3(region).PutObjectAsync(new PutObjectRequest
            {
                BucketName = bucket,
                Key = key,
                ContentBody = string.Join('\n', entries) + "\n",
                ContentType = "text/plain",
            }, cancellationToken).ConfigureAwait(false);
            return response.ResponseMetadata.RequestId;
        }
        catch (AmazonServiceException e)
        {
            throw AwsErrors.Translate(e, "S3", "PutObject", $"s3://{bucket}/{key}");
        }
    }

    private async Task<string> GetListFileAsync(string region, string bucket, string key, CancellationToken cancellationToken)
    {
        return await S3ObjectReader.ReadTextAsync(session.S3(region), bucket, key, cancellationToken).ConfigureAwait(false);
    }
}
