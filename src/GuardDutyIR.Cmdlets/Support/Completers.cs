using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using GuardDutyIR.Engine.Context;

namespace GuardDutyIR.Commands;

/// <summary>Completes names from a fixed list with wildcard matching and quoting, without any network call.</summary>
public abstract class NameCompleter : IArgumentCompleter
{
    protected abstract IEnumerable<string> Names(IDictionary fakeBoundParameters);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = new WildcardPattern((wordToComplete ?? "").Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        foreach (var name in Names(fakeBoundParameters).Where(pattern.IsMatch).OrderBy(n => n, StringComparer.OrdinalIgnoreCase))
        {
            var text = name.IndexOfAny(new[] { ' ', '\'', '$', '`' }) >= 0 ? "'" + name.Replace("'", "''") + "'" : name;
            yield return new CompletionResult(text, name, CompletionResultType.ParameterValue, name);
        }
    }
}

/// <summary>AWS Region names known to the SDK.</summary>
public sealed class RegionCompleter : NameCompleter
{
    protected override IEnumerable<string> Names(IDictionary fakeBoundParameters) => AwsNames.KnownRegions();
}

/// <summary>Profile names from the shared config and credentials files (read locally).</summary>
public sealed class ProfileNameCompleter : NameCompleter
{
    protected override IEnumerable<string> Names(IDictionary fakeBoundParameters) =>
        AwsNames.ProfileNames(fakeBoundParameters["ProfileLocation"] as string);
}
