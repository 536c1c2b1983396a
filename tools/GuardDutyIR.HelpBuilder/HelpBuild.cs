using System.Text;

namespace GuardDutyIR.HelpBuilder;

public sealed class HelpBuildOptions
{
    /// <summary>The built cmdlet assembly (read as metadata only).</summary>
    public required string AssemblyPath { get; init; }
    /// <summary>module/help: one &lt;Verb-Noun&gt;.md per cmdlet, _*.md shared parameter files, about_*.md topics.</summary>
    public required string HelpDirectory { get; init; }
    /// <summary>Where &lt;assembly&gt;-Help.xml and about_*.help.txt go (the module layout's en-US folder).</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>Assemblies that resolve the cmdlet assembly's references (the project's compile references).</summary>
    public IReadOnlyList<string> References { get; init; } = Array.Empty<string>();
    /// <summary>The file describing the AWS common parameters, merged into every cmdlet that has them.</summary>
    public string CommonParametersFile { get; init; } = "_AwsCommonParameters.md";
}

public sealed class HelpBuildResult
{
    public List<HelpError> Errors { get; } = new();
    public List<string> Written { get; } = new();
    public List<string> Unchanged { get; } = new();
    public int CmdletCount { get; set; }
    public bool Succeeded => Errors.Count == 0;
}

