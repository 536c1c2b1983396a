<#
.SYNOPSIS
    The GuardDutyIR demo, run by `dotnet run --project tools/GuardDutyIR.Demo` (or ./build.ps1 -Task Demo).
.DESCRIPTION
    Runs in a hosted PowerShell 7.6 engine that has only the core cmdlets, so it uses the language and
    $Host.UI for headings instead of Write-Host or Select-Object. Each section ends in Out-Default so its
    table prints before the next heading.
#>
$ErrorActionPreference = 'Stop'

function Show-Heading([string] $Text) {
    $Host.UI.WriteLine('')
    $Host.UI.WriteLine("== $Text ==")
}

Show-Heading 'GuardDutyIR cmdlets'
Get-Command -Module GuardDutyIR |
    ForEach-Object { [pscustomobject]@{ Name = $_.Name; Verb = $_.Verb; Noun = $_.Noun; OutputType = ($_.OutputType.Name -join ', ') } } |
    Out-Default

Show-Heading 'Session defaults'
Set-GdDefault -Region us-east-1 -PassThru | Out-Default
Clear-GdDefault
