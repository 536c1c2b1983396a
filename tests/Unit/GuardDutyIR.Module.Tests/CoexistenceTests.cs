using System.Reflection;
using System.Runtime.Loader;
using GuardDutyIR.Module.Tests.Support;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Module.Tests;

/// <summary>
/// AWS.Tools loads its own AWSSDK.Core into the default context. With an older AWSSDK.Core already loaded there,
/// the module still imports and makes signed calls with its own AWSSDK.Core 4.
/// </summary>
public sealed class CoexistenceTests
{
    [Fact]
    public void An_older_AWSSDK_Core_in_the_default_context_does_not_disturb_the_module()
    {
        // This test project references AWSSDK.Core 3.7 (as AWS.Tools would ship it): load it first.
        var older = AssemblyLoadContext.Default.LoadFromAssemblyName(new AssemblyName("AWSSDK.Core"));
        Assert.Equal(3, older.GetName().Version!.Major);
        Assert.Same(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(older));

        using var stub = new WireStub { Default = StubResponse.FromSample("sts-GetCallerIdentity.xml") };
        using var host = new HostedPowerShell();
        var result = host.Run("Get-GdCallerIdentity -Region us-east-1 -EndpointUrl $args[0] -Credential @{AccessKey='AKIDCOEXIST'; SecretKey='s'}", stub.Url);

        Assert.Null(result.Terminating);
        Assert.Empty(result.Errors);
        Assert.Single(result.Output);
        Assert.Contains("Credential=AKIDCOEXIST/", stub.Single().Header("Authorization"));
        var moduleCore = AssemblyLoadContext.All.Single(c => c.Name == "GuardDutyIR").Assemblies.Single(a => a.GetName().Name == "AWSSDK.Core");
        Assert.Equal(4, moduleCore.GetName().Version!.Major);
        Assert.NotSame(older, moduleCore);
    }
}
