using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace GuardDutyIR.HelpBuilder;

/// <summary>One cmdlet's help, merged and checked: what the MAML file says about it.</summary>
public sealed record CmdletHelp(
    CmdletMetadata Metadata,
    CmdletDoc Doc,
    IReadOnlyDictionary<string, IReadOnlyList<string>> ParameterDescriptions,
    IReadOnlyList<(string TypeName, IReadOnlyList<string> Description)> Outputs);

/// <summary>Writes PowerShell's MAML command help (the schema Get-Help reads for binary modules).</summary>
public static class MamlWriter
{
    private static readonly XNamespace Msh = "http://msh";
    private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    public static readonly IReadOnlyDictionary<string, (string Description, string Alias)> ShouldProcessParameters =
        new Dictionary<string, (string, string)>(StringComparer.OrdinalIgnoreCase)
        {
            ["WhatIf"] = ("Shows what would happen if the cmdlet runs. The cmdlet is not run: nothing is changed.", "wi"),
            ["Confirm"] = ("Prompts you for confirmation before running the cmdlet.", "cf"),
        };

    public static string Write(IEnumerable<CmdletHelp> cmdlets)
    {
        var root = new XElement(Msh + "helpItems",
            new XAttribute("schema", "maml"),
            new XAttribute(XNamespace.Xmlns + "maml", Maml),
            new XAttribute(XNamespace.Xmlns + "command", Command),
            new XAttribute(XNamespace.Xmlns + "dev", Dev),
            cmdlets.OrderBy(c => c.Metadata.Name, StringComparer.OrdinalIgnoreCase).Select(CommandElement));
        var document = new XDocument(new XDeclaration("1.0", "utf-8", null), root);
        var settings = new XmlWriterSettings { Indent = true, IndentChars = "  ", Encoding = new UTF8Encoding(false), NewLineChars = "\n" };
        using var stream = new MemoryStream();
        using (var writer = XmlWriter.Create(stream, settings)) document.Save(writer);
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static XElement CommandElement(CmdletHelp help)
    {
        var m = help.Metadata;
        var doc = help.Doc;
        return new XElement(Command + "command",
            new XElement(Command + "details",
                new XElement(Command + "name", m.Name),
                new XElement(Command + "verb", m.Verb),
                new XElement(Command + "noun", m.Noun),
                Description(Maml + "description", doc.Synopsis)),
            Description(Maml + "description", doc.Description),
            new XElement(Command + "syntax", SyntaxItems(help)),
            new XElement(Command + "parameters", AllParameters(help).Select(p => ParameterElement(help, p.Name, p.Parameter, p.Sets))),
            new XElement(Command + "inputTypes",
                (doc.Inputs.Count > 0 ? doc.Inputs.Select(i => (i.Name, (IReadOnlyList<string>)i.Paragraphs)) : new[] { ("None", (IReadOnlyList<string>)Array.Empty<string>()) })
                .Select(i => new XElement(Command + "inputType", TypeElement(i.Item1), Description(Maml + "description", i.Item2)))),
            new XElement(Command + "returnValues",
                help.Outputs.Select(o => new XElement(Command + "returnValue", TypeElement(o.TypeName), Description(Maml + "description", o.Description)))),
            new XElement(Maml + "alertSet",
                new XElement(Maml + "alert", doc.Notes.Select(Para))),
            new XElement(Command + "examples", doc.Examples.Select((e, i) => new XElement(Command + "example",
                new XElement(Maml + "title", ExampleTitle(e.Title)),
                new XElement(Dev + "code", e.Code ?? ""),
                new XElement(Dev + "remarks", e.Remarks.Select(Para))))),
            new XElement(Command + "relatedLinks", doc.RelatedLinks.Select(l => new XElement(Maml + "navigationLink",
                new XElement(Maml + "linkText", l.Text),
                new XElement(Maml + "uri", l.Uri ?? "")))));
    }

    private static string ExampleTitle(string title)
    {
        const string dashes = "--------------------------";
        return $"{dashes} {title} {dashes}";
    }

    private sealed record DocumentedParameter(string Name, ParameterMetadata? Parameter, IReadOnlyList<ParameterSetMetadata> Sets);

    /// <summary>The cmdlet's parameters, then -WhatIf and -Confirm when it supports ShouldProcess.</summary>
    private static IEnumerable<DocumentedParameter> AllParameters(CmdletHelp help)
    {
        foreach (var p in help.Metadata.Parameters)
            yield return new DocumentedParameter(p.Name, p, p.Sets);
        if (help.Metadata.SupportsShouldProcess)
            foreach (var name in new[] { "WhatIf", "Confirm" })
                yield return new DocumentedParameter(name, null, new[] { new ParameterSetMetadata(CmdletMetadata.AllParameterSets, false, null, false, false, false) });
    }

    private static IEnumerable<XElement> SyntaxItems(CmdletHelp help)
    {
        var m = help.Metadata;
        var sets = m.ParameterSetNames.Count == 0 ? new string?[] { null } : m.ParameterSetNames.Cast<string?>().ToArray();
        foreach (var set in sets)
        {
            // Syntax entries carry no description: Get-Help shows descriptions from command:parameters.
            var parameters = m.ParametersOf(set ?? CmdletMetadata.AllParameterSets)
                .Select(x => ParameterElement(help, x.Parameter.Name, x.Parameter, new[] { x.Set }, withDescription: false)).ToList();
            if (m.SupportsShouldProcess)
                parameters.AddRange(new[] { "WhatIf", "Confirm" }.Select(n => ParameterElement(help, n, null,
                    new[] { new ParameterSetMetadata(CmdletMetadata.AllParameterSets, false, null, false, false, false) }, withDescription: false)));
            yield return new XElement(Command + "syntaxItem", new XElement(Maml + "name", m.Name), parameters);
        }
    }

    private static XElement ParameterElement(CmdletHelp help, string name, ParameterMetadata? p, IReadOnlyList<ParameterSetMetadata> sets, bool withDescription = true)
    {
        var isSwitch = p?.IsSwitch ?? true;
        var typeFull = p?.TypeFullName ?? "System.Management.Automation.SwitchParameter";
        var typeShort = p?.TypeDisplayName ?? "SwitchParameter";
        var aliases = p?.Aliases.ToList() ?? (ShouldProcessParameters.TryGetValue(name, out var sp) ? new List<string> { sp.Alias } : new List<string>());
        var description = help.ParameterDescriptions.TryGetValue(name, out var d) ? d
            : ShouldProcessParameters.TryGetValue(name, out var std) ? new[] { std.Description } : Array.Empty<string>();

        var element = new XElement(Command + "parameter",
            new XAttribute("required", PerSet(sets, s => s.Mandatory ? "true" : "false")),
            new XAttribute("variableLength", p?.IsArray == true ? "true" : "false"),
            new XAttribute("globbing", p?.SupportsWildcards == true ? "true" : "false"),
            new XAttribute("pipelineInput", PipelineInput(sets)),
            new XAttribute("position", PerSet(sets, s => s.Position?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "named")),
            new XAttribute("aliases", aliases.Count == 0 ? "none" : string.Join(", ", aliases)),
            new XElement(Maml + "name", name));
        if (withDescription) element.Add(Description(Maml + "description", description));
        if (!isSwitch)
            element.Add(new XElement(Command + "parameterValue",
                new XAttribute("required", "true"), new XAttribute("variableLength", p?.IsArray == true ? "true" : "false"), typeShort));
        element.Add(new XElement(Dev + "type", new XElement(Maml + "name", typeFull), new XElement(Maml + "uri")));
        element.Add(new XElement(Dev + "defaultValue", isSwitch ? "False" : "None"));
        return element;
    }

    /// <summary>One value when every set agrees, else "value (Set), value (Set)".</summary>
    private static string PerSet(IReadOnlyList<ParameterSetMetadata> sets, Func<ParameterSetMetadata, string> value)
    {
        var distinct = sets.Select(value).Distinct().ToList();
        if (distinct.Count == 1) return distinct[0];
        return string.Join(", ", sets.Select(s => $"{value(s)} ({s.SetName})"));
    }

    private static string PipelineInput(IReadOnlyList<ParameterSetMetadata> sets)
    {
        var byValue = sets.Any(s => s.ValueFromPipeline);
        var byName = sets.Any(s => s.ValueFromPipelineByPropertyName);
        return (byValue, byName) switch
        {
            (true, true) => "True (ByValue, ByPropertyName)",
            (true, false) => "True (ByValue)",
            (false, true) => "True (ByPropertyName)",
            _ => "False",
        };
    }

    private static XElement TypeElement(string name) =>
        new(Dev + "type", new XElement(Maml + "name", name), new XElement(Maml + "uri"));

    private static XElement Description(XName name, IEnumerable<string> paragraphs) => new(name, paragraphs.Select(Para));

    private static XElement Para(string text) => new(Maml + "para", text);
}
