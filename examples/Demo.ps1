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

Show-Heading 'The case: from here on every change and everything collected is journaled to IR-42'
# A folder of this run, so the demo leaves nothing in the user's profile; the Lambda handler's case lands here too.
$demoFolder = Join-Path ([System.IO.Path]::GetTempPath()) "GuardDutyIR-demo-case-$PID"
$env:GUARDDUTYIR_CASE_ROOT = Join-Path $demoFolder 'cases'
$env:GUARDDUTYIR_CASE_KEY_ROOT = Join-Path $demoFolder 'case-keys'
Start-GdCase -CaseId IR-42 -Title 'GuardDuty workshop: scenarios 1 and 2' | Format-List CaseId, Title, Path, Status | Out-Host

# ---- Scenario 1: an instance talks to an address on a custom threat list ------------------------------------------
Show-Heading 'Scenario 1: GuardDuty detectors'
Get-GdDetector | Out-Host

Show-Heading 'Scenario 1: the MaliciousIPCaller.Custom finding'
$finding = Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom'
$finding | Format-List Type, Severity, SeverityLabel, InstanceId, Direction, RemoteIpAddress, ThreatListName, FirstSeen, LastSeen | Out-Host

Show-Heading 'Scenario 1: the threat list the finding came from'
Get-GdThreatList -Name $finding.ThreatListName | Out-Host

Show-Heading 'Scenario 1: every current finding, highest severity first'
$allFindings = @(Get-GdFinding)
$allFindings | Select-Object -First 10 | Out-Host

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

$investigation = [ordered]@{ InstancesListingBuckets = $listing }
foreach ($template in 'InstanceActivity', 'InstanceReadOnlyCalls', 'InstanceS3Uploads', 'InstanceActivitySummary', 'InstanceCredentialExfiltration') {
    Show-Heading "Scenario 2, $template (CloudTrail Lake)"
    $investigation[$template] = @(Invoke-LakeQuery -Template $template -Parameter @{ InstanceId = $instance } -EventDataStore $eds.EventDataStore)
    $investigation[$template] | Out-Host
}

Show-Heading "Scenario 2: every call of $instance's role, one by one (the report's timeline)"
$calls = @(Invoke-LakeQuery -EventDataStore $eds.EventDataStore -Query ("select eventtime, eventsource, eventname, sourceipaddress, errorcode " +
    "from EDS_ID where useridentity.principalid like '%:$instance' order by eventtime"))
Write-Host "$($calls.Count) calls, from $($calls[0].eventtime) to $($calls[-1].eventtime)."

Show-Heading 'Scenario 2 without CloudTrail Lake: the same question on the trail log files in S3 (embedded engine)'
$cache = Join-Path ([System.IO.Path]::GetTempPath()) "GuardDutyIR-demo-$($lab.Port)"
Invoke-LakeQuery -Template InstanceS3Uploads -Parameter @{ InstanceId = $instance } `
    -S3Uri "s3://$($lab.Facts.TrailBucket)/AWSLogs/" -CacheDirectory $cache | Out-Host
Remove-Item -LiteralPath $cache -Recurse -Force -ErrorAction SilentlyContinue

Show-Heading 'Scenario 2 on Athena over the CloudTrail table'
Invoke-LakeQuery -Template InstanceActivitySummary -Parameter @{ InstanceId = $instance } -Athena `
    -OutputLocation "s3://$($lab.Facts.EvidenceBucket)/athena-results/" | Out-Host

Show-Heading "Scenario 2: the stolen credentials, used from elsewhere (CloudTrail Lake)"
$investigation['InstanceCredentialsUsedElsewhere'] = @(Invoke-LakeQuery -Template InstanceCredentialsUsedElsewhere -Parameter @{ InstanceId = $instance } -EventDataStore $eds.EventDataStore)
$investigation['InstanceCredentialsUsedElsewhere'] | Select-Object -First 10 | Out-Host

Show-Heading "Scenario 2: how $instance could be reached, and what its role could do"
$exposure = Get-InstanceExposure -InstanceId $instance
$exposure.Checks | Format-Table Level, Check, Target, Evidence -Wrap | Out-Host

Show-Heading "Scenario 2: revoke every session of the instance's role issued before now (credentials already taken stop working)"
Revoke-InstanceRoleSession -InstanceId $instance -WhatIf
$revocation = Revoke-InstanceRoleSession -InstanceId $instance -Force
$revocation | Format-List RoleArn, Status, TokenIssuedBefore, OtherInstances, Actions | Out-Host

Show-Heading "Scenario 2: close the way the keys left: IMDSv2 only, hop limit 1"
Set-InstanceMetadataOption -InstanceId $instance -RequireToken -HopLimit 1 -Confirm:$false | Format-List InstanceId, Status, HttpTokensBefore, HttpTokens, HopLimit | Out-Host

Show-Heading "Scenario 2: New-ForensicSnapshot -Wait of $instance, then the guarded terminate"
$snapshots2 = New-ForensicSnapshot -InstanceId $instance -CaseId IR-42 -Wait -PollIntervalSeconds 1
$snapshots2 | Out-Host
# The role's credentials are revoked and its disks are in IR-42's snapshots: the instance can go.
$ended2 = Remove-CompromisedInstance -InstanceId $instance -CaseId IR-42 -Confirm:$false -PollIntervalSeconds 1
$ended2 | Format-List InstanceId, Action, PreviousState, State | Out-Host
$ended2.EvidenceSnapshots.GetEnumerator() | Format-Table @{ n = 'Volume'; e = { $_.Key } }, @{ n = 'Evidence snapshot'; e = { $_.Value } } | Out-Host

