using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GuardDutyIR.Engine.Cases.Evidence;

/// <summary>
/// manifest.json (every file of the bundle with its SHA-256 and length) and manifest.sha256 (the same hashes, and
/// manifest.json's, in the format <c>sha256sum -c</c> reads), so a bundle can be checked with no GuardDutyIR at hand.
/// </summary>
public static class EvidenceManifest
{
    public const string JsonFile = "manifest.json";
    public const string Sha256File = "manifest.sha256";
    public const string Format = "GuardDutyIR evidence bundle 1";

    public static bool IsManifest(string relative) => relative is JsonFile or Sha256File;

    public static byte[] Json(string caseId, string caseUid, DateTime createdAt, long journalEntries, IReadOnlyList<CaseEvidenceFile> files)
    {
        var manifest = new JsonObject
        {
            ["format"] = Format,
            ["caseId"] = caseId,
            ["caseUid"] = caseUid,
            ["createdAt"] = createdAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["journalEntries"] = journalEntries,
            ["algorithm"] = "SHA-256",
            ["files"] = new JsonArray(files.Select(f => (JsonNode?)new JsonObject { ["path"] = f.Path, ["sha256"] = f.Sha256, ["length"] = f.Length }).ToArray()),
        };
        return new UTF8Encoding(false).GetBytes(manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>sha256sum's text format: the hash, two spaces (text mode), the path; one file a line, '\n' endings.</summary>
    public static byte[] Sha256Sums(IEnumerable<CaseEvidenceFile> files) =>
        new UTF8Encoding(false).GetBytes(string.Concat(files.Select(f => $"{f.Sha256}  {f.Path}\n")));

    /// <summary>The case and files a manifest.json lists; null (with why) when it is not one.</summary>
    public static (string? CaseId, string? CaseUid, IReadOnlyList<CaseEvidenceFile> Files)? Read(byte[] bytes, out string? why)
    {
        why = null;
        try
        {
            var root = JsonNode.Parse(bytes)!.AsObject();
            if ((string?)root["format"] != Format)
            {
                why = $"it is not a '{Format}' manifest";
                return null;
            }
            var files = root["files"]!.AsArray().Select(n => new CaseEvidenceFile((string)n!["path"]!, (string)n["sha256"]!, (long)n["length"]!)).ToList();
            return ((string?)root["caseId"], (string?)root["caseUid"], files);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            why = "it is not readable JSON with a file list";
            return null;
        }
    }

    /// <summary>The hashes a manifest.sha256 lists, by path; null when a line is not in sha256sum's format.</summary>
    public static Dictionary<string, string>? ReadSums(byte[] bytes)
    {
        var sums = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length < 67 || line[64] != ' ' || line[65] is not (' ' or '*') || !line[..64].All(char.IsAsciiHexDigitLower)) return null;
            sums[line[66..]] = line[..64];
        }
        return sums;
    }
}
