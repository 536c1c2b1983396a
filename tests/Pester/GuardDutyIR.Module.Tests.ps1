#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Meta-tests of the built module's surface: manifest, load context, output types, help, ShouldProcess, and the
    AWS.Tools common parameters. `dotnet test GuardDutyIR.sln` runs this file through the hosted PowerShell 7.6 engine
    (tests/Unit/GuardDutyIR.Module.Tests/PesterSuiteTests.cs); `./build.ps1 -Task Test` runs it again in pwsh.
    Test cases are generated only where they apply: a Get-* cmdlet gets the "changes nothing" case, not a skipped
    ShouldProcess case.
#>

BeforeDiscovery {
    . $PSScriptRoot/TestedModule.ps1
    $null = Import-TestedModule

    # Verbs of commands that only read or compute: they must not ask for confirmation. Every other verb changes
    # something (AWS resources, a Lab, session defaults) and must support -WhatIf and -Confirm.
    $readOnlyVerbs = 'Get', 'Test', 'ConvertFrom', 'Invoke', 'Export', 'Find', 'Search'

    $commands = foreach ($command in Get-Command -Module GuardDutyIR | Sort-Object Name) {
        $set = @($command.ParameterSets | Where-Object IsDefault)[0]
        if (-not $set) { $set = $command.ParameterSets[0] }
        @{
            Name      = $command.Name
            Verb      = $command.Verb
            ReadOnly  = $command.Verb -in $readOnlyVerbs
            # The mandatory parameters of the default parameter set, which the region case has to fill in.
            Mandatory = @($set.Parameters | Where-Object IsMandatory | ForEach-Object Name)
            IsAws     = $command.Parameters.ContainsKey('EndpointUrl')
        }
    }
    $changingCommands = @($commands | Where-Object { -not $_.ReadOnly })
    $readOnlyCommands = @($commands | Where-Object ReadOnly)
    $awsCommands = @($commands | Where-Object IsAws)
}

BeforeAll {
    . $PSScriptRoot/TestedModule.ps1
    $module = Import-TestedModule

    # Valid values for every mandatory parameter an AWS cmdlet has, so the region case can call each one exactly as
    # a user would and see it stop at the region, before any network call.
    $sampleValues = @{
        InstanceId  = 'i-0123456789abcdef0'
        ListId      = '0123456789abcdef0123456789abcdef'
        ListType    = 'Threat'
        Entry       = '198.51.100.23'
        Name        = 'IR-42-blocked'
        Bucket      = 'ir-threat-lists'
        FindingId   = '0123456789abcdef0123456789abcdef'
        Archive     = [switch] $true
        Query       = 'select eventname, count(*) as total from trail group by eventname'
        TopicArn    = 'arn:aws:sns:us-east-1:111122223333:ir-responders'
        RoleName    = 'GuardDuty-Example-EC2-Compromised'
        # A finding, as Test-GdResponseRule needs; Send-GdNotification takes it too (it has InstanceId and FindingId).
        InputObject = '{"id":"0123456789abcdef0123456789abcdef","type":"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom","severity":5,"accountId":"111122223333","region":"us-east-1","resource":{"instanceDetails":{"instanceId":"i-0123456789abcdef0"}}}' |
            ConvertFrom-GdFindingEvent
        Path        = 'evidence'
        S3Uri       = 's3://ir-evidence/cases/'
    }
}

