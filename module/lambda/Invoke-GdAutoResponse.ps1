<#
.SYNOPSIS
    AWS Lambda handler for the PowerShell runtime: contains the EC2 instance of a GuardDuty finding that an EventBridge
    rule delivers, snapshots its volumes and tells the responders, and answers with a JSON result.

.DESCRIPTION
    Handler: Invoke-GdAutoResponse.ps1::Invoke-GdAutoResponse. The runtime dot-sources this script once when the
    execution environment starts (GuardDutyIR is imported and the configuration read then), and calls the function for
    every event with $LambdaInput and $LambdaContext. GuardDutyIR comes from the layer GuardDutyIR-lambda-layer.zip,
    whose modules/ folder the runtime finds under /opt/modules.

    For each finding in the event:
      1. Policy. Sample and archived findings, findings about no EC2 instance, about another account, of a type not
         configured or below the severity threshold are Ignored: nothing is called.
      2. Set-InstanceQuarantine -CaseId <prefix><finding ID>: record, protect, leave the Auto Scaling group, then per ENI
         the conversion and the isolation group. With GUARDDUTYIR_DRY_RUN, every change is sent with EC2's DryRun and
         nothing else happens.
      3. New-ForensicSnapshot: one crash-consistent snapshot set of every volume, tagged with the case (not waited for:
         they complete after the function ends).
      4. Send-GdNotification -OncePerFinding, when a topic is configured: one message naming the finding and every
         action taken.

    Repeated events are safe. The case ID is derived from the finding, so a second delivery of the same event (EventBridge
    delivers at least once) re-checks the isolation and changes nothing, reuses the case's snapshots, and sends no second
    message: the first one is recorded on the instance as the tag ir:notified:<finding ID>. Two deliveries running at the
    same moment can still send two messages; a reserved concurrency of 1 rules that out.

    The answer is a JSON object: status (Isolated, AlreadyIsolated, PartiallyIsolated, DryRun, Ignored, Rejected,
    Failed), reason, the finding, instance and case, the decision and why, every action with its AWS request IDs, and
    errors. A malformed event is Rejected before any AWS call. Failed and PartiallyIsolated, and an isolation whose
    snapshot or message failed (reason SnapshotFailed or NotifyFailed), are raised as the function's error (errorType
    GdAutoResponseFailed, the JSON as errorMessage), so Lambda retries the event, which finishes only what is missing,
    and counts an error.

    Configuration (environment variables):
      GUARDDUTYIR_MIN_SEVERITY        lowest severity acted on: Low, Medium, High, Critical or 0-10 (default High)
      GUARDDUTYIR_FINDING_TYPES       comma-separated finding types, wildcards allowed (default *); both this and the
                                      severity must match
      GUARDDUTYIR_TOPIC_ARN           SNS topic for the responders' message (none: no message)
      GUARDDUTYIR_SUBJECT, GUARDDUTYIR_MESSAGE   Send-GdNotification templates (default: its own)
      GUARDDUTYIR_CASE_PREFIX         case ID prefix, the finding ID follows (default GD-)
      GUARDDUTYIR_ISOLATION_GROUP     isolation security group name (default GuardDutyIR-Isolation)
      GUARDDUTYIR_CONVERSION_WAIT_SEC seconds on the conversion group before isolation (default 5)
      GUARDDUTYIR_SNAPSHOTS           false to take no snapshots (default true)
      GUARDDUTYIR_DRY_RUN             true to change nothing: EC2 DryRun only, no snapshot, no message (default false)
      GUARDDUTYIR_CASE_BUCKET         s3://bucket/prefix/: each invocation ends by copying its case's journal there with
                                      Copy-GdCaseJournal (none: the journal stays in the execution environment)
      GUARDDUTYIR_CASE_ROOT, GUARDDUTYIR_CASE_KEY_ROOT   where cases and their journal keys are kept; when they are
                                      not set and $HOME is not writable (Lambda allows writing only under /tmp), folders
                                      under the temporary folder
    Credentials and region are the function's (AWS_REGION and the execution role). A malformed setting stops the
    execution environment at init, so it cannot act on a half-read policy.
