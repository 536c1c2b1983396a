<#
.SYNOPSIS
    A team's containment runbook for EC2 instances GuardDuty flags, written on GuardDutyIR. Runbook.Tests.ps1 beside
    it rehearses it against the Lab; copy both and make them yours.
.DESCRIPTION
    Dot-source this file to get Invoke-ContainmentRunbook. For every current finding of the given types it isolates
    the instance (Set-InstanceQuarantine), proves the isolation (Test-InstanceQuarantine), snapshots every volume and
    waits for the snapshots (New-ForensicSnapshot -Wait), keeps console output, screenshot and description with their
    SHA-256 (Save-InstanceEvidence), and tells the responders on SNS what was found and done (Send-GdNotification).
    Any failure stops the runbook with an error: a half-contained instance must page a human, not pass quietly.
.EXAMPLE
    . ./Runbook.ps1
    Invoke-ContainmentRunbook -CaseId IR-42 -TopicArn $topic -EvidencePath /var/ir/evidence -Region eu-west-1
#>

function Invoke-ContainmentRunbook {
    [CmdletBinding()]
    param(
        # The case (ticket) every change and every piece of evidence is tagged with.
        [Parameter(Mandatory)]
        [string] $CaseId,

        # The responders' SNS topic.
        [Parameter(Mandatory)]
        [string] $TopicArn,

        # Where the evidence files go; a folder per case is made inside it.
        [Parameter(Mandatory)]
        [string] $EvidencePath,

        # The findings this runbook answers. GuardDuty rates the custom-threat-list finding Medium (severity 5).
        [string[]] $FindingType = @('UnauthorizedAccess:EC2/MaliciousIPCaller*'),

        # A severity name (Low, Medium, High, Critical) or number; Get-GdFinding checks it.
        [string] $MinSeverity = 'Medium',

        # Seconds between snapshot polls. EBS snapshots take minutes; the default suits a real account.
        [ValidateRange(1, 300)]
        [int] $PollIntervalSeconds = 15,

        # AWS context, passed to every cmdlet when given (otherwise the session's defaults and the AWS chain answer).
        [string] $Region,
        [string] $ProfileName
    )

    $ErrorActionPreference = 'Stop'
    $aws = @{}
    if ($Region) { $aws.Region = $Region }
    if ($ProfileName) { $aws.ProfileName = $ProfileName }

    $findings = Get-GdFinding @aws -Type $FindingType -MinSeverity $MinSeverity
    foreach ($finding in $findings) {
        Write-Verbose "Case ${CaseId}: $($finding.Type) on $($finding.InstanceId)"

        $quarantine = $finding | Set-InstanceQuarantine @aws -CaseId $CaseId
        if ($quarantine.Status -ne 'Quarantined') {
            throw "Case ${CaseId}: $($finding.InstanceId) is $($quarantine.Status): $(@($quarantine.Steps | Where-Object Status -EQ 'Failed') -join '; ')"
        }
        $check = $quarantine | Test-InstanceQuarantine @aws
        if (-not $check.Passed) {
            throw "Case ${CaseId}: $($finding.InstanceId) is not isolated: $($check.Failed -join '; ')"
        }

        $snapshots = $quarantine | New-ForensicSnapshot @aws -Wait -PollIntervalSeconds $PollIntervalSeconds
        $evidence = $quarantine | Save-InstanceEvidence @aws -Path (Join-Path $EvidencePath $CaseId)
        # The snapshots carry the quarantine's actions on, so the one message tells everything done to the instance.
        $notification = $snapshots | Send-GdNotification @aws -TopicArn $TopicArn

        [pscustomobject] @{
            CaseId         = $CaseId
            InstanceId     = $finding.InstanceId
            FindingId      = $finding.FindingId
            Quarantine     = $quarantine
            Check          = $check
            Snapshots      = $snapshots
            Evidence       = $evidence
            NotificationId = $notification.MessageId
        }
    }
}
