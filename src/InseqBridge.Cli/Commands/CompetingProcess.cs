using System.Diagnostics;
using System.Runtime.InteropServices;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// A busy loop in a child process that keeps one CPU busy while the bench measures under contention, standing for
/// another process on a service host, CI runner or laptop. It is pinned to one CPU of this process's affinity mask
/// (the last), and stopped on every way out: <see cref="Dispose"/>, this process's exit or termination signal,
/// and, should this process be killed outright, by itself (the loop runs only while its parent is alive).
/// </summary>
internal sealed class CompetingProcess : IDisposable
{
    /// <summary>
    /// The shell loop: spins while its parent is this process. On Linux it reads its own parent from
    /// <c>/proc/$$/stat</c>, which changes as soon as this process dies (even before it is reaped); elsewhere
    /// <c>kill -0</c> checks that the parent still exists.
    /// </summary>
    internal static string Script => OperatingSystem.IsLinux()
        ? "while read -r _ _ _ p _ < /proc/$$/stat && [ \"$p\" = \"$PPID\" ]; do :; done"
        : "while kill -0 $PPID 2>/dev/null; do :; done";

    private readonly Process process;
    private readonly PosixSignalRegistration[] signals;
    private int disposed;

    private CompetingProcess(Process process, int? cpu)
    {
        this.process = process;
        Cpu = cpu;
        AppDomain.CurrentDomain.ProcessExit += OnExit;
        signals = OperatingSystem.IsWindows() ? [] :
            [PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
             PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGQUIT, OnSignal)];
    }

    /// <summary>The child's process id.</summary>
    public int Id => process.Id;

    /// <summary>The CPU it is pinned to, or null when pinning was not possible.</summary>
    public int? Cpu { get; }

    /// <summary>Starts the busy loop and waits until it has run for a moment.</summary>
    public static CompetingProcess Start()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new CliUsageException("--contention needs a POSIX shell (Linux or macOS).");
        }

        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Script);
        Process process = Process.Start(info) ?? throw new CliUsageException("Could not start the competing busy process (/bin/sh).");
        int? cpu = null;
        if (OperatingSystem.IsLinux())
        {
            int[] cpus = AffinityCpus();
            if (cpus.Length > 0 && PinToCpu(process.Id, cpus[^1]))
            {
                cpu = cpus[^1];
            }
        }

        Thread.Sleep(100); // let it start spinning
        return new CompetingProcess(process, cpu);
    }

    /// <summary>Kills the busy loop and waits for it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= OnExit;
        foreach (PosixSignalRegistration signal in signals)
        {
            signal.Dispose();
        }

        Stop();
        process.Dispose();
    }

    private void Stop()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.WaitForExit(5000);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // already gone
        }
    }

    private void OnExit(object? sender, EventArgs e) => Stop();

    private void OnSignal(PosixSignalContext context) => Stop(); // the default action (terminate) still follows

    /// <summary>The CPUs of this process's affinity mask, in order (empty when it cannot be read).</summary>
    private static int[] AffinityCpus()
    {
        byte[] mask = new byte[1024];
        try
        {
            if (sched_getaffinity(0, (nuint)mask.Length, mask) != 0)
            {
                return [];
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return [];
        }

        return Enumerable.Range(0, mask.Length * 8).Where(cpu => (mask[cpu / 8] & (1 << (cpu % 8))) != 0).ToArray();
    }

    /// <summary>Restricts process <paramref name="pid"/> to one CPU; returns whether it worked.</summary>
    private static bool PinToCpu(int pid, int cpu)
    {
        byte[] mask = new byte[1024];
        mask[cpu / 8] = (byte)(1 << (cpu % 8));
        try
        {
            return sched_setaffinity(pid, (nuint)mask.Length, mask) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static extern int sched_getaffinity(int pid, nuint size, byte[] mask);

    [DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nuint size, byte[] mask);
}
