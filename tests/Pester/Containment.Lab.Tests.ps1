#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
<#
    The containment pipeline of workshop scenario 1, run for real against the Lab: the finding, a -WhatIf that changes
    nothing, Set-InstanceQuarantine, Test-InstanceQuarantine, New-ForensicSnapshot, Save-InstanceEvidence,
    Send-GdNotification, and Undo-InstanceQuarantine. What the cmdlets report is checked against what the Lab shows
    through its own views (/_lab/flows, /_lab/counters, /_lab/sns/messages) and against later reads of EC2.
    The Describe blocks run in file order and share one Lab: each one picks up the instance where the last left it,
    and what a step returns is kept in script scope for the steps after it.
#>

BeforeAll {
    . $PSScriptRoot/TestedModule.ps1
    $null = Import-TestedModule

    # Snapshots complete in half a second here: the waits are the module's own polling, not the Lab's.
    $lab = Start-GdLab -Scenario CompromisedInstance -SnapshotCompletionSeconds 0.5
    $caseId = 'IR-PESTER-1'
    $topic = "arn:aws:sns:$($lab.Region):$($lab.AccountId):$($lab.Facts.SnsTopicName)"

    function Get-LabView([string] $Path) {
        # The Lab's admin views answer plain JSON on its endpoint; Invoke-RestMethod returns an array as one object,
        # so the assignment unrolls it.
        $view = Invoke-RestMethod -Uri "$($lab.EndpointUrl)/_lab/$Path"
        $view
    }

    $finding = Get-GdFinding -Type 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom'
}

AfterAll {
    $lab | Stop-GdLab
}

Describe 'The workshop finding' {
    It 'names the compromised instance and the threat-listed address' {
        $finding | Should -HaveCount 1
        $finding.InstanceId | Should -Be $lab.Facts.CompromisedInstanceId
        $finding.RemoteIpAddress | Should -Be $lab.Facts.MaliciousEip
        $finding.ThreatListName | Should -Be $lab.Facts.ThreatListName
    }

    It 'has an instance that is not isolated yet, with its flows to the listed address passing' {
        $test = $finding | Test-InstanceQuarantine
        $test.Passed | Should -BeFalse
        @($test.Checks | Where-Object Name -EQ 'OnlyIsolationGroup' | Where-Object Passed) | Should -BeNullOrEmpty
        $toListed = @(Get-LabView "flows?instanceId=$($finding.InstanceId)" | Where-Object remoteIp -EQ $lab.Facts.MaliciousEip)
        $toListed.Count | Should -BeGreaterThan 0
        $toListed.passes | Should -Not -Contain $false
    }
}

Describe 'Set-InstanceQuarantine -WhatIf' {
    It 'plans without making a single mutating call' {
        $null = Get-LabView 'counters/reset'
        $planned = $finding | Set-InstanceQuarantine -CaseId $caseId -WhatIf
        $planned | Should -BeNullOrEmpty
        (Get-LabView 'counters').totalMutating | Should -Be 0
        ($finding | Test-InstanceQuarantine).Passed | Should -BeFalse
    }
}

Describe 'Set-InstanceQuarantine' {
    BeforeAll {
        $script:quarantine = $finding | Set-InstanceQuarantine -CaseId $caseId -ConversionWaitSeconds 1
    }

    It 'reports the instance quarantined with no failed step' {
        $quarantine.InstanceId | Should -Be $finding.InstanceId
        $quarantine.Status | Should -Be 'Quarantined'
        $quarantine.CaseId | Should -Be $caseId
        $quarantine.FindingId | Should -Be $finding.FindingId
        $quarantine.Steps.Status | Should -Not -Contain 'Failed'
    }

    It 'moves every network interface, the secondary one too, into the isolation group alone' {
        $quarantine.NetworkInterfaces.NetworkInterfaceId | Sort-Object | Should -Be ($finding.NetworkInterfaceIds | Sort-Object)
        foreach ($eni in $quarantine.NetworkInterfaces) {
            $eni.NewGroups | Should -Be @($quarantine.IsolationGroups[$eni.VpcId])
            $eni.OriginalGroups | Should -Not -Contain $quarantine.IsolationGroups[$eni.VpcId]
        }
    }

    It 'passes every check of Test-InstanceQuarantine' {
        $test = $quarantine | Test-InstanceQuarantine
        $test.Failed | Should -BeNullOrEmpty
        $test.Passed | Should -BeTrue
        @($test.Checks | Where-Object Name -EQ 'OnlyIsolationGroup').Count | Should -Be $finding.NetworkInterfaceIds.Count
    }

    It 'cuts every untracked flow; only flows connection tracking keeps survive, as its Caveat says' {
        $flows = @(Get-LabView "flows?instanceId=$($finding.InstanceId)")
        $flows.Count | Should -BeGreaterThan 0
        foreach ($flow in $flows) {
            $flow.currentGroups | Should -Be @($quarantine.IsolationGroups.Values)
            if ($flow.passes) { $flow.tracked | Should -BeTrue -Because "$($flow.description) still passes" }
        }
        $beacon = $flows | Where-Object { $_.remoteIp -eq $lab.Facts.MaliciousEip -and $_.protocol -eq 'tcp' }
        $beacon.passes | Should -BeFalse
        $quarantine.Caveat | Should -Match 'tracked'
    }

    It 'keeps the guarded terminate shut while no volume has a snapshot of the case' {
        Remove-CompromisedInstance -InstanceId $finding.InstanceId -CaseId $caseId -WhatIf -ErrorVariable refused -ErrorAction SilentlyContinue
        $refused | Should -HaveCount 1
        $refused[0].FullyQualifiedErrorId | Should -BeLike 'EvidenceIncomplete,*'
        $refused[0].TargetObject | Should -Be $finding.InstanceId
    }

    It 'changes nothing when run again' {
        $null = Get-LabView 'counters/reset'
        $again = $finding | Set-InstanceQuarantine -CaseId $caseId -ConversionWaitSeconds 1
        $again.Status | Should -Be 'Quarantined'
        (Get-LabView 'counters').totalMutating | Should -Be 0
    }
}

