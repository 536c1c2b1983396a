using System.Text;
using System.Text.Json;
using System.Xml.Linq;

namespace GuardDutyIR.Lab.Core;

/// <summary>The wire protocol families the Lab speaks; each has its own error shape.</summary>
public enum LabProtocol
{
    Ec2,
    Query,
    Json11,
    RestJson,
    S3,
}

/// <summary>
/// Error responses in the exact shape of each AWS protocol, so every Lab service (and the server itself,
/// for auth failures, throttling and injected faults) produces errors the official SDK parsers understand.
/// </summary>
public static class ProtocolErrors
{
    public const string Ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/";
    public const string StsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/";
    public const string SnsNamespace = "http://sns.amazonaws.com/doc/2010-03-31/";
    public const string AutoScalingNamespace = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

    private static readonly Dictionary<string, (LabProtocol Protocol, string? Xmlns)> s_protocols = new(StringComparer.Ordinal)
    {
        ["ec2"] = (LabProtocol.Ec2, Ec2Namespace),
        ["sts"] = (LabProtocol.Query, StsNamespace),
        ["sns"] = (LabProtocol.Query, SnsNamespace),
        ["autoscaling"] = (LabProtocol.Query, AutoScalingNamespace),
        ["cloudtrail"] = (LabProtocol.Json11, null),
        ["athena"] = (LabProtocol.Json11, null),
        ["guardduty"] = (LabProtocol.RestJson, null),
        ["s3"] = (LabProtocol.S3, null),
    };

    /// <summary>Lets a service the table does not know declare its protocol (the server needs it for auth/fault errors).</summary>
    public static void RegisterProtocol(string signingName, LabProtocol protocol, string? xmlns = null)
    {
        lock (s_protocols) s_protocols[signingName] = (protocol, xmlns);
    }

    public static (LabProtocol Protocol, string? Xmlns) ProtocolOf(string signingName)
    {
        lock (s_protocols)
            return s_protocols.TryGetValue(signingName, out var p) ? p : (LabProtocol.Json11, null);
    }

    /// <summary>EC2: <c>&lt;Response&gt;&lt;Errors&gt;&lt;Error&gt;…&lt;/Errors&gt;&lt;RequestID&gt;</c> (upper-case ID, no namespace, no Type).</summary>
    public static LabResponse Ec2(int status, string code, string message, string requestId)
    {
        var doc = new XElement("Response",
            new XElement("Errors", new XElement("Error", new XElement("Code", code), new XElement("Message", message))),
            new XElement("RequestID", requestId));
        return XmlResponse(status, "text/xml;charset=UTF-8", doc, code);
    }

    /// <summary>awsQuery (STS, SNS, Auto Scaling): <c>ErrorResponse/Error/{Type,Code,Message}</c> + <c>RequestId</c>.</summary>
    public static LabResponse Query(int status, string type, string code, string message, string requestId, string xmlns)
    {
        XNamespace ns = xmlns;
        var doc = new XElement(ns + "ErrorResponse",
            new XElement(ns + "Error", new XElement(ns + "Type", type), new XElement(ns + "Code", code), new XElement(ns + "Message", message)),
            new XElement(ns + "RequestId", requestId));
        var r = XmlResponse(status, "text/xml", doc, code);
        r.Headers["x-amzn-RequestId"] = requestId;
        return r;
    }

