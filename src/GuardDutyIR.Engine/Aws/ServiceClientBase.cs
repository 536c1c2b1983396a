using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Aws;

/// <summary>Shared plumbing of our typed clients: build a raw request, send it through the SDK pipeline, parse JSON.</summary>
public abstract class ServiceClientBase
{
    private readonly AwsProtocolClient _client;

    internal ServiceClientBase(AwsProtocolClient client, string region)
    {
        _client = client;
        Region = region;
    }

    public string Region { get; }
    protected AwsServiceDescriptor Service => _client.Service;

    internal Task<AwsRawResponse> SendAsync(AwsRawRequest request, CancellationToken cancellationToken) =>
        _client.SendAsync(request, cancellationToken);

    /// <summary>json-1.1: POST / with X-Amz-Target and a PascalCase JSON body.</summary>
    internal async Task<JsonObject> CallJson11Async(string operation, JsonObject body, CancellationToken cancellationToken) =>
        (await CallJson11WithIdAsync(operation, body, cancellationToken).ConfigureAwait(false)).Body;

    /// <summary>json-1.1 call that also returns the request ID, for calls the case journal records.</summary>
    internal async Task<(JsonObject Body, string? RequestId)> CallJson11WithIdAsync(string operation, JsonObject body, CancellationToken cancellationToken)
    {
        var response = await SendJson11Async(operation, body, cancellationToken).ConfigureAwait(false);
        return (ParseObject(response.Body), response.RequestId);
    }

    private Task<AwsRawResponse> SendJson11Async(string operation, JsonObject body, CancellationToken cancellationToken)
    {
        var request = new AwsRawRequest
        {
            Operation = operation,
            Body = Encoding.UTF8.GetBytes(body.ToJsonString()),
            ContentType = "application/x-amz-json-1.1",
        };
        request.Headers["X-Amz-Target"] = $"{Service.TargetPrefix}.{operation}";
        return SendAsync(request, cancellationToken);
    }

    /// <summary>
    /// json-1.1 call whose answer is returned as its UTF-8 bytes (an empty answer as "{}"), for large answers (result
    /// pages) that are read once, in order, with no tree (see <see cref="ReadJson"/>).
    /// </summary>
    internal async Task<byte[]> CallJson11BytesAsync(string operation, JsonObject body, CancellationToken cancellationToken)
    {
        var response = await SendJson11Async(operation, body, cancellationToken).ConfigureAwait(false);
        return response.Body.Length == 0 ? "{}"u8.ToArray() : response.Body;
    }

    /// <summary>An answer's bytes read by <paramref name="read"/>; JSON that cannot be read is a malformed answer.</summary>
    internal static T ReadJson<T>(byte[] body, Func<byte[], T> read)
    {
        try
        {
            return read(body);
        }
        catch (JsonException e)
        {
            throw new GuardDutyIRException("MalformedServiceResponse", ErrorKind.InvalidData, "The service answered with JSON that cannot be read: " + e.Message, null, e);
        }
    }

    /// <summary>
    /// The JSON value the reader stands on as text, read as FindingParser.String reads a node: strings as they are,
    /// numbers as their text, booleans as "True"/"False", anything else (null, objects, arrays, skipped) as null.
    /// </summary>
    internal static string? Text(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String: return reader.GetString();
            case JsonTokenType.Number: return Encoding.UTF8.GetString(reader.ValueSpan);
            case JsonTokenType.True: return bool.TrueString;
            case JsonTokenType.False: return bool.FalseString;
            default: reader.Skip(); return null;
        }
    }

    /// <summary>awsQuery: form-encoded Action/Version plus parameters; returns the XML body.</summary>
    internal async Task<(System.Xml.Linq.XElement Result, string? RequestId)> CallQueryAsync(string operation,
        IEnumerable<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        var form = new StringBuilder();
        form.Append("Action=").Append(Uri.EscapeDataString(operation)).Append("&Version=").Append(Uri.EscapeDataString(Service.ApiVersion));
        foreach (var (name, value) in parameters)
            form.Append('&').Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
        var request = new AwsRawRequest
        {
            Operation = operation,
            Body = Encoding.UTF8.GetBytes(form.ToString()),
            ContentType = "application/x-www-form-urlencoded; charset=utf-8",
        };
        var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        var doc = System.Xml.Linq.XDocument.Parse(Encoding.UTF8.GetString(response.Body));
        var result = doc.Root?.Elements().FirstOrDefault(e => e.Name.LocalName == operation + "Result") ?? doc.Root!;
        return (result, response.RequestId);
    }

    protected static JsonObject ParseObject(byte[] body)
    {
        if (body.Length == 0) return new JsonObject();
        try
        {
            return JsonNode.Parse(body) as JsonObject ?? new JsonObject();
        }
        catch (JsonException e)
        {
            throw new GuardDutyIRException("MalformedServiceResponse", ErrorKind.InvalidData, "The service answered with JSON that cannot be read: " + e.Message, null, e);
        }
    }
}
