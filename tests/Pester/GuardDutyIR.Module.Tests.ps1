#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Meta-tests of the built module for machines with pwsh (./build.ps1 -Task Test runs them in a child pwsh).
    The same checks run on every machine through the hosted engine in tests/Unit/GuardDutyIR.Module.Tests.
#>

BeforeDiscovery {
    $manifest = if ($env:GUARDDUTYIR_MODULE) { $env:GUARDDUTYIR_MODULE } else {
        Get-ChildItem -Path (Join-Path $PSScriptRoot '../../out/GuardDutyIR') -Filter GuardDutyIR.psd1 -Recurse | Select-Object -First 1 -ExpandProperty FullName
    }
    Import-Module $manifest -Force
    $script:commands = Get-Command -Module GuardDutyIR | ForEach-Object { @{ Name = $_.Name; Command = $_ } }
    $script:awsCommands = $script:commands | Where-Object { $_.Command.Parameters.ContainsKey('EndpointUrl') }
}

BeforeAll {
    $manifest = if ($env:GUARDDUTYIR_MODULE) { $env:GUARDDUTYIR_MODULE } else {
        Get-ChildItem -Path (Join-Path $PSScriptRoot '../../out/GuardDutyIR') -Filter GuardDutyIR.psd1 -Recurse | Select-Object -First 1 -ExpandProperty FullName
    }
    Import-Module $manifest -Force
}

Describe 'GuardDutyIR module' {
    It 'has a valid manifest with explicit exports' {
        $info = Test-ModuleManifest -Path (Get-Module GuardDutyIR).Path.Replace('GuardDutyIR.Cmdlets.dll', 'GuardDutyIR.psd1') -ErrorAction Stop
        $info.ExportedCmdlets.Keys | Should -Not -BeNullOrEmpty
        (Get-Module GuardDutyIR).ExportedFunctions.Count | Should -Be 0
    }

    It 'loads no AWSSDK assembly into the default load context' {
        [System.Runtime.Loader.AssemblyLoadContext]::Default.Assemblies |
            Where-Object { $_.GetName().Name -like 'AWSSDK*' -and $_.Location -like '*GuardDutyIR*' } |
            Should -BeNullOrEmpty
    }
}

Describe '<Name>' -ForEach $script:commands {
    It 'declares an output type' {
        $Command.OutputType | Should -Not -BeNullOrEmpty
    }

    It 'has help with a synopsis, an example in pipeline form and every parameter described' {
        $help = Get-Help $Name -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -BeLike "$Name *"
        @($help.Examples.Example).Where({ $_.Code -match '\|' }).Count | Should -BeGreaterThan 0
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        foreach ($parameter in $Command.Parameters.Keys | Where-Object { $_ -notin $common }) {
            $described = $help.Parameters.Parameter | Where-Object Name -EQ $parameter
            ($described.Description.Text -join '') | Should -Not -BeNullOrEmpty -Because "-$parameter of $Name needs a description"
        }
    }

    It 'supports ShouldProcess when it changes anything' -Skip:($Command.Verb -in 'Get', 'Test', 'ConvertFrom', 'Invoke', 'Export') {
        $Command.Parameters.Keys | Should -Contain 'WhatIf'
        $Command.Parameters.Keys | Should -Contain 'Confirm'
    }
}

Describe '<Name> AWS common parameters' -ForEach $script:awsCommands {
    It 'has the AWS.Tools parameter names and aliases' {
        foreach ($parameter in 'Region', 'ProfileName', 'ProfileLocation', 'Credential', 'EndpointUrl', 'RoleArn', 'ExternalId', 'RoleSessionName') {
            $Command.Parameters.Keys | Should -Contain $parameter
        }
        $Command.Parameters['ProfileName'].Aliases | Should -Contain 'StoredCredentials'
        $Command.Parameters['ProfileName'].Aliases | Should -Contain 'AWSProfileName'
        $Command.Parameters['ProfileLocation'].Aliases | Should -Contain 'AWSProfilesLocation'
    }

    It 'rejects a malformed region before any network call' -Skip:(@($Command.Parameters.Values | Where-Object { $_.Attributes.Mandatory -contains $true }).Count -gt 0) {
        { & $Name -Region 'not a region' -EndpointUrl 'http://127.0.0.1:9/' -Credential @{ AccessKey = 'AKID'; SecretKey = 's' } -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidRegion*'
    }
}
