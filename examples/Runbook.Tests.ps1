#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    Rehearses the containment runbook in Runbook.ps1 against the GuardDutyIR Lab, the way a team checks its own
    runbook in CI before a real incident needs it:

        Invoke-Pester ./examples/Runbook.Tests.ps1

    The Lab is a local AWS-compatible endpoint that plays the AWS GuardDuty workshop: an instance pings an Elastic IP
    on a custom threat list and GuardDuty raises UnauthorizedAccess:EC2/MaliciousIPCaller.Custom. The runbook runs
    once, as in an incident; the tests then check what it left behind, reading AWS again (Test-InstanceQuarantine, a
    second New-ForensicSnapshot, the saved DescribeInstances) and the Lab's own views of traffic and SNS messages.
#>

BeforeAll {
    # Installed from the gallery, GuardDutyIR is found by name; this repository's CI puts its build on PSModulePath.
    Import-Module GuardDutyIR
    . $PSScriptRoot/Runbook.ps1

    # The Lab becomes this session's endpoint, region and credentials. Its snapshots complete in a second; the
    # runbook's own waits (conversion group, snapshot polling) stay as they are in production but for the poll interval.
    $lab = Start-GdLab -Scenario Workshop -SnapshotCompletionSeconds 1
    $instanceId = $lab.Facts.CompromisedInstanceId
    $topic = "arn:aws:sns:$($lab.Region):$($lab.AccountId):$($lab.Facts.SnsTopicName)"
    $evidencePath = Join-Path $TestDrive 'evidence'

    $results = @(Invoke-ContainmentRunbook -CaseId 'IR-REHEARSAL' -TopicArn $topic -EvidencePath $evidencePath -PollIntervalSeconds 1)
    $result = $results[0]

    # The Lab's views: every scenario flow with whether it still passes, and every message SNS accepted.
    $flows = Invoke-RestMethod "$($lab.EndpointUrl)/_lab/flows?instanceId=$instanceId"
    $messages = Invoke-RestMethod "$($lab.EndpointUrl)/_lab/sns/messages?topicArn=$topic"
}

AfterAll {
    $lab | Stop-GdLab
}

Describe 'The containment runbook' {
    It 'answers the threat-list finding, on the compromised instance only' {
        $results | Should -HaveCount 1
        $result.InstanceId | Should -Be $instanceId
        $result.FindingId | Should -Not -BeNullOrEmpty
    }

    It 'leaves the instance isolated by every guarantee Test-InstanceQuarantine checks' {
        $check = Test-InstanceQuarantine -InstanceId $instanceId
        $check.Failed | Should -BeNullOrEmpty
        $check.Passed | Should -BeTrue
    }

    It 'leaves every network interface in the isolation group alone' {
        # The description saved as evidence is EC2's DescribeInstances after containment.
        $file = $result.Evidence.Files | Where-Object Kind -EQ 'description'
        $instance = Get-Content -Raw -LiteralPath $file.Path | ConvertFrom-Json
        $interfaces = @($instance.NetworkInterfaces)
        $interfaces.Count | Should -Be @($result.Quarantine.NetworkInterfaces).Count
        foreach ($interface in $interfaces) {
            $interface.Groups.GroupName | Should -Be 'GuardDutyIR-Isolation'
            $interface.Groups.GroupId | Should -Be $result.Quarantine.IsolationGroups[$interface.VpcId]
        }
    }

    It 'cuts the beacon to the threat-listed address' {
        $beacon = $flows | Where-Object { $_.remoteIp -eq $lab.Facts.MaliciousEip -and $_.protocol -eq 'tcp' }
        $beacon | Should -Not -BeNullOrEmpty
        $beacon.passes | Should -BeFalse
        # Security groups cannot end a tracked flow such as the ICMP ping; the quarantine result says so.
        $flows | Where-Object passes | ForEach-Object { $_.tracked | Should -BeTrue -Because "$($_.description) is still passing" }
    }

    It 'snapshots every volume, completed and tagged with the case' {
        $volumes = ($result.Quarantine.OriginalDescription | ConvertFrom-Json).BlockDeviceMappings.Ebs.VolumeId
        $result.Snapshots.VolumeId | Sort-Object | Should -Be ($volumes | Sort-Object)
        $result.Snapshots.State | Sort-Object -Unique | Should -Be 'completed'
        # Asked again for the case, EC2 has them by their ir:case tag: nothing new is taken.
        $again = New-ForensicSnapshot -InstanceId $instanceId -CaseId 'IR-REHEARSAL'
        $again.Reused | Should -Not -Contain $false
        $again.SnapshotId | Sort-Object | Should -Be ($result.Snapshots.SnapshotId | Sort-Object)
    }

    It 'keeps console output, screenshot and description with their SHA-256' {
        $result.Evidence.Files.Kind | Sort-Object | Should -Be 'console', 'description', 'screenshot'
        foreach ($file in $result.Evidence.Files) {
            $file.Path | Should -Exist
            $file.Path | Should -BeLike (Join-Path $evidencePath 'IR-REHEARSAL' '*')
            (Get-FileHash -LiteralPath $file.Path -Algorithm SHA256).Hash | Should -Be $file.Sha256
        }
    }

    It 'tells the responders, naming the finding and the instance' {
        $message = $messages | Where-Object messageId -EQ $result.NotificationId
        $message | Should -HaveCount 1
        $message.message | Should -Match $result.FindingId
        $message.message | Should -Match $instanceId
    }

    It 'lets the guarded terminate through now that the evidence is complete' {
        Remove-CompromisedInstance -InstanceId $instanceId -CaseId 'IR-REHEARSAL' -WhatIf -ErrorVariable refused -ErrorAction SilentlyContinue
        $refused | Should -BeNullOrEmpty
    }
}
