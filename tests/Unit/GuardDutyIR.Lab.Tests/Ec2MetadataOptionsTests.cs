using Amazon.EC2;
using Amazon.EC2.Model;

namespace GuardDutyIR.Lab.Tests;

public sealed class Ec2MetadataOptionsTests
{
    [Fact]
    public async Task ScenarioInstances_ReportTheirMetadataOptions_AndModifyChangesThem()
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab);
        var id = lab.World.InvestigatedInstanceId!;
        async Task<InstanceMetadataOptionsResponse> Options(string instanceId) =>
            (await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new() { instanceId } })).Reservations[0].Instances[0].MetadataOptions;

        var before = await Options(id);
        Assert.Equal(HttpTokensState.Optional, before.HttpTokens);
        Assert.Equal(1, before.HttpPutResponseHopLimit);
        Assert.Equal(InstanceMetadataEndpointState.Enabled, before.HttpEndpoint);
        var bastion = await Options(lab.World.BastionInstanceId!);
        Assert.Equal(HttpTokensState.Required, bastion.HttpTokens);

        var modified = await ec2.ModifyInstanceMetadataOptionsAsync(new ModifyInstanceMetadataOptionsRequest
        {
            InstanceId = id, HttpTokens = HttpTokensState.Required, HttpPutResponseHopLimit = 2,
        });
        Assert.Equal(id, modified.InstanceId);
        Assert.Equal(InstanceMetadataOptionsState.Pending, modified.InstanceMetadataOptions.State);
        Assert.Equal(HttpTokensState.Required, modified.InstanceMetadataOptions.HttpTokens);
        var after = await Options(id);
        Assert.Equal((HttpTokensState.Required, 2, InstanceMetadataOptionsState.Applied), (after.HttpTokens, after.HttpPutResponseHopLimit.GetValueOrDefault(), after.State));
        Assert.Equal(InstanceMetadataEndpointState.Enabled, after.HttpEndpoint);

        var disabled = await ec2.ModifyInstanceMetadataOptionsAsync(new ModifyInstanceMetadataOptionsRequest { InstanceId = id, HttpEndpoint = InstanceMetadataEndpointState.Disabled });
        Assert.Equal(InstanceMetadataEndpointState.Disabled, disabled.InstanceMetadataOptions.HttpEndpoint);
        Assert.Equal(HttpTokensState.Required, disabled.InstanceMetadataOptions.HttpTokens);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    public async Task HopLimitOutside1To64_IsRefused_AndNothingChanges(int hops)
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab);
        var id = lab.World.InvestigatedInstanceId!;
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.ModifyInstanceMetadataOptionsAsync(new ModifyInstanceMetadataOptionsRequest
        {
            InstanceId = id, HttpTokens = HttpTokensState.Required, HttpPutResponseHopLimit = hops,
        }));
        Assert.Equal("InvalidParameterValue", ex.ErrorCode);
        Assert.Equal("optional", lab.Ec2.MetadataSettings(id)!.HttpTokens);
    }

    [Fact]
    public async Task BadTokensValue_AndUnknownInstance_AreRefused()
    {
        await using var lab = await TestLab.StartAsync();
        var (status, body, _) = await TestLab.PostFormAsync(lab, "ec2", TestLab.Form(("Action", "ModifyInstanceMetadataOptions"), ("Version", "2016-11-15"),
            ("InstanceId", lab.World.InvestigatedInstanceId!), ("HttpTokens", "sometimes")));
        Assert.Equal(400, status);
        Assert.Contains("InvalidParameterValue", body);
        using var ec2 = TestLab.Ec2(lab);
        var ex = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.ModifyInstanceMetadataOptionsAsync(new ModifyInstanceMetadataOptionsRequest
        {
            InstanceId = "i-0123456789abcdef0", HttpTokens = HttpTokensState.Required,
        }));
        Assert.Equal("InvalidInstanceID.NotFound", ex.ErrorCode);
    }

    [Fact]
    public async Task DescribeKeyPairs_ListsTheKeyPairsTheInstancesWereLaunchedWith()
    {
        await using var lab = await TestLab.StartAsync();
        using var ec2 = TestLab.Ec2(lab);
        var keyName = lab.World.InvestigatedInstance!.KeyName;
        var all = (await ec2.DescribeKeyPairsAsync(new DescribeKeyPairsRequest())).KeyPairs;
        var pair = Assert.Single(all);
        Assert.Equal(keyName, pair.KeyName);
        Assert.StartsWith("key-", pair.KeyPairId);
        Assert.Matches("^([0-9a-f]{2}:){19}[0-9a-f]{2}$", pair.KeyFingerprint);
        Assert.Equal(KeyType.Rsa, pair.KeyType);
        var byName = (await ec2.DescribeKeyPairsAsync(new DescribeKeyPairsRequest { KeyNames = new() { keyName } })).KeyPairs;
        Assert.Equal(pair.KeyPairId, Assert.Single(byName).KeyPairId);
        var byFilter = (await ec2.DescribeKeyPairsAsync(new DescribeKeyPairsRequest { Filters = new() { new Filter("key-pair-id", new() { pair.KeyPairId }) } })).KeyPairs;
        Assert.Single(byFilter);
        var missing = await Assert.ThrowsAsync<AmazonEC2Exception>(() => ec2.DescribeKeyPairsAsync(new DescribeKeyPairsRequest { KeyNames = new() { "no-such-key" } }));
        Assert.Equal("InvalidKeyPair.NotFound", missing.ErrorCode);
    }
}
