<#
.SYNOPSIS
    Builds, tests, packages and demonstrates GuardDutyIR. Each task is a thin wrapper over a dotnet command
    (listed in README.md), so machines without pwsh run the same steps with dotnet alone.
.EXAMPLE
    ./build.ps1                 # Build
    ./build.ps1 -Task Test      # the whole test suite (xunit, hosted PowerShell), then Pester if it is installed
    ./build.ps1 -Task Demo      # the workshop scenarios end to end against the embedded Lab
    ./build.ps1 -Task Package -Configuration Release
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

foreach ($step in $Task) {
    switch ($step) {
        'Build' {
            Invoke-Dotnet build GuardDutyIR.sln -c $Configuration
        }
        'Test' {
            Invoke-Dotnet test GuardDutyIR.sln -c $Configuration
            if (Get-Module -ListAvailable -Name Pester | Where-Object Version -ge '5.0.0') {
                # Pester runs in a child pwsh so the module under test never loads into this build session.
                $version = ([xml](Get-Content -Raw Directory.Build.props)).Project.PropertyGroup.ModuleVersion | Where-Object { $_ } | Select-Object -First 1
                $env:GUARDDUTYIR_MODULE = Join-Path $PSScriptRoot "out/GuardDutyIR/$version/GuardDutyIR.psd1"
                & pwsh -NoProfile -NonInteractive -Command "Invoke-Pester -Path tests/Pester -CI"
                if ($LASTEXITCODE -ne 0) { throw "Pester failed" }
            }
            else {
                Write-Warning 'Pester 5 is not installed; skipping tests/Pester (Install-Module Pester -MinimumVersion 5.0).'
            }
        }
        'Package' {
            Invoke-Dotnet build src/GuardDutyIR.Cmdlets -c $Configuration -t:Build`;PackModule
        }
        'Demo' {
            Invoke-Dotnet run --project tools/GuardDutyIR.Demo -c $Configuration
        }
    }
}