Show-Heading 'The case IR-42: its report (both scenarios), the evidence bundle, the journal checked'
# Each query is a table named after its template; the instance's calls go on the timeline with the containment steps.
$investigation["Calls of $instance"] = $calls
$report = $allFindings | Export-GdCaseReport -Query $investigation
$bundle = @($allFindings) + @($quarantine) + @($snapshots) + @($snapshots2) | Export-GdCaseEvidence -Path (Join-Path $demoFolder 'IR-42-evidence') -Zip -Query $investigation
Test-GdCaseEvidence -Path $bundle.Path | Format-List Valid, Files, JournalSignatureChecked, Problems | Out-Host
Test-GdCaseJournal | Format-List Valid, Entries, SignedEntries, HeadSignatureValid, Problems | Out-Host
$null = Stop-GdCase

$lab | Stop-GdLab

# ---- Scenario 1, automatically: GuardDuty -> EventBridge -> the e-mail and the isolating function ------------------
# What AWS's PowerShell runtime does for one event: take the invocation from the function's Runtime API, call the
# handler with $LambdaInput and $LambdaContext, and post its answer.
function Invoke-LambdaOnce([string] $RuntimeApi, [scriptblock] $Handler) {
    $base = "http://$RuntimeApi/2018-06-01/runtime/invocation"
    $next = Invoke-WebRequest -Uri "$base/next"
    $requestId = [string] $next.Headers['Lambda-Runtime-Aws-Request-Id']
    $context = [pscustomobject]@{
        AwsRequestId       = $requestId
        InvokedFunctionArn = [string] $next.Headers['Lambda-Runtime-Invoked-Function-Arn']
    }
    $answer = & $Handler ($next.Content | ConvertFrom-Json) $context
    $null = Invoke-RestMethod -Method Post -Uri "$base/$requestId/response" -Body $answer -ContentType 'application/json'
    $answer | ConvertFrom-Json
}

Show-Heading 'Scenario 1, automatically: a fresh Lab, the workshop rule and its targets'
$lab = Start-GdLab -Scenario CompromisedInstance -Seed 42
$topic = "arn:aws:sns:$($lab.Region):$($lab.AccountId):$($lab.Facts.SnsTopicName)"
$null = New-GdResponseRule -TopicArn $topic -FunctionArn $lab.Facts.RemediationFunctionArn
Get-GdResponseRule | Format-List Name, State, EventPattern | Out-Host
(Get-GdResponseRule).Targets | Format-Table Id, Kind, Arn, InputTemplate -Wrap | Out-Host

Show-Heading 'Scenario 1, automatically: the instance pings the listed address again; GuardDuty updates the finding'
$finding = Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom'
$finding | Get-GdResponseRule | Format-Table Name, State | Out-Host
$null = Invoke-RestMethod -Method Post -Uri "$($lab.EndpointUrl)/_lab/guardduty/occurrence?findingId=$($finding.Id)"
Write-Host 'The e-mail EventBridge sent through the topic:'
(Invoke-RestMethod -Uri "$($lab.EndpointUrl)/_lab/sns/messages") | Select-Object -Last 1 -ExpandProperty message | Out-Host

Show-Heading 'Scenario 1, automatically: the Lambda function (the module''s handler) takes the event and isolates'
$env:GUARDDUTYIR_MIN_SEVERITY = 'Medium'
$env:GUARDDUTYIR_FINDING_TYPES = 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom'
$env:GUARDDUTYIR_TOPIC_ARN = $topic
$env:GUARDDUTYIR_CONVERSION_WAIT_SEC = '2'
# The function finds the module by name, as the runtime finds it in the layer under /opt/modules.
$env:PSModulePath = (Split-Path (Split-Path (Get-Module GuardDutyIR).ModuleBase)) + [IO.Path]::PathSeparator + $env:PSModulePath
. (Join-Path $PSScriptRoot '../module/lambda/Invoke-GdAutoResponse.ps1')
$result = Invoke-LambdaOnce -RuntimeApi $lab.Facts.RemediationRuntimeApi -Handler { param($e, $c) Invoke-GdAutoResponse $e $c }
$result | Format-List status, instanceId, caseId, decisionReason | Out-Host
$result.actions | Format-Table step, status, detail -Wrap | Out-Host
Test-InstanceQuarantine -InstanceId $finding.InstanceId | Out-Host

Show-Heading 'The handler''s case: every change it made, journaled where the function ran'
Get-GdCase -CaseId $result.caseId | Test-GdCaseJournal | Format-List CaseId, Valid, Entries | Out-Host
$handlerReport = $finding | Export-GdCaseReport -CaseId $result.caseId

Show-Heading 'Done'
$lab | Stop-GdLab
Write-Host 'The Labs are stopped.'
Write-Host "The report of both scenarios: $(($report | Where-Object Extension -eq '.html').FullName)"
Write-Host "                 and Markdown: $(($report | Where-Object Extension -eq '.md').FullName)"
Write-Host "The evidence bundle:          $($bundle.Path) (and $($bundle.ZipPath))"
Write-Host "The handler's case report:    $(($handlerReport | Where-Object Extension -eq '.html').FullName)"
