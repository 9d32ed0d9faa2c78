using System.Runtime.InteropServices;

namespace SrMobile.Training;

/// <summary>
/// Tunes glibc's malloc for libtorch's training loop. Each step allocates and frees many 1–32 MB tensors; by
/// default glibc serves those with mmap and returns them with munmap (or trims the heap), so every step pays
/// for fresh page faults: a third of the CPU went to the kernel. Keeping them in the heap removes that.
/// </summary>
public static partial class NativeAllocator
{
    private const int TrimThreshold = -1; // M_TRIM_THRESHOLD
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD

    private static int applied;

    /// <summary>Applies once per process; does nothing where libc's mallopt is not there (musl, macOS, Windows).</summary>
    public static void Tune()
    {
        if (Interlocked.Exchange(ref applied, 1) == 1 || !OperatingSystem.IsLinux())
            return;
        try
        {
            // 32 MiB is glibc's largest mmap threshold on 64-bit; the trim threshold keeps freed memory for reuse.
            mallopt(MmapThreshold, 32 * 1024 * 1024);
            mallopt(TrimThreshold, 512 * 1024 * 1024);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: its allocator makes its own choices.
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int parameter, int value);
}
