using System.Net;
using System.Text.Json;
using GuardDutyIR.Lab.Events;
using GuardDutyIR.Lab.GuardDuty;

namespace GuardDutyIR.Lab.Tests.Events;

/// <summary>
/// POST /_lab/guardduty/occurrence: the activity behind a finding happens again, so GuardDuty counts it on the same
/// finding and sends the updated finding to EventBridge, which is how a rehearsal fires a rule with a real finding.
/// </summary>
public sealed class FindingOccurrenceTests
{
    [Fact]
    public async Task An_occurrence_counts_on_the_finding_and_puts_it_on_the_bus()
    {
        await using var lab = await TestLab.StartAsync("CompromisedInstance");
        var guardDuty = lab.GetService<GuardDutyService>()!;
        var id = guardDuty.ScenarioFindingId!;
        var count = (int)guardDuty.FindingsOf(lab.AccountId).Single(f => (string?)f["id"] == id)["service"]!["count"]!;
        var events = lab.GetService<EventBridgeService>()!;
        var before = events.EventsOf(lab.AccountId).Count;
        using var http = new HttpClient();

        var answer = await http.PostAsync($"{lab.Endpoint}/_lab/guardduty/occurrence?findingId={id}", null);

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var finding = guardDuty.FindingsOf(lab.AccountId).Single(f => (string?)f["id"] == id);
        Assert.Equal(count + 1, (int)finding["service"]!["count"]!);
        var published = events.EventsOf(lab.AccountId).Skip(before).Single();
        var envelope = JsonDocument.Parse(published.Json).RootElement;
        Assert.Equal("GuardDuty Finding", envelope.GetProperty("detail-type").GetString());
        Assert.Equal(id, envelope.GetProperty("detail").GetProperty("id").GetString());
        Assert.Equal(count + 1, envelope.GetProperty("detail").GetProperty("service").GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task An_unknown_finding_is_404_and_nothing_is_published()
    {
        await using var lab = await TestLab.StartAsync("CompromisedInstance");
        var before = lab.GetService<EventBridgeService>()!.EventsOf(lab.AccountId).Count;
        using var http = new HttpClient();

        var answer = await http.PostAsync($"{lab.Endpoint}/_lab/guardduty/occurrence?findingId=0123456789abcdef", null);

        Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
        Assert.Equal(before, lab.GetService<EventBridgeService>()!.EventsOf(lab.AccountId).Count);
    }
}