/// <summary>
/// Checks the Markdown help against the compiled cmdlets and writes MAML and about topics. Nothing is written
/// unless everything checks out; files whose content did not change are left untouched.
/// </summary>
public static class HelpBuild
{
    /// <summary>Parameters PowerShell adds to every cmdlet and documents itself (about_CommonParameters).</summary>
    public static readonly IReadOnlySet<string> CommonParameters = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable",
        "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable",
    };

    private static string E(int n) => MarkdownHelp.ErrorCode + n.ToString("000", System.Globalization.CultureInfo.InvariantCulture);

    public static HelpBuildResult Run(HelpBuildOptions options)
    {
        var result = new HelpBuildResult();
        var cmdlets = CmdletReader.Read(options.AssemblyPath, options.References);
        result.CmdletCount = cmdlets.Count;
        var (helps, aboutTopics) = Check(options, cmdlets, result.Errors);
        if (!result.Succeeded) return result;

        Directory.CreateDirectory(options.OutputDirectory);
        WriteIfChanged(Path.Combine(options.OutputDirectory, Path.GetFileName(options.AssemblyPath) + "-Help.xml"), MamlWriter.Write(helps), result);
        foreach (var (name, text) in aboutTopics)
            WriteIfChanged(Path.Combine(options.OutputDirectory, name + ".help.txt"), text, result);
        return result;
    }

    /// <summary>Everything that makes the help disagree with the code or fall short; the merged help when it does not.</summary>
    public static (List<CmdletHelp> Helps, List<(string Name, string Text)> AboutTopics) Check(
        HelpBuildOptions options, IReadOnlyList<CmdletMetadata> cmdlets, List<HelpError> errors)
    {
        var helpDir = options.HelpDirectory;
        if (!Directory.Exists(helpDir))
        {
            errors.Add(new HelpError(helpDir, null, E(1), null, "the help folder does not exist."));
            return (new(), new());
        }

        var files = Directory.EnumerateFiles(helpDir, "*.md").OrderBy(f => f, StringComparer.Ordinal).ToList();
        var cmdletFiles = files.Where(f => !Path.GetFileName(f).StartsWith('_') && !Path.GetFileName(f).StartsWith("about_", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(f => Path.GetFileNameWithoutExtension(f), f => f, StringComparer.OrdinalIgnoreCase);

        // Shared descriptions of the AWS common parameters.
        var commonPath = Path.Combine(helpDir, options.CommonParametersFile);
        var common = new Dictionary<string, SectionItem>(StringComparer.OrdinalIgnoreCase);
        CmdletDoc? commonDoc = null;
        if (File.Exists(commonPath))
        {
            commonDoc = MarkdownHelp.ReadParameterFile(commonPath);
            errors.AddRange(commonDoc.Problems);
            foreach (var item in commonDoc.Parameters)
                if (!common.TryAdd(item.Name, item))
                    errors.Add(new HelpError(commonPath, item.Line, E(19), null, $"-{item.Name} is described twice."));
            foreach (var item in commonDoc.Parameters)
                CheckProse(commonPath, null, $"-{item.Name}", item.Line, item.Paragraphs, errors);
        }

        var helps = new List<CmdletHelp>();
        foreach (var cmdlet in cmdlets)
        {
            var expected = Path.Combine(helpDir, cmdlet.Name + ".md");
            if (!cmdletFiles.TryGetValue(cmdlet.Name, out var path))
            {
                errors.Add(new HelpError(expected, null, E(1), cmdlet.Name,
                    $"no help file. Every exported cmdlet needs {Path.GetFileName(expected)} (SYNOPSIS, DESCRIPTION, EXAMPLES with a pipeline, PARAMETERS)."));
                continue;
            }
            cmdletFiles.Remove(cmdlet.Name);
            var doc = MarkdownHelp.ReadCmdlet(path);
            helps.Add(CheckCmdlet(cmdlet, doc, common, errors));
        }

        foreach (var orphan in cmdletFiles.Values)
            errors.Add(new HelpError(orphan, null, E(2), Path.GetFileNameWithoutExtension(orphan),
                $"documents a cmdlet that {Path.GetFileName(options.AssemblyPath)} does not define."));

        if (commonDoc is not null)
            foreach (var item in commonDoc.Parameters.Where(i => !cmdlets.Any(c => c.Parameters.Any(p => p.Name.Equals(i.Name, StringComparison.OrdinalIgnoreCase)))))
                errors.Add(new HelpError(commonPath, item.Line, E(4), null, $"describes -{item.Name}, which no cmdlet has."));

        var aboutTopics = new List<(string, string)>();
        foreach (var about in files.Where(f => Path.GetFileName(f).StartsWith("about_", StringComparison.OrdinalIgnoreCase)))
            aboutTopics.Add((Path.GetFileNameWithoutExtension(about), AboutTopicWriter.Write(about, File.ReadAllText(about), errors)));

        return (helps, aboutTopics);
    }

    private static CmdletHelp CheckCmdlet(CmdletMetadata cmdlet, CmdletDoc doc, IReadOnlyDictionary<string, SectionItem> common,
        List<HelpError> errors)
    {
        var path = doc.Path;
        errors.AddRange(doc.Problems.Select(p => p with { Cmdlet = cmdlet.Name }));
        if (doc.Title != cmdlet.Name)
            errors.Add(new HelpError(path, 1, E(16), cmdlet.Name, $"the file must start with '# {cmdlet.Name}' (found '{doc.Title ?? "no title"}')."));
        if (doc.Synopsis.All(string.IsNullOrWhiteSpace))
            errors.Add(new HelpError(path, null, E(6), cmdlet.Name, "no synopsis: write one paragraph under '## SYNOPSIS'."));
        if (doc.Description.All(string.IsNullOrWhiteSpace))
            errors.Add(new HelpError(path, null, E(7), cmdlet.Name, "no description: write what the cmdlet does under '## DESCRIPTION'."));

        foreach (var example in doc.Examples.Where(e => string.IsNullOrWhiteSpace(e.Code)))
            errors.Add(new HelpError(path, example.Line, E(8), cmdlet.Name, $"'{example.Title}' has no ```powershell code block."));
        if (!doc.Examples.Any(e => e.Code?.Contains('|') == true))
            errors.Add(new HelpError(path, null, E(5), cmdlet.Name,
                "no example shows the pipeline form: add an example under '## EXAMPLES' whose code contains '|'."));

        CheckProse(path, cmdlet.Name, "SYNOPSIS", null, doc.Synopsis, errors);
        CheckProse(path, cmdlet.Name, "DESCRIPTION", null, doc.Description, errors);
        CheckProse(path, cmdlet.Name, "NOTES", null, doc.Notes, errors);
        foreach (var item in doc.Parameters) CheckProse(path, cmdlet.Name, $"-{item.Name}", item.Line, item.Paragraphs, errors);
        foreach (var item in doc.Inputs.Concat(doc.Outputs)) CheckProse(path, cmdlet.Name, item.Name, item.Line, item.Paragraphs, errors);

        // Parameters: the assembly decides which exist; the Markdown only describes them.
        var descriptions = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        var documented = new Dictionary<string, SectionItem>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in doc.Parameters)
        {
            if (!documented.TryAdd(item.Name, item))
            {
                errors.Add(new HelpError(path, item.Line, E(19), cmdlet.Name, $"-{item.Name} is described twice."));
                continue;
            }
            var known = cmdlet.Parameters.Any(p => p.Name.Equals(item.Name, StringComparison.OrdinalIgnoreCase))
                        || (cmdlet.SupportsShouldProcess && MamlWriter.ShouldProcessParameters.ContainsKey(item.Name));
            if (!known)
                errors.Add(new HelpError(path, item.Line, E(4), cmdlet.Name,
                    $"describes -{item.Name}, but the cmdlet has no such parameter. Its parameters: {ParameterList(cmdlet)}."));
        }

        foreach (var parameter in cmdlet.Parameters.Where(p => !CommonParameters.Contains(p.Name)))
        {
            if (documented.TryGetValue(parameter.Name, out var own) && own.Paragraphs.Any(t => !string.IsNullOrWhiteSpace(t)))
                descriptions[parameter.Name] = own.Paragraphs;
            else if (!documented.ContainsKey(parameter.Name) && common.TryGetValue(parameter.Name, out var shared) && shared.Paragraphs.Any(t => !string.IsNullOrWhiteSpace(t)))
                descriptions[parameter.Name] = shared.Paragraphs;
            else
                errors.Add(new HelpError(path, documented.TryGetValue(parameter.Name, out var empty) ? empty.Line : null, E(3), cmdlet.Name,
                    $"parameter -{parameter.Name} has no description: add '### -{parameter.Name}' and a paragraph under '## PARAMETERS'."));
        }
        foreach (var name in MamlWriter.ShouldProcessParameters.Keys)
            if (documented.TryGetValue(name, out var own) && cmdlet.SupportsShouldProcess && own.Paragraphs.Count > 0)
                descriptions[name] = own.Paragraphs;

        // Outputs: the types come from [OutputType]; the Markdown describes them.
        var declared = cmdlet.OutputTypes.Where(t => t != "System.Void").ToList();
        var outputs = new List<(string, IReadOnlyList<string>)>();
        foreach (var item in doc.Outputs)
        {
            var match = declared.FirstOrDefault(t => t.Equals(item.Name, StringComparison.OrdinalIgnoreCase)
                                                     || t.EndsWith("." + item.Name, StringComparison.OrdinalIgnoreCase));
            if (match is null && item.Name.Equals("None", StringComparison.OrdinalIgnoreCase) && declared.Count == 0)
                match = "None";
            if (match is null)
                errors.Add(new HelpError(path, item.Line, E(9), cmdlet.Name,
                    $"OUTPUTS describes '{item.Name}', but the cmdlet declares [OutputType] {(declared.Count == 0 ? "none" : string.Join(", ", declared))}."));
            else outputs.Add((match, item.Paragraphs));
        }
        foreach (var type in declared.Where(t => !outputs.Any(o => o.Item1 == t)))
            outputs.Add((type, Array.Empty<string>()));
        if (outputs.Count == 0) outputs.Add(("None", Array.Empty<string>()));

        return new CmdletHelp(cmdlet, doc, descriptions, outputs);
    }

    /// <summary>Get-Help prints descriptions verbatim, so C# source or doc-comment markup in them is an error.</summary>
    private static void CheckProse(string path, string? cmdlet, string where, int? line, IEnumerable<string> paragraphs, List<HelpError> errors)
    {
        foreach (var paragraph in paragraphs)
        {
            if (SourceLeak.Find(paragraph) is not { } fragment) continue;
            errors.Add(new HelpError(path, line, E(17), cmdlet,
                $"{where} contains source code or XML doc markup ('{fragment}'): write the description as plain help text."));
            return;
        }
    }

    private static string ParameterList(CmdletMetadata cmdlet) =>
        string.Join(", ", cmdlet.Parameters.Select(p => "-" + p.Name)
            .Concat(cmdlet.SupportsShouldProcess ? new[] { "-WhatIf", "-Confirm" } : Array.Empty<string>()));

    private static void WriteIfChanged(string path, string content, HelpBuildResult result)
    {
        var bytes = new UTF8Encoding(false).GetBytes(content);
        if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
        {
            result.Unchanged.Add(path);
            return;
        }
        // Write beside, then rename over: builds in other slots share the module layout and may read it meanwhile.
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
        result.Written.Add(path);
    }
}
