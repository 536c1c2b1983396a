using System.Runtime.InteropServices;

namespace GuardDutyIR.Engine.Cases;

/// <summary>
/// Files of a case written aside and moved into place, so a reader (another writer, another process, a copy to S3)
/// sees the whole old file or the whole new one, never one still being written or held open.
/// </summary>
internal static class AsideFiles
{
    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/> through a temporary file beside it, flushed to disk.
    /// Without <paramref name="overwrite"/> a file already there wins (another writer made it first): false is returned
    /// and the file is left as it is. Of writers racing to make the same new file, exactly one is told it made it.
    /// </summary>
    public static bool Write(string path, byte[] content, bool overwrite, UnixFileMode? unixMode = null)
    {
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (unixMode is { } mode && !OperatingSystem.IsWindows()) options.UnixCreateMode = mode;
        using (var file = new FileStream(temporary, options))
        {
            file.Write(content);
            file.Flush(flushToDisk: true);
        }
        if (overwrite)
        {
            File.Move(temporary, path, overwrite: true);
            return true;
        }
        try
        {
            return MoveInIfFree(temporary, path);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    // On Unix, File.Move without overwrite checks that the name is free and then renames, and rename(2) replaces a file
    // that another writer moved in between: two writers were each told they made the file, and the first one's bytes
    // were gone. link(2) takes the name only if it is free, in one step; the temporary name is removed afterwards.
    // Windows' MoveFileEx without MOVEFILE_REPLACE_EXISTING is already atomic; a Unix file system without hard links
    // (FAT, some network shares) falls back to File.Move.
    private static bool MoveInIfFree(string temporary, string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            switch (HardLink.TryCreate(temporary, path))
            {
                case HardLink.Outcome.Linked: return true;
                case HardLink.Outcome.NameTaken: return false;
            }
        }
        try
        {
            File.Move(temporary, path, overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
    }

    /// <summary>
    /// link(2) through the runtime's own native shim (System.Native, shipped with every .NET on Unix, whose File.Move
    /// uses the same export): .NET has no public API for a hard link.
    /// </summary>
    private static class HardLink
    {
        public enum Outcome { Linked, NameTaken, Unavailable }

        [DllImport("libSystem.Native", EntryPoint = "SystemNative_Link", SetLastError = true)]
        private static extern int Link([MarshalAs(UnmanagedType.LPUTF8Str)] string source, [MarshalAs(UnmanagedType.LPUTF8Str)] string linkTarget);

        public static Outcome TryCreate(string existing, string name)
        {
            try
            {
                if (Link(existing, name) == 0) return Outcome.Linked;
                return File.Exists(name) || Directory.Exists(name) ? Outcome.NameTaken : Outcome.Unavailable;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return Outcome.Unavailable;
            }
        }
    }
}