#>

Import-Module GuardDutyIR -ErrorAction Stop

function Test-GdAutoResponseWritable {
    param([string] $Folder)
    if ([string]::IsNullOrWhiteSpace($Folder)) { return $false }
    try {
        $probe = Join-Path $Folder ".guarddutyir-write-test-$([guid]::NewGuid().ToString('N'))"
        [System.IO.File]::WriteAllBytes($probe, [byte[]] @())
        [System.IO.File]::Delete($probe)
        return $true
    }
    catch { return $false }
}

# Lambda lets a function write only under /tmp: the case journal (GUARDDUTYIR_CASE_ROOT) and its key
# (GUARDDUTYIR_CASE_KEY_ROOT) go there unless they are set or the home folder can be written.
if (-not $env:GUARDDUTYIR_CASE_ROOT -and -not (Test-GdAutoResponseWritable $HOME)) {
    $env:GUARDDUTYIR_CASE_ROOT = Join-Path ([System.IO.Path]::GetTempPath()) 'GuardDutyIR/cases'
    if (-not $env:GUARDDUTYIR_CASE_KEY_ROOT) { $env:GUARDDUTYIR_CASE_KEY_ROOT = Join-Path ([System.IO.Path]::GetTempPath()) 'GuardDutyIR/case-keys' }
}

# A failure Lambda should count and retry; its message is the JSON result.
class GdAutoResponseFailed : System.Exception {
    GdAutoResponseFailed([string] $message) : base($message) {}
}

function Read-GdAutoResponseSetting {
    param([string] $Name, [string] $Default)
    $value = [Environment]::GetEnvironmentVariable($Name)
    if ([string]::IsNullOrWhiteSpace($value)) { return $Default }
    return $value.Trim()
}

function ConvertTo-GdAutoResponseSwitch {
    param([string] $Name, [string] $Text)
    switch -Regex ($Text) {
        '^(?i)(true|1|yes|on)$' { return $true }
        '^(?i)(false|0|no|off)$' { return $false }
        default { throw "$Name is '$Text'; use true or false." }
    }
}

