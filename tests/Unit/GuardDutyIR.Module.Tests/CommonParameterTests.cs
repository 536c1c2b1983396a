using System.Management.Automation;
using GuardDutyIR.Module.Tests.Support;

namespace GuardDutyIR.Module.Tests;

/// <summary>The module's surface follows PowerShell's and AWS.Tools' conventions, cmdlet by cmdlet.</summary>
public sealed class CommonParameterTests : IDisposable
{
    private readonly HostedPowerShell _host = new();

    public void Dispose() => _host.Dispose();

    private IEnumerable<CmdletInfo> Cmdlets() =>
        _host.Run("Get-Command -Module GuardDutyIR").Output.Select(o => (CmdletInfo)o.BaseObject);

    [Fact]
    public void Every_AWS_cmdlet_has_the_common_parameters_with_AWS_Tools_aliases()
    {
        var aws = Cmdlets().Where(c => c.ImplementingType.IsSubclassOf(c.ImplementingType.Assembly.GetType("GuardDutyIR.Commands.GdAwsCmdletBase")!)).ToList();
        Assert.NotEmpty(aws);
        foreach (var cmdlet in aws)
        {
            var p = cmdlet.Parameters;
            foreach (var name in new[] { "Region", "ProfileName", "ProfileLocation", "Credential", "EndpointUrl", "RoleArn", "ExternalId", "RoleSessionName" })
                Assert.True(p.ContainsKey(name), $"{cmdlet.Name} lacks -{name}");
            Assert.Contains("StoredCredentials", p["ProfileName"].Aliases);
            Assert.Contains("AWSProfileName", p["ProfileName"].Aliases);
            Assert.Contains("AWSProfilesLocation", p["ProfileLocation"].Aliases);
            Assert.Contains("ProfilesLocation", p["ProfileLocation"].Aliases);
            Assert.Contains(p["Region"].ParameterSets.Values, s => s.ValueFromPipelineByPropertyName);
        }
    }

    [Fact]
    public void Every_cmdlet_declares_an_output_type_and_mutators_support_ShouldProcess()
    {
        foreach (var cmdlet in Cmdlets())
        {
            Assert.True(cmdlet.OutputType.Count > 0, $"{cmdlet.Name} has no [OutputType]");
            var changes = cmdlet.Verb is not ("Get" or "Test" or "ConvertFrom" or "Invoke" or "Export");
            if (changes)
            {
                Assert.True(cmdlet.Parameters.ContainsKey("WhatIf"), $"{cmdlet.Name} changes state but has no -WhatIf");
                Assert.True(cmdlet.Parameters.ContainsKey("Confirm"), $"{cmdlet.Name} changes state but has no -Confirm");
            }
        }
    }

    [Fact]
    public void Cmdlet_classes_are_sealed_and_named_after_the_command()
    {
        foreach (var cmdlet in Cmdlets())
        {
            Assert.True(cmdlet.ImplementingType.IsSealed, cmdlet.Name);
            Assert.Equal(cmdlet.Verb + cmdlet.Noun + "Command", cmdlet.ImplementingType.Name);
        }
    }
}
