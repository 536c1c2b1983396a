using System.Collections.Concurrent;
using System.Collections.Specialized;
using System.Text;
using System.Text.Json;

namespace GuardDutyIR.Lab.Core;

public sealed record LabAdminRequest(string Method, string Path, NameValueCollection Query, byte[] Body, IReadOnlyDictionary<string, string>? Headers = null)
{
    public string? Header(string name) => Headers is not null && Headers.TryGetValue(name, out var v) ? v : null;

    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// The unauthenticated /_lab/... routes (exact path match). Handlers return an object serialized as JSON, or a
/// <see cref="LabResponse"/> to control the wire response themselves.
/// </summary>
public sealed class LabAdminRouter
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly ConcurrentDictionary<string, Func<LabAdminRequest, object?>> _routes = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Registers (or replaces) a route such as "/_lab/sns/messages".</summary>
    public void Map(string path, Func<LabAdminRequest, object?> handler)
    {
        if (!path.StartsWith("/_lab/", StringComparison.Ordinal)) throw new ArgumentException("Admin paths start with /_lab/.", nameof(path));
        _routes[path.TrimEnd('/')] = handler;
    }

    private readonly ConcurrentDictionary<string, Func<LabAdminRequest, object?>> _prefixes = new(StringComparer.Ordinal);

    /// <summary>Registers a handler for every path under a prefix such as "/_lab/imds/" (the handler reads the rest of the path).</summary>
    public void MapPrefix(string prefix, Func<LabAdminRequest, object?> handler)
    {
        if (!prefix.StartsWith("/_lab/", StringComparison.Ordinal) || !prefix.EndsWith('/')) throw new ArgumentException("Prefixes start with /_lab/ and end with /.", nameof(prefix));
        _prefixes[prefix] = handler;
    }

    public IReadOnlyCollection<string> Paths => _routes.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();

    public LabResponse Handle(LabAdminRequest request)
    {
        var handler = _routes.TryGetValue(request.Path.TrimEnd('/'), out var exact) ? exact
            : _prefixes.FirstOrDefault(p => request.Path.StartsWith(p.Key, StringComparison.Ordinal)).Value;
        if (handler is null)
            return JsonResponse(404, new { error = "NotFound", message = $"No Lab admin route {request.Path}", routes = Paths });
        try
        {
            var result = handler(request);
            return result as LabResponse ?? JsonResponse(200, result);
        }
        catch (Exception ex)
        {
            return JsonResponse(500, new { error = ex.GetType().Name, message = ex.Message });
        }
    }

    public static LabResponse JsonResponse(int status, object? value) =>
        new() { StatusCode = status, ContentType = "application/json", Body = JsonSerializer.SerializeToUtf8Bytes(value, Json) };
}
