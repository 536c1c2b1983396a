using GuardDutyIR.Lab.Events;

namespace GuardDutyIR.Lab.Tests.Events;

/// <summary>
/// The Lab's event-pattern matcher against the examples of EventBridge's documentation: each case is a pattern and an
/// event from the page named in its group (the event of a negative case is the page's event with the one value the page
/// says the pattern excludes), and whether EventBridge matches them.
/// </summary>
public sealed class EventPatternTests
{
    public sealed record MatchCase(string Page, string Name, string Pattern, string Event, bool Matches)
    {
        public override string ToString() => $"{Page}: {Name}";
    }

    // ---------------------------------------------------------------- events the pages show

    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html (the EC2 event)
    private const string Ec2Terminated = """
        {
          "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "EC2 Instance State-change Notification",
          "source": "aws.ec2", "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
          "resources": [ "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0" ],
          "detail": { "instance-id": "i-1234567890abcdef0", "state": "terminated" }
        }
        """;

    // eb-event-patterns.html "Field matching" and eb-event-patterns-null-values.html (the Auto Scaling event)
    private const string AutoScaling = """
        {
          "version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe", "detail-type": "EC2 Instance Launch Successful",
          "source": "aws.autoscaling", "account": "123456789012", "time": "2015-11-11T21:31:47Z", "region": "us-east-1",
          "resources": [], "detail": { "eventVersion": "", "responseElements": null }
        }
        """;

    // eb-event-patterns.html "Value matching" (the Macie event, truncated as the page truncates it)
    private const string Macie = """
        {
          "version": "0", "id": "0948ba87-d3b8-c6d4-f2da-732a1example", "detail-type": "Macie Finding", "source": "aws.macie",
          "account": "123456789012", "time": "2021-04-29T23:12:15Z", "region": "us-east-1", "resources": [],
          "detail": {
            "schemaVersion": "1.0", "id": "64b917aa-3843-014c-91d8-937ffexample", "accountId": "123456789012", "partition": "aws",
            "region": "us-east-1", "type": "Policy:IAMUser/S3BucketEncryptionDisabled",
            "title": "Encryption is disabled for the S3 bucket", "severity": { "score": 1, "description": "Low" },
            "createdAt": "2021-04-29T15:46:02Z", "updatedAt": "2021-04-29T23:12:15Z", "count": 2
          }
        }
        """;

    // eb-event-patterns-content-based-filtering.html "Exists matching" (the event that has detail.state)
    private const string Ec2Pending = """
        {
          "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "EC2 Instance State-change Notification",
          "source": "aws.ec2", "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
          "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
          "detail": { "instance-id": "i-abcd1111", "state": "pending" }
        }
        """;

    // eb-event-patterns-content-based-filtering.html: the event without detail.state, whose c-count is not a leaf
    private const string CCountObject = """
        {
          "detail-type": [ "EC2 Instance State-change Notification" ],
          "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341" ],
          "detail": { "c-count" : { "c1" : 100 } }
        }
        """;

    // The event the content-filtering examples describe (the same one the rule engine's own documentation uses).
    private const string Counts = """
        {
          "version": "0", "id": "ddddd4-aaaa-7777-4444-345dd43cc333", "detail-type": "EC2 Instance State-change Notification",
          "source": "aws.ec2", "account": "012345679012", "time": "2017-10-02T16:24:49Z", "region": "us-east-1",
          "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000" ],
          "detail": { "c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.33", "instance-id": "i-000000aaaaaa00000", "state": "running" }
        }
        """;

    private static string Detail(string members) => "{ \"detail\": { " + members + " } }";

    private const string Patterns = "eb-event-patterns.html";
    private const string Syntax = "eb-create-pattern.html";
    private const string Arrays = "eb-event-patterns-arrays.html";
    private const string Nulls = "eb-event-patterns-null-values.html";
    private const string Filtering = "eb-event-patterns-content-based-filtering.html";
    private const string Operators = "eb-create-pattern-operators.html";
    private const string GuardDuty = "guardduty_findings_eventbridge.html";

