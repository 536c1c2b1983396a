<#
.SYNOPSIS
    The GuardDutyIR demo: both AWS GuardDuty workshop scenarios, end to end, against the embedded Lab.
.DESCRIPTION
    Run by `dotnet run --project tools/GuardDutyIR.Demo` (or ./build.ps1 -Task Demo). The hosted PowerShell engine
    has only the core cmdlets, so this script uses the language and $Host.UI instead of Write-Host, Select-Object or
    Format-Table. Each section ends in Out-Default so its table prints before the next heading.
#>
$ErrorActionPreference = 'Stop'

function Show-Heading([string] $Text) {
    $Host.UI.WriteLine('')
    $Host.UI.WriteLine("== $Text ==")
}

Show-Heading 'The Lab: a local AWS-compatible endpoint playing both workshop scenarios'
$lab = Start-GdLab -Scenario Workshop -Seed 42
$lab | Out-Default
Get-GdCallerIdentity | Out-Default

# ---- Scenario 1: an instance talks to an address on a custom threat list ------------------------------------------
Show-Heading 'Scenario 1: GuardDuty detectors'
Get-GdDetector | Out-Default

Show-Heading 'Scenario 1: the MaliciousIPCaller.Custom finding'
$finding = Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom'
$finding | Out-Default
$Host.UI.WriteLine("Instance $($finding.InstanceId) talked $($finding.Direction) to $($finding.RemoteIpAddress), listed on '$($finding.ThreatListName)'.")

Show-Heading 'Scenario 1: the threat list the finding came from'
Get-GdThreatList -Name $finding.ThreatListName | Out-Default

Show-Heading 'Scenario 1: every current finding, highest severity first'
Get-GdFinding | Out-Default

Show-Heading "Scenario 1: Set-InstanceQuarantine -WhatIf (the plan, ENI by ENI, with no change)"
$finding | Set-InstanceQuarantine -CaseId IR-42 -WhatIf

Show-Heading 'Scenario 1: Set-InstanceQuarantine (record, protect, untrack, isolate every ENI)'
$quarantine = $finding | Set-InstanceQuarantine -CaseId IR-42 -ConversionWaitSeconds 2
$quarantine | Out-Default
$quarantine.Steps | Out-Default
foreach ($eni in $quarantine.NetworkInterfaces) {
    $Host.UI.WriteLine("  $($eni.NetworkInterfaceId): [$($eni.OriginalGroups -join ', ')] -> [$($eni.NewGroups -join ', ')]")
}
$Host.UI.WriteLine("  $($quarantine.Caveat)")

Show-Heading 'Scenario 1: Test-InstanceQuarantine'
$test = $quarantine | Test-InstanceQuarantine
$test | Out-Default
$test.Checks | Out-Default

Show-Heading 'Scenario 1: New-ForensicSnapshot -Wait (every volume, crash-consistent)'
$snapshots = $quarantine | New-ForensicSnapshot -Wait -PollIntervalSeconds 1
$snapshots | Out-Default

Show-Heading 'Scenario 1: tell the responders (SNS, the workshop e-mail, with what was done)'
$topic = "arn:aws:sns:$($lab.Region):$($lab.AccountId):$($lab.Facts.SnsTopicName)"
$quarantine | Send-GdNotification -TopicArn $topic | Out-Default

Show-Heading 'Scenario 1: the guarded terminate, allowed because every volume has a completed snapshot of IR-42'
# Without them it would refuse with EvidenceIncomplete (a non-terminating error; see the tests), unless -Force.
$ended = Remove-CompromisedInstance -InstanceId $finding.InstanceId -CaseId IR-42 -Confirm:$false -PollIntervalSeconds 1
$ended | Out-Default
foreach ($pair in $ended.EvidenceSnapshots.GetEnumerator()) { $Host.UI.WriteLine("  evidence: $($pair.Key) -> $($pair.Value)") }

# ---- Scenario 2: an instance reaching for resources it should not -------------------------------------------------
Show-Heading 'Scenario 2: the CloudTrail Lake event data store'
$eds = Get-LakeEventDataStore
$eds | Out-Default

Show-Heading 'Scenario 2, query 1: instances whose role listed S3 buckets (CloudTrail Lake)'
$listing = @(Invoke-LakeQuery -Template InstancesListingBuckets -EventDataStore $eds.EventDataStore)
$listing | Out-Default
$instance = ($listing[0].principalid -split ':')[-1]
$Host.UI.WriteLine("Investigating $instance.")

foreach ($template in 'InstanceActivity', 'InstanceReadOnlyCalls', 'InstanceS3Uploads', 'InstanceActivitySummary', 'InstanceCredentialExfiltration') {
    Show-Heading "Scenario 2, $template (CloudTrail Lake)"
    Invoke-LakeQuery -Template $template -Parameter @{ InstanceId = $instance } -EventDataStore $eds.EventDataStore | Out-Default
}

Show-Heading 'Scenario 2 without CloudTrail Lake: the same question on the trail log files in S3 (embedded engine)'
$cache = [System.IO.Path]::Combine([System.IO.Path]::GetTempPath(), "GuardDutyIR-demo-$($lab.Port)")
Invoke-LakeQuery -Template InstanceS3Uploads -Parameter @{ InstanceId = $instance } `
    -S3Uri "s3://$($lab.Facts.TrailBucket)/AWSLogs/" -CacheDirectory $cache | Out-Default

Show-Heading 'Scenario 2 on Athena over the CloudTrail table'
Invoke-LakeQuery -Template InstanceActivitySummary -Parameter @{ InstanceId = $instance } -Athena `
    -OutputLocation "s3://$($lab.Facts.EvidenceBucket)/athena-results/" | Out-Default

Show-Heading 'Done'
$lab | Stop-GdLab
$Host.UI.WriteLine('The Lab is stopped.')
