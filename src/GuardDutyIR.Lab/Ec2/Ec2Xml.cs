using System.Globalization;
using System.Text;
using System.Xml;
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
        return new LabResponse { StatusCode = 200, ContentType = "text/xml;charset=UTF-8", Body = Utf8(root) };
    }

    private static readonly byte[] s_declaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"u8.ToArray();

    // The settings XElement.ToString(SaveOptions.DisableFormatting) writes with, into UTF-8 bytes at once: every call
    // of a bulk run is answered here, and the text of the whole answer as a string, then copied into bytes, was work
    // for nothing.
    private static readonly XmlWriterSettings s_writer = new() { OmitXmlDeclaration = true, Encoding = new UTF8Encoding(false), Indent = false };

    /// <summary>The declaration EC2 sends, then the element exactly as ToString(SaveOptions.DisableFormatting) writes it, as UTF-8.</summary>
    internal static byte[] Utf8(XElement root)
    {
        using var buffer = new MemoryStream();
        buffer.Write(s_declaration);
        using (var writer = XmlWriter.Create(buffer, s_writer)) root.WriteTo(writer);
        return buffer.ToArray();
    }
}
