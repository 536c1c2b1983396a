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
    /// and the file is left as it is.
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
        try
        {
            File.Move(temporary, path, overwrite);
            return true;
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            File.Delete(temporary);
            return false;
        }
    }
}
