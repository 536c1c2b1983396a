using System.Management.Automation;
using GuardDutyIR.Module.Tests.Support;
using Xunit.Abstractions;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// Get-Help on the built module: every exported cmdlet has real help (from module/help/*.md, built into MAML at
/// build time), and the about_GuardDutyIR topic is found once the module is imported.
/// </summary>
public sealed class HelpTests(ITestOutputHelper output) : IDisposable
{
    private readonly HostedPowerShell _host = new();

    public void Dispose() => _host.Dispose();

    private static readonly HashSet<string> CommonParameters = new(
        Cmdlet.CommonParameters.Concat(new[] { "UseTransaction" }), StringComparer.OrdinalIgnoreCase);

    // Get-Help -Full flattened to plain values in the engine, so the assertions need no PSObject navigation.
    private const string HelpScript = """
        $h = Get-Help -Name $args[0] -Full -ErrorAction Stop
        [pscustomobject]@{
            Category    = [string]$h.Category
            Synopsis    = [string]$h.Synopsis
            Description = (@($h.description) | ForEach-Object { $_.Text }) -join "`n"
            SyntaxCount = @(@($h.syntax.syntaxItem) | Where-Object { $null -ne $_ }).Count
            Parameters  = @(@($h.parameters.parameter) | Where-Object { $null -ne $_ } | ForEach-Object {
                [pscustomobject]@{
                    Name          = [string]$_.name
                    Description   = (@($_.description) | ForEach-Object { $_.Text }) -join "`n"
                    Required      = [string]$_.required
                    PipelineInput = [string]$_.pipelineInput
                    Aliases       = [string]$_.aliases
                }
            })
            Examples    = @(@($h.examples.example) | Where-Object { $null -ne $_ } | ForEach-Object { [string]$_.code })
            Links       = @(@($h.relatedLinks.navigationLink) | Where-Object { $null -ne $_ } | ForEach-Object { [string]$_.linkText })
        }
        """;

    private List<CmdletInfo> Cmdlets() =>
        _host.Run("Get-Command -Module GuardDutyIR -CommandType Cmdlet").Output.Select(o => (CmdletInfo)o.BaseObject).ToList();

    private PSObject HelpOf(string name)
    {
        var result = _host.Run(HelpScript, name);
        Assert.True(result.Terminating is null && result.Errors.Count == 0,
            $"Get-Help {name} -Full failed: {result.Terminating?.Message ?? result.Errors.FirstOrDefault()?.ToString()}");
        return Assert.Single(result.Output);
    }

    private static T Value<T>(PSObject o, string name) => (T)LanguagePrimitives.ConvertTo(o.Properties[name].Value, typeof(T));

    private static IEnumerable<PSObject> Items(PSObject o, string name) =>
        ((IEnumerable<object>)LanguagePrimitives.ConvertTo(o.Properties[name].Value, typeof(object[]))).Select(PSObject.AsPSObject);

