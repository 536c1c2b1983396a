using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Lab.GuardDuty;

/// <summary>
/// One account's detector in the Lab's region, with its findings and lists. Lock the detector to read or change
/// anything in it.
/// </summary>
public sealed class GuardDutyDetector
{
    /// <summary>Listings kept at once; a listing is a few IDs per finding, and a new criterion per page is unusual.</summary>
    internal const int MaxListings = 64;

    private readonly List<JsonObject> _findings = new();
    private readonly Dictionary<string, JsonObject> _byId = new(StringComparer.Ordinal);
    // Derived from the findings and dropped whenever one changes (Changed): the matching IDs in order per
    // ListFindings criterion and sort, and each finding's JSON as GetFindings writes it. A large listing pages through
    // the same criterion hundreds of times; without them every page filtered and sorted every finding again.
    private readonly Dictionary<string, string[]> _listings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonObject[]> _orders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _wire = new(StringComparer.Ordinal);

    public required string Id { get; init; }
    public required string AccountId { get; init; }
    public required string Region { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
    public string FindingPublishingFrequency { get; set; } = "SIX_HOURS";

    /// <summary>
    /// Findings, insertion-ordered. Change them only through <see cref="Put"/> and <see cref="Update"/>: a finding
    /// changed behind their back would still be listed and answered as it was.
    /// </summary>
    public IReadOnlyList<JsonObject> Findings => _findings;

    public Dictionary<string, GuardDutyList> ThreatIntelSets { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, GuardDutyList> IpSets { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> ClientTokens { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> FeedbackComments { get; } = new(StringComparer.Ordinal);

    public JsonObject? Finding(string id) => _byId.GetValueOrDefault(id);

    /// <summary>Adds a finding, or replaces the one with its ID (the replacement goes last, as a new finding would).</summary>
    public void Put(JsonObject finding)
    {
        var id = IdOf(finding);
        if (_byId.Remove(id, out var old)) _findings.Remove(old);
        _findings.Add(finding);
        _byId[id] = finding;
        Changed(id);
    }

    /// <summary>Changes a stored finding in place (not its ID); false when the detector has no finding with that ID.</summary>
    public bool Update(string id, Action<JsonObject> change)
    {
        if (!_byId.TryGetValue(id, out var finding)) return false;
        try { change(finding); }
        finally { Changed(id); }
        if (IdOf(finding) != id) throw new InvalidOperationException($"A finding's ID cannot change ({id}).");
        return true;
    }

    /// <summary>
    /// The IDs of a listing (one criterion and sort, <paramref name="key"/>), computed by <paramref name="list"/>
    /// the first time it is asked for after a change.
    /// </summary>
    internal IReadOnlyList<string> Listing(string key, Func<IEnumerable<JsonObject>> list)
    {
        if (_listings.TryGetValue(key, out var ids)) return ids;
        ids = list().Select(IdOf).ToArray();
        if (_listings.Count >= MaxListings) _listings.Clear();
        _listings[key] = ids;
        return ids;
    }

    /// <summary>
    /// Every finding in the order of a sort (<paramref name="key"/>), sorted by <paramref name="sort"/> the first time
    /// it is asked for after a change. The sorts are total orders (ties go by ID), so a criterion filtering this order
    /// lists what sorting its matches would: the listings of several criteria with one sort share one sort.
    /// </summary>
    internal IReadOnlyList<JsonObject> Ordered(string key, Func<IEnumerable<JsonObject>, IEnumerable<JsonObject>> sort)
    {
        if (_orders.TryGetValue(key, out var ordered)) return ordered;
        ordered = sort(_findings).ToArray();
        if (_orders.Count >= MaxListings) _orders.Clear();
        _orders[key] = ordered;
        return ordered;
    }

    /// <summary>A finding's JSON as UTF-8, as GetFindings writes it. The array is never changed: a change replaces it.</summary>
    internal byte[] Wire(JsonObject finding)
    {
        var id = IdOf(finding);
        if (!_wire.TryGetValue(id, out var bytes))
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer)) finding.WriteTo(writer);
            _wire[id] = bytes = buffer.WrittenSpan.ToArray();
        }
        return bytes;
    }

    private void Changed(string id)
    {
        _listings.Clear();
        _orders.Clear();
        _wire.Remove(id);
    }

    private static string IdOf(JsonObject finding) =>
        finding["id"] is JsonValue v && v.TryGetValue<string>(out var id) ? id : throw new ArgumentException("A finding needs a string id.", nameof(finding));
}
