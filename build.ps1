<#
.SYNOPSIS
    Builds, tests, packages and demonstrates GuardDutyIR. Each task is a thin wrapper over a dotnet command
    (listed in README.md), so machines without pwsh run the same steps with dotnet alone.
.EXAMPLE
    ./build.ps1                 # Build
    ./build.ps1 -Task Test      # the whole test suite (xunit; the Pester suites in the hosted engine), then Pester in this pwsh
    ./build.ps1 -Task Demo      # the workshop scenarios end to end against the embedded Lab
    ./build.ps1 -Task Package -Configuration Release   # out/gallery: GuardDutyIR.<version>.nupkg and the five GuardDutyIR.DuckDB.<rid> packages
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package', 'Demo')]
    [string[]] $Task = @('Build'),

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug'
)

$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath $PSScriptRoot

function Invoke-Dotnet {
    param([Parameter(ValueFromRemainingArguments)] [string[]] $Arguments)
    Write-Host "dotnet $($Arguments -join ' ')" -ForegroundColor Cyan
    & dotnet @Arguments
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($Arguments[0]) failed with exit code $LASTEXITCODE" }
}

function Find-Pester {
    # The Pester package dotnet test restored (PesterVersion in Directory.Packages.props), so pwsh runs the suites
    # with the version CI uses; otherwise an installed Pester 5 or later.
    $project = 'tests/Unit/GuardDutyIR.Module.Tests/GuardDutyIR.Module.Tests.csproj'
    $properties = try { (& dotnet msbuild $project -getProperty:NuGetPackageRoot -getProperty:PesterVersion | ConvertFrom-Json).Properties } catch { $null }
    if ($properties.NuGetPackageRoot -and $properties.PesterVersion) {
        $manifest = Join-Path $properties.NuGetPackageRoot "pester/$($properties.PesterVersion)/tools/Pester.psd1"
        if (Test-Path -LiteralPath $manifest) {
            return [pscustomobject] @{ Manifest = $manifest; Reason = "Pester $($properties.PesterVersion) restored from NuGet ($manifest)" }
        }
    }
    $installed = Get-Module -ListAvailable -Name Pester | Where-Object Version -GE '5.0.0' | Sort-Object Version -Descending | Select-Object -First 1
    if ($installed) {
        return [pscustomobject] @{ Manifest = $installed.Path; Reason = "Pester $($installed.Version) installed ($($installed.Path))" }
    }
}

function Invoke-PesterSuites {
    # dotnet test has already run every suite through the hosted engine (TestResults/Pester/*.txt); this runs them
    # again in pwsh itself, in a child process so the module under test never loads into this build session.
    $pester = Find-Pester
    if (-not $pester) {
        Write-Warning 'No Pester 5 or later: skipping the pwsh run of tests/Pester and examples (Install-Module Pester -MinimumVersion 5.0).'
        return
    }
    Write-Host "Pester in pwsh: $($pester.Reason)" -ForegroundColor Cyan
    $version = ([xml](Get-Content -Raw Directory.Build.props)).Project.PropertyGroup.ModuleVersion | Where-Object { $_ } | Select-Object -First 1
    $env:GUARDDUTYIR_MODULE = Join-Path $PSScriptRoot "out/GuardDutyIR/$version/GuardDutyIR.psd1"
    # examples/Runbook.Tests.ps1 imports the module by name, as users do: out/ is a module folder.
    $env:PSModulePath = (Join-Path $PSScriptRoot 'out') + [System.IO.Path]::PathSeparator + $env:PSModulePath
    $results = Join-Path $PSScriptRoot 'TestResults/Pester/pwsh.xml'
    & ([Environment]::ProcessPath) -NoProfile -NonInteractive -Command {
        param($Pester, $Results, $Root)
        Import-Module $Pester
        $configuration = New-PesterConfiguration
        $configuration.Run.Path = (Join-Path $Root 'tests/Pester'), (Join-Path $Root 'examples')
        $configuration.Run.Exit = $true
        $configuration.Output.Verbosity = 'Detailed'
        $configuration.TestResult.Enabled = $true
        $configuration.TestResult.OutputPath = $Results
        Invoke-Pester -Configuration $configuration
    } -args $pester.Manifest, $results, $PSScriptRoot
    if ($LASTEXITCODE -ne 0) { throw "Pester failed ($LASTEXITCODE failed test(s) or a failed container)" }
}

foreach ($step in $Task) {
    switch ($step) {
        'Build' {
            Invoke-Dotnet build GuardDutyIR.sln -c $Configuration
        }
        'Test' {
            # -m:1: the test assemblies one after another (README, Quick start).
            Invoke-Dotnet test GuardDutyIR.sln -c $Configuration -m:1
            Invoke-PesterSuites
        }
        'Package' {
            Invoke-Dotnet build src/GuardDutyIR.Cmdlets -c $Configuration -t:Build`;PackModule
        }
        'Demo' {
            Invoke-Dotnet run --project tools/GuardDutyIR.Demo -c $Configuration
        }
    }
}
