namespace GuardDutyIR.Engine.Investigation;

/// <summary>Finds CloudTrail log files (.json and .json.gz) under files, folders and wildcards.</summary>
public static class LocalTrailFiles
{
    public static IReadOnlyList<string> Resolve(IEnumerable<string> paths)
    {
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            var full = Path.GetFullPath(Environment.ExpandEnvironmentVariables(path));
            if (Directory.Exists(full))
            {
                foreach (var f in Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories).Where(IsTrailFile)) files.Add(f);
            }
            else if (File.Exists(full))
            {
                files.Add(full);
            }
            else if (full.IndexOfAny(new[] { '*', '?' }) >= 0)
            {
                var dir = Path.GetDirectoryName(full) ?? ".";
                var pattern = Path.GetFileName(full);
                if (Directory.Exists(dir))
                    foreach (var f in Directory.EnumerateFiles(dir, pattern, SearchOption.TopDirectoryOnly)) files.Add(f);
            }
            else
            {
                throw new GuardDutyIRException("TrailPathNotFound", ErrorKind.ObjectNotFound, $"'{path}' is neither a file nor a folder.", path);
            }
        }
        if (files.Count == 0)
            throw new GuardDutyIRException("NoTrailFiles", ErrorKind.ObjectNotFound,
                $"No CloudTrail log files (.json or .json.gz) were found in {string.Join(", ", paths)}.", string.Join(", ", paths));
        return files.ToList();
    }

    public static bool IsTrailFile(string path) =>
        path.EndsWith(".json.gz", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
}
