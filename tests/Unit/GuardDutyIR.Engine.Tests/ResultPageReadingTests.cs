using GuardDutyIR.Engine.Aws;
using GuardDutyIR.Engine.Context;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// GetQueryResults pages of CloudTrail Lake and Athena as a real endpoint may send them: members in any order, members
/// the model does not have (yet), nulls, empty pages, a page with no rows but a token, odd values, broken JSON.
/// </summary>
public sealed class ResultPageReadingTests : IDisposable
{
    private readonly WireStub _stub = new();

    public void Dispose() => _stub.Dispose();

    private async Task<LakeResultPage> Lake(string body)
    {
        _stub.Enqueue(new StubResponse(200, body));
        using var session = StubSessions.For(_stub);
        return await session.CloudTrail().GetQueryResultRowsAsync("q-1", null, 1000);
    }

    private async Task<AthenaResultPage> Athena(string body)
    {
        _stub.Enqueue(new StubResponse(200, body));
        using var session = StubSessions.For(_stub);
        return await session.Athena().GetQueryResultRowsAsync("q-1", null, 1000);
    }

    // Each row as "column=value" cells ("column=" for null), so the assertions read the way the page looks.
    private static string[] Cells(LakeResultPage page) =>
        page.Rows.Select(r => string.Join(",", r.Columns.Select((c, i) => c + "=" + (string?)r.Values[i]))).ToArray();

    private static string[] Cells(AthenaResultPage page) => page.Rows.Select(r => string.Join(",", r.Select(v => v is null ? "<null>" : (string)v))).ToArray();

    [Fact]
    public async Task Lake_the_token_before_the_rows_and_members_the_model_does_not_have_are_read_past()
    {
        var page = await Lake("{\"NextToken\":\"n2\",\"Extra\":{\"a\":[1,{\"b\":null}],\"QueryResultRows\":[[{\"x\":\"no\"}]]},\"QueryStatus\":\"FINISHED\"," +
                              "\"QueryResultRows\":[[{\"eventname\":\"PutObject\"},{\"n\":\"1\"}],[{\"eventname\":\"GetObject\"},{\"n\":\"2\"}]],\"More\":[[\"x\"]]}");

        Assert.Equal(new[] { "eventname=PutObject,n=1", "eventname=GetObject,n=2" }, Cells(page));
        Assert.Equal("n2", page.NextToken);
    }

    [Fact]
    public async Task Lake_rows_may_name_other_columns_or_leave_one_out_and_each_row_keeps_its_own()
    {
        var page = await Lake("{\"QueryResultRows\":[[{\"a\":\"1\"},{\"b\":\"2\"}],[{\"b\":\"3\"}],[{\"a\":\"4\"},{\"c\":\"5\"}],[{\"a\":\"6\"},{\"b\":\"7\"}],[]]}");

        Assert.Equal(new[] { "a=1,b=2", "b=3", "a=4,c=5", "a=6,b=7", "" }, Cells(page));
        Assert.Null(page.NextToken);
    }

    [Fact]
    public async Task Lake_cells_that_are_no_one_key_object_rows_that_are_no_array_and_escaped_names_are_read_as_the_json_says()
    {
        // A cell with two keys gives its first; an empty object or a stray value gives no cell; a row that is no array is empty.
        var page = await Lake("{\"QueryResultRows\":[[{\"a\":\"1\",\"z\":\"9\"},{},\"stray\",null,{\"\\u0062\":\"caf\\u00e9\"}],{\"not\":\"a row\"},null,[{\"a\":\"x\"},{\"b\":\"y\"}]]}");

        Assert.Equal(new[] { "a=1,b=café", "", "", "a=x,b=y" }, Cells(page));
    }

    [Fact]
    public async Task Lake_values_repeated_down_a_column_are_read_as_sent_however_alike_their_bytes()
    {
        // Values seen before in a column are looked up by a hash of their length and first and last eight bytes: these
        // share all three and differ only in the middle; the escaped one is the same text as the plain one.
        var page = await Lake("{\"QueryResultRows\":[[{\"a\":\"aaaaaaaaXbbbbbbbb\"},{\"b\":\"café\"}],[{\"a\":\"aaaaaaaaYbbbbbbbb\"},{\"b\":\"caf\\u00e9\"}]," +
                              "[{\"a\":\"aaaaaaaaXbbbbbbbb\"},{\"b\":\"café\"}],[{\"b\":\"aaaaaaaaYbbbbbbbb\"},{\"a\":\"\"}],[{\"a\":\"aaaaaaaaXbbbbbbbb\"},{\"b\":\"cafe\"}]]}");

        Assert.Equal(new[] { "a=aaaaaaaaXbbbbbbbb,b=café", "a=aaaaaaaaYbbbbbbbb,b=café", "a=aaaaaaaaXbbbbbbbb,b=café", "b=aaaaaaaaYbbbbbbbb,a=", "a=aaaaaaaaXbbbbbbbb,b=cafe" },
            Cells(page));
    }