    public static IEnumerable<object[]> Cases() => All.Select(c => new object[] { c });

    public static readonly IReadOnlyList<MatchCase> All = new MatchCase[]
    {
        // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
        new(Patterns, "EC2 instance-termination pattern", """{ "source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], "detail": { "state": ["terminated"] } }""", Ec2Terminated, true),
        new(Patterns, "EC2 instance-termination pattern, running instance", """{ "source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], "detail": { "state": ["terminated"] } }""", Ec2Terminated.Replace("\"terminated\"", "\"running\""), false),
        new(Patterns, "source is aws.ec2 or aws.fargate", """{ "source": ["aws.ec2", "aws.fargate"] }""", Ec2Terminated, true),
        new(Patterns, "source is aws.ec2 or aws.fargate, an S3 event", """{ "source": ["aws.ec2", "aws.fargate"] }""", Ec2Terminated.Replace("\"aws.ec2\"", "\"aws.s3\""), false),
        new(Patterns, "field matching: responseElements is null", """{ "source": ["aws.autoscaling"], "detail-type": ["EC2 Instance Launch Successful"], "detail": { "responseElements": [null] } }""", AutoScaling, true),
        new(Patterns, "value matching: severity score 1 and count 2", """{ "source": ["aws.macie"], "detail-type": ["Macie Finding"], "detail": { "severity": { "score": [1] }, "count": [2] } }""", Macie, true),
        new(Patterns, "value matching: count 3 is not 2", """{ "source": ["aws.macie"], "detail-type": ["Macie Finding"], "detail": { "severity": { "score": [1] }, "count": [2] } }""", Macie.Replace("\"count\": 2", "\"count\": 3"), false),
        new(Patterns, "a field the event lacks", """{ "source": ["aws.ec2"], "detail": { "missing": ["terminated"] } }""", Ec2Terminated, false),

        // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html ("Considerations")
        new(Syntax, "numbers by string representation: 300 is not 300.0", Detail("\"x\": [300]"), Detail("\"x\": 300.0"), false),
        new(Syntax, "numbers by string representation: 300 is 300", Detail("\"x\": [300]"), Detail("\"x\": 300"), true),
        new(Syntax, "no case folding", """{ "source": ["aws.ec2"] }""", Ec2Terminated.Replace("\"aws.ec2\"", "\"AWS.EC2\""), false),
        new(Syntax, "dotted key in the pattern, nested event", """{ "detail": { "state.status": ["running"] } }""", """{ "detail": { "state": { "status": "running" } } }""", true),
        new(Syntax, "nested pattern, dotted key in the event", """{ "detail": { "state": { "status": ["running"] } } }""", """{ "detail": { "state.status": "running" } }""", true),
        new(Syntax, "the last pattern of a repeated field counts", """{ "detail": { "location": [ { "prefix": "us-" } ], "location": [ { "anything-but": "us-east" } ] } }""", Detail("\"location\": \"eu-west\""), true),
        new(Syntax, "the last pattern of a repeated field counts, excluded value", """{ "detail": { "location": [ { "prefix": "us-" } ], "location": [ { "anything-but": "us-east" } ] } }""", Detail("\"location\": \"us-east\""), false),

        // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
        new(Arrays, "pattern array and event array intersect",
            """{ "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f", "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f" ] }""",
            """{ "resources": [ "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate", "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f" ] }""", true),
        new(Arrays, "pattern array and event array do not intersect",
            """{ "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f" ] }""",
            """{ "resources": [ "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate" ] }""", false),

        // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html
        new(Nulls, "eventVersion is an empty string", """{ "detail": { "eventVersion": [""] } }""", AutoScaling, true),
        new(Nulls, "responseElements is null", """{ "detail": { "responseElements": [null] } }""", AutoScaling, true),
        new(Nulls, "null does not match an empty string", """{ "detail": { "eventVersion": [null] } }""", AutoScaling, false),
        new(Nulls, "an empty string does not match null", """{ "detail": { "responseElements": [""] } }""", AutoScaling, false),

        // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
        new(Filtering, "prefix of time", """{ "time": [ { "prefix": "2017-10-02" } ] }""", """{ "time": "2017-10-02T18:43:48Z" }""", true),
        new(Filtering, "prefix of time, another day", """{ "time": [ { "prefix": "2017-10-02" } ] }""", """{ "time": "2017-10-03T18:43:48Z" }""", false),
        new(Filtering, "suffix .png", """{ "FileName": [ { "suffix": ".png" } ] }""", """{ "FileName": "image.png" }""", true),
        new(Filtering, "anything-but a string", Detail("\"state\": [ { \"anything-but\": \"initializing\" } ]"), Counts, true),
        new(Filtering, "anything-but a string, that string", Detail("\"state\": [ { \"anything-but\": \"initializing\" } ]"), Detail("\"state\": \"initializing\""), false),
        new(Filtering, "anything-but a number, that number", Detail("\"x-limit\": [ { \"anything-but\": 123 } ]"), Detail("\"x-limit\": 123"), false),
        new(Filtering, "anything-but a number, another", Detail("\"x-limit\": [ { \"anything-but\": 123 } ]"), Counts, true),
        new(Filtering, "anything-but a list of strings", Detail("\"state\": [ { \"anything-but\": [ \"stopped\", \"overloaded\" ] } ]"), Detail("\"state\": \"overloaded\""), false),
        new(Filtering, "anything-but a list of numbers", Detail("\"x-limit\": [ { \"anything-but\": [ 100, 200, 300 ] } ]"), Counts, true),
        new(Filtering, "anything-but a prefix", Detail("\"state\": [ { \"anything-but\": { \"prefix\": \"init\" } } ]"), Detail("\"state\": \"initializing\""), false),
        new(Filtering, "numeric ranges on every field", Detail("\"c-count\": [ { \"numeric\": [ \">\", 0, \"<=\", 5 ] } ], \"d-count\": [ { \"numeric\": [ \"<\", 10 ] } ], \"x-limit\": [ { \"numeric\": [ \"=\", 3.018e2 ] } ]"), Counts, true),
        new(Filtering, "numeric ranges, c-count out of range", Detail("\"c-count\": [ { \"numeric\": [ \">\", 0, \"<=\", 5 ] } ], \"d-count\": [ { \"numeric\": [ \"<\", 10 ] } ], \"x-limit\": [ { \"numeric\": [ \"=\", 3.018e2 ] } ]"), Counts.Replace("\"c-count\": 5", "\"c-count\": 6"), false),
        new(Filtering, "IP address in a CIDR block", Detail("\"sourceIPAddress\": [ { \"cidr\": \"10.0.0.0/24\" } ]"), Detail("\"sourceIPAddress\": \"10.0.0.255\""), true),
        new(Filtering, "IP address outside the CIDR block", Detail("\"sourceIPAddress\": [ { \"cidr\": \"10.0.0.0/24\" } ]"), Detail("\"sourceIPAddress\": \"10.0.1.0\""), false),
        new(Filtering, "exists true on a present leaf", Detail("\"state\": [ { \"exists\": true } ]"), Ec2Pending, true),
        new(Filtering, "exists true on an absent field", Detail("\"state\": [ { \"exists\": true } ]"), CCountObject, false),
        new(Filtering, "exists false: c-count is not a leaf", Detail("\"c-count\": [ { \"exists\": false } ]"), CCountObject, true),
        new(Filtering, "exists false on a present leaf", Detail("\"c-count\": [ { \"exists\": false } ]"), Counts, false),
        new(Filtering, "equals-ignore-case detail-type (an array in the event)", """{ "detail-type": [ { "equals-ignore-case": "ec2 instance state-change notification" } ] }""", CCountObject, true),
        new(Filtering, "complex: prefix, anything-but and numeric",
            """{ "time": [ { "prefix": "2017-10-02" } ], "detail": { "state": [ { "anything-but": "initializing" } ], "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ], "d-count": [ { "numeric": [ "<", 10 ] } ], "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ] } }""", Counts, true),
        new(Filtering, "$or: one branch matches",
            """{ "detail": { "$or": [ { "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ] }, { "d-count": [ { "numeric": [ "<", 10 ] } ] }, { "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ] } ] } }""",
            Detail("\"c-count\": 9, \"d-count\": 12, \"x-limit\": 301.8"), true),
        new(Filtering, "$or: no branch matches",
            """{ "detail": { "$or": [ { "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ] }, { "d-count": [ { "numeric": [ "<", 10 ] } ] }, { "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ] } ] } }""",
            Detail("\"c-count\": 9, \"d-count\": 12, \"x-limit\": 300"), false),

        // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html (the comparison table and its sections)
        new(Operators, "Null: UserID is null", """{ "UserID": [ null ] }""", """{ "UserID": null }""", true),
        new(Operators, "Empty: LastName is empty", """{ "LastName": [""] }""", """{ "LastName": "" }""", true),
        new(Operators, "Equals: Name is Alice", """{ "Name": [ "Alice" ] }""", """{ "Name": "Alice" }""", true),
        new(Operators, "Equals: alice is not Alice", """{ "Name": [ "Alice" ] }""", """{ "Name": "alice" }""", false),
        new(Operators, "Equals (ignore case): Name is alice", """{ "Name": [ { "equals-ignore-case": "alice" } ] }""", """{ "Name": "ALICE" }""", true),
        new(Operators, "And: New York and Monday", """{ "Location": [ "New York" ], "Day": ["Monday"] }""", """{ "Location": "New York", "Day": "Monday" }""", true),
        new(Operators, "And: New York but Tuesday", """{ "Location": [ "New York" ], "Day": ["Monday"] }""", """{ "Location": "New York", "Day": "Tuesday" }""", false),
        new(Operators, "Or: Credit or Debit", """{ "PaymentType": [ "Credit", "Debit"] }""", """{ "PaymentType": "Debit" }""", true),
        new(Operators, "Or (multiple fields): Monday elsewhere", """{ "$or": [ { "Location": [ "New York" ] }, { "Day": [ "Monday" ] } ] }""", """{ "Location": "Boston", "Day": "Monday" }""", true),
        new(Operators, "Or (multiple fields): neither", """{ "$or": [ { "Location": [ "New York" ] }, { "Day": [ "Monday" ] } ] }""", """{ "Location": "Boston", "Day": "Tuesday" }""", false),
        new(Operators, "Not: anything but Raining", """{ "Weather": [ { "anything-but": [ "Raining" ] } ] }""", """{ "Weather": "Sunny" }""", true),
        new(Operators, "Not: Raining", """{ "Weather": [ { "anything-but": [ "Raining" ] } ] }""", """{ "Weather": "Raining" }""", false),
        new(Operators, "Numeric (equals): 100 as 100.0", """{ "Price": [ { "numeric": [ "=", 100 ] } ] }""", """{ "Price": 100.0 }""", true),
        new(Operators, "Numeric (equals): a string is not a number", """{ "Price": [ { "numeric": [ "=", 100 ] } ] }""", """{ "Price": "100" }""", false),
        new(Operators, "Numeric (range): 20 is within (10, 20]", """{ "Price": [ { "numeric": [ ">", 10, "<=", 20 ] } ] }""", """{ "Price": 20 }""", true),
        new(Operators, "Numeric (range): 10 is not within (10, 20]", """{ "Price": [ { "numeric": [ ">", 10, "<=", 20 ] } ] }""", """{ "Price": 10 }""", false),
        new(Operators, "Exists: ProductName exists", """{ "ProductName": [ { "exists": true } ] }""", """{ "ProductName": "Lamp" }""", true),
        new(Operators, "Does not exist: ProductName", """{ "ProductName": [ { "exists": false } ] }""", """{ "Price": 10 }""", true),
        new(Operators, "Begins with: Region us-", """{ "Region": [ {"prefix": "us-" } ] }""", """{ "Region": "us-east-1" }""", true),
        new(Operators, "Begins with: eu-west-1 is not in the US", """{ "Region": [ {"prefix": "us-" } ] }""", """{ "Region": "eu-west-1" }""", false),
        new(Operators, "Begins with (ignore case): eventb", """{ "service" : [{ "prefix": { "equals-ignore-case": "eventb" }}] }""", """{ "service": "EventBridge" }""", true),
        new(Operators, "Ends with: .PNG is not .png", """{ "FileName": [ { "suffix": ".png" } ] }""", """{ "FileName": "image.PNG" }""", false),
        new(Operators, "Ends with (ignore case): tBridge", """{ "service" : [{ "suffix": { "equals-ignore-case": "tBridge" }}] }""", """{ "service": "EVENTBRIDGE" }""", true),
        new(Operators, "Ends with (ignore case): .png and .PNG", """{ "detail": {"FileName" : [{ "suffix": { "equals-ignore-case": ".png" }}]} }""", Detail("\"FileName\": \"image.PNG\""), true),
        new(Operators, "Anything-but (begins with): Region not in the US", """{ "Region": [ { "anything-but": {"prefix": "us-" } } ] }""", """{ "Region": "eu-west-1" }""", true),
        new(Operators, "Anything-but (begins with): us-east-1", """{ "Region": [ { "anything-but": {"prefix": "us-" } } ] }""", """{ "Region": "us-east-1" }""", false),
        new(Operators, "Anything-but (ends with): not a .png", """{ "FileName": [ { "anything-but": { "suffix": ".png" } } ] }""", """{ "FileName": "notes.txt" }""", true),
        new(Operators, "Anything-but (ends with): a .png", """{ "FileName": [ { "anything-but": { "suffix": ".png" } } ] }""", """{ "FileName": "image.png" }""", false),
        new(Operators, "Anything-but (ignore case): INITIALIZING", """{ "state": [{ "anything-but": { "equals-ignore-case": "initializing" }}] }""", """{ "state": "INITIALIZING" }""", false),
        new(Operators, "Anything-but (ignore case): running", """{ "state": [{ "anything-but": { "equals-ignore-case": "initializing" }}] }""", """{ "state": "running" }""", true),
        new(Operators, "Anything-but using a wildcard: a path with /lib/", """{ "FilePath" : [{ "anything-but": { "wildcard": "*/lib/*" }}] }""", """{ "FilePath": "/usr/lib/libc.so" }""", false),
        new(Operators, "Anything-but using a wildcard: a path without /lib/", """{ "FilePath" : [{ "anything-but": { "wildcard": "*/lib/*" }}] }""", """{ "FilePath": "/usr/bin/env" }""", true),
        new(Operators, "Wildcard: any account's event bus in us-east-1", """{ "EventBusArn": [ { "wildcard": "arn:aws:events:us-east-1:*:event-bus/*" } ] }""", """{ "EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default" }""", true),
        new(Operators, "Wildcard: another Region", """{ "EventBusArn": [ { "wildcard": "arn:aws:events:us-east-1:*:event-bus/*" } ] }""", """{ "EventBusArn": "arn:aws:events:us-west-2:123456789012:event-bus/default" }""", false),
        new(Operators, "Wildcard: an escaped asterisk is literal", """{ "FileName": [ { "wildcard": "dir/\\*.png" } ] }""", """{ "FileName": "dir/*.png" }""", true),
        new(Operators, "Wildcard: an escaped asterisk matches only itself", """{ "FileName": [ { "wildcard": "dir/\\*.png" } ] }""", """{ "FileName": "dir/a.png" }""", false),
        new(Operators, "IP address matching: IPv6", Detail("\"sourceIPAddress\": [ { \"cidr\": \"2001:db8::/64\" } ]"), Detail("\"sourceIPAddress\": \"2001:db8::1\""), true),

        // https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html (GuardDuty's envelope)
        new(GuardDuty, "every GuardDuty finding", """{ "source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"] }""",
            """{ "version": "0", "id": "cd2d702e-ab31-411b-9344-793ce56b1bc7", "detail-type": "GuardDuty Finding", "source": "aws.guardduty", "account": "111122223333", "time": "1970-01-01T00:00:00Z", "region": "us-east-1", "resources": [], "detail": { "type": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "severity": 5 } }""", true),
        new(GuardDuty, "a finding type prefix and a severity range",
            """{ "source": ["aws.guardduty"], "detail": { "type": [ { "prefix": "UnauthorizedAccess:EC2/" } ], "severity": [ { "numeric": [ ">=", 4 ] } ] } }""",
            """{ "source": "aws.guardduty", "detail": { "type": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "severity": 5 } }""", true),
        // The page's medium-and-high pattern lists every severity value, 4 and 4.0 both, since numbers match by their text.
        new(GuardDuty, "severity listed value by value: 5", """{ "source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"], "detail": { "severity": [4, 4.0, 4.1, 5, 5.0, 5.1] } }""",
            """{ "source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": { "severity": 5 } }""", true),
        new(GuardDuty, "severity listed value by value: 5.0", """{ "source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"], "detail": { "severity": [4, 4.0, 4.1, 5, 5.0, 5.1] } }""",
            """{ "source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": { "severity": 5.0 } }""", true),
        new(GuardDuty, "severity listed value by value: 2", """{ "source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"], "detail": { "severity": [4, 4.0, 4.1, 5, 5.0, 5.1] } }""",
            """{ "source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": { "severity": 2 } }""", false),
        new(GuardDuty, "a low-severity finding", """{ "source": ["aws.guardduty"], "detail": { "severity": [ { "numeric": [ ">=", 4 ] } ] } }""",
            """{ "source": "aws.guardduty", "detail": { "type": "Recon:EC2/Portscan", "severity": 2 } }""", false),
    };