Describe 'GuardDutyIR module' {
    It 'has a valid manifest with explicit exports' {
        $info = Test-ModuleManifest -Path (Join-Path $module.ModuleBase 'GuardDutyIR.psd1') -ErrorAction Stop
        $info.ExportedCmdlets.Keys | Should -Not -BeNullOrEmpty
        $info.ExportedCmdlets.Keys | Should -Not -Contain '*'
        $module.ExportedFunctions.Count | Should -Be 0
        $module.ExportedVariables.Count | Should -Be 0
    }

    It 'exports exactly the cmdlets its manifest names' {
        $info = Test-ModuleManifest -Path (Join-Path $module.ModuleBase 'GuardDutyIR.psd1') -ErrorAction Stop
        @($module.ExportedCmdlets.Keys | Sort-Object) | Should -Be @($info.ExportedCmdlets.Keys | Sort-Object)
    }

    It 'loads its engine into its own load context, not the default one' {
        # The engine and AWSSDK.* sit in deps/ and belong to the module's own load context, whatever AWS.Tools put in
        # the default one. Get-LakeQueryTemplate calls into the engine, so the engine is loaded by now.
        $null = Get-LakeQueryTemplate
        $own = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -EQ 'GuardDutyIR'
        $own.Assemblies.GetName().Name | Should -Contain 'GuardDutyIR.Engine'
        # The test host may hold other copies of AWSSDK.Core in the default context, so only the module's files count.
        $moduleFolder = [System.IO.Path]::TrimEndingDirectorySeparator($module.ModuleBase) + [System.IO.Path]::DirectorySeparatorChar
        $fromModule = [System.Runtime.Loader.AssemblyLoadContext]::Default.Assemblies |
            Where-Object { -not $_.IsDynamic -and $_.Location.StartsWith($moduleFolder, [StringComparison]::Ordinal) } |
            ForEach-Object { $_.GetName().Name }
        $fromModule | Should -Contain 'GuardDutyIR.Cmdlets'
        $fromModule | Should -Not -Contain 'GuardDutyIR.Engine'
        $fromModule | Where-Object { $_ -like 'AWSSDK*' } | Should -BeNullOrEmpty
    }
}

Describe '<Name>' -ForEach $commands {
    It 'declares an output type' {
        (Get-Command $Name).OutputType | Should -Not -BeNullOrEmpty
    }

    It 'has help with a synopsis, an example in pipeline form and every parameter described' {
        $help = Get-Help $Name -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -BeLike "$Name *"
        @($help.Examples.Example).Where({ $_.Code -match '\|' }).Count | Should -BeGreaterThan 0
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        foreach ($parameter in (Get-Command $Name).Parameters.Keys | Where-Object { $_ -notin $common }) {
            $described = $help.Parameters.Parameter | Where-Object Name -EQ $parameter
            ($described.Description.Text -join '') | Should -Not -BeNullOrEmpty -Because "-$parameter of $Name needs a description"
        }
    }
}

Describe '<Name> changes something' -ForEach $changingCommands {
    It 'supports -WhatIf and -Confirm' {
        (Get-Command $Name).Parameters.Keys | Should -Contain 'WhatIf'
        (Get-Command $Name).Parameters.Keys | Should -Contain 'Confirm'
    }
}

Describe '<Name> only reads' -ForEach $readOnlyCommands {
    It 'does not ask for confirmation' {
        (Get-Command $Name).Parameters.Keys | Should -Not -Contain 'WhatIf' -Because "$Verb-* commands change nothing"
    }
}

Describe '<Name> AWS common parameters' -ForEach $awsCommands {
    It 'has the AWS.Tools parameter names and aliases' {
        $parameters = (Get-Command $Name).Parameters
        foreach ($parameter in 'Region', 'ProfileName', 'ProfileLocation', 'Credential', 'EndpointUrl', 'RoleArn', 'ExternalId', 'RoleSessionName') {
            $parameters.Keys | Should -Contain $parameter
        }
        $parameters['ProfileName'].Aliases | Should -Contain 'StoredCredentials'
        $parameters['ProfileName'].Aliases | Should -Contain 'AWSProfileName'
        $parameters['ProfileLocation'].Aliases | Should -Contain 'AWSProfilesLocation'
    }

    It 'rejects a malformed region before any network call' {
        $arguments = @{}
        foreach ($parameter in $Mandatory) {
            $sampleValues.ContainsKey($parameter) | Should -BeTrue -Because "-$parameter of $Name is mandatory: give it a sample value in this file's BeforeAll"
            $arguments[$parameter] = $sampleValues[$parameter]
        }
        if ($arguments.ContainsKey('Path')) { $arguments.Path = Join-Path $TestDrive $arguments.Path }
        # Nothing listens on port 9 (discard) of the loopback: a call that got that far would fail differently.
        $arguments.EndpointUrl = 'http://127.0.0.1:9/'
        $arguments.Credential = @{ AccessKey = 'AKIDEXAMPLE'; SecretKey = 'not-a-secret' }
        if ((Get-Command $Name).Parameters.ContainsKey('Confirm')) { $arguments.Confirm = $false }
        { & $Name @arguments -Region 'not a region' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidRegion*'
    }
}