    [Fact]
    public async Task Athena_values_repeated_down_a_column_are_read_as_sent_however_alike_their_bytes()
    {
        var page = await Athena("{\"ResultSet\":{\"Rows\":[{\"Data\":[{\"VarCharValue\":\"aaaaaaaaXbbbbbbbb\"},{\"VarCharValue\":\"x\"}]}," +
                                "{\"Data\":[{\"VarCharValue\":\"aaaaaaaaYbbbbbbbb\"},{\"VarCharValue\":\"\\u0078\"}]},{\"Data\":[{\"VarCharValue\":\"aaaaaaaaXbbbbbbbb\"},{}]}]}}");

        Assert.Equal(new[] { "aaaaaaaaXbbbbbbbb,x", "aaaaaaaaYbbbbbbbb,x", "aaaaaaaaXbbbbbbbb,<null>" }, Cells(page));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("")]
    [InlineData("{\"QueryResultRows\":null,\"NextToken\":null}")]
    [InlineData("{\"QueryResultRows\":[],\"NextToken\":\"\"}")]
    [InlineData("{\"QueryResultRows\":{\"a\":1}}")]
    [InlineData("[1,2]")]
    public async Task Lake_an_empty_page_has_no_rows_and_no_token(string body)
    {
        var page = await Lake(body);

        Assert.Empty(page.Rows);
        Assert.Null(page.NextToken);
    }

    [Fact]
    public async Task Lake_a_page_with_no_rows_can_still_carry_the_token_of_the_next()
    {
        var page = await Lake("{\"QueryStatus\":\"FINISHED\",\"QueryResultRows\":[],\"NextToken\":\"n3\"}");

        Assert.Empty(page.Rows);
        Assert.Equal("n3", page.NextToken);
    }

    [Theory]
    [InlineData("{\"QueryResultRows\":[[{\"a\":\"1\"}]]")]
    [InlineData("{\"QueryResultRows\":[[{\"a\":\"1\"}]]} {}")]
    [InlineData("{\"QueryResultRows\":[[{\"a\":\"1\"},]]}")]
    public async Task Lake_a_broken_page_is_a_malformed_answer(string body)
    {
        var e = await Assert.ThrowsAsync<GuardDutyIRException>(() => Lake(body));

        Assert.Equal("MalformedServiceResponse", e.ErrorId);
    }

    [Fact]
    public async Task Athena_the_columns_after_the_rows_and_members_the_model_does_not_have_are_read_past()
    {
        var page = await Athena("{\"NextToken\":\"n2\",\"UpdateCount\":0,\"ResultSet\":{\"Rows\":[{\"Data\":[{\"VarCharValue\":\"eventtime\"},{\"VarCharValue\":\"total\"}]}," +
                                "{\"Extra\":{\"Data\":[1]},\"Data\":[{\"VarCharValue\":\"2024-05-01T12:03:04Z\",\"Other\":[]},{}]}]," +
                                "\"ResultSetMetadata\":{\"ColumnInfo\":[{\"CatalogName\":\"hive\",\"Type\":\"varchar\",\"Name\":\"eventtime\",\"Nullable\":\"UNKNOWN\"},{\"Name\":\"total\",\"Type\":\"bigint\"}]}}}");

        Assert.Equal(new[] { ("eventtime", "varchar"), ("total", "bigint") }, page.Columns);
        Assert.Equal(new[] { "eventtime,total", "2024-05-01T12:03:04Z,<null>" }, Cells(page));
        Assert.Equal("n2", page.NextToken);
    }

