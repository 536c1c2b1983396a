using System.Net;
using System.Net.Sockets;
using DuckDB.NET.Data;
using GuardDutyIR.Engine.Investigation;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// User SQL over local trail files can read the trail view and nothing else: every other file, URL, extension or
/// setting is refused by the DuckDB engine itself, not only by the text checks in front of it.
/// </summary>
public sealed class LocalEngineSandboxTests : IDisposable
{
    private const string Instance = "i-0123456789abcdef0";
    private readonly string _root = Directory.CreateTempSubdirectory("gdir-sandbox-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("gdir-outside-").FullName;
    private readonly string _secret = "canary-" + Guid.NewGuid().ToString("N");

    public LocalEngineSandboxTests()
    {
        TrailLogWriter.WriteInvestigation(Path.Combine(_root, "trail"), Instance);
        // A CSV (which DuckDB reads by its extension alone) and a JSON file holding a secret that no answer may show.
        File.WriteAllText(Canary, "secret\n" + _secret + "\n");
        File.WriteAllText(Path.Combine(_outside, "canary.json"), $"{{\"secret\":\"{_secret}\"}}");
    }

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }

    private string Canary => Path.Combine(_outside, "canary.csv");
    private string Written => Path.Combine(_outside, "written.csv");
    private IReadOnlyList<string> Files => LocalTrailFiles.Resolve(new[] { Path.Combine(_root, "trail") });

    private string Fill(string sql) => sql
        .Replace("{canary}", Canary).Replace("{canaryjson}", Path.Combine(_outside, "canary.json"))
        .Replace("{out}", Written).Replace("{outdb}", Path.Combine(_outside, "attached.db")).Replace("{dir}", _outside);

    // Hostile SQL, with the ErrorId the engine gives it when no text check stands in front.
    public static TheoryData<string, string> Hostile => new()
    {
        { "select * from \"read_text\"('{canary}')", "QueryFileAccess" },
        { "select content from \"read_text\"(['{canary}'])", "QueryFileAccess" },
        { "select * from \"read_csv\"('{canary}')", "QueryFileAccess" },
        { "select * from query('select * from read_csv(''{canary}'')')", "QueryFileAccess" },
        { "select * from '{canary}'", "QueryFileAccess" },
        { "with t as (select * from '{canary}') select * from t", "QueryFileAccess" },
        { "select * from read_csv_auto('{canary}')", "QueryFileAccess" },
        { "select * from read_json('{canaryjson}')", "QueryFileAccess" },
        { "select * from read_json_auto('{canaryjson}')", "QueryFileAccess" },
        { "select * from read_parquet('{canary}')", "QueryFileAccess" },
        { "select * from parquet_scan('{canary}')", "QueryFileAccess" },
        { "select * from read_blob('{canary}')", "QueryFileAccess" },
        { "select * from sniff_csv('{canary}')", "QueryFileAccess" },
        { "select * from glob('{dir}/*')", "QueryFileAccess" },
        { "select * from glob('/*')", "QueryFileAccess" },
        { "copy (select 1) to '{out}'", "QueryNotSelect" },
        { "copy cloudtrail to '{out}'", "QueryNotSelect" },
        { "attach '{outdb}'", "QueryNotSelect" },
        { "export database '{dir}/export'", "QueryNotSelect" },
        { "install httpfs", "QueryNotSelect" },
        { "load httpfs", "QueryNotSelect" },
        { "set enable_external_access = true", "QueryNotSelect" },
        { "reset enable_external_access", "QueryNotSelect" },
        { "pragma database_list", "QueryNotSelect" },
        { "call pragma_version()", "QueryNotSelect" },
        { "select 1; copy (select 1) to '{out}'", "QueryNotSelect" },
        { "select 1; select * from read_text('{canary}')", "QueryMultipleStatements" },
        { "select count(*) from cloudtrail; select 2", "QueryMultipleStatements" },
    };

    private static readonly string[] StableIds = { "QueryFileAccess", "QueryFailed", "QueryNotSelect", "QueryMultipleStatements" };

    private async Task<(GuardDutyIRException? Error, string Seen)> Run(IAsyncEnumerable<QueryRow> rows)
    {
        var seen = new System.Text.StringBuilder();
        try
        {
            await foreach (var row in rows)
                foreach (var value in row.Values) seen.Append(value).Append('|');
            return (null, seen.ToString());
        }
        catch (GuardDutyIRException e)
        {
            return (e, seen.Append(e.Message).Append(e.InnerException?.Message).ToString());
        }
    }

