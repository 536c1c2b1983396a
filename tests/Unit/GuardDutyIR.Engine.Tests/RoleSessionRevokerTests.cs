using System.Text.RegularExpressions;
using GuardDutyIR.Engine.Credentials;
using GuardDutyIR.TestSupport;

namespace GuardDutyIR.Engine.Tests;

/// <summary>Revoking an instance role's older sessions against stubbed EC2 and IAM: the plan, the policy, the size limit, Undo.</summary>
public sealed class RoleSessionRevokerTests : IDisposable
{
    private const string Instance = "i-0123456789abcdef0";
    private const string ProfileArn = "arn:aws:iam::123456789012:instance-profile/web-profile";
    private static readonly DateTime Now = new(2025, 3, 1, 12, 0, 0, 500, DateTimeKind.Utc);

    private readonly WireStub _stub = new();
    /// <summary>Inline policies of the role "web-role" as the stub's IAM holds them.</summary>
    private readonly Dictionary<string, string> _inline = new(StringComparer.Ordinal) { ["app-access"] = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" };
    private string? _instanceProfile = ProfileArn;
    private string[] _roleInstances = { Instance, "i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2" };

    public RoleSessionRevokerTests() => _stub.Responder = Answer;
    public void Dispose() => _stub.Dispose();

    private RoleSessionRevoker Revoker(out Context.AwsSession session)
    {
        session = StubSessions.For(_stub);
        return new RoleSessionRevoker(session, () => Now);
    }

    private static string Action(CapturedRequest r) => Regex.Match(r.BodyText, "Action=([A-Za-z]+)").Groups[1].Value;
    private static string Param(CapturedRequest r, string name) =>
        Uri.UnescapeDataString(Regex.Match(r.BodyText, $"(?:^|&){Regex.Escape(name)}=([^&]*)").Groups[1].Value);

    private IEnumerable<string> Actions() => _stub.Requests.Select(Action);

    private StubResponse? Answer(CapturedRequest r)
    {
        const string ec2Ns = "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"";
        static StubResponse Ec2(string xml) => new(200, xml, new() { ["Content-Type"] = "text/xml" });
        string InstanceXml(string id, string? profile) => $"<item><instanceId>{id}</instanceId><instanceState><code>16</code><name>running</name></instanceState>"
            + (profile is null ? "" : $"<iamInstanceProfile><arn>{profile}</arn><id>AIPAEXAMPLE</id></iamInstanceProfile>") + "</item>";
        string Reservation(IEnumerable<string> items) =>
            $"<DescribeInstancesResponse {ec2Ns}><requestId>ec2-1</requestId><reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId>"
            + $"<instancesSet>{string.Concat(items)}</instancesSet></item></reservationSet></DescribeInstancesResponse>";
        switch (Action(r))
        {
            case "DescribeInstances" when r.BodyText.Contains("iam-instance-profile.arn"):
                return Ec2(Reservation(_roleInstances.Select(id => InstanceXml(id, ProfileArn))));
            case "DescribeInstances":
                return Ec2(Reservation(new[] { InstanceXml(Instance, _instanceProfile) }));
            case "DescribeIamInstanceProfileAssociations":
                return Ec2($"<DescribeIamInstanceProfileAssociationsResponse {ec2Ns}><requestId>ec2-2</requestId><iamInstanceProfileAssociationSet/></DescribeIamInstanceProfileAssociationsResponse>");
            case "GetInstanceProfile":
                return IamClientTests.Xml("GetInstanceProfile", $"<InstanceProfile>{IamClientTests.ProfileXml("web-profile", "web-role")}</InstanceProfile>");
            case "GetRole":
                return IamClientTests.Xml("GetRole", "<Role><RoleName>web-role</RoleName><RoleId>AROAEXAMPLE</RoleId><Path>/</Path><Arn>arn:aws:iam::123456789012:role/web-role</Arn></Role>");
            case "ListRolePolicies":
                return IamClientTests.Xml("ListRolePolicies", $"<PolicyNames>{string.Concat(_inline.Keys.Select(k => $"<member>{k}</member>"))}</PolicyNames><IsTruncated>false</IsTruncated>");
            case "GetRolePolicy":
                return _inline.TryGetValue(Param(r, "PolicyName"), out var doc)
                    ? IamClientTests.Xml("GetRolePolicy", $"<RoleName>web-role</RoleName><PolicyName>{Param(r, "PolicyName")}</PolicyName><PolicyDocument>{Uri.EscapeDataString(doc)}</PolicyDocument>")
                    : IamClientTests.Error(404, "NoSuchEntity", "The role policy cannot be found.");
            case "ListInstanceProfilesForRole":
                return IamClientTests.Xml("ListInstanceProfilesForRole", $"<InstanceProfiles><member>{IamClientTests.ProfileXml("web-profile", "web-role")}</member></InstanceProfiles><IsTruncated>false</IsTruncated>");
            case "PutRolePolicy":
                _inline[Param(r, "PolicyName")] = Param(r, "PolicyDocument");
                return IamClientTests.Empty("PutRolePolicy", "put-req-1");
            case "DeleteRolePolicy":
                _inline.Remove(Param(r, "PolicyName"));
                return IamClientTests.Empty("DeleteRolePolicy", "del-req-1");
            default:
                return null;
        }
    }

    [Fact]
    public void The_document_is_IAMs_revoke_sessions_policy_with_the_time_in_whole_UTC_seconds()
    {
        Assert.Equal("{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\","
            + "\"Condition\":{\"DateLessThan\":{\"aws:TokenIssueTime\":\"2025-03-01T12:00:00Z\"}}}}",
            RoleSessionRevoker.Document(new DateTime(2025, 3, 1, 12, 0, 0, DateTimeKind.Utc)));
        Assert.Equal(7, RoleSessionRevoker.PolicySize("{ \"a\" :\n\t1 }"));
    }

    [Fact]
    public async Task The_plan_names_the_role_and_every_other_instance_using_it_and_changes_nothing()
    {
        var revoker = Revoker(out var session);
        using var _ = session;

        var plan = await revoker.PlanForInstanceAsync(Instance, null, "IR-13", null, CancellationToken.None);

        Assert.Equal(RevocationStatus.Planned, plan.Status);
        Assert.Equal(("web-role", "arn:aws:iam::123456789012:role/web-role", ProfileArn), (plan.RoleName, plan.RoleArn, plan.InstanceProfileArn));
        Assert.Equal(new[] { "i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2" }, plan.OtherInstances);
        Assert.Equal(new[] { ProfileArn }, plan.InstanceProfileArns);
        Assert.Equal(new DateTime(2025, 3, 1, 12, 0, 0, DateTimeKind.Utc), plan.TokenIssuedBefore);
        Assert.Null(plan.PreviousPolicyDocument);
        Assert.Equal(RoleSessionRevoker.PolicySize(_inline["app-access"]) + RoleSessionRevoker.PolicySize(plan.PolicyDocument), plan.InlinePolicySize);
        Assert.DoesNotContain(Actions(), a => a is "PutRolePolicy" or "DeleteRolePolicy");
        var byProfile = _stub.Requests.Single(r => r.BodyText.Contains("iam-instance-profile.arn"));
        Assert.Contains("Filter.1.Value.1=" + Uri.EscapeDataString(ProfileArn), byProfile.BodyText);
    }

    [Fact]
    public async Task Revoke_puts_the_policy_with_the_time_of_the_call_and_records_the_request_id()
    {
        var revoker = Revoker(out var session);
        using var _ = session;
        var plan = await revoker.PlanForInstanceAsync(Instance, null, "IR-13", null, CancellationToken.None);

        var result = await revoker.RevokeAsync(plan, CancellationToken.None);

        Assert.Equal(RevocationStatus.Revoked, result.Status);
        Assert.Equal(new[] { "put-req-1" }, result.RequestIds);
        Assert.Equal(RoleSessionRevoker.Document(result.TokenIssuedBefore), _inline[RoleSessionRevoker.PolicyName]);
        var put = _stub.Requests.Single(r => Action(r) == "PutRolePolicy");
        Assert.Equal(("web-role", RoleSessionRevoker.PolicyName), (Param(put, "RoleName"), Param(put, "PolicyName")));
        Assert.Equal(plan.OtherInstances, result.OtherInstances);
    }

    [Fact]
    public async Task A_second_revoke_replaces_the_first_and_keeps_it_for_Undo_which_puts_it_back()
    {
        const string earlier = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":{\"aws:TokenIssueTime\":\"2025-02-01T00:00:00Z\"}}}}";
        _inline[RoleSessionRevoker.PolicyName] = earlier;
        var revoker = Revoker(out var session);
        using var _ = session;

        var plan = await revoker.PlanForInstanceAsync(Instance, null, null, null, CancellationToken.None);
        var result = await revoker.RevokeAsync(plan, CancellationToken.None);
        Assert.Equal(earlier, plan.PreviousPolicyDocument);
        Assert.Equal(earlier, result.PreviousPolicyDocument);
        Assert.Contains("2025-03-01T12:00:00Z", _inline[RoleSessionRevoker.PolicyName]);
        // The earlier revocation does not count twice toward the size: ours replaces it.
        Assert.Equal(RoleSessionRevoker.PolicySize(_inline["app-access"]) + RoleSessionRevoker.PolicySize(result.PolicyDocument), result.InlinePolicySize);

        var undo = await revoker.UndoAsync(result.RoleName, result.PreviousPolicyDocument, null, null, CancellationToken.None);
        Assert.Equal(RevocationStatus.Restored, undo.Status);
        Assert.Equal(earlier, _inline[RoleSessionRevoker.PolicyName]);
        Assert.Equal(new[] { "put-req-1" }, undo.RequestIds);
    }

    [Fact]
    public async Task Undo_without_an_earlier_policy_deletes_it_and_a_second_undo_is_skipped()
    {
        var revoker = Revoker(out var session);
        using var _ = session;
        var result = await revoker.RevokeAsync(await revoker.PlanForInstanceAsync(Instance, null, null, null, CancellationToken.None), CancellationToken.None);

        var undo = await revoker.UndoAsync(result.RoleName, null, null, null, CancellationToken.None);
        Assert.Equal(RevocationStatus.Lifted, undo.Status);
        Assert.Equal(new[] { "del-req-1" }, undo.RequestIds);
        Assert.False(_inline.ContainsKey(RoleSessionRevoker.PolicyName));

        var again = await revoker.UndoAsync(result.RoleName, null, null, null, CancellationToken.None);
        Assert.Equal(StepStatus.Skipped, Assert.Single(again.Steps).Status);
        Assert.Single(Actions(), a => a == "DeleteRolePolicy");
    }

    [Theory]
    [InlineData(0, false)]    // exactly at the limit after the revocation: allowed
    [InlineData(1, true)]     // one character over: refused
    public async Task The_aggregate_inline_size_is_checked_before_any_change(int over, bool refused)
    {
        var ours = RoleSessionRevoker.PolicySize(RoleSessionRevoker.Document(Now));
        var wrapper = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::\"}]}";
        var fill = RoleSessionRevoker.RoleInlinePolicySizeLimit - ours - RoleSessionRevoker.PolicySize(wrapper) + over;
        // White space does not count: pad with it to show that only the other characters are summed.
        _inline["app-access"] = wrapper.Replace("arn:aws:s3:::", "arn:aws:s3:::" + new string('b', fill)).Replace(",", ",\n    ");
        var revoker = Revoker(out var session);
        using var _ = session;

        if (!refused)
        {
            var plan = await revoker.PlanForInstanceAsync(Instance, null, null, null, CancellationToken.None);
            Assert.Equal(RoleSessionRevoker.RoleInlinePolicySizeLimit, plan.InlinePolicySize);
            return;
        }
        var error = await Assert.ThrowsAsync<GuardDutyIRException>(() => revoker.PlanForInstanceAsync(Instance, null, null, null, CancellationToken.None));
        Assert.Equal("RolePolicySizeLimit", error.ErrorId);
        Assert.Equal(ErrorKind.LimitsExceeded, error.Kind);
        Assert.Contains("Nothing was changed", error.Message);
        Assert.DoesNotContain(Actions(), a => a == "PutRolePolicy");
    }

    [Fact]
    public async Task An_instance_without_a_profile_is_refused_before_any_IAM_call()
    {
        _instanceProfile = null;
        var revoker = Revoker(out var session);
        using var _ = session;

        var error = await Assert.ThrowsAsync<GuardDutyIRException>(() => revoker.PlanForInstanceAsync(Instance, null, null, null, CancellationToken.None));

        Assert.Equal("InstanceHasNoRole", error.ErrorId);
        Assert.Equal(Instance, error.Target);
        Assert.All(Actions(), a => Assert.StartsWith("Describe", a));
    }

    [Fact]
    public async Task Bad_input_is_refused_before_any_call()
    {
        var revoker = Revoker(out var session);
        using var _ = session;
        Assert.Equal("InvalidInstanceId", (await Assert.ThrowsAsync<GuardDutyIRException>(() => revoker.PlanForInstanceAsync("i-xyz", null, null, null, CancellationToken.None))).ErrorId);
        Assert.Equal("InvalidRoleName", (await Assert.ThrowsAsync<GuardDutyIRException>(() => revoker.PlanForRoleAsync("web role", null, null, CancellationToken.None))).ErrorId);
        Assert.Empty(_stub.Requests);
    }

    [Fact]
    public async Task Fifty_instances_on_the_role_are_all_listed()
    {
        _roleInstances = Enumerable.Range(0, 50).Select(i => $"i-0{i:x16}").Append(Instance).ToArray();
        var revoker = Revoker(out var session);
        using var _ = session;
        var plan = await revoker.PlanForInstanceAsync(Instance, null, null, null, CancellationToken.None);
        Assert.Equal(50, plan.OtherInstances.Count);
        Assert.DoesNotContain(Instance, plan.OtherInstances);
    }
}
