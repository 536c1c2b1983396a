using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Amazon.Runtime;

namespace GuardDutyIR.Engine.Aws;

/// <summary>A service error as read off the wire.</summary>
internal readonly record struct WireError(string Code, string Message, string? RequestId);

/// <summary>
/// Reads AWS error responses the way botocore and the Smithy protocol tests do (aws-wire.md §2), and turns any
/// SDK service exception into the one <see cref="AwsServiceException"/> the cmdlets understand.
/// </summary>
internal static class AwsErrors
{
    public static WireError Parse(AwsProtocol protocol, int status, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        var requestId = FindRequestId(protocol, headers, body);
        return protocol switch
        {
            AwsProtocol.Query => ParseXml(status, body, requestId),
            _ => ParseJson(status, headers, body, requestId),
        };
    }

    public static string? FindRequestId(AwsProtocol protocol, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        foreach (var name in new[] { "x-amzn-RequestId", "x-amz-request-id", "x-amzn-requestid" })
            if (headers.TryGetValue(name, out var id) && id.Length > 0) return id;
        if (protocol == AwsProtocol.Query && body.Length > 0)
        {
            var doc = TryXml(body);
            var element = doc?.Descendants().FirstOrDefault(e => e.Name.LocalName is "RequestId" or "RequestID" or "requestId");
            if (element is not null) return element.Value;
        }
        return null;
    }

    // JSON protocols: x-amzn-ErrorType first (cut at ':', keep after the last '#'), then body "code", then "__type".
    private static WireError ParseJson(int status, IReadOnlyDictionary<string, string> headers, byte[] body, string? requestId)
    {
        string? code = headers.TryGetValue("x-amzn-ErrorType", out var header) ? header : null;
        string? message = null;
        if (body.Length > 0)
        {
            try
            {
                using var doc = JsonDocument.Parse(body);
                if (doc.RootElement.ValueKind == JsonValueKind.Object)
                {
                    foreach (var property in doc.RootElement.EnumerateObject())
                    {
                        var name = property.Name;
                        if (property.Value.ValueKind != JsonValueKind.String) continue;
                        if (code is null && name.Equals("code", StringComparison.OrdinalIgnoreCase)) code = property.Value.GetString();
                        if (message is null && name.Equals("message", StringComparison.OrdinalIgnoreCase)) message = property.Value.GetString();
                    }
                    if (code is null && doc.RootElement.TryGetProperty("__type", out var type) && type.ValueKind == JsonValueKind.String)
                        code = type.GetString();
                }
            }
            catch (JsonException)
            {
                message ??= Truncate(Encoding.UTF8.GetString(body));
            }
        }
        return new WireError(SanitizeCode(code) ?? FallbackCode(status), message ?? $"HTTP {status}", requestId);
    }

    // Query protocol: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
    private static WireError ParseXml(int status, byte[] body, string? requestId)
    {
        var doc = TryXml(body);
        var error = doc?.Descendants().FirstOrDefault(e => e.Name.LocalName == "Error");
        var code = error?.Elements().FirstOrDefault(e => e.Name.LocalName == "Code")?.Value;
        var message = error?.Elements().FirstOrDefault(e => e.Name.LocalName == "Message")?.Value;
        return new WireError(string.IsNullOrEmpty(code) ? FallbackCode(status) : code,
            message ?? (doc is null ? Truncate(Encoding.UTF8.GetString(body)) : $"HTTP {status}"), requestId);
    }

    public static string? SanitizeCode(string? code)
    {
        if (string.IsNullOrEmpty(code)) return null;
        var colon = code.IndexOf(':');
        if (colon >= 0) code = code[..colon];
        var hash = code.LastIndexOf('#');
        if (hash >= 0) code = code[(hash + 1)..];
        return code.Trim();
    }

    private static string FallbackCode(int status) => status switch
    {
        400 => "BadRequest",
        403 => "Forbidden",
        404 => "NotFound",
        429 => "TooManyRequestsException",
        >= 500 => "InternalFailure",
        _ => "HttpError" + status,
    };

    private static XDocument? TryXml(byte[] body)
    {
        try { return XDocument.Parse(Encoding.UTF8.GetString(body)); }
        catch (System.Xml.XmlException) { return null; }
    }

    private static string Truncate(string text) => text.Length <= 300 ? text : text[..300] + "...";

    /// <summary>Any SDK service exception (own clients and AWSSDK.EC2/S3/STS alike) as our one error type.</summary>
    public static AwsServiceException Translate(AmazonServiceException e, string service, string operation, object? target)
    {
        var requestId = e is WireServiceException wire ? wire.Wire.RequestId ?? e.RequestId : e.RequestId;
        return new(service, operation, string.IsNullOrEmpty(e.ErrorCode) ? FallbackCode((int)e.StatusCode) : e.ErrorCode,
            e.Message, (int)e.StatusCode, string.IsNullOrEmpty(requestId) ? null : requestId, target, e);
    }
}
