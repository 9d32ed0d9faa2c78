using System.Runtime.InteropServices;

namespace SrMobile.Contracts;

/// <summary>
/// Whole-file writes that survive a crash or a power cut: the bytes go to a temporary file beside the target, which
/// is flushed to the disk (fsync), renamed over the target, and then the folder is flushed too, so the rename itself
/// is on the disk before the caller goes on. A reader sees the old file or the new one, never a mix or nothing.
/// Temporary files are named <c>.{name}.{guid}.tmp</c>, so one that a crash left behind can be found and removed.
/// </summary>
public static partial class DurableFile
{
    public const string TemporarySuffix = ".tmp";

    public static async Task Write(string path, ReadOnlyMemory<byte> bytes, CancellationToken cancellation = default)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = TemporaryPath(path);
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            {
                await file.WriteAsync(bytes, cancellation);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        FlushFolder(directory);
    }

    /// <summary>A fresh temporary name beside <paramref name="path"/> (hidden, ends in <see cref="TemporarySuffix"/>).</summary>
    public static string TemporaryPath(string path) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}{TemporarySuffix}");

    /// <summary>Deletes the temporary files that interrupted writes left under <paramref name="folder"/>; returns how many.</summary>
    public static int RemoveLeftovers(string folder)
    {
        if (!Directory.Exists(folder))
            return 0;
        var removed = 0;
        foreach (var leftover in Directory.EnumerateFiles(folder, $".*{TemporarySuffix}", SearchOption.AllDirectories))
        {
            File.Delete(leftover);
            removed++;
        }
        return removed;
    }

    /// <summary>fsync of a folder, so the names in it (a rename, a new file) are on the disk; a no-op where there is no such call.</summary>
    public static void FlushFolder(string folder)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            return;
        var descriptor = Open(folder, 0 /* O_RDONLY */);
        if (descriptor < 0)
            throw new IOException($"{folder}: cannot open the folder to flush it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(descriptor) != 0)
                throw new IOException($"{folder}: flushing the folder to the disk failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
