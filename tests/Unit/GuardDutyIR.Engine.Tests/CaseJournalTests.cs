using System.Text;
using System.Text.Json.Nodes;
using GuardDutyIR.Engine.Cases;

namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// The case journal: the chain and signed head catch each kind of tampering and name the entry, and writers in
/// parallel never break the chain.
/// </summary>
public sealed class CaseJournalTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("gdir-cases-").FullName;
    private string Cases => Path.Combine(_root, "cases");
    private string Keys => Path.Combine(_root, "keys");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private CaseHandle NewCase(string caseId = "IR-42", int entries = 6)
    {
        var handle = new CaseStore(Cases, Keys).Open(caseId, create: true, "test case");
        for (var i = 1; i <= entries; i++)
            handle.Journal.Append(new JournalDraft(JournalEntryKinds.Change, "Set-InstanceQuarantine", "Isolated")
            {
                Target = $"i-{i:D17}",
                Region = "us-east-1",
                Caller = "arn:aws:sts::111122223333:assumed-role/IR/responder",
                RequestIds = new[] { Guid.NewGuid().ToString() },
                Result = new JsonObject { ["instance"] = i },
            });
        return handle;
    }

    private static List<string> Lines(CaseHandle handle) => File.ReadAllLines(handle.Journal.JournalPath).ToList();

    private static void Rewrite(CaseHandle handle, IEnumerable<string> lines) =>
        File.WriteAllText(handle.Journal.JournalPath, string.Concat(lines.Select(l => l + "\n")));

    private CaseJournalCheck Check(CaseHandle handle) => CaseJournalVerifier.Check(handle.Folder, Keys);

    private static string Problems(CaseJournalCheck check) => string.Join(" | ", check.Problems);

    [Fact]
    public void An_untouched_journal_is_intact_and_chained_from_the_first_entry()
    {
        var handle = NewCase();
        var check = Check(handle);
        Assert.True(check.Valid, Problems(check));
        Assert.Equal(6, check.Entries);
        Assert.Equal(6, check.SignedEntries);
        Assert.True(check.HeadSignatureValid);

        var entries = handle.Journal.ReadEntries();
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), entries.Select(e => e.Sequence));
        Assert.Equal(CaseJournal.GenesisHash, entries[0].PreviousHash);
        for (var i = 1; i < entries.Count; i++) Assert.Equal(entries[i - 1].Hash, entries[i].PreviousHash);
        Assert.Equal("arn:aws:sts::111122223333:assumed-role/IR/responder", entries[2].Caller);
    }

    [Fact]
    public void An_edited_entry_is_named()
    {
        var handle = NewCase();
        var lines = Lines(handle);
        lines[2] = lines[2].Replace("\"Isolated\"", "\"Released\"", StringComparison.Ordinal);
        Rewrite(handle, lines);
        var problem = Assert.Single(Check(handle).Problems);
        Assert.Equal(("Edited", 3L, 3), (problem.Kind, problem.Sequence, problem.Line));
    }

    [Fact]
    public void An_edited_last_entry_is_caught_by_the_signed_head()
    {
        var handle = NewCase();
        var lines = Lines(handle);
        lines[5] = lines[5].Replace("us-east-1", "eu-west-1", StringComparison.Ordinal);
        Rewrite(handle, lines);
        var problem = Assert.Single(Check(handle).Problems);
        Assert.Equal(("Edited", 6L), (problem.Kind, problem.Sequence));
    }

    [Fact]
    public void An_inserted_entry_is_named_even_when_it_is_chained_to_its_predecessor()
    {
        var handle = NewCase();
        var lines = Lines(handle);
        // A forger who knows the format: a third entry that names the second's hash, slipped in after the real third.
        var second = handle.Journal.ReadEntries()[1];
        var forged = JsonNode.Parse(lines[2])!.AsObject();
        forged["prev"] = second.Hash;
        forged["target"] = "i-0forged0000000000";
        lines.Insert(3, forged.ToJsonString());
        Rewrite(handle, lines);
        var check = Check(handle);
        var problem = Assert.Single(check.Problems);
        Assert.Equal(("Inserted", 3L, 4), (problem.Kind, problem.Sequence, problem.Line));
    }

    [Fact]
    public void An_entry_appended_without_the_key_is_reported_beyond_the_signed_head()
    {
        var handle = NewCase();
        var lines = Lines(handle);
        var last = handle.Journal.ReadEntries()[^1];
        var forged = JsonNode.Parse(lines[5])!.AsObject();
        forged["seq"] = 7;
        forged["prev"] = last.Hash;
        lines.Add(forged.ToJsonString());
        // ...and one claiming a number far beyond, in the middle of the file.
        var wild = JsonNode.Parse(lines[1])!.AsObject();
        wild["seq"] = 99;
        lines.Insert(2, wild.ToJsonString());
        Rewrite(handle, lines);
        var problems = Check(handle).Problems;
        Assert.Contains(problems, p => p is { Kind: "Inserted", Sequence: 99, Line: 3 });
        Assert.Contains(problems, p => p is { Kind: "Unsigned", Sequence: 7, Line: 8 });
        Assert.Equal(2, problems.Count);
    }

    [Fact]
    public void Reordered_entries_are_named()
    {
        var handle = NewCase();
        var lines = Lines(handle);
        (lines[2], lines[3]) = (lines[3], lines[2]);
        Rewrite(handle, lines);
        var problems = Check(handle).Problems;
        Assert.NotEmpty(problems);
        Assert.All(problems, p => Assert.Equal("Reordered", p.Kind));
        Assert.Contains(problems, p => p.Sequence is 3 or 4);
    }

    [Fact]
    public void A_removed_entry_is_named()
    {
        var handle = NewCase();
        var lines = Lines(handle);
        lines.RemoveAt(2);
        Rewrite(handle, lines);
        var problem = Assert.Single(Check(handle).Problems);
        Assert.Equal(("Removed", 3L), (problem.Kind, problem.Sequence));
    }

    [Fact]
    public void A_cut_tail_is_reported_against_the_signed_head()
    {
        var handle = NewCase();
        Rewrite(handle, Lines(handle).Take(4));
        var check = Check(handle);
        Assert.True(check.TailCut);
        var problem = Assert.Single(check.Problems);
        Assert.Equal(("TailCut", 5L), (problem.Kind, problem.Sequence));
        Assert.Contains("vouches for 6 entries", problem.Detail);
    }

    [Fact]
    public void A_head_swapped_in_from_another_case_or_edited_fails_its_signature()
    {
        var handle = NewCase("IR-42");
        var other = NewCase("IR-43", entries: 4);
        File.Copy(other.Journal.HeadPath, handle.Journal.HeadPath, overwrite: true);
        var check = Check(handle);
        Assert.False(check.HeadSignatureValid);
        Assert.Contains(check.Problems, p => p.Kind == "HeadInvalid");

        // The same case re-created (a new unique ID) cannot vouch for the old journal either.
        var fresh = NewCase("IR-44", entries: 6);
        var headText = File.ReadAllText(fresh.Journal.HeadPath);
        var edited = JsonNode.Parse(headText)!.AsObject();
        edited["seq"] = 4;
        File.WriteAllText(fresh.Journal.HeadPath, edited.ToJsonString());
        Assert.Contains(Check(fresh).Problems, p => p.Kind == "HeadInvalid");
    }

    [Fact]
    public void Without_the_key_the_chain_is_still_checked_and_the_missing_key_said()
    {
        var handle = NewCase();
        var check = CaseJournalVerifier.Check(handle.Folder, Path.Combine(_root, "elsewhere"));
        Assert.Equal("KeyMissing", Assert.Single(check.Problems).Kind);
        Assert.False(Directory.Exists(Path.Combine(_root, "elsewhere")));   // checking never creates a key
    }

    [Fact]
    public void The_key_is_kept_apart_from_the_case_and_private()
    {
        var handle = NewCase();
        Assert.Empty(Directory.EnumerateFiles(handle.Folder, "*.key", SearchOption.AllDirectories));
        var key = Assert.Single(Directory.EnumerateFiles(Keys));
        Assert.Equal(32, new FileInfo(key).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Keys));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(handle.Folder));
        }
        var keyHex = Convert.ToHexString(File.ReadAllBytes(key));
        foreach (var file in Directory.EnumerateFiles(handle.Folder, "*", SearchOption.AllDirectories))
            Assert.DoesNotContain(keyHex, Convert.ToHexString(File.ReadAllBytes(file)), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Writers_on_many_threads_each_with_their_own_handle_never_break_the_chain()
    {
        NewCase(entries: 0);
        const int threads = 8, each = 40;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var handle = new CaseStore(Cases, Keys).Open("IR-42", create: true);
            for (var i = 0; i < each; i++)
                handle.Journal.Append(new JournalDraft(JournalEntryKinds.Change, "Set-InstanceQuarantine", "Isolated") { Target = $"thread {t} entry {i}" });
        });
        var handle = new CaseStore(Cases, Keys).Open("IR-42", create: false);
        var check = Check(handle);
        Assert.True(check.Valid, Problems(check));
        Assert.Equal(threads * each, check.Entries);
        var targets = handle.Journal.ReadEntries().Select(e => e.Target).ToHashSet();
        Assert.Equal(threads * each, targets.Count);
    }

    [Fact]
    public void Writers_opening_a_new_case_at_once_agree_on_one_key_and_one_case()
    {
        // A bulk run in parallel runspaces may open a case nobody created yet: every writer must get the same unique ID
        // and key, and none may read the key while another is still writing it.
        var handles = new CaseHandle[16];
        Parallel.For(0, handles.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 }, i =>
            handles[i] = new CaseStore(Cases, Keys).Open("IR-RACE", create: true));
        Assert.Single(handles.Select(h => h.CaseUid).Distinct());
        Parallel.For(0, handles.Length, i => handles[i].Journal.Append(new JournalDraft(JournalEntryKinds.Change, "x", "y") { Target = i.ToString() }));
        var check = Check(handles[0]);
        Assert.True(check.Valid, Problems(check));
        Assert.Equal(16, check.Entries);
        Assert.Single(Directory.EnumerateFiles(Keys, "IR-RACE.*.key"));
        Assert.Empty(Directory.EnumerateFiles(Keys, "*.tmp"));
    }

    [Fact]
    public void A_line_cut_off_mid_write_stops_appends_with_a_clear_error()
    {
        var handle = NewCase();
        File.AppendAllText(handle.Journal.JournalPath, "{\"seq\":7,\"time\":\"2026");
        var error = Assert.Throws<GuardDutyIRException>(() => handle.Journal.Append(new JournalDraft(JournalEntryKinds.Change, "x", "y")));
        Assert.Equal("CaseJournalDamaged", error.ErrorId);
        Assert.Contains("Malformed", Check(handle).Problems.Select(p => p.Kind));
    }

    [Theory]
    [InlineData("IR-42", "IR-42")]
    [InlineData("INC/2026:7", "INC%2F2026%3A7")]
    [InlineData("case one", "case%20one")]
    [InlineData(".hidden", "%2Ehidden")]
    public void Case_ids_become_folder_names_that_stay_inside_the_root(string caseId, string folder) =>
        Assert.Equal(folder, CaseFolders.FolderName(caseId));

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("a\\b")]
    [InlineData("")]
    [InlineData("x\n")]
    public void Case_ids_that_are_no_tag_value_are_refused(string caseId) =>
        Assert.Equal("InvalidCaseId", Assert.Throws<GuardDutyIRException>(() => CaseFolders.FolderName(caseId)).ErrorId);
}
