<#
    Imports the GuardDutyIR build under test and returns it. The suites dot-source this file in BeforeDiscovery and
    BeforeAll, so discovery and the run see the same build.
    GUARDDUTYIR_MODULE (set by build.ps1 and by the hosted run in tests/Unit/GuardDutyIR.Module.Tests) names its
    manifest; without it, the newest version in this clone's out/ folder is taken, so Invoke-Pester -Path tests/Pester
    works after a plain `dotnet build`.
#>
function Import-TestedModule {
    $manifest = $env:GUARDDUTYIR_MODULE
    if (-not $manifest) {
        $built = Join-Path $PSScriptRoot '../../out/GuardDutyIR'
        $newest = Get-ChildItem -LiteralPath $built -Directory -ErrorAction SilentlyContinue |
            Where-Object { $_.Name -as [version] } |
            Sort-Object { [version] $_.Name } -Descending |
            Select-Object -First 1
        if (-not $newest) { throw "No GuardDutyIR build in ${built}: run 'dotnet build GuardDutyIR.sln' first, or set GUARDDUTYIR_MODULE to a manifest." }
        $manifest = Join-Path $newest.FullName 'GuardDutyIR.psd1'
    }
    Import-Module -Name $manifest -Force -PassThru -ErrorAction Stop
}
