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
            ReleaseNotes = 'Foundation: AWS access on AWSSDK.Core in an isolated load context, session defaults, caller identity.'
        }
    }
}