function Read-GdAutoResponseConfig {
    $severityText = Read-GdAutoResponseSetting GUARDDUTYIR_MIN_SEVERITY 'High'
    $bands = @{ Low = 1.0; Medium = 4.0; High = 7.0; Critical = 9.0 }
    $band = $bands.Keys | Where-Object { $_ -eq $severityText } | Select-Object -First 1
    $number = 0.0
    if ($band) { $minSeverity = $bands[$band] }
    elseif ($severityText -match '^\d+(\.\d+)?$' -and [double]::TryParse($severityText, [Globalization.NumberStyles]::AllowDecimalPoint, [Globalization.CultureInfo]::InvariantCulture, [ref] $number) -and $number -le 10) {
        $minSeverity = $number
    }
    else { throw "GUARDDUTYIR_MIN_SEVERITY is '$severityText'; use Low, Medium, High, Critical or a number from 0 to 10." }

    $types = @((Read-GdAutoResponseSetting GUARDDUTYIR_FINDING_TYPES '*') -split ',' | ForEach-Object Trim | Where-Object { $_ })
    foreach ($type in $types) { $null = [WildcardPattern]::new($type).IsMatch('') }

    $topic = Read-GdAutoResponseSetting GUARDDUTYIR_TOPIC_ARN ''
    if ($topic -and $topic -notmatch '^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$') {
        throw "GUARDDUTYIR_TOPIC_ARN is '$topic', which is not an SNS topic ARN."
    }
    # The case ID is a tag value on the instance and its snapshots.
    $prefix = Read-GdAutoResponseSetting GUARDDUTYIR_CASE_PREFIX 'GD-'
    if ($prefix -notmatch '^[A-Za-z0-9 _.:/=+@-]{0,64}$') { throw "GUARDDUTYIR_CASE_PREFIX '$prefix' may hold only letters, digits, spaces and _ . : / = + - @ (64 at most)." }

    $waitText = Read-GdAutoResponseSetting GUARDDUTYIR_CONVERSION_WAIT_SEC '5'
    $wait = 0.0
    if (-not ($waitText -match '^\d+(\.\d+)?$' -and [double]::TryParse($waitText, [Globalization.NumberStyles]::AllowDecimalPoint, [Globalization.CultureInfo]::InvariantCulture, [ref] $wait) -and $wait -le 3600)) {
        throw "GUARDDUTYIR_CONVERSION_WAIT_SEC is '$waitText'; use seconds from 0 to 3600."
    }

    # s3://bucket[/prefix]; the bucket by S3's naming rules.
    $caseBucket = Read-GdAutoResponseSetting GUARDDUTYIR_CASE_BUCKET ''
    if ($caseBucket -and $caseBucket -notmatch '^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*''()/=+@-]*)?$') {
        throw "GUARDDUTYIR_CASE_BUCKET is '$caseBucket'; use s3://bucket/prefix/."
    }

    [pscustomobject] @{
        CaseBucket     = $caseBucket
        MinSeverity    = $minSeverity
        FindingTypes   = $types
        TopicArn       = $topic
        Subject        = Read-GdAutoResponseSetting GUARDDUTYIR_SUBJECT ''
        Message        = Read-GdAutoResponseSetting GUARDDUTYIR_MESSAGE ''
        CasePrefix     = $prefix
        IsolationGroup = Read-GdAutoResponseSetting GUARDDUTYIR_ISOLATION_GROUP 'GuardDutyIR-Isolation'
        ConversionWait = $wait
        Snapshots      = ConvertTo-GdAutoResponseSwitch GUARDDUTYIR_SNAPSHOTS (Read-GdAutoResponseSetting GUARDDUTYIR_SNAPSHOTS 'true')
        DryRun         = ConvertTo-GdAutoResponseSwitch GUARDDUTYIR_DRY_RUN (Read-GdAutoResponseSetting GUARDDUTYIR_DRY_RUN 'false')
    }
}

function Get-GdAutoResponseError {
    # ErrorRecords as the result reports them: the module's stable ErrorId, the message, the resource.
    param([object[]] $Records)
    foreach ($record in $Records) {
        if ($null -eq $record) { continue }
        [ordered] @{
            errorId = ([string] $record.FullyQualifiedErrorId).Split(',')[0]
            message = $record.Exception.Message
            target  = if ($null -ne $record.TargetObject) { [string] $record.TargetObject } else { $null }
        }
    }
}

function Get-GdAutoResponseDecision {
    # The policy, on the finding alone: $null to isolate, or why not.
    param($Finding, $Config, [string] $FunctionAccount)
    if ($Finding.IsSample) { return 'SampleFinding', 'Sample findings are never acted on.' }
    if ($Finding.Archived) { return 'ArchivedFinding', 'Archived findings are never acted on.' }
    if (-not $Finding.InstanceId) { return 'NoInstance', "The finding's resource is $(if ($Finding.ResourceType) { $Finding.ResourceType } else { 'not named' }), not an EC2 instance." }
    if ($FunctionAccount -and $Finding.AccountId -and $Finding.AccountId -ne $FunctionAccount) {
        return 'OtherAccount', "The finding is about account $($Finding.AccountId); this function acts in account $FunctionAccount only."
    }
    if (-not ($Config.FindingTypes | Where-Object { $Finding.Type -like $_ })) {
        return 'FindingTypeNotConfigured', "$($Finding.Type) is not one of the configured types ($($Config.FindingTypes -join ', '))."
    }
    if ($Finding.Severity -lt $Config.MinSeverity) {
        return 'BelowSeverityThreshold', "Severity $($Finding.Severity) is below the threshold $($Config.MinSeverity)."
    }
    return $null
}

