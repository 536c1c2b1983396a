using System.Management.Automation;
using GuardDutyIR.Engine.Findings;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Gets the GuardDuty detector of each region; several regions are queried in parallel.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "GdDetector")]
[OutputType(typeof(GdDetector))]
public sealed class GetGdDetectorCommand : GdAwsMultiRegionCmdlet
{
    protected override void ProcessRecord()
    {
        var service = new DetectorService(Session);
        // Start every region at once; write in the order the regions were given, each as soon as it is ready.
        var lookups = CurrentRegions.Select(region => (region, task: Collect(service.GetDetectorsAsync(region, CancellationToken)))).ToList();
        foreach (var (region, task) in lookups)
        {
            ForResource(region, () =>
            {
                foreach (var detector in Await(task)) WriteObject(detector);
            });
        }
    }

    private static async Task<List<GdDetector>> Collect(IAsyncEnumerable<GdDetector> source)
    {
        var list = new List<GdDetector>();
        await foreach (var item in source.ConfigureAwait(false)) list.Add(item);
        return list;
    }
}