    [Fact]
    public async Task Athena_null_and_odd_cells_rows_and_columns_are_read_as_the_json_says()
    {
        // A cell that is no object is a null cell (it holds a place); a row with no Data is empty; a column with no type is varchar.
        var page = await Athena("{\"ResultSet\":{\"ResultSetMetadata\":{\"ColumnInfo\":[{\"Name\":\"a\"},{\"Type\":\"bigint\"},7,{\"Name\":null,\"Type\":null}]}," +
                                "\"Rows\":[{\"Data\":[{\"VarCharValue\":null},null,\"x\",{\"VarCharValue\":5},{\"VarCharValue\":false},{\"VarCharValue\":{\"a\":1}}]},{},null,{\"Data\":null}]}}");

        Assert.Equal(new[] { ("a", "varchar"), ("", "bigint"), ("", "varchar") }, page.Columns);
        Assert.Equal(new[] { "<null>,<null>,<null>,5,False,<null>", "", "", "" }, Cells(page));
        Assert.Null(page.NextToken);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("")]
    [InlineData("{\"ResultSet\":null,\"NextToken\":null}")]
    [InlineData("{\"ResultSet\":{\"Rows\":null,\"ResultSetMetadata\":null}}")]
    [InlineData("{\"ResultSet\":{\"Rows\":[]},\"NextToken\":\"\"}")]
    [InlineData("\"text\"")]
    public async Task Athena_an_empty_page_has_no_rows_columns_or_token(string body)
    {
        var page = await Athena(body);

        Assert.Empty(page.Rows);
        Assert.Empty(page.Columns);
        Assert.Null(page.NextToken);
    }

    [Fact]
    public async Task Athena_a_page_with_no_rows_can_still_carry_the_token_of_the_next()
    {
        var page = await Athena("{\"ResultSet\":{\"Rows\":[],\"ResultSetMetadata\":{\"ColumnInfo\":[{\"Name\":\"a\",\"Type\":\"varchar\"}]}},\"NextToken\":\"n3\"}");

        Assert.Empty(page.Rows);
        Assert.Equal("n3", page.NextToken);
    }

    [Theory]
    [InlineData("{\"ResultSet\":{\"Rows\":[{\"Data\":[{\"VarCharValue\":\"1\"}]}]}")]
    [InlineData("{\"ResultSet\":{\"Rows\":[]}}x")]
    public async Task Athena_a_broken_page_is_a_malformed_answer(string body)
    {
        var e = await Assert.ThrowsAsync<GuardDutyIRException>(() => Athena(body));

        Assert.Equal("MalformedServiceResponse", e.ErrorId);
    }

    [Theory]
    [InlineData("{\"QueryResultRows\":[],\"NextToken\":\"n2\"}", "n2")]
    [InlineData(" {\"QueryResultRows\":[[{\"a\":\"}\"}]] ,\r\n \"NextToken\" : \"n2\" \n} \n", "n2")]
    [InlineData("{\"NextToken\":\"n2\",\"QueryResultRows\":[]}", "n2")]
    [InlineData("{\"ResultSet\":{\"Rows\":[]},\"NextToken\":\"a\\u002Bb\\/c\\\"d\\\\\"}", "a+b/c\"d\\")]
    [InlineData("{\"x\":\"\\\"NextToken\\\":\"}", null)]
    [InlineData("{\"NextToken\":\"n2\",\"QueryResultRows\":[],\"NextToken\":\"n3\"}", "n2")]
    [InlineData("{\"QueryResultRows\":[],\"NextToken\":\"n2\",\"QueryStatus\":\"FINISHED\"}", null)]
    [InlineData("{\"QueryResultRows\":[[{\"NextToken\":\"t\"}]]}", null)]
    [InlineData("{\"x\":{\"NextToken\":\"t\"}}", null)]
    [InlineData("{\"QueryResultRows\":[],\"Next\\u0054oken\":\"n2\"}", null)]
    [InlineData("{\"QueryResultRows\":[],\"NextToken\":5}", null)]
    [InlineData("{\"QueryResultRows\":[],\"NextToken\":\"\"}", null)]
    [InlineData("{\"QueryResultRows\":[],\"NextToken\":\"bad \\x escape\"}", null)]
    [InlineData("{}", null)]
    [InlineData("not json}", null)]
    [InlineData("", null)]
    public void A_token_first_or_last_in_the_answer_is_found_before_the_page_is_read_and_no_other(string body, string? token)
    {
        // Found early or not, the page's reader decides; early it may only ever find what the reader finds (or, with
        // NextToken named twice, a token the reader then corrects).
        Assert.Equal(token, PageTokens.Find(System.Text.Encoding.UTF8.GetBytes(body)));
    }
}
