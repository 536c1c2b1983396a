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

Show-Heading 'Containment (scenario 1): a local Lab plays the compromised instance'
$lab = Start-GdLab -Scenario CompromisedInstance
$lab | Out-Default
$instanceId = (Get-GdLab).Facts.CompromisedInstanceId
if (-not $instanceId) { $instanceId = $lab.Facts.CompromisedInstanceId }

Show-Heading "Set-InstanceQuarantine $instanceId (-WhatIf: the plan, ENI by ENI, with no change)"
Set-InstanceQuarantine -InstanceId $instanceId -CaseId IR-42 -WhatIf

Show-Heading "Set-InstanceQuarantine $instanceId"
$quarantine = Set-InstanceQuarantine -InstanceId $instanceId -CaseId IR-42 -ConversionWaitSeconds 2
$quarantine | Out-Default
$quarantine.Steps | Out-Default
foreach ($eni in $quarantine.NetworkInterfaces) {
    $Host.UI.WriteLine("  $($eni.NetworkInterfaceId): [$($eni.OriginalGroups -join ', ')] -> [$($eni.NewGroups -join ', ')]")
}
$Host.UI.WriteLine("  $($quarantine.Caveat)")

Show-Heading 'Test-InstanceQuarantine'
$test = $quarantine | Test-InstanceQuarantine
$test | Out-Default
$test.Checks | Out-Default

Show-Heading 'New-ForensicSnapshot -Wait (every volume, crash-consistent)'
$snapshots = $quarantine | New-ForensicSnapshot -Wait -PollIntervalSeconds 1
$snapshots | Out-Default

Show-Heading 'The guarded terminate: allowed because every volume has a completed snapshot of IR-42'
# Without them it would refuse with EvidenceIncomplete (a non-terminating error; see the tests), unless -Force.
$ended = Remove-CompromisedInstance -InstanceId $instanceId -CaseId IR-42 -Confirm:$false -PollIntervalSeconds 1
$ended | Out-Default
foreach ($pair in $ended.EvidenceSnapshots.GetEnumerator()) { $Host.UI.WriteLine("  evidence: $($pair.Key) -> $($pair.Value)") }

$lab | Stop-GdLab