function Add-GdCaseJournalCopy {
    # The journal of the case leaves the execution environment (whose /tmp is lost with it): copied to the bucket, each
    # object checked by S3 against its SHA-256. A failed copy is a missing step, which Lambda's retry finishes.
    param($Result, $Config, [string] $Region)
    if (-not $Config.CaseBucket -or -not $Result.caseId) { return }
    if (-not (Get-GdCase -CaseId $Result.caseId -ErrorAction SilentlyContinue)) {
        $Result.actions.Add([ordered] @{ step = 'CopyJournal'; status = 'Skipped'; detail = 'Nothing was journaled for the case.'; s3Uri = $Config.CaseBucket })
        return
    }
    $copyErrors = $null
    $objects = @()
    try { $objects = @(Copy-GdCaseJournal -CaseId $Result.caseId -S3Uri $Config.CaseBucket -Region $Region -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable copyErrors) }
    catch { $copyErrors = @($_) }
    $errors = @(Get-GdAutoResponseError @($copyErrors))
    foreach ($e in $errors) { $Result.errors.Add($e) }
    $Result.actions.Add([ordered] @{
        step       = 'CopyJournal'
        status     = if ($errors.Count -gt 0 -or $objects.Count -eq 0) { 'Failed' } else { 'Copied' }
        s3Uri      = $Config.CaseBucket
        objects    = @($objects | ForEach-Object { [ordered] @{ key = $_.Key; sha256 = $_.Sha256; eTag = $_.ETag; versionId = $_.VersionId } })
        requestIds = @($objects | ForEach-Object { $_.RequestId } | Where-Object { $_ })
    })
}

