using System.Security.Cryptography;
using System.Text.Json;

namespace GuardDutyIR.Engine.Cases;

/// <summary>
/// Checks a journal against its chain and its signed head, and says what happened to it. The sequence numbers say
/// where each entry belongs and the hashes say whether it is the entry that was written there: an entry whose hash
/// the next entry does not name was edited; a second entry with one sequence number (or one past the head) that no
/// entry names was inserted; a missing number was removed; numbers out of order were reordered; a head that names
/// more entries than there are means the tail was cut, and a head whose signature fails was swapped or forged.
/// </summary>
public static class CaseJournalVerifier
{
    private sealed record Line(int Number, long? Sequence, string? Previous, string Hash);

    private sealed record Head(string? CaseId, string? CaseUid, long Sequence, string Hash, string Signature);

    /// <summary>Checks the case in a folder with its key from <paramref name="keyRoot"/> (never creating one).</summary>
    public static CaseJournalCheck Check(string folder, string keyRoot)
    {
        var (caseId, caseUid) = CaseStore.ReadIdentity(folder);
        byte[]? key;
        try { key = CaseFolders.JournalKey(keyRoot, caseId, caseUid, create: false); }
        catch (GuardDutyIRException e) when (e.ErrorId == "CaseKeyMissing") { key = null; }
        return Check(caseId, caseUid, folder, key);
    }

    /// <param name="key">The case's journal key; null when it is not at hand (then only the chain is checked).</param>
    public static CaseJournalCheck Check(string caseId, string caseUid, string folder, byte[]? key)
    {
        var problems = new List<CaseJournalProblem>();
        var journalPath = Path.Combine(folder, CaseJournal.JournalFile);
        var lines = ReadLines(journalPath, problems);
        var head = ReadHead(Path.Combine(folder, CaseJournal.HeadFile), problems);

        var headValid = false;
        if (head is not null)
        {
            if (key is null)
                problems.Add(new("KeyMissing", null, null, "The journal key is not at hand, so the head's signature could not be checked; the chain alone was."));
            else if (head.CaseId != caseId || head.CaseUid != caseUid || !SignatureMatches(key, caseId, caseUid, head))
                problems.Add(new("HeadInvalid", null, null, "The head's signature does not match this case's key: the head was replaced, edited or belongs to another case."));
            else
                headValid = true;
        }
        var trusted = headValid ? head : null;

        var referenced = new HashSet<string>(lines.Where(l => l.Previous is not null).Select(l => l.Previous!), StringComparer.Ordinal);
        if (trusted is not null) referenced.Add(trusted.Hash);

        // Entries past the signed head were appended without the key. A run of them at the very end, in order, is
        // what a writer cut off between its line and its head leaves (the next append signs it); anywhere else they
        // were put there.
        var sequenced = lines.Where(l => l.Sequence is not null).ToList();
        if (trusted is not null)
        {
            var lastSigned = sequenced.Where(l => l.Sequence <= trusted.Sequence).Select(l => l.Number).DefaultIfEmpty(0).Max();
            var expected = trusted.Sequence + 1;
            foreach (var line in sequenced.Where(l => l.Sequence > trusted.Sequence))
            {
                if (line.Number > lastSigned && line.Sequence == expected)
                {
                    problems.Add(new("Unsigned", line.Sequence, line.Number, $"Entry {line.Sequence} comes after the last entry the signed head vouches for ({trusted.Sequence})."));
                    expected++;
                }
                else
                {
                    problems.Add(new("Inserted", line.Sequence, line.Number, $"Line {line.Number} claims entry number {line.Sequence}, beyond the {trusted.Sequence} the signed head vouches for."));
                }
            }
            sequenced = sequenced.Where(l => l.Sequence <= trusted.Sequence).ToList();
        }

        // One line per sequence number: of several, the one the chain names is the original.
        var kept = new Dictionary<long, Line>();
        foreach (var group in sequenced.GroupBy(l => l.Sequence!.Value))
        {
            var candidates = group.ToList();
            var original = candidates.FirstOrDefault(l => referenced.Contains(l.Hash)) ?? candidates[0];
            foreach (var extra in candidates.Where(l => l != original))
                problems.Add(new("Inserted", extra.Sequence, extra.Number, $"Line {extra.Number} repeats entry number {group.Key}, and no entry or head refers to it."));
            kept[group.Key] = original;
        }

        var ordered = kept.Values.OrderBy(l => l.Number).ToList();
        var outOfPlace = OutOfPlace(ordered);
        foreach (var line in outOfPlace)
            problems.Add(new("Reordered", line.Sequence, line.Number, $"Entry {line.Sequence} is on line {line.Number}, out of sequence order."));

        var last = kept.Count == 0 ? 0 : kept.Keys.Max();
        for (long sequence = 1; sequence <= last; sequence++)
            if (!kept.ContainsKey(sequence))
                problems.Add(new("Removed", sequence, null, $"Entry {sequence} is missing."));

        // The chain, in sequence order: each entry names the hash of the one before it.
        for (long sequence = 1; sequence <= last; sequence++)
        {
            if (!kept.TryGetValue(sequence, out var line) || line.Previous is null) continue;
            if (sequence == 1)
            {
                if (line.Previous != CaseJournal.GenesisHash)
                    problems.Add(new("Edited", 1, line.Number, "The first entry does not start the chain."));
                continue;
            }
            if (kept.TryGetValue(sequence - 1, out var before) && before.Previous is not null && line.Previous != before.Hash)
                problems.Add(new("Edited", sequence - 1, before.Number, $"Entry {sequence - 1} is not the entry that entry {sequence} was chained to: its content changed."));
        }

        var tailCut = false;
        if (trusted is not null)
        {
            if (trusted.Sequence > last)
            {
                tailCut = true;
                problems.Add(new("TailCut", last + 1, null, $"The signed head vouches for {trusted.Sequence} entries; the journal ends after entry {last}."));
            }
            else if (kept.TryGetValue(trusted.Sequence, out var signed) && signed.Hash != trusted.Hash && signed.Previous is not null
                     && !(kept.TryGetValue(trusted.Sequence + 1, out var next) && next.Previous != signed.Hash))
            {
                // The entry the head signs changed (an edit of an entry with a successor is reported by the chain).
                problems.Add(new("Edited", trusted.Sequence, signed.Number, $"Entry {trusted.Sequence} is not the entry the signed head names: its content changed."));
            }
        }

        return new CaseJournalCheck
        {
            CaseId = caseId,
            JournalPath = journalPath,
            Entries = lines.Count,
            SignedEntries = trusted?.Sequence,
            HeadSignatureValid = headValid,
            TailCut = tailCut,
            Problems = problems.DistinctBy(p => (p.Kind, p.Sequence, p.Line)).OrderBy(p => p.Line ?? int.MaxValue).ThenBy(p => p.Sequence).ToList(),
        };
    }

