using System.Globalization;
using System.Text;
using System.Xml.Linq;
using GuardDutyIR.Lab.Core;

namespace GuardDutyIR.Lab.Ec2;

/// <summary>EC2 XML output: namespaced lowerCamel elements, &lt;item&gt; lists, lower-case booleans, millisecond ISO times.</summary>
internal static class Ec2Xml
{
    public static readonly XNamespace Ns = ProtocolErrors.Ec2Namespace;

    public static XElement E(string name, params object?[] content) => new(Ns + name, content);

    public static XElement Items(string name, IEnumerable<XElement> items) => new(Ns + name, items.Select(i => new XElement(Ns + "item", i.Nodes())));

    /// <summary>An &lt;item&gt; whose children are the given elements.</summary>
    public static XElement Item(params object?[] content) => new(Ns + "item", content);

    public static XElement List(string name, IEnumerable<XElement> items) => new(Ns + name, items);

    public static string B(bool b) => b ? "true" : "false";

    public static string T(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static string I(int i) => i.ToString(CultureInfo.InvariantCulture);

    public static XElement TagSet(IReadOnlyDictionary<string, string>? tags) =>
        List("tagSet", (tags ?? new Dictionary<string, string>()).Select(kv => Item(E("key", kv.Key), E("value", kv.Value))));

    public static LabResponse Response(string action, string requestId, IEnumerable<object?> content)
    {
        var root = new XElement(Ns + (action + "Response"), new XElement(Ns + "requestId", requestId));
        foreach (var c in content) root.Add(c);
        var body = Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + root.ToString(SaveOptions.DisableFormatting));
        return new LabResponse { StatusCode = 200, ContentType = "text/xml;charset=UTF-8", Body = body };
    }
}
