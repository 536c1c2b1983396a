using GuardDutyIR.Engine.Aws;

namespace GuardDutyIR.Engine.Investigation;

/// <summary>
/// Lake result rows as query rows: each value typed in place (unless raw), with what each column is (one of
/// CloudTrail's text fields or not) decided once per column list rather than once per cell. The rows of a page share
/// their column list, so that is once a page.
/// </summary>
internal sealed class LakeRowTyping(bool raw)
{
    private IReadOnlyList<string>? _columns;
    private bool[] _text = Array.Empty<bool>();

    public QueryRow Row(LakeResultRow row)
    {
        var values = row.Values;
        if (!raw)
        {
            if (!ReferenceEquals(row.Columns, _columns))
            {
                _columns = row.Columns;
                _text = row.Columns.Select(ValueTyping.IsLakeTextColumn).ToArray();
            }
            // A time may be typed already, by the page's reader (see ValueTyping.LakeTime).
            for (var i = 0; i < values.Length; i++)
                if (values[i] is string text) values[i] = ValueTyping.FromLake(_text[i], text);
        }
        return new QueryRow(row.Columns, values);
    }
}

/// <summary>
/// Athena result rows as query rows: the header row (the first row of the first page, when it repeats the column
/// names) left out, each value typed in place by its column's type (unless raw), the types read once per page.
/// </summary>
internal sealed class AthenaRowTyping(bool raw)
{
    private IReadOnlyList<(string Name, string Type)> _info = Array.Empty<(string, string)>();
    private string[] _columns = Array.Empty<string>();
    private ValueTyping.AthenaColumn[] _kinds = Array.Empty<ValueTyping.AthenaColumn>();
    private bool _firstPage = true;
    private bool _headerPossible;

    /// <summary>Takes the columns of the page whose rows come next.</summary>
    public void Page(IReadOnlyList<(string Name, string Type)> info)
    {
        _headerPossible = _firstPage;
        _firstPage = false;
        if (info.SequenceEqual(_info)) return;
        _info = info;
        _columns = info.Select(c => c.Name).ToArray();
        _kinds = info.Select(c => ValueTyping.AthenaColumnOf(c.Type)).ToArray();
    }

    /// <summary>The row, or null for the header: a SELECT's first result row is the column names again.</summary>
    public QueryRow? Row(object?[] cells)
    {
        if (_headerPossible)
        {
            _headerPossible = false;
            if (IsHeader(cells)) return null;
        }
        // One value a column, whatever the endpoint sent: a short row's missing cells are nulls, cells past the last
        // column have no name to be written under (the rows become objects with one property a column).
        if (cells.Length != _columns.Length) Array.Resize(ref cells, _columns.Length);
        if (!raw)
            for (var i = 0; i < cells.Length; i++)
                cells[i] = ValueTyping.FromAthena(_kinds[i], (string?)cells[i]);
        return new QueryRow(_columns, cells);
    }

    private bool IsHeader(object?[] cells)
    {
        if (cells.Length != _columns.Length) return false;
        for (var i = 0; i < cells.Length; i++)
            if (!string.Equals((string?)cells[i], _columns[i], StringComparison.Ordinal)) return false;
        return true;
    }
}