    /// <summary>awsJson1_1 (CloudTrail, Athena): body <c>{"__type":code,"message":…}</c>, request ID in x-amzn-RequestId.</summary>
    public static LabResponse Json11(int status, string code, string message, string requestId)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["__type"] = code, ["message"] = message });
        var r = new LabResponse { StatusCode = status, ContentType = "application/x-amz-json-1.1", Body = body, ErrorCode = code };
        r.Headers["x-amzn-RequestId"] = requestId;
        return r;
    }

    /// <summary>
    /// restJson1 (GuardDuty): the code travels in <c>x-amzn-ErrorType</c>; the body's <c>__type</c> holds a finer
    /// sub-type on the real service (e.g. BadRequestException + InvalidInputException), or the code when none is given.
    /// </summary>
    public static LabResponse RestJson(int status, string code, string message, string requestId, string? subType = null)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["message"] = message, ["__type"] = subType ?? code });
        var r = new LabResponse { StatusCode = status, ContentType = "application/json", Body = body, ErrorCode = code };
        r.Headers["x-amzn-RequestId"] = requestId;
        r.Headers["x-amzn-ErrorType"] = code;
        return r;
    }

    /// <summary>S3 REST-XML: <c>&lt;Error&gt;&lt;Code/&gt;&lt;Message/&gt;&lt;Resource/&gt;&lt;RequestId/&gt;&lt;HostId/&gt;</c> + x-amz-request-id.</summary>
    public static LabResponse S3(int status, string code, string message, string requestId, string? resource = null)
    {
        var hostId = Convert.ToBase64String(Encoding.UTF8.GetBytes("lab-" + requestId));
        var doc = new XElement("Error",
            new XElement("Code", code),
            new XElement("Message", message),
            resource is null ? null : new XElement("Resource", resource),
            new XElement("RequestId", requestId),
            new XElement("HostId", hostId));
        var r = XmlResponse(status, "application/xml", doc, code);
        r.Headers["x-amz-request-id"] = requestId;
        r.Headers["x-amz-id-2"] = hostId;
        return r;
    }

    /// <summary>An error in whatever shape the given signing name's protocol uses (server-level errors).</summary>
    public static LabResponse ForService(string signingName, int status, string code, string message, string requestId, bool senderFault = true)
    {
        var (protocol, xmlns) = ProtocolOf(signingName);
        return protocol switch
        {
            LabProtocol.Ec2 => Ec2(status, code, message, requestId),
            LabProtocol.Query => Query(status, senderFault ? "Sender" : "Receiver", code, message, requestId, xmlns ?? StsNamespace),
            LabProtocol.RestJson => RestJson(status, code, message, requestId),
            LabProtocol.S3 => S3(status, code, message, requestId),
            _ => Json11(status, code, message, requestId),
        };
    }

    /// <summary>The throttling error of a protocol: EC2 RequestLimitExceeded 503, query Throttling 400, json ThrottlingException 400, S3 SlowDown 503.</summary>
    public static LabResponse Throttled(string signingName, string requestId)
    {
        var (protocol, xmlns) = ProtocolOf(signingName);
        return protocol switch
        {
            LabProtocol.Ec2 => Ec2(503, "RequestLimitExceeded", "Request limit exceeded.", requestId),
            // STS/SNS document "Throttling" (HTTP 400) as their common throttle code.
            LabProtocol.Query => Query(400, "Sender", "Throttling", "Rate exceeded", requestId, xmlns ?? StsNamespace),
            // GuardDuty publishes no throttle shape; 429 TooManyRequestsException is what API Gateway-fronted services send (unverified).
            LabProtocol.RestJson => RestJson(429, "TooManyRequestsException", "Rate exceeded", requestId),
            LabProtocol.S3 => S3(503, "SlowDown", "Please reduce your request rate.", requestId),
            _ => Json11(400, "ThrottlingException", "Rate exceeded", requestId),
        };
    }

    /// <summary>
    /// The authorization error of a protocol, for a call a policy explicitly denies: EC2 UnauthorizedOperation 403,
    /// awsQuery AccessDenied 403 (SNS: AuthorizationError), S3 AccessDenied 403, JSON AccessDeniedException.
    /// </summary>
    public static LabResponse AccessDenied(string signingName, string message, string requestId)
    {
        var (protocol, xmlns) = ProtocolOf(signingName);
        return protocol switch
        {
            LabProtocol.Ec2 => Ec2(403, "UnauthorizedOperation", "You are not authorized to perform this operation. " + message, requestId),
            LabProtocol.Query => Query(403, "Sender", signingName == "sns" ? "AuthorizationError" : "AccessDenied", message, requestId, xmlns ?? StsNamespace),
            LabProtocol.RestJson => RestJson(403, "AccessDeniedException", message, requestId),
            LabProtocol.S3 => S3(403, "AccessDenied", message, requestId),
            _ => Json11(400, "AccessDeniedException", message, requestId),
        };
    }

    /// <summary>An injected server fault: 500 (internal error) or 503 (unavailable) in the protocol's own codes.</summary>
    public static LabResponse Fault(string signingName, int status, string requestId)
    {
        var (protocol, xmlns) = ProtocolOf(signingName);
        bool unavailable = status == 503;
        return protocol switch
        {
            LabProtocol.Ec2 => Ec2(status, unavailable ? "Unavailable" : "InternalError",
                unavailable ? "The server is overloaded and can't handle the request." : "An internal error has occurred.", requestId),
            LabProtocol.Query => Query(status, "Receiver", unavailable ? "ServiceUnavailable" : "InternalFailure",
                unavailable ? "Service is unavailable." : "An internal error occurred.", requestId, xmlns ?? StsNamespace),
            LabProtocol.RestJson => RestJson(status, unavailable ? "ServiceUnavailableException" : "InternalServerErrorException",
                unavailable ? "Service is unavailable." : "Internal server error.", requestId),
            LabProtocol.S3 => S3(status, unavailable ? "ServiceUnavailable" : "InternalError",
                unavailable ? "Please reduce your request rate." : "We encountered an internal error. Please try again.", requestId),
            _ => Json11(status, unavailable ? "ServiceUnavailableException" : "InternalFailure",
                unavailable ? "Service is unavailable." : "An internal error occurred.", requestId),
        };
    }

    private static LabResponse XmlResponse(int status, string contentType, XElement root, string code)
    {
        var body = Encoding.UTF8.GetBytes(new XDocument(new XDeclaration("1.0", "UTF-8", null), root).Declaration + root.ToString(SaveOptions.DisableFormatting));
        return new LabResponse { StatusCode = status, ContentType = contentType, Body = body, ErrorCode = code };
    }
}
