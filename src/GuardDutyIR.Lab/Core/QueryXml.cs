using System.Text;
using System.Xml.Linq;

namespace GuardDutyIR.Lab.Core;

/// <summary>Success responses of awsQuery services: &lt;OpResponse&gt;&lt;OpResult&gt;…&lt;/OpResult&gt;&lt;ResponseMetadata&gt;.</summary>
public static class QueryXml
{
    /// <summary>Builds the response; content elements are re-homed into the service namespace.</summary>
    public static LabResponse Success(string action, string xmlns, string requestId, IEnumerable<XElement>? result, bool withResultWrapper = true)
    {
        XNamespace ns = xmlns;
        var root = new XElement(ns + (action + "Response"));
        if (withResultWrapper)
        {
            var wrapper = new XElement(ns + (action + "Result"));
            if (result is not null) foreach (var e in result) wrapper.Add(InNamespace(e, ns));
            root.Add(wrapper);
        }
        root.Add(new XElement(ns + "ResponseMetadata", new XElement(ns + "RequestId", requestId)));
        var r = new LabResponse { StatusCode = 200, ContentType = "text/xml", Body = Encoding.UTF8.GetBytes(root.ToString(SaveOptions.DisableFormatting)) };
        r.Headers["x-amzn-RequestId"] = requestId;
        return r;
    }

    public static XElement InNamespace(XElement e, XNamespace ns)
    {
        var copy = new XElement(ns + e.Name.LocalName, e.Attributes());
        foreach (var node in e.Nodes())
            copy.Add(node is XElement child ? InNamespace(child, ns) : node);
        return copy;
    }

    /// <summary>awsQuery lists: Name.member.1, Name.member.2, … in order.</summary>
    public static List<string> MemberList(System.Collections.Specialized.NameValueCollection form, string name)
    {
        var list = new List<string>();
        for (int i = 1; ; i++)
        {
            var v = form[$"{name}.member.{i}"];
            if (v is null) break;
            list.Add(v);
        }
        return list;
    }

    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
    public static string IsoMillis(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
