namespace GuardDutyIR.Engine.Aws;

/// <summary>The wire protocols of the services we call without an AWSSDK service package.</summary>
public enum AwsProtocol
{
    /// <summary>GuardDuty: REST paths, JSON bodies, error code in the x-amzn-ErrorType header.</summary>
    RestJson,
    /// <summary>CloudTrail, Athena, EventBridge: POST / with X-Amz-Target and application/x-amz-json-1.1.</summary>
    Json11,
    /// <summary>SNS, STS, Auto Scaling, IAM: form-encoded Action=...&amp;Version=..., XML responses.</summary>
    Query,
}

/// <summary>What a client needs to know about one service to address, sign and parse it.</summary>
public sealed record AwsServiceDescriptor(
    string ServiceId,          // "GuardDuty"
    string SigningName,        // "guardduty"
    string EndpointPrefix,     // "guardduty"
    string ApiVersion,         // "2017-11-28"
    AwsProtocol Protocol,
    string? TargetPrefix = null,   // json-1.1: "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
    string? XmlNamespace = null,   // query: "http://sns.amazonaws.com/doc/2010-03-31/"
    bool Global = false)           // one endpoint per partition (IAM), not one per region
{
    public static readonly AwsServiceDescriptor GuardDuty =
        new("GuardDuty", "guardduty", "guardduty", "2017-11-28", AwsProtocol.RestJson);

    public static readonly AwsServiceDescriptor CloudTrail =
        new("CloudTrail", "cloudtrail", "cloudtrail", "2013-11-01", AwsProtocol.Json11,
            TargetPrefix: "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101");

    public static readonly AwsServiceDescriptor Athena =
        new("Athena", "athena", "athena", "2017-05-18", AwsProtocol.Json11, TargetPrefix: "AmazonAthena");

    public static readonly AwsServiceDescriptor EventBridge =
        new("EventBridge", "events", "events", "2015-10-07", AwsProtocol.Json11, TargetPrefix: "AWSEvents");

    public static readonly AwsServiceDescriptor Sns =
        new("SNS", "sns", "sns", "2010-03-31", AwsProtocol.Query, XmlNamespace: "http://sns.amazonaws.com/doc/2010-03-31/");

    public static readonly AwsServiceDescriptor AutoScaling =
        new("AutoScaling", "autoscaling", "autoscaling", "2011-01-01", AwsProtocol.Query,
            XmlNamespace: "http://autoscaling.amazonaws.com/doc/2011-01-01/");

    /// <summary>IAM: global, signed for the partition's home region (https://docs.aws.amazon.com/general/latest/gr/iam-service.html).</summary>
    public static readonly AwsServiceDescriptor Iam =
        new("IAM", "iam", "iam", "2010-05-08", AwsProtocol.Query, XmlNamespace: "https://iam.amazonaws.com/doc/2010-05-08/", Global: true);

    /// <summary>Systems Manager, for the managed-instance status only.</summary>
    public static readonly AwsServiceDescriptor Ssm =
        new("SSM", "ssm", "ssm", "2014-11-06", AwsProtocol.Json11, TargetPrefix: "AmazonSSM");
}
