using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Engine.Tests;

/// <summary>Athena rows become one value a column, whatever number of cells an endpoint sends in a row.</summary>
public sealed class AthenaRowTypingTests
{
    private static AthenaRowTyping Typing()
    {
        var typing = new AthenaRowTyping(raw: false);
        typing.Page(new[] { ("eventname", "varchar"), ("total", "bigint"), ("awsregion", "varchar") });
        return typing;
    }

    [Fact]
    public void A_short_row_gets_nulls_for_the_missing_cells()
    {
        var typing = Typing();
        Assert.Null(typing.Row(new object?[] { "eventname", "total", "awsregion" }));   // the header row
        var row = typing.Row(new object?[] { "ListBuckets", "3" })!;

        Assert.Equal(row.PropertyNames.Count, row.Values.Length);
        Assert.Equal(new object?[] { "ListBuckets", 3L, null }, row.Values);
    }

    [Fact]
    public void Cells_past_the_last_column_are_left_out()
    {
        var typing = Typing();
        var row = typing.Row(new object?[] { "PutObject", "2", "us-east-1", "stray" })!;

        Assert.Equal(new object?[] { "PutObject", 2L, "us-east-1" }, row.Values);
    }
}
