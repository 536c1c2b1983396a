using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Engine.Tests;

/// <summary>Lake and Athena result pages: the next one is asked for while the caller converts this one, in order, and an early stop cancels it.</summary>
public sealed class ResultReadAheadTests
{
    private static JsonObject Page(int n, int last) =>
        n < last ? new JsonObject { ["Page"] = n, ["NextToken"] = "t" + (n + 1) } : new JsonObject { ["Page"] = n };

    private static string? NextToken(JsonObject page) => (string?)page["NextToken"];

    private static int Number(string? token) => token is null ? 0 : int.Parse(token[1..], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Pages_come_in_order_and_the_next_is_requested_before_this_one_is_handed_over()
    {
        var requested = new List<int>();
        var seen = new List<(int Page, int RequestedSoFar)>();
        await foreach (var page in LakeQueryService.ReadAheadAsync((token, _) =>
        {
            lock (requested) requested.Add(Number(token));
            return Task.FromResult(Page(Number(token), 4));
        }, NextToken, CancellationToken.None))
        {
            lock (requested) seen.Add(((int)page["Page"]!, requested.Count));
        }
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }, requested);
        // While page n is with the caller, page n+1 has been asked for already (the last has no next).
        Assert.Equal(new[] { (0, 2), (1, 3), (2, 4), (3, 5), (4, 5) }, seen);
    }

    [Fact]
    public async Task Stopping_after_the_first_page_cancels_the_request_in_flight()
    {
        var cancelled = new TaskCompletionSource();
        await foreach (var page in LakeQueryService.ReadAheadAsync(async (token, ct) =>
        {
            if (token is null) return Page(0, 10);
            // The second page never comes unless cancelled.
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { cancelled.TrySetResult(); throw; }
            return Page(1, 10);
        }, NextToken, CancellationToken.None))
        {
            Assert.Equal(0, (int)page["Page"]!);
            break;
        }
        Assert.True(cancelled.Task.IsCompleted);
    }

    [Fact]
    public async Task A_failed_page_is_the_caller_s_error_at_that_page()
    {
        var pages = new List<int>();
        var e = await Assert.ThrowsAsync<GuardDutyIRException>(async () =>
        {
            await foreach (var page in LakeQueryService.ReadAheadAsync((token, _) => Number(token) == 2
                ? Task.FromException<JsonObject>(new GuardDutyIRException("QueryFailed", ErrorKind.InvalidOperation, "page 2 failed", null))
                : Task.FromResult(Page(Number(token), 5)), NextToken, CancellationToken.None))
                pages.Add((int)page["Page"]!);
        });
        Assert.Equal("QueryFailed", e.ErrorId);
        Assert.Equal(new[] { 0, 1 }, pages);
    }

    [Fact]
    public async Task With_the_token_found_early_the_next_page_is_requested_before_this_one_is_read()
    {
        var requested = new List<int>();
        var readWith = new List<(int Page, int RequestedSoFar)>();
        await foreach (var page in LakeQueryService.ReadAheadAsync((token, _) =>
        {
            lock (requested) requested.Add(Number(token));
            return Task.FromResult(Page(Number(token), 3).ToJsonString());
        }, answer => NextToken(JsonNode.Parse(answer)!.AsObject()), answer =>
        {
            var page = JsonNode.Parse(answer)!.AsObject();
            lock (requested) readWith.Add(((int)page["Page"]!, requested.Count));
            return page;
        }, NextToken, CancellationToken.None))
        {
        }
        Assert.Equal(new[] { 0, 1, 2, 3 }, requested);
        Assert.Equal(new[] { (0, 2), (1, 3), (2, 4), (3, 4) }, readWith);
    }

    [Fact]
    public async Task When_the_page_s_own_token_differs_from_the_early_one_the_early_request_is_cancelled_and_the_right_one_made()
    {
        var requested = new List<string?>();
        var cancelled = new TaskCompletionSource<string>();
        var pages = new List<int>();
        await foreach (var page in LakeQueryService.ReadAheadAsync(async (token, ct) =>
        {
            lock (requested) requested.Add(token);
            if (token == "wrong")
            {
                try { await Task.Delay(Timeout.Infinite, ct); }
                catch (OperationCanceledException) { cancelled.TrySetResult(token); throw; }
            }
            return token is null ? "first" : "second";
        }, answer => answer == "first" ? "wrong" : null, answer => answer == "first" ? Page(0, 1) : Page(1, 1), NextToken, CancellationToken.None))
            pages.Add((int)page["Page"]!);
        Assert.Equal(new[] { 0, 1 }, pages);
        Assert.Equal(new[] { null, "wrong", "t1" }, requested);
        Assert.Equal("wrong", await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task With_no_token_found_early_the_next_page_is_requested_once_this_one_is_read()
    {
        var requested = new List<string?>();
        var pages = new List<int>();
        await foreach (var page in LakeQueryService.ReadAheadAsync((token, _) =>
        {
            lock (requested) requested.Add(token);
            return Task.FromResult(Page(Number(token), 2));
        }, _ => null, page => page, NextToken, CancellationToken.None))
            pages.Add((int)page["Page"]!);
        Assert.Equal(new[] { 0, 1, 2 }, pages);
        Assert.Equal(new[] { null, "t1", "t2" }, requested);
    }
}