    private void AssertNothingLeakedOrWritten(string seen)
    {
        Assert.DoesNotContain(_secret, seen);
        Assert.False(File.Exists(Written), "a file was written outside the engine");
        Assert.False(File.Exists(Path.Combine(_outside, "attached.db")), "a database was attached from outside");
        Assert.False(Directory.Exists(Path.Combine(_outside, "export")), "the database was exported");
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task Below_the_text_checks_the_engine_itself_refuses_hostile_sql(string sql, string errorId)
    {
        var (error, seen) = await Run(LocalTrailEngine.RunLocalSqlAsync(Fill(sql), sql, Files, raw: true, _ => { }, CancellationToken.None));
        Assert.NotNull(error);
        Assert.Equal(errorId, error!.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        AssertNothingLeakedOrWritten(seen);
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task Through_the_public_entry_hostile_sql_stops_with_a_stable_error(string sql, string _)
    {
        var (error, seen) = await Run(LocalTrailEngine.RunAsync(Fill(sql), Files, raw: true, _ => { }, CancellationToken.None));
        Assert.NotNull(error);
        Assert.Contains(error!.ErrorId, StableIds);
        AssertNothingLeakedOrWritten(seen);
    }

    [Fact]
    public async Task The_engine_that_runs_user_sql_is_locked_and_cannot_be_reopened()
    {
        using var connection = await LocalTrailEngine.OpenSandboxAsync(Files, LocalTrailEngine.ColumnsUsedBy("select * from cloudtrail"), _ => { }, CancellationToken.None);
        string Setting(string name)
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT value FROM duckdb_settings() WHERE name = '{name}'";
            return command.ExecuteScalar()!.ToString()!;
        }
        Assert.Equal("false", Setting("enable_external_access"));
        Assert.Equal("false", Setting("autoinstall_known_extensions"));
        Assert.Equal("false", Setting("autoload_known_extensions"));
        Assert.Equal("false", Setting("allow_community_extensions"));
        Assert.Equal("true", Setting("lock_configuration"));

        // Run straight on the connection: no text check and no statement check in front.
        foreach (var statement in new[]
        {
            "SET enable_external_access = true", "RESET enable_external_access", "SET lock_configuration = false",
            "SET memory_limit = '100GB'", "SET threads = 64", "SET temp_directory = '{dir}'", "SET autoinstall_known_extensions = true",
            $"ATTACH '{{outdb}}'", "COPY (SELECT 1) TO '{out}'", "INSTALL httpfs", "LOAD httpfs", "SELECT * FROM read_text('{canary}')",
        })
        {
            using var command = connection.CreateCommand();
            command.CommandText = Fill(statement);
            Assert.Throws<DuckDBException>(() => command.ExecuteNonQuery());
        }
        AssertNothingLeakedOrWritten("");

        // The view the queries are for still answers.
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM cloudtrail";
        Assert.Equal(11L, Convert.ToInt64(count.ExecuteScalar()));
    }

    [Fact]
    public async Task A_url_in_the_sql_makes_no_network_attempt_and_installs_no_extension()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var extensions = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".duckdb", "extensions");
            var before = Directory.Exists(extensions) ? Directory.GetFiles(extensions, "*", SearchOption.AllDirectories) : Array.Empty<string>();
            foreach (var sql in new[]
            {
                $"select * from 'http://127.0.0.1:{port}/x.csv'",
                $"select * from read_csv('http://127.0.0.1:{port}/x.csv')",
                $"select * from read_parquet('https://127.0.0.1:{port}/x.parquet')",
                $"select * from 's3://bucket/x.csv'",
            })
            {
                var (error, _) = await Run(LocalTrailEngine.RunLocalSqlAsync(sql, sql, Files, raw: true, _ => { }, CancellationToken.None));
                Assert.NotNull(error);
                Assert.Contains(error!.ErrorId, StableIds);
            }
            // Every query has returned, so any connection the engine made is waiting on the listener now.
            Assert.False(listener.Pending(), "the engine connected to the URL");
            var after = Directory.Exists(extensions) ? Directory.GetFiles(extensions, "*", SearchOption.AllDirectories) : Array.Empty<string>();
            Assert.Equal(before, after);
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task Ordinary_queries_still_answer_in_the_locked_engine()
    {
        var (error, seen) = await Run(LocalTrailEngine.RunAsync(
            "select eventname, count(*) as total from EDS_ID where useridentity.principalid like '%:" + Instance + "' group by eventname order by total desc, eventname",
            Files, raw: true, _ => { }, CancellationToken.None));
        Assert.Null(error);
        Assert.StartsWith("ListBuckets|3|", seen);
    }
}