function Invoke-GdFindingResponse {
    param($Finding, $Config, [string] $FunctionAccount)
    $result = [ordered] @{
        status         = $null
        reason         = $null
        findingId      = $Finding.Id
        findingType    = $Finding.Type
        severity       = $Finding.Severity
        accountId      = $Finding.AccountId
        region         = $Finding.Region
        instanceId     = $Finding.InstanceId
        caseId         = $null
        decision       = 'Isolate'
        decisionReason = "$($Finding.Type), severity $($Finding.Severity), meets the policy."
        dryRun         = [bool] $Config.DryRun
        actions        = [System.Collections.Generic.List[object]]::new()
        errors         = [System.Collections.Generic.List[object]]::new()
    }
    $why = Get-GdAutoResponseDecision $Finding $Config $FunctionAccount
    if ($why) {
        $result.status = 'Ignored'
        $result.decision = 'Ignore'
        $result.reason, $result.decisionReason = $why
        return $result
    }

    $region = if ($Finding.Region) { $Finding.Region } else { $env:AWS_REGION }
    $result.caseId = $Config.CasePrefix + $Finding.Id
    $quarantine = @{
        InstanceId = $Finding.InstanceId; Finding = $Finding; CaseId = $result.caseId; Region = $region
        ConversionWaitSeconds = $Config.ConversionWait; IsolationGroupName = $Config.IsolationGroup; DryRun = [bool] $Config.DryRun
        Confirm = $false; ErrorAction = 'SilentlyContinue'; WarningAction = 'SilentlyContinue'
    }
    $quarantineErrors = $null
    $q = $null
    try {
        # Collected, not cut short: stopping the pipeline early would stop the quarantine mid-run.
        $q = @(Set-InstanceQuarantine @quarantine -ErrorVariable quarantineErrors) | Select-Object -First 1
    }
    catch {
        # An error that stops the command (credentials refused, an endpoint that does not answer): reported, and
        # raised below for Lambda's retry, which re-checks whatever the run got to.
        $quarantineErrors = @($_)
    }
    foreach ($e in @(Get-GdAutoResponseError @($quarantineErrors))) { $result.errors.Add($e) }

    if ($null -eq $q) {
        $first = if ($result.errors.Count -gt 0) { $result.errors[0] } else { [ordered] @{ errorId = 'QuarantineFailed'; message = 'Set-InstanceQuarantine returned nothing.' } }
        $result.actions.Add([ordered] @{ step = 'Quarantine'; status = $first.errorId; detail = $first.message })
        if ($first.errorId -eq 'InstanceTerminated') {
            # Nothing is left to contain; retrying cannot change that.
            $result.status = 'Ignored'
            $result.reason = 'InstanceTerminated'
            return $result
        }
        $result.status = 'Failed'
        $result.reason = $first.errorId
    }
    else {
        $done = @($q.Steps | Where-Object { "$($_.Status)" -eq 'Done' })
        $failed = @($q.Steps | Where-Object { "$($_.Status)" -in 'Failed', 'DryRunDenied' })
        $result.actions.Add([ordered] @{
            step              = 'Quarantine'
            status            = "$($q.Status)"
            detail            = if ($done.Count -eq 0 -and "$($q.Status)" -eq 'Quarantined') { 'Already isolated: checked, nothing to change.' } else { $null }
            changes           = @($q.Actions)
            networkInterfaces = @($q.NetworkInterfaces | ForEach-Object { [ordered] @{ networkInterfaceId = $_.NetworkInterfaceId; groups = @($_.NewGroups); originalGroups = @($_.OriginalGroups) } })
            isolationGroups   = $q.IsolationGroups
            failedSteps       = @($failed | ForEach-Object { "$_" })
            requestIds        = @($q.RequestIds)
        })
        $result.status, $result.reason = switch ("$($q.Status)") {
            'Quarantined' { if ($done.Count -gt 0) { 'Isolated', 'ChangesMade' } else { 'AlreadyIsolated', 'NothingToChange' } }
            'DryRun' { 'DryRun', $(if ($failed.Count -gt 0) { 'WouldBeDenied' } else { 'WouldBeAllowed' }) }
            'PartiallyQuarantined' { 'PartiallyIsolated', 'SomeStepsFailed' }
            default { 'Failed', 'QuarantineFailed' }
        }
    }

    if ($Config.DryRun) {
        $result.actions.Add([ordered] @{ step = 'Snapshot'; status = 'Skipped'; detail = 'Dry run.' })
        $result.actions.Add([ordered] @{ step = 'Notify'; status = 'Skipped'; detail = 'Dry run.' })
        Add-GdCaseJournalCopy $result $Config $region
        return $result
    }

    $snapshots = @()
    if ($null -ne $q -and $Config.Snapshots) {
        # Evidence is kept even when the isolation did not fully succeed.
        $snapshotErrors = $null
        try { $snapshots = @($q | New-ForensicSnapshot -Region $region -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable snapshotErrors) }
        catch { $snapshotErrors = @($_) }
        $errors = @(Get-GdAutoResponseError @($snapshotErrors))
        foreach ($e in $errors) { $result.errors.Add($e) }
        $result.actions.Add([ordered] @{
            step       = 'Snapshot'
            status     = if ($errors.Count -gt 0) { 'Failed' } elseif ($snapshots.Count -gt 0 -and -not ($snapshots | Where-Object { -not $_.Reused })) { 'AlreadyTaken' } else { 'Started' }
            snapshots  = @($snapshots | ForEach-Object { [ordered] @{ snapshotId = $_.SnapshotId; volumeId = $_.VolumeId; device = $_.Device; state = $_.State; reused = $_.Reused } })
            requestIds = @($snapshots | ForEach-Object { $_.RequestIds } | Select-Object -Unique)
        })
    }
    elseif ($null -ne $q) {
        $result.actions.Add([ordered] @{ step = 'Snapshot'; status = 'Skipped'; detail = 'GUARDDUTYIR_SNAPSHOTS is false.' })
    }

    if ($Config.TopicArn) {
        $inputs = @(if ($null -ne $q) { $q } else { $Finding }) + $snapshots
        $notify = @{ TopicArn = $Config.TopicArn; OncePerFinding = $true; Confirm = $false; ErrorAction = 'SilentlyContinue'; WarningAction = 'SilentlyContinue'; Region = $region }
        if ($Config.Subject) { $notify.Subject = $Config.Subject }
        if ($Config.Message) { $notify.Message = $Config.Message }
        $notifyErrors = $null
        $sent = $null
        $notifyWarnings = $null
        try { $sent = @($inputs | Send-GdNotification @notify -ErrorVariable notifyErrors -WarningVariable notifyWarnings) | Select-Object -First 1 }
        catch { $notifyErrors = @($_) }
        $errors = @(Get-GdAutoResponseError @($notifyErrors))
        foreach ($e in $errors) { $result.errors.Add($e) }
        $result.actions.Add([ordered] @{
            step       = 'Notify'
            status     = if ($null -eq $sent) { 'Failed' } elseif ($sent.AlreadySent) { 'AlreadySent' } else { 'Sent' }
            topicArn   = $Config.TopicArn
            messageId  = if ($sent) { $sent.MessageId } else { $null }
            warnings   = @($notifyWarnings | ForEach-Object { "$_" })
            requestIds = @(if ($sent -and $sent.RequestId) { $sent.RequestId })
        })
    }
    # Last, so the copy holds every entry this invocation journaled.
    Add-GdCaseJournalCopy $result $Config $region
    # Isolated, but the evidence, the message or the journal's copy is missing: the retry Lambda makes finishes them (the rest is not redone).
    $missing = @($result.actions | Where-Object { $_.status -eq 'Failed' } | ForEach-Object { $_.step })
    if ($result.status -in 'Isolated', 'AlreadyIsolated' -and $missing.Count -gt 0) {
        $result.reason = ($missing | ForEach-Object { "${_}Failed" }) -join ','
        $result.incomplete = $true
    }
    return $result
}

