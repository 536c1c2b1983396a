<#
.SYNOPSIS
    The GuardDutyIR demo: both AWS GuardDuty workshop scenarios, end to end, against the embedded Lab.
.DESCRIPTION
    Run by `dotnet run --project tools/GuardDutyIR.Demo` (or ./build.ps1 -Task Demo), or in pwsh with the module
    imported: ./examples/Demo.ps1. Each section's output goes to Out-Host, so it prints before the next heading.
#>
$ErrorActionPreference = 'Stop'

function Show-Heading([string] $Text) {
    Write-Host ''
    Write-Host "== $Text ==" -ForegroundColor Cyan
}

Show-Heading 'The Lab: a local AWS-compatible endpoint playing both workshop scenarios'
$lab = Start-GdLab -Scenario Workshop -Seed 42
$lab | Out-Host
Get-GdCallerIdentity | Format-List Account, Arn, Region, CredentialSource | Out-Host

# ---- Scenario 1: an instance talks to an address on a custom threat list ------------------------------------------
Show-Heading 'Scenario 1: GuardDuty detectors'
Get-GdDetector | Out-Host

Show-Heading 'Scenario 1: the MaliciousIPCaller.Custom finding'
$finding = Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom'
$finding | Format-List Type, Severity, SeverityLabel, InstanceId, Direction, RemoteIpAddress, ThreatListName, FirstSeen, LastSeen | Out-Host

Show-Heading 'Scenario 1: the threat list the finding came from'
Get-GdThreatList -Name $finding.ThreatListName | Out-Host

Show-Heading 'Scenario 1: every current finding, highest severity first'
Get-GdFinding | Select-Object -First 10 | Out-Host

Show-Heading 'Scenario 1: Set-InstanceQuarantine -WhatIf (the plan, ENI by ENI, with no change)'
$finding | Set-InstanceQuarantine -CaseId IR-42 -WhatIf

Show-Heading 'Scenario 1: Set-InstanceQuarantine (record, protect, untrack, isolate every ENI)'
$quarantine = $finding | Set-InstanceQuarantine -CaseId IR-42 -ConversionWaitSeconds 2
$quarantine | Out-Host
$quarantine.Steps | Format-Table Name, Target, Status, Detail -Wrap | Out-Host
$quarantine.NetworkInterfaces | Format-Table NetworkInterfaceId, @{ n = 'Before'; e = { $_.OriginalGroups -join ', ' } }, @{ n = 'After'; e = { $_.NewGroups -join ', ' } } | Out-Host
Write-Host $quarantine.Caveat

Show-Heading 'Scenario 1: Test-InstanceQuarantine'
$test = $quarantine | Test-InstanceQuarantine
$test | Out-Host
$test.Checks | Out-Host

Show-Heading 'Scenario 1: New-ForensicSnapshot -Wait (every volume, crash-consistent)'
$snapshots = $quarantine | New-ForensicSnapshot -Wait -PollIntervalSeconds 1
$snapshots | Out-Host

Show-Heading 'Scenario 1: tell the responders (SNS, the workshop e-mail, with what was done)'
$topic = "arn:aws:sns:$($lab.Region):$($lab.AccountId):$($lab.Facts.SnsTopicName)"
$snapshots | Send-GdNotification -TopicArn $topic | Format-List Subject, Message | Out-Host

Show-Heading 'Scenario 1: the guarded terminate, allowed because every volume has a completed snapshot of IR-42'
# Without them it would refuse with EvidenceIncomplete (a non-terminating error; see the tests), unless -Force.
$ended = Remove-CompromisedInstance -InstanceId $finding.InstanceId -CaseId IR-42 -Confirm:$false -PollIntervalSeconds 1
$ended | Out-Host
$ended.EvidenceSnapshots.GetEnumerator() | Format-Table @{ n = 'Volume'; e = { $_.Key } }, @{ n = 'Evidence snapshot'; e = { $_.Value } } | Out-Host

# ---- Scenario 2: an instance reaching for resources it should not -------------------------------------------------
Show-Heading 'Scenario 2: the CloudTrail Lake event data store'
$eds = Get-LakeEventDataStore
$eds | Out-Host

Show-Heading 'Scenario 2, query 1: instances whose role listed S3 buckets (CloudTrail Lake)'
$listing = Invoke-LakeQuery -Template InstancesListingBuckets -EventDataStore $eds.EventDataStore
$listing | Out-Host
$instance = ($listing | Select-Object -First 1).principalid.Split(':')[-1]
Write-Host "Investigating $instance."

foreach ($template in 'InstanceActivity', 'InstanceReadOnlyCalls', 'InstanceS3Uploads', 'InstanceActivitySummary', 'InstanceCredentialExfiltration') {
    Show-Heading "Scenario 2, $template (CloudTrail Lake)"
    Invoke-LakeQuery -Template $template -Parameter @{ InstanceId = $instance } -EventDataStore $eds.EventDataStore | Out-Host
}

Show-Heading 'Scenario 2 without CloudTrail Lake: the same question on the trail log files in S3 (embedded engine)'
$cache = Join-Path ([System.IO.Path]::GetTempPath()) "GuardDutyIR-demo-$($lab.Port)"
Invoke-LakeQuery -Template InstanceS3Uploads -Parameter @{ InstanceId = $instance } `
    -S3Uri "s3://$($lab.Facts.TrailBucket)/AWSLogs/" -CacheDirectory $cache | Out-Host
Remove-Item -LiteralPath $cache -Recurse -Force -ErrorAction SilentlyContinue

Show-Heading 'Scenario 2 on Athena over the CloudTrail table'
Invoke-LakeQuery -Template InstanceActivitySummary -Parameter @{ InstanceId = $instance } -Athena `
    -OutputLocation "s3://$($lab.Facts.EvidenceBucket)/athena-results/" | Out-Host

Show-Heading 'Done'
$lab | Stop-GdLab
Write-Host 'The Lab is stopped.'
