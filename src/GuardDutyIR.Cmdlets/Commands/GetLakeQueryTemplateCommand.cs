using System.Collections;
using System.Management.Automation;
using GuardDutyIR.Engine.Investigation;

namespace GuardDutyIR.Commands;

/// <summary>
/// <para type="synopsis">Lists the named CloudTrail queries Invoke-LakeQuery -Template runs, with their parameters and SQL.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "LakeQueryTemplate")]
[OutputType(typeof(PSObject))]
public sealed class GetLakeQueryTemplateCommand : GdCmdlet
{
    /// <summary>Only templates whose name matches; wildcards allowed.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(QueryTemplateCompleter))]
    public string Name { get; set; } = "*";

    protected override void EndProcessing()
    {
        var pattern = Wildcard(Name)!;
        foreach (var t in QueryTemplates.All.Where(t => pattern.IsMatch(t.Name)))
        {
            var o = new PSObject();
            o.TypeNames.Insert(0, "GuardDutyIR.LakeQueryTemplate");
            o.Properties.Add(new PSNoteProperty("Name", t.Name));
            o.Properties.Add(new PSNoteProperty("Description", t.Description));
            o.Properties.Add(new PSNoteProperty("Parameters", t.ParameterUsage));
            o.Properties.Add(new PSNoteProperty("Sql", t.Sql));
            WriteObject(o);
        }
    }
}

/// <summary>Completes template names.</summary>
public sealed class QueryTemplateCompleter : NameCompleter
{
    protected override IEnumerable<string> Names(IDictionary fakeBoundParameters) => QueryTemplates.All.Select(t => t.Name);
}
