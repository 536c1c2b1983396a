@{
    # The version is stamped at build from Directory.Build.props (ModuleVersion); this file is the template.
    RootModule           = 'GuardDutyIR.Cmdlets.dll'
    ModuleVersion        = '0.0.0-dev'
    GUID                 = '5d0c1f3e-6a43-4c55-9a58-2f1f7a0e9b41'
    Author               = 'GuardDutyIR contributors'
    CompanyName          = 'GuardDutyIR'
    Copyright            = '(c) GuardDutyIR contributors. Apache-2.0.'
    Description          = 'Incident response for Amazon GuardDuty findings on EC2: find the finding, investigate CloudTrail with SQL (CloudTrail Lake, Athena or local trail files), contain the instance, preserve evidence, notify and report. Includes a local AWS-compatible Lab for rehearsal and tests.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('GuardDutyIR.format.ps1xml')
    TypesToProcess       = @('GuardDutyIR.types.ps1xml')
    CmdletsToExport      = @(
        'Add-GdThreatListEntry'
        'Clear-GdDefault'
        'ConvertFrom-GdFindingEvent'
        'Copy-GdCaseJournal'
        'Export-GdCaseEvidence'
        'Export-GdCaseReport'
        'Get-GdCallerIdentity'
        'Get-GdCase'
        'Get-GdDefault'
        'Get-GdDetector'
        'Get-GdFinding'
        'Get-GdResponseRule'
        'Get-GdLab'
        'Get-GdThreatList'
        'Get-InstanceExposure'
        'Get-LakeEventDataStore'
        'Get-LakeQueryTemplate'
        'Invoke-LakeQuery'
        'New-ForensicSnapshot'
        'New-GdResponseRule'
        'New-GdSampleFinding'
        'New-GdThreatList'
        'Remove-CompromisedInstance'
        'Remove-GdResponseRule'
        'Remove-GdThreatList'
        'Revoke-InstanceRoleSession'
        'Save-InstanceEvidence'
        'Send-GdNotification'
        'Set-GdDefault'
        'Set-GdFinding'
        'Set-GdThreatList'
        'Set-InstanceMetadataOption'
        'Set-InstanceQuarantine'
        'Start-GdCase'
        'Start-GdLab'
        'Stop-CompromisedInstance'
        'Stop-GdCase'
        'Stop-GdLab'
        'Test-GdCaseEvidence'
        'Test-GdCaseJournal'
        'Test-GdResponseRule'
        'Test-InstanceQuarantine'
        'Undo-InstanceQuarantine'
        'Undo-InstanceRoleSessionRevocation'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('AWS', 'GuardDuty', 'IncidentResponse', 'Forensics', 'Security', 'EC2', 'CloudTrail', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            LicenseUri   = 'https://www.apache.org/licenses/LICENSE-2.0'
            ProjectUri   = 'https://github.com/guarddutyir/GuardDutyIR'
            # Stamped at build from ModulePrerelease in Directory.Build.props (empty for a release): PowerShellGet and
            # PSResourceGet publish and install <ModuleVersion>-<Prerelease>.
            Prerelease   = 'PRERELEASE-PLACEHOLDER'
            ReleaseNotes = @'
0.1.0: the first release. Findings (Get-GdFinding, Set-GdFinding, sample findings, threat lists); the CloudTrail
investigation with SQL over CloudTrail Lake, Athena or local trail files (Invoke-LakeQuery, templates); containment
following AWS's isolation guidance (Set-InstanceQuarantine, Test-/Undo-InstanceQuarantine, IMDSv2, role session
revocation with -ReplaceRole, guarded stop and terminate); evidence (New-ForensicSnapshot, Save-InstanceEvidence);
notification; the automatic response (EventBridge rules, the Lambda handler, SSM documents, CloudFormation); the case
journal, report and evidence bundle; and the Lab, a local AWS-compatible endpoint playing the GuardDuty workshop.
Local queries need DuckDB's native library for the platform: Install-PSResource GuardDutyIR.DuckDB.<rid>
(linux-x64, linux-arm64, osx, win-x64, win-arm64).
'@
        }
    }
}