Describe 'Evidence' {
    BeforeAll {
        $volumes = ($quarantine.OriginalDescription | ConvertFrom-Json).BlockDeviceMappings.Ebs.VolumeId
        $script:snapshots = $quarantine | New-ForensicSnapshot -Wait -PollIntervalSeconds 1
        $evidence = $quarantine | Save-InstanceEvidence -Path (Join-Path $TestDrive 'evidence')
    }

    It 'snapshots every volume of the instance, each completed and tagged with the case' {
        $volumes.Count | Should -BeGreaterThan 1
        $snapshots.VolumeId | Sort-Object | Should -Be ($volumes | Sort-Object)
        $snapshots.State | Should -Not -Contain 'pending'
        $snapshots.State | Sort-Object -Unique | Should -Be 'completed'
        $snapshots.CaseId | Sort-Object -Unique | Should -Be $caseId
        # A second run finds them by their ir:case tag in EC2 and takes no new ones.
        $again = $quarantine | New-ForensicSnapshot
        $again.Reused | Should -Not -Contain $false
        $again.SnapshotId | Sort-Object | Should -Be ($snapshots.SnapshotId | Sort-Object)
    }

    It 'keeps console output, screenshot and description, each file with its SHA-256' {
        $evidence.InstanceId | Should -Be $finding.InstanceId
        $evidence.CaseId | Should -Be $caseId
        $evidence.Files.Kind | Sort-Object | Should -Be @('console', 'description', 'screenshot')
        foreach ($file in $evidence.Files) {
            $file.Path | Should -Exist
            (Get-Item -LiteralPath $file.Path).Length | Should -Be $file.Length
            (Get-FileHash -LiteralPath $file.Path -Algorithm SHA256).Hash | Should -Be $file.Sha256
        }
    }

    It 'describes the instance as contained in its saved description' {
        $description = Get-Content -Raw -LiteralPath ($evidence.Files | Where-Object Kind -EQ 'description').Path | ConvertFrom-Json
        $description.InstanceId | Should -Be $finding.InstanceId
        foreach ($eni in $description.NetworkInterfaces) {
            $eni.Groups.GroupId | Should -Be @($quarantine.IsolationGroups[$eni.VpcId])
        }
        ($description.Tags | Where-Object Key -EQ 'ir:case').Value | Should -Be $caseId
    }

    It 'opens the guarded terminate (asked with -WhatIf, so nothing is terminated)' {
        $null = Get-LabView 'counters/reset'
        Remove-CompromisedInstance -InstanceId $finding.InstanceId -CaseId $caseId -WhatIf -ErrorVariable refused -ErrorAction SilentlyContinue
        $refused | Should -BeNullOrEmpty
        (Get-LabView 'counters').totalMutating | Should -Be 0
    }
}

Describe 'Send-GdNotification' {
    It 'tells the responders about the finding, the instance and what was done to it' {
        $sent = $snapshots | Send-GdNotification -TopicArn $topic
        $sent | Should -HaveCount 1
        $message = @(Get-LabView 'sns/messages') | Where-Object messageId -EQ $sent.MessageId
        $message | Should -HaveCount 1
        $message.message | Should -Match ([regex]::Escape($finding.FindingId))
        $message.message | Should -Match ([regex]::Escape($finding.InstanceId))
        $message.message | Should -Match 'isolation|isolated'
    }
}

Describe 'Undo-InstanceQuarantine' {
    BeforeAll {
        $released = $quarantine | Undo-InstanceQuarantine
    }

    It 'restores the recorded groups of every network interface' {
        $released.Status | Should -Be 'Released'
        $released.Steps.Status | Should -Not -Contain 'Failed'
        $flows = @(Get-LabView "flows?instanceId=$($finding.InstanceId)")
        foreach ($eni in $quarantine.NetworkInterfaces) {
            $groups = ($flows | Where-Object networkInterfaceId -EQ $eni.NetworkInterfaceId | Select-Object -First 1).currentGroups
            $groups | Should -Be $eni.OriginalGroups
        }
    }

    It 'leaves an instance Test-InstanceQuarantine no longer calls isolated' {
        $test = $finding | Test-InstanceQuarantine
        $test.Passed | Should -BeFalse
        @($test.Checks | Where-Object { $_.Name -eq 'OnlyIsolationGroup' -and $_.Passed }) | Should -BeNullOrEmpty
    }
}
