using System.Diagnostics;
using System.Globalization;
using InseqBridge.Native;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// Peak resident set size of this process. On Linux the peak can be reset (writing 5 to <c>/proc/self/clear_refs</c>),
/// so each benchmarked model gets its own peak, as each Python Inseq run does in its own process; elsewhere the
/// process-wide peak is reported.
/// </summary>
internal static class PeakRss
{
    /// <summary>
    /// Starts a new peak where the platform allows it, after handing the heap's free memory back to the kernel
    /// (freed memory is otherwise retained, see <see cref="NativeAllocator"/>, and earlier cases would count).
    /// </summary>
    public static void Reset()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        NativeAllocator.ReleaseFreeMemory();
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            // Not Linux, or not allowed: Megabytes() reports the process-wide peak.
        }
    }

    /// <summary>The peak since the last <see cref="Reset"/> (or process start), in MiB.</summary>
    public static double Megabytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    string kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                    return double.Parse(kb, CultureInfo.InvariantCulture) / 1024.0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Fall through to the runtime's figure.
        }

        return Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
    }
}
