using System.Text;
using GuardDutyIR.Engine.Cases;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// A file written aside and moved in without overwriting (a new case's case.json, its journal key) has one writer that
/// made it, whatever the number of writers at once: the one told "yours" is the one whose bytes are in the file. Two
/// "winners" gave two writers of one new case different case IDs and different journal keys.
/// </summary>
public sealed class AsideFilesTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("gdir-aside-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Of_many_writers_of_a_new_file_at_once_exactly_one_makes_it_and_the_file_holds_its_bytes()
    {
        const int rounds = 100, writers = 8;
        for (var round = 0; round < rounds; round++)
        {
            var path = Path.Combine(_root, $"case-{round}.json");
            var made = new bool[writers];
            using var start = new Barrier(writers);
            Parallel.For(0, writers, new ParallelOptions { MaxDegreeOfParallelism = writers }, w =>
            {
                start.SignalAndWait();
                made[w] = AsideFiles.Write(path, Encoding.UTF8.GetBytes("writer " + w), overwrite: false);
            });
            var winners = Enumerable.Range(0, writers).Where(w => made[w]).ToList();
            Assert.True(winners.Count == 1, $"round {round}: {winners.Count} writers were told they made the file ({string.Join(", ", winners)})");
            Assert.Equal("writer " + winners[0], File.ReadAllText(path));
        }
        Assert.Empty(Directory.EnumerateFiles(_root, "*.tmp"));
    }

    [Fact]
    public void Overwriting_replaces_the_file_and_leaves_nothing_aside()
    {
        var path = Path.Combine(_root, "head.json");
        Assert.True(AsideFiles.Write(path, "one"u8.ToArray(), overwrite: true));
        Assert.True(AsideFiles.Write(path, "two"u8.ToArray(), overwrite: true));
        Assert.False(AsideFiles.Write(path, "three"u8.ToArray(), overwrite: false));
        Assert.Equal("two", File.ReadAllText(path));
        Assert.Empty(Directory.EnumerateFiles(_root, "*.tmp"));
    }
}
