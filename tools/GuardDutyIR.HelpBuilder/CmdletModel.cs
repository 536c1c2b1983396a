namespace GuardDutyIR.HelpBuilder;

/// <summary>A cmdlet as the compiled assembly declares it: the source of truth for syntax and parameter metadata.</summary>
public sealed record CmdletMetadata(
    string Name,
    string Verb,
    string Noun,
    string? DefaultParameterSetName,
    bool SupportsShouldProcess,
    IReadOnlyList<ParameterMetadata> Parameters,
    IReadOnlyList<string> OutputTypes,
    string TypeName)
{
    public const string AllParameterSets = "__AllParameterSets";

    /// <summary>The named parameter sets, the default one first; empty when every parameter is in all sets.</summary>
    public IReadOnlyList<string> ParameterSetNames
    {
        get
        {
            var names = Parameters.SelectMany(p => p.Sets).Select(s => s.SetName)
                .Where(n => n != AllParameterSets).Distinct(StringComparer.Ordinal).ToList();
            if (DefaultParameterSetName is { } d && !names.Contains(d, StringComparer.Ordinal)) names.Add(d);
            return names.OrderBy(n => n == DefaultParameterSetName ? 0 : 1).ThenBy(n => n, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>Parameters of one set (those declared for it and those in all sets), positional ones first.</summary>
    public IReadOnlyList<(ParameterMetadata Parameter, ParameterSetMetadata Set)> ParametersOf(string? setName) =>
        Parameters
            .Select(p => (Parameter: p, Set: p.Sets.FirstOrDefault(s => s.SetName == setName)
                                             ?? p.Sets.FirstOrDefault(s => s.SetName == AllParameterSets)))
            .Where(x => x.Set is not null)
            .Select(x => (x.Parameter, x.Set!))
            .OrderBy(x => x.Item2.Position ?? int.MaxValue)
            .ThenBy(x => x.Item2.Mandatory ? 0 : 1)
            .ToList();
}

/// <summary>One parameter: type and aliases, plus how it binds in each parameter set it belongs to.</summary>
public sealed record ParameterMetadata(
    string Name,
    string TypeFullName,
    string TypeDisplayName,
    bool IsSwitch,
    bool IsArray,
    bool SupportsWildcards,
    IReadOnlyList<string> Aliases,
    IReadOnlyList<ParameterSetMetadata> Sets,
    string DeclaringTypeName);

public sealed record ParameterSetMetadata(
    string SetName,
    bool Mandatory,
    int? Position,
    bool ValueFromPipeline,
    bool ValueFromPipelineByPropertyName,
    bool ValueFromRemainingArguments);

/// <summary>A cmdlet's help as written in Markdown.</summary>
public sealed class CmdletDoc
{
    public required string Path { get; init; }
    public string? Title { get; set; }
    public List<string> Synopsis { get; } = new();
    public List<string> Description { get; } = new();
    public List<ExampleDoc> Examples { get; } = new();
    public List<SectionItem> Parameters { get; } = new();
    public List<SectionItem> Inputs { get; } = new();
    public List<SectionItem> Outputs { get; } = new();
    public List<string> Notes { get; } = new();
    public List<LinkDoc> RelatedLinks { get; } = new();
    /// <summary>Problems found while reading the file (unknown sections, text outside a section...).</summary>
    public List<HelpError> Problems { get; } = new();
}

/// <summary>A level-3 entry (a parameter, an input or output type) and its paragraphs.</summary>
public sealed record SectionItem(string Name, List<string> Paragraphs, int Line);

public sealed class ExampleDoc
{
    public required string Title { get; init; }
    public required int Line { get; init; }
    public string? Code { get; set; }
    public List<string> Remarks { get; } = new();
}

public sealed record LinkDoc(string Text, string? Uri);

/// <summary>A reason the help cannot be built, with where to fix it (MSBuild canonical error format).</summary>
public sealed record HelpError(string File, int? Line, string Code, string? Cmdlet, string Message)
{
    public override string ToString() =>
        $"{File}{(Line is { } l ? $"({l})" : "")}: error {Code}: {(Cmdlet is null ? "" : Cmdlet + ": ")}{Message}";
}