    [Fact]
    public void The_table_holds_at_least_forty_documented_cases_on_both_sides()
    {
        Assert.True(All.Count >= 40, $"{All.Count} cases");
        Assert.Contains(All, c => c.Matches);
        Assert.Contains(All, c => !c.Matches);
        Assert.Equal(All.Count, All.Select(c => c.ToString()).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Documented_pattern_and_event(MatchCase c) =>
        Assert.True(EventPattern.Parse(c.Pattern).Matches(c.Event) == c.Matches, $"{c}: expected {(c.Matches ? "a match" : "no match")}");

    // ---------------------------------------------------------------- array consistency

    /// <summary>An object of the pattern matches one element of an array of objects, not fields taken from several.</summary>
    [Fact]
    public void Fields_of_one_pattern_object_match_within_one_array_element()
    {
        const string employees = """{ "employees": [ { "firstName": "John", "lastName": "Doe" }, { "firstName": "Anna", "lastName": "Smith" }, { "firstName": "Peter", "lastName": "Jones" } ] }""";
        Assert.True(EventPattern.Parse("""{ "employees": { "firstName": [ "Anna" ] } }""").Matches(employees));
        Assert.True(EventPattern.Parse("""{ "employees": { "firstName": [ "Anna" ], "lastName": [ "Smith" ] } }""").Matches(employees));
        Assert.False(EventPattern.Parse("""{ "employees": { "firstName": [ "Anna" ], "lastName": [ "Jones" ] } }""").Matches(employees));
    }

    // ---------------------------------------------------------------- refused patterns

    public static IEnumerable<object[]> Invalid() => new[]
    {
        new object[] { """[ "aws.ec2" ]""", "Filter is not an object" },
        new object[] { """{ "source": "aws.ec2" }""", "\"source\" must be an object or an array" },
        new object[] { """{ "source": [] }""", "Empty arrays are not allowed" },
        new object[] { """{}""", "Empty objects are not allowed" },
        new object[] { """{ "detail": {} }""", "Empty objects are not allowed" },
        new object[] { """{ "a": [ [ "x" ] ] }""", "Match value must be String, number, true, false, or null" },
        new object[] { """{ "a": [ { "prefix": 1 } ] }""", "prefix match pattern must be a string" },
        new object[] { """{ "a": [ { "prefix": "x", "suffix": "y" } ] }""", "Only one key allowed in match expression" },
        new object[] { """{ "a": [ { "contains": "x" } ] }""", "Unrecognized match type contains" },
        new object[] { """{ "a": [ { "prefix": { "suffix": "x" } } ] }""", "Unsupported prefix pattern: suffix" },
        new object[] { """{ "a": [ { "wildcard": "a**b" } ] }""", "Consecutive wildcard characters at pos 2" },
        new object[] { """{ "a": [ { "wildcard": "a\\b" } ] }""", "Invalid escape character at pos 1" },
        new object[] { """{ "a": [ { "anything-but": [ 1, "x" ] } ] }""", "Inside anything but list, either all values are number or string, mixed type is not supported" },
        new object[] { """{ "a": [ { "anything-but": [ null ] } ] }""", "Inside anything but list, start|null|boolean is not supported." },
        new object[] { """{ "a": [ { "anything-but": true } ] }""", "Value of anything-but must be an array or single string/number value." },
        new object[] { """{ "a": [ { "anything-but": { "prefix": "" } } ] }""", "Null prefix/suffix not allowed" },
        new object[] { """{ "a": [ { "anything-but": { "exists": true } } ] }""", "Unsupported anything-but pattern: exists" },
        new object[] { """{ "a": [ { "numeric": [ "<", 5, ">", 1 ] } ] }""", "Too many elements in numeric expression" },
        new object[] { """{ "a": [ { "numeric": [ ">", 5, "<", 1 ] } ] }""", "Bottom must be less than top" },
        new object[] { """{ "a": [ { "numeric": [ "~", 5 ] } ] }""", "Unrecognized numeric range operator: ~" },
        new object[] { """{ "a": [ { "numeric": [ ">", "5" ] } ] }""", "Value of > must be numeric" },
        new object[] { """{ "a": [ { "numeric": [ "=", 6e9 ] } ] }""", "Value must be between -5.0E9 and 5.0E9, inclusive" },
        new object[] { """{ "a": [ { "exists": "yes" } ] }""", "exists match pattern must be either true or false." },
        new object[] { """{ "a": [ { "cidr": "10.0.0.0/33" } ] }""", "Nonstandard IP address: 10.0.0.0/33" },
        new object[] { """{ "$or": [ { "a": [ "x" ] } ] }""", "There must have at least 2 Objects in $or relationship." },
        new object[] { """{ "$or": { "a": [ "x" ] } }""", "It must be an Array followed with $or." },
        new object[] { """{ "$or": [ { "numeric": [ "x" ] }, { "b": [ "y" ] } ] }""", "numeric is Ruler reserved fieldName which cannot be used inside $or." },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Refused_patterns_name_the_reason(string pattern, string reason)
    {
        var ex = Assert.Throws<InvalidEventPatternException>(() => EventPattern.Parse(pattern));
        Assert.Equal(reason, ex.Reason);
        Assert.Equal("Event pattern is not valid. Reason: " + reason, ex.Message);
    }

    /// <summary>"…InvalidEventPatternException if the use of $or results in over 1000 rule combinations" (eb-create-pattern-operators.html).</summary>
    [Fact]
    public void Or_combinations_beyond_a_thousand_are_refused()
    {
        static string Or(string field, int n) => $"\"$or\": [ {string.Join(", ", Enumerable.Range(0, n).Select(i => $"{{ \"{field}{i}\": [ \"v\" ] }}"))} ]";
        // 10 × 10 × 10 = 1000 combinations pass; one more branch anywhere exceeds the limit.
        var atLimit = $"{{ \"a\": {{ {Or("x", 10)} }}, \"b\": {{ {Or("y", 10)} }}, \"c\": {{ {Or("z", 10)} }} }}";
        Assert.True(EventPattern.Parse(atLimit).Matches("""{ "a": { "x3": "v" }, "b": { "y9": "v" }, "c": { "z0": "v" } }"""));
        var over = $"{{ \"a\": {{ {Or("x", 10)} }}, \"b\": {{ {Or("y", 10)} }}, \"c\": {{ {Or("z", 11)} }} }}";
        Assert.Throws<InvalidEventPatternException>(() => EventPattern.Parse(over));
    }
}
