using System.Runtime.InteropServices;

namespace InseqBridge.Native;

/// <summary>
/// Tuning of the C allocator libtorch's CPU tensors come from. With glibc's defaults, tensors above its
/// (adaptive, at most 32 MiB) mmap threshold get fresh pages from the kernel on every allocation and give them back
/// when freed, so a loop that allocates the same large activations again and again page-faults through every byte
/// each time; in virtual machines that costs more than the arithmetic. <see cref="RetainFreedMemory"/> raises the
/// mmap and trim thresholds (what <c>MALLOC_MMAP_THRESHOLD_</c> and <c>MALLOC_TRIM_THRESHOLD_</c> do for a new
/// process), so freed tensor memory stays in the heap and is reused. The process's peak memory is unchanged; its
/// resident memory stays near that peak instead of falling back between calls.
/// </summary>
public static class NativeAllocator
{
    private const int MmapThreshold = -3;
    private const int TrimThreshold = -1;
    private static readonly Lazy<bool> Applied = new(Apply);

    /// <summary>The mmap threshold set (1 GiB): larger blocks, which are rare, still come from mmap.</summary>
    public const int MmapThresholdBytes = 1 << 30;

    /// <summary>The trim threshold set: freed memory at the top of the heap is kept.</summary>
    public const int TrimThresholdBytes = int.MaxValue;

    /// <summary>
    /// Applies the tuning once per process (glibc on Linux only; elsewhere, or when the environment variable
    /// <c>INSEQ_BRIDGE_MALLOC_TUNING</c> is <c>0</c>, nothing changes). <see cref="Attribution.NativeAttributionModel.Load(string, InseqBridge.Attribution.AttributionMethod?, string?, InseqBridge.Tokenizers.TokenizerKind, Checkpoints.ModelDType)"/>
    /// calls it. Returns whether the thresholds were set.
    /// </summary>
    public static bool RetainFreedMemory() => Applied.Value;

    /// <summary>
    /// Returns the heap's free memory to the operating system now (glibc's <c>malloc_trim</c>): resident memory
    /// falls back to what live tensors use, e.g. after a large job in a long-running service. Returns whether any
    /// memory was released; false where the C library has no such call.
    /// </summary>
    public static bool ReleaseFreeMemory()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return malloc_trim(0) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private static bool Apply()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("INSEQ_BRIDGE_MALLOC_TUNING") == "0")
        {
            return false;
        }

        try
        {
            return mallopt(MmapThreshold, MmapThresholdBytes) == 1 && mallopt(TrimThreshold, TrimThresholdBytes) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl or another C library without mallopt.
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);
}
