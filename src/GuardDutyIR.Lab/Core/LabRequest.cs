using System.Collections.Specialized;
using System.Text;

namespace GuardDutyIR.Lab.Core;

/// <summary>A verified request as a service sees it.</summary>
public sealed class LabRequest
{
    public required string Method { get; init; }
    /// <summary>The raw (still URL-encoded) path, e.g. "/detector/abc/findings".</summary>
    public required string RawPath { get; init; }
    /// <summary>Decoded query string parameters.</summary>
    public required NameValueCollection Query { get; init; }
    /// <summary>Headers, case-insensitive names.</summary>
    public required IReadOnlyDictionary<string, string> Headers { get; init; }
    public required byte[] Body { get; init; }
    /// <summary>Signing name from the credential scope (ec2, guardduty, cloudtrail, athena, sns, sts, s3).</summary>
    public required string Service { get; init; }
    /// <summary>Region from the credential scope.</summary>
    public required string Region { get; init; }
    /// <summary>Access key ID that signed the request (maps to a Lab account and principal).</summary>
    public required string AccessKeyId { get; init; }
    /// <summary>The Lab account the signing key belongs to.</summary>
    public required string AccountId { get; init; }
    /// <summary>A fresh request ID; services put it in the response the way their protocol does.</summary>
    public required string RequestId { get; init; }

    /// <summary>The signing principal (long-term user key or STS session).</summary>
    public LabPrincipal? Principal { get; init; }

    /// <summary>Set by the service to name the operation for counters (defaults: query Action, JSON target suffix, or "METHOD path").</summary>
    public string? Action { get; set; }

    /// <summary>Set by the service when the mutating/read-only split differs from the Describe/List/Get naming rule.</summary>
    public bool? Mutating { get; set; }

    /// <summary>The body as UTF-8 text.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body);

    private NameValueCollection? _form;

    /// <summary>Query-protocol parameters (EC2, SNS, STS): the form body merged with the query string.</summary>
    public NameValueCollection Form => _form ??= ParseForm();

    /// <summary>X-Amz-Target header of json-1.1 services, e.g. "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.StartQuery".</summary>
    public string? Target => Headers.TryGetValue("X-Amz-Target", out var t) ? t : null;

    private NameValueCollection ParseForm()
    {
        var result = new NameValueCollection(StringComparer.Ordinal);
        foreach (string? key in Query) if (key is not null) result[key] = Query[key];
        var contentType = Headers.TryGetValue("Content-Type", out var ct) ? ct : "";
        if (contentType.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var pair in BodyText.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                var name = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
                var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
                result[name] = value;
            }
        }
        return result;
    }
}
