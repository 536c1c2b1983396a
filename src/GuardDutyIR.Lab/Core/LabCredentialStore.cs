using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace GuardDutyIR.Lab.Core;

public enum LabPrincipalKind { User, AssumedRole }

/// <summary>A signing identity the Lab knows: a long-term IAM user key or an STS session.</summary>
public sealed record LabPrincipal
{
    public required string AccessKeyId { get; init; }
    public required string SecretAccessKey { get; init; }
    /// <summary>Only for temporary credentials; must arrive as X-Amz-Security-Token.</summary>
    public string? SessionToken { get; init; }
    public required string AccountId { get; init; }
    public required LabPrincipalKind Kind { get; init; }
    /// <summary>arn:aws:iam::acct:user/name or arn:aws:sts::acct:assumed-role/role/session.</summary>
    public required string Arn { get; init; }
    /// <summary>GetCallerIdentity UserId: AIDA… for a user, AROA…:session for a role session.</summary>
    public required string UserId { get; init; }
    public DateTimeOffset? Expiration { get; init; }
    public string? RoleName { get; init; }
    public string? SessionName { get; init; }
    /// <summary>When STS issued a session (aws:TokenIssueTime); null for long-term keys.</summary>
    public DateTimeOffset? IssuedAt { get; init; }
}

/// <summary>An IAM role the Lab's STS can hand out sessions for.</summary>
public sealed record LabRole(string AccountId, string RoleName, string RoleId, string? RequiredExternalId)
{
    public string Arn => $"arn:aws:iam::{AccountId}:role/{RoleName}";
}

/// <summary>
/// Keys and roles of the Lab's accounts. Long-term keys are deterministic from the seed so a standalone Lab
/// prints the same credentials every run; STS session keys are random (they are not scenario facts).
/// </summary>
public sealed class LabCredentialStore
{
    private readonly ConcurrentDictionary<string, LabPrincipal> _byKey = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LabRole> _roles = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;

    public const string ResponderRoleName = "GuardDutyIR-Responder";
    public const string AuditorRoleName = "GuardDutyIR-Auditor";
    public const string ResponderExternalId = "lab-external-id";

    public LabCredentialStore(string mainAccountId, string memberAccountId, int seed, TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        MainAccountId = mainAccountId;
        MemberAccountId = memberAccountId;
        var rng = new Random(unchecked(seed * 31 + 7));
        Main = AddUser(mainAccountId, "lab-admin", rng);
        Member = AddUser(memberAccountId, "lab-member-admin", rng);
        // Cross-account responder roles in the member account: one demands an ExternalId (confused-deputy guard), one does not.
        MemberResponder = new LabRole(memberAccountId, ResponderRoleName, "AROA" + RandomChars(rng, 17), ResponderExternalId);
        MemberAuditor = new LabRole(memberAccountId, AuditorRoleName, "AROA" + RandomChars(rng, 17), null);
        MainResponder = new LabRole(mainAccountId, ResponderRoleName, "AROA" + RandomChars(rng, 17), null);
        AddRole(MemberResponder);
        AddRole(MemberAuditor);
        AddRole(MainResponder);
    }

    /// <summary>The member account's responder role; AssumeRole must pass its ExternalId.</summary>
    public LabRole MemberResponder { get; }
    /// <summary>The member account's read-only auditor role; no ExternalId.</summary>
    public LabRole MemberAuditor { get; }
    /// <summary>The main account's responder role; no ExternalId.</summary>
    public LabRole MainResponder { get; }

    public string MainAccountId { get; }
    public string MemberAccountId { get; }
    /// <summary>The default principal (the key printed by the standalone Lab and used by tests).</summary>
    public LabPrincipal Main { get; }
    /// <summary>A long-term key of the member account (for direct cross-account checks).</summary>
    public LabPrincipal Member { get; }

    public IReadOnlyCollection<string> AccountIds => new[] { MainAccountId, MemberAccountId };

    public bool KnowsAccount(string accountId) => accountId == MainAccountId || accountId == MemberAccountId;

    /// <summary>Every principal with keys: the two accounts' users and each role session issued so far (for tests that look for leaked secrets).</summary>
    public IReadOnlyCollection<LabPrincipal> Principals => _byKey.Values.ToArray();

    public LabPrincipal? Find(string accessKeyId) => _byKey.TryGetValue(accessKeyId, out var p) ? p : null;

    public bool IsExpired(LabPrincipal principal) => principal.Expiration is { } e && _clock.GetUtcNow() >= e;

    public void AddRole(LabRole role) => _roles[role.Arn] = role;

    public LabRole? FindRole(string roleArn) => _roles.TryGetValue(roleArn, out var r) ? r : null;

    public IReadOnlyCollection<LabRole> Roles => _roles.Values.ToArray();

    /// <summary>Issues STS session credentials for a role; they sign later calls and act in the role's account.</summary>
    public LabPrincipal IssueSession(LabRole role, string sessionName, TimeSpan duration)
    {
        var now = _clock.GetUtcNow();
        var principal = new LabPrincipal
        {
            AccessKeyId = "ASIA" + RandomChars(null, 16),
            SecretAccessKey = RandomSecret(null),
            SessionToken = "IQoJb3JpZ2luX2VjE" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(96)),
            AccountId = role.AccountId,
            Kind = LabPrincipalKind.AssumedRole,
            Arn = $"arn:aws:sts::{role.AccountId}:assumed-role/{role.RoleName}/{sessionName}",
            UserId = role.RoleId + ":" + sessionName,
            IssuedAt = now,
            Expiration = now.Add(duration),
            RoleName = role.RoleName,
            SessionName = sessionName,
        };
        _byKey[principal.AccessKeyId] = principal;
        return principal;
    }

    private LabPrincipal AddUser(string account, string userName, Random rng)
    {
        var p = new LabPrincipal
        {
            AccessKeyId = "AKIA" + RandomChars(rng, 16),
            SecretAccessKey = RandomSecret(rng),
            AccountId = account,
            Kind = LabPrincipalKind.User,
            Arn = $"arn:aws:iam::{account}:user/{userName}",
            UserId = "AIDA" + RandomChars(rng, 17),
        };
        _byKey[p.AccessKeyId] = p;
        return p;
    }

    private const string KeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    private const string SecretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    internal static string RandomChars(Random? rng, int n)
    {
        var c = new char[n];
        for (int i = 0; i < n; i++)
            c[i] = KeyAlphabet[rng?.Next(KeyAlphabet.Length) ?? RandomNumberGenerator.GetInt32(KeyAlphabet.Length)];
        return new string(c);
    }

    private static string RandomSecret(Random? rng)
    {
        var c = new char[40];
        for (int i = 0; i < 40; i++)
            c[i] = SecretAlphabet[rng?.Next(SecretAlphabet.Length) ?? RandomNumberGenerator.GetInt32(SecretAlphabet.Length)];
        return new string(c);
    }
}