    [Fact]
    public void Every_exported_cmdlet_has_complete_help_from_the_built_MAML()
    {
        var cmdlets = Cmdlets();
        Assert.NotEmpty(cmdlets);
        var problems = new List<string>();
        foreach (var cmdlet in cmdlets)
        {
            var help = HelpOf(cmdlet.Name);
            var synopsis = Value<string>(help, "Synopsis").Trim();
            // Without MAML, Get-Help makes the synopsis from the syntax: "Verb-Noun [-Param <Type>] [<CommonParameters>]".
            if (synopsis.Length == 0 || synopsis.StartsWith(cmdlet.Name, StringComparison.OrdinalIgnoreCase) || synopsis.Contains("[<CommonParameters>]"))
                problems.Add($"{cmdlet.Name}: synopsis is missing or auto-generated: '{synopsis}'");
            if (string.IsNullOrWhiteSpace(Value<string>(help, "Description")))
                problems.Add($"{cmdlet.Name}: no description");

            var documented = Items(help, "Parameters").ToDictionary(p => Value<string>(p, "Name"), StringComparer.OrdinalIgnoreCase);
            foreach (var parameter in cmdlet.Parameters.Values.Where(p => !CommonParameters.Contains(p.Name)))
            {
                if (!documented.TryGetValue(parameter.Name, out var entry))
                    problems.Add($"{cmdlet.Name}: -{parameter.Name} is not in the help");
                else if (string.IsNullOrWhiteSpace(Value<string>(entry, "Description")))
                    problems.Add($"{cmdlet.Name}: -{parameter.Name} has no description");
            }
            foreach (var name in documented.Keys.Where(n => !cmdlet.Parameters.ContainsKey(n)))
                problems.Add($"{cmdlet.Name}: the help describes -{name}, which the cmdlet does not have");

            var examples = Items(help, "Examples").Select(e => e.BaseObject as string ?? e.ToString()).ToList();
            if (!examples.Any(code => code.Contains('|')))
                problems.Add($"{cmdlet.Name}: no example shows the pipeline form ({examples.Count} examples)");

            output.WriteLine($"{cmdlet.Name}: {documented.Count} parameters, {examples.Count} examples, synopsis '{synopsis}'");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    // C# source and XML doc-comment markup: what a scrape of the cmdlets' doc comments once left in the -InstanceId
    // help of seven cmdlets (issue 9, item 21). None of it belongs in text Get-Help prints.
    private static readonly string[] SourceMarkers =
    {
        "</", "<summary", "<para", "///", "[Cmdlet(", "[OutputType(", "[Parameter(", "typeof(",
        "public sealed class", "public abstract class", "public class", "{ get;", "set; }",
    };

    [Fact]
    public void No_synopsis_description_or_parameter_description_contains_source_code()
    {
        var problems = new List<string>();
        var checkedTexts = 0;
        void Check(string where, string text)
        {
            checkedTexts++;
            if (SourceMarkers.FirstOrDefault(m => text.Contains(m, StringComparison.Ordinal)) is { } marker)
                problems.Add($"{where} contains '{marker}': {text.ReplaceLineEndings(" ")}");
        }
        foreach (var cmdlet in Cmdlets())
        {
            var help = HelpOf(cmdlet.Name);
            Check($"{cmdlet.Name} synopsis", Value<string>(help, "Synopsis"));
            Check($"{cmdlet.Name} description", Value<string>(help, "Description"));
            foreach (var parameter in Items(help, "Parameters"))
                Check($"{cmdlet.Name} -{Value<string>(parameter, "Name")}", Value<string>(parameter, "Description"));
        }
        Assert.True(checkedTexts > 100, $"only {checkedTexts} texts were read from the help");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Help_metadata_agrees_with_the_cmdlets()
    {
        var problems = new List<string>();
        foreach (var cmdlet in Cmdlets())
        {
            var help = HelpOf(cmdlet.Name);
            Assert.Equal("Cmdlet", Value<string>(help, "Category"));
            var sets = cmdlet.ParameterSets.Count;
            if (Value<int>(help, "SyntaxCount") != sets)
                problems.Add($"{cmdlet.Name}: {Value<int>(help, "SyntaxCount")} syntax entries for {sets} parameter sets");

            var documented = Items(help, "Parameters").ToDictionary(p => Value<string>(p, "Name"), StringComparer.OrdinalIgnoreCase);
            foreach (var parameter in cmdlet.Parameters.Values.Where(p => documented.ContainsKey(p.Name)))
            {
                var entry = documented[parameter.Name];
                var mandatoryEverywhere = parameter.ParameterSets.Count > 0 && parameter.ParameterSets.Values.All(s => s.IsMandatory);
                var required = Value<string>(entry, "Required");
                if (mandatoryEverywhere != (required == "true"))
                    problems.Add($"{cmdlet.Name}: -{parameter.Name} required='{required}' but the cmdlet says mandatory={mandatoryEverywhere}");
                var byValue = parameter.ParameterSets.Values.Any(s => s.ValueFromPipeline);
                var byName = parameter.ParameterSets.Values.Any(s => s.ValueFromPipelineByPropertyName);
                var pipeline = Value<string>(entry, "PipelineInput");
                if (byValue != pipeline.Contains("ByValue") || byName != pipeline.Contains("ByPropertyName"))
                    problems.Add($"{cmdlet.Name}: -{parameter.Name} pipelineInput='{pipeline}' but ByValue={byValue}, ByPropertyName={byName}");
                var aliases = Value<string>(entry, "Aliases");
                foreach (var alias in parameter.Aliases.Where(a => !aliases.Contains(a, StringComparison.Ordinal)))
                    problems.Add($"{cmdlet.Name}: -{parameter.Name} alias {alias} is missing from the help ('{aliases}')");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_example_is_valid_PowerShell()
    {
        var problems = new List<string>();
        foreach (var cmdlet in Cmdlets())
        {
            foreach (var code in Items(HelpOf(cmdlet.Name), "Examples").Select(e => e.BaseObject as string ?? e.ToString()))
            {
                System.Management.Automation.Language.Parser.ParseInput(code, out _, out var errors);
                problems.AddRange(errors.Select(e => $"{cmdlet.Name}: {e.Message} in:\n{code}"));
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n\n", problems));
    }

    [Fact]
    public void AWS_common_parameters_share_one_description_with_their_AWS_Tools_aliases()
    {
        var help = HelpOf("Get-GdCallerIdentity");
        var parameters = Items(help, "Parameters").ToDictionary(p => Value<string>(p, "Name"), StringComparer.OrdinalIgnoreCase);
        Assert.Contains("StoredCredentials", Value<string>(parameters["ProfileName"], "Aliases"));
        Assert.Contains("AWSProfilesLocation", Value<string>(parameters["ProfileLocation"], "Aliases"));
        Assert.Equal("True (ByPropertyName)", Value<string>(parameters["Region"], "PipelineInput"));
        Assert.Contains("AssumeRole", Value<string>(parameters["RoleArn"], "Description"));
        Assert.Contains("about_GuardDutyIR", Items(help, "Links").Select(l => l.ToString()));
    }

    [Fact]
    public void About_topic_is_found_once_the_module_is_imported()
    {
        var result = _host.Run("Get-Help about_GuardDutyIR");
        Assert.Null(result.Terminating);
        Assert.Empty(result.Errors);
        var text = string.Join("\n", result.Output.Select(o => o.BaseObject?.ToString()));
        Assert.Contains("Set-InstanceQuarantine", text);
        Assert.Contains("Invoke-LakeQuery", text);
        Assert.Contains("SHORT DESCRIPTION", text);

        // The topic's synopsis (the first line of its SHORT DESCRIPTION) shows when topics are listed.
        var listed = _host.Run("Get-Help -Name about_GuardDuty* -Category HelpFile | ForEach-Object { [string]$_.Synopsis }");
        Assert.Contains(listed.Output, o => o.ToString().Contains("GuardDuty findings", StringComparison.Ordinal));
    }
}
