using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Engine.Findings;

/// <summary>Detectors per region.</summary>
public sealed class DetectorService(AwsSession session)
{
    public async IAsyncEnumerable<GdDetector> GetDetectorsAsync(string region, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await session.AssumeRoleIfRequestedAsync(cancellationToken).ConfigureAwait(false);
        var client = session.GuardDuty(region);
        await foreach (var id in client.ListDetectorsAsync(cancellationToken).ConfigureAwait(false))
        {
            var d = await client.GetDetectorAsync(id, cancellationToken).ConfigureAwait(false);
            yield return new GdDetector
            {
                DetectorId = id,
                Region = region,
                Status = FindingParser.String(d["status"]),
                FindingPublishingFrequency = FindingParser.String(d["findingPublishingFrequency"]),
                ServiceRole = FindingParser.String(d["serviceRole"]),
                CreatedAt = FindingParser.Time(d["createdAt"], "createdAt", id),
                UpdatedAt = FindingParser.Time(d["updatedAt"], "updatedAt", id),
                Tags = (d["tags"] as JsonObject)?.ToDictionary(p => p.Key, p => FindingParser.String(p.Value) ?? "") ?? new Dictionary<string, string>(),
            };
        }
    }
}