    /// <summary>The entries not on the longest run that is already in sequence order: those are the moved ones.</summary>
    private static List<Line> OutOfPlace(List<Line> byLine)
    {
        var n = byLine.Count;
        if (n < 2) return new List<Line>();
        var length = new int[n];
        var previous = new int[n];
        var best = 0;
        for (var i = 0; i < n; i++)
        {
            length[i] = 1;
            previous[i] = -1;
            for (var j = 0; j < i; j++)
                if (byLine[j].Sequence < byLine[i].Sequence && length[j] + 1 > length[i])
                {
                    length[i] = length[j] + 1;
                    previous[i] = j;
                }
            if (length[i] > length[best]) best = i;
        }
        if (length[best] == n) return new List<Line>();
        var inOrder = new HashSet<int>();
        for (var i = best; i >= 0; i = previous[i]) inOrder.Add(i);
        return byLine.Where((_, i) => !inOrder.Contains(i)).ToList();
    }

    private static List<Line> ReadLines(string path, List<CaseJournalProblem> problems)
    {
        var lines = new List<Line>();
        var number = 0;
        foreach (var bytes in CaseJournal.ReadLines(path))
        {
            number++;
            var hash = CaseJournal.Hash(bytes);
            try
            {
                using var document = JsonDocument.Parse(bytes);
                var root = document.RootElement;
                lines.Add(new Line(number, root.GetProperty("seq").GetInt64(), root.GetProperty("prev").GetString(), hash));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                problems.Add(new("Malformed", null, number, $"Line {number} is not a journal entry."));
                lines.Add(new Line(number, null, null, hash));
            }
        }
        return lines;
    }

    private static Head? ReadHead(string path, List<CaseJournalProblem> problems)
    {
        if (!File.Exists(path))
        {
            problems.Add(new("HeadMissing", null, null, $"There is no signed head ({CaseJournal.HeadFile}): nothing vouches for the end of the journal."));
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            var signature = root.GetProperty("signature").GetString() ?? "";
            return new Head(root.GetProperty("case").GetString(), root.GetProperty("caseUid").GetString(), root.GetProperty("seq").GetInt64(),
                root.GetProperty("hash").GetString() ?? "", signature.StartsWith("hmac-sha256:", StringComparison.Ordinal) ? signature["hmac-sha256:".Length..] : "");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            problems.Add(new("HeadInvalid", null, null, $"The head ({CaseJournal.HeadFile}) is not a signed journal head."));
            return null;
        }
    }

    private static bool SignatureMatches(byte[] key, string caseId, string caseUid, Head head)
    {
        var expected = Convert.FromHexString(CaseJournal.Sign(key, caseId, caseUid, head.Sequence, head.Hash));
        byte[] given;
        try { given = Convert.FromHexString(head.Signature); }
        catch (FormatException) { return false; }
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }
}