function Invoke-GdAutoResponse {
    <#
    .SYNOPSIS
        The Lambda handler: $LambdaInput is the EventBridge event, $LambdaContext the invocation's context.
    #>
    param($LambdaInput, $LambdaContext)
    Set-StrictMode -Version 3.0
    # Read from the scope the runtime dot-sourced this script into.
    $config = $GdAutoResponseConfig
    $requestId = if ($LambdaContext) { $LambdaContext.AwsRequestId } else { $null }
    $functionAccount = if ($LambdaContext -and "$($LambdaContext.InvokedFunctionArn)" -match '^arn:[^:]+:lambda:[^:]*:(\d{12}):') { $Matches[1] } else { $null }
    $eventId = if ($LambdaInput -is [psobject] -and $LambdaInput.PSObject.Properties['id']) { [string] $LambdaInput.id } else { $null }

    $parseErrors = $null
    $findings = @(ConvertFrom-GdFindingEvent -InputObject $LambdaInput -ErrorAction SilentlyContinue -ErrorVariable parseErrors)
    $rejected = @(Get-GdAutoResponseError @($parseErrors))

    $results = [System.Collections.Generic.List[object]]::new()
    foreach ($finding in $findings) { $results.Add((Invoke-GdFindingResponse $finding $config $functionAccount)) }
    foreach ($r in $rejected) {
        $results.Add([ordered] @{ status = 'Rejected'; reason = $r.errorId; decision = 'Ignore'; decisionReason = $r.message; actions = @(); errors = @($r) })
    }
    if ($results.Count -eq 0) {
        $results.Add([ordered] @{ status = 'Rejected'; reason = 'NoFinding'; decision = 'Ignore'; decisionReason = 'The event holds no GuardDuty finding.'; actions = @(); errors = @() })
    }

    $answer = if ($results.Count -eq 1) { $results[0] } else {
        # Several findings (an SNS or SQS batch): the worst status leads.
        $order = 'Failed', 'PartiallyIsolated', 'Rejected', 'Isolated', 'DryRun', 'AlreadyIsolated', 'Ignored'
        $worst = $order | Where-Object { $_ -in @($results | ForEach-Object { $_.status }) } | Select-Object -First 1
        [ordered] @{ status = $worst; reason = "$($results.Count) findings"; results = $results }
    }
    $answer.eventId = $eventId
    $answer.requestId = $requestId
    $json = ConvertTo-Json -InputObject $answer -Depth 10 -Compress
    Write-Host "GuardDutyIR auto-response: $json"
    if (@($results | Where-Object { $_.status -in 'Failed', 'PartiallyIsolated' -or $_.Contains('incomplete') }).Count -gt 0) {
        throw [GdAutoResponseFailed]::new($json)
    }
    return $json
}

$GdAutoResponseConfig = Read-GdAutoResponseConfig
