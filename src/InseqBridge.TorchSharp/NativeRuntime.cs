using System.Globalization;
using System.Runtime.InteropServices;
using InseqBridge.Errors;
using TorchSharp;

namespace InseqBridge.Native;

/// <summary>
/// How the native backend's CPU threads behave (see <see cref="NativeRuntime"/>). Every property left null takes
/// its value from the environment variable named in its description, then from the default.
/// </summary>
public sealed record NativeRuntimeOptions
{
    /// <summary>
    /// Whether libtorch's OpenMP threads go to sleep soon (after <see cref="SpinCount"/> polls) when they wait for
    /// work, instead of spinning on a core for libgomp's default of 300000 polls. Default true; environment:
    /// <c>INSEQ_BRIDGE_OMP_PASSIVE=0</c> turns it off (for processes pinned to cores they own). An
    /// <c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c> already in the environment always wins over this setting.
    /// </summary>
    public bool? PassiveWait { get; init; }

    /// <summary>
    /// With <see cref="PassiveWait"/>: how many times a waiting thread polls before it sleeps (libgomp's
    /// <c>GOMP_SPINCOUNT</c>; 0 sleeps at once). Default <see cref="NativeRuntime.DefaultSpinCount"/>; environment:
    /// <c>INSEQ_BRIDGE_OMP_SPINCOUNT</c>.
    /// </summary>
    public long? SpinCount { get; init; }

    /// <summary>
    /// libtorch's intra-op thread count. Default: the CPUs this process may use (affinity mask and cgroup CPU quota,
    /// as <see cref="Environment.ProcessorCount"/>), or libtorch's own choice when <c>OMP_NUM_THREADS</c> is set;
    /// environment: <c>INSEQ_BRIDGE_THREADS</c>.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Calls on models whose hidden size is below this run on one thread (the calling one): there every operation
    /// is too small to gain from a second thread, which only adds synchronisation, and waiting for a thread that
    /// shares its core with another process made such calls several times slower. Default
    /// <see cref="NativeRuntime.DefaultSerialBelowHiddenSize"/>; 0 turns it off; environment:
    /// <c>INSEQ_BRIDGE_SERIAL_BELOW_HIDDEN</c>.
    /// </summary>
    public int? SerialBelowHiddenSize { get; init; }
}

/// <summary>What <see cref="NativeRuntime"/> set up.</summary>
/// <param name="WaitPolicy">How libtorch's OpenMP threads wait, in words (e.g. "short spin, then sleep (GOMP_SPINCOUNT=10000)").</param>
/// <param name="WaitPolicyApplied">False when the OpenMP runtime was loaded before the setting could reach it (see <paramref name="Warning"/>).</param>
/// <param name="Threads">libtorch's intra-op thread count (planned, until libtorch is loaded).</param>
/// <param name="ThreadsSource">Where the thread count came from, in words.</param>
/// <param name="AvailableCpus">The CPUs this process may use (affinity mask and cgroup CPU quota).</param>
/// <param name="Warning">Why a setting could not take effect and how to fix it, or null.</param>
public sealed record NativeRuntimeStatus(string WaitPolicy, bool WaitPolicyApplied, int? Threads, string ThreadsSource, int AvailableCpus, string? Warning);

/// <summary>
/// Process-wide set-up of libtorch's CPU threads, applied before libtorch is loaded.
/// <para>
/// libtorch runs its intra-op parallel regions (and MKL's) on a GNU OpenMP (libgomp) thread pool whose threads,
/// by default, spin for a while at every barrier before they sleep. On a machine where another process wants a
/// core (a service host, a CI runner, a laptop) a spinning thread takes the core from the thread it waits for, and
/// small operations become many times slower. A short spin before sleeping (<see cref="DefaultSpinCount"/>)
/// avoids that; small models also run each call on the calling thread alone
/// (<see cref="NativeRuntimeOptions.SerialBelowHiddenSize"/>). libgomp reads <c>OMP_WAIT_POLICY</c> and <c>GOMP_SPINCOUNT</c> from the C environment once, when
/// it is loaded; <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach the C environment,
/// so this class calls the C library's <c>setenv</c>, which works only before libtorch (and with it libgomp) is
/// loaded: that is, before the first TorchSharp call of the process.
/// </para>
/// <para>
/// Who calls it: the <c>inseq-bridge</c> command first thing in <c>Main</c>; <see cref="Attribution.NativeAttributionModel.Load(string, InseqBridge.Attribution.AttributionMethod?, string?, InseqBridge.Tokenizers.TokenizerKind, Checkpoints.ModelDType)"/>
/// when nothing called it before (so a library user gets it when the model load is the process's first TorchSharp
/// call); a host that touches TorchSharp before loading a model should call <see cref="Configure"/> (or
/// <see cref="ConfigureEnvironment"/>) at start-up. <see cref="Status"/> says whether it took effect.
/// Linux only; elsewhere only the thread count is set.
/// </para>
/// </summary>
public static class NativeRuntime
{
    /// <summary>
    /// The spin count used with passive waiting unless set otherwise: 10000 polls (roughly 0.1-0.2 ms) before a
    /// waiting thread sleeps, against libgomp's 300000. Sleeping at once (0) cost 2.5-3x on GPT-2-small-sized
    /// saliency even on a quiet machine here (a futex wake-up per parallel region in a virtual machine); 10000 kept
    /// quiet-time speed and stopped threads from holding a core while they wait (README "Speed").
    /// </summary>
    public const long DefaultSpinCount = 10000;

    /// <summary>
    /// Hidden size below which a model's calls run on one thread unless set otherwise: 256 (the tiny test models,
    /// hidden size 32, ran as fast or faster on one thread, quiet, and 1.0-1.5x instead of 2-3x slower with
    /// another process busy; GPT-2-small-sized models, 768, use every thread).
    /// </summary>
    public const int DefaultSerialBelowHiddenSize = 256;

    private static readonly object Gate = new();
    private static NativeRuntimeOptions? options;
    private static bool environmentDone;
    private static bool threadsPending;
    private static NativeRuntimeStatus? status;

    /// <summary>The set-up in force, or null before the first <see cref="ConfigureEnvironment"/>, <see cref="Configure"/> or model load.</summary>
    public static NativeRuntimeStatus? Status
    {
        get
        {
            lock (Gate)
            {
                return status;
            }
        }
    }

    /// <summary>The CPUs this process may use: its affinity mask capped by its cgroup CPU quota (rounded up).</summary>
    public static int AvailableCpus() => CpuBudget.Available();

    /// <summary>
    /// Sets the OpenMP wait policy in the C environment (once per process, and only while the OpenMP runtime is not
    /// loaded) and records the thread count for the first model load, without loading libtorch. Call it first
    /// thing at start-up. <paramref name="settings"/> null keeps the options already recorded (or reads the
    /// environment); later calls replace the recorded options.
    /// </summary>
    public static NativeRuntimeStatus ConfigureEnvironment(NativeRuntimeOptions? settings = null)
    {
        lock (Gate)
        {
            options = settings ?? options ?? new NativeRuntimeOptions();
            ValidateThreads(options.Threads, "NativeRuntimeOptions.Threads");
            string waitPolicy = status?.WaitPolicy ?? string.Empty;
            bool applied = status?.WaitPolicyApplied ?? false;
            string? warning = status?.Warning;
            var (threads, source) = PlannedThreads(options);
            if (!environmentDone || (OperatingSystem.IsLinux() && LoadedLibrary("libgomp") is null))
            {
                // Set (again, with the latest options) while libgomp has not read the environment yet.
                (waitPolicy, applied, warning) = SetWaitPolicy(options);
                if (threads is int n && applied && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMP_NUM_THREADS")))
                {
                    // libgomp's default team size for every thread (MKL follows it), not only those libtorch initialises.
                    CSetEnv("OMP_NUM_THREADS", n.ToString(CultureInfo.InvariantCulture));
                }

                environmentDone = true;
            }

            threadsPending = true;
            status = new NativeRuntimeStatus(waitPolicy, applied, threads, source, CpuBudget.Available(), warning);
            return status;
        }
    }

    /// <summary>
    /// <see cref="ConfigureEnvironment"/>, then sets libtorch's intra-op thread count now (this loads libtorch).
    /// A later <c>torch.set_num_threads</c> still changes it.
    /// </summary>
    public static NativeRuntimeStatus Configure(NativeRuntimeOptions? settings = null)
    {
        lock (Gate)
        {
            ConfigureEnvironment(settings);
            ApplyThreads();
            return status!;
        }
    }

    /// <summary>
    /// Called by model loads: configures from the environment if nothing did before (the thread count is then
    /// left alone when libtorch was already in use, so a caller's own <c>torch.set_num_threads</c> stands, unless
    /// a count is set explicitly), and applies a recorded thread count not applied yet.
    /// </summary>
    internal static void EnsureConfigured()
    {
        lock (Gate)
        {
            if (!environmentDone)
            {
                bool torchInUse = LoadedLibrary("libtorch_cpu") is not null;
                ConfigureEnvironment();
                if (torchInUse && ReadThreadsVariable() is null)
                {
                    threadsPending = false;
                    status = status! with { Threads = torch.get_num_threads(), ThreadsSource = "left as found (libtorch was in use before the first model load)" };
                }
            }

            if (threadsPending)
            {
                ApplyThreads();
            }
        }
    }

    private static void ApplyThreads()
    {
        var (threads, source) = PlannedThreads(options!);
        if (threads is int n && torch.get_num_threads() != n)
        {
            torch.set_num_threads(n);
        }

        threadsPending = false;
        status = status! with { Threads = torch.get_num_threads(), ThreadsSource = source };
    }

    private static (int? Threads, string Source) PlannedThreads(NativeRuntimeOptions settings)
    {
        if (settings.Threads is int explicitCount)
        {
            return (explicitCount, "set explicitly");
        }

        if (ReadThreadsVariable() is int fromVariable)
        {
            return (fromVariable, "INSEQ_BRIDGE_THREADS");
        }

        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OMP_NUM_THREADS")))
        {
            return (null, "libtorch's choice (OMP_NUM_THREADS is set)");
        }

        return (CpuBudget.Available(), "the CPUs this process may use (affinity mask, cgroup CPU quota)");
    }

    private static int? ReadThreadsVariable()
    {
        string? text = Environment.GetEnvironmentVariable("INSEQ_BRIDGE_THREADS");
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
        {
            throw new InseqBridgeException($"INSEQ_BRIDGE_THREADS must be a whole number of threads, at least 1 (it is '{text}'): fix or unset it.");
        }

        return n;
    }

    private static void ValidateThreads(int? threads, string name)
    {
        if (threads is int n && n < 1)
        {
            throw new InseqBridgeException($"{name} must be at least 1 (it is {n}).");
        }
    }

    private static (string Description, bool Applied, string? Warning) SetWaitPolicy(NativeRuntimeOptions settings)
    {
        if (!OperatingSystem.IsLinux())
        {
            return ("the OpenMP runtime's default (set only on Linux)", false, null);
        }

        string? userPolicy = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY");
        string? userSpin = Environment.GetEnvironmentVariable("GOMP_SPINCOUNT");
        bool passive = settings.PassiveWait ?? Environment.GetEnvironmentVariable("INSEQ_BRIDGE_OMP_PASSIVE") is not ("0" or "false" or "False" or "FALSE");
        long spin = settings.SpinCount ?? ReadSpinVariable() ?? DefaultSpinCount;
        if (spin < 0)
        {
            throw new InseqBridgeException($"The OpenMP spin count must be at least 0 (it is {spin}).");
        }

        var wanted = new List<(string Name, string Value)>();
        string description;
        if (!string.IsNullOrEmpty(userPolicy) || !string.IsNullOrEmpty(userSpin))
        {
            // The user's own setting wins; copy it to the C environment in case it was set through .NET only.
            if (!string.IsNullOrEmpty(userPolicy))
            {
                wanted.Add(("OMP_WAIT_POLICY", userPolicy));
            }

            if (!string.IsNullOrEmpty(userSpin))
            {
                wanted.Add(("GOMP_SPINCOUNT", userSpin));
            }

            description = "from the environment (" + string.Join(", ", wanted.Select(w => $"{w.Name}={w.Value}")) + ")";
        }
        else if (!passive)
        {
            return ("libgomp's default (spin, then sleep; INSEQ_BRIDGE_OMP_PASSIVE=0)", true, null);
        }
        else
        {
            if (spin == 0)
            {
                wanted.Add(("OMP_WAIT_POLICY", "PASSIVE"));
            }

            wanted.Add(("GOMP_SPINCOUNT", spin.ToString(CultureInfo.InvariantCulture)));
            description = (spin == 0 ? "passive" : "short spin, then sleep") + " (" + string.Join(", ", wanted.Select(w => $"{w.Name}={w.Value}")) + ")";
        }

        string? loaded = LoadedLibrary("libgomp");
        if (loaded is not null)
        {
            bool already = wanted.All(w => CGetEnv(w.Name) == w.Value);
            return (description, already, already ? null
                : $"the OpenMP runtime ({loaded}) was loaded before InseqBridge could set its wait policy, so its threads keep spinning while they wait; "
                  + "call NativeRuntime.Configure before the first TorchSharp call, or start the process with "
                  + string.Join(" ", wanted.Select(w => $"{w.Name}={w.Value}")) + " in its environment");
        }

        foreach (var (name, value) in wanted)
        {
            if (!CSetEnv(name, value))
            {
                return (description, false, $"could not set {name} in the C environment; start the process with {name}={value} in its environment");
            }
        }

        return (description, true, null);
    }

    private static long? ReadSpinVariable()
    {
        string? text = Environment.GetEnvironmentVariable("INSEQ_BRIDGE_OMP_SPINCOUNT");
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long n)
            ? n
            : throw new InseqBridgeException($"INSEQ_BRIDGE_OMP_SPINCOUNT must be a whole number, at least 0 (it is '{text}'): fix or unset it.");
    }

    /// <summary>The hidden size below which calls run on one thread (options, then <c>INSEQ_BRIDGE_SERIAL_BELOW_HIDDEN</c>, then the default).</summary>
    internal static int SerialBelowHiddenSize()
    {
        NativeRuntimeOptions? current;
        lock (Gate)
        {
            current = options;
        }

        if (current?.SerialBelowHiddenSize is int set)
        {
            return set;
        }

        string? text = Environment.GetEnvironmentVariable("INSEQ_BRIDGE_SERIAL_BELOW_HIDDEN");
        if (string.IsNullOrWhiteSpace(text))
        {
            return DefaultSerialBelowHiddenSize;
        }

        return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            ? n
            : throw new InseqBridgeException($"INSEQ_BRIDGE_SERIAL_BELOW_HIDDEN must be a whole number, at least 0 (it is '{text}'): fix or unset it.");
    }

    /// <summary>
    /// Runs libtorch's operations on the calling thread alone until disposed: OpenMP's and MKL's per-thread
    /// thread counts (not the process-wide one, so concurrent calls on other threads are unaffected). Null when
    /// the thread already runs one thread or the OpenMP runtime's entry points cannot be found.
    /// </summary>
    internal static IDisposable? SerialScope()
    {
        torch.get_num_threads(); // libtorch initialises this thread's count on first use: do that first, so it does not undo ours
        ThreadControls? controls = ThreadControls.Instance.Value;
        if (controls is null)
        {
            return null;
        }

        int previous = controls.OmpGetMaxThreads();
        if (previous <= 1)
        {
            return null;
        }

        controls.OmpSetNumThreads(1);
        int previousMkl = controls.SetMklLocal(1);
        return new SerialRestore(controls, previous, previousMkl);
    }

    private sealed class SerialRestore(ThreadControls controls, int previous, int previousMkl) : IDisposable
    {
        private bool disposed;

        public void Dispose()
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            controls.OmpSetNumThreads(previous);
            controls.SetMklLocal(previousMkl);
        }
    }

    /// <summary>The per-thread thread-count entry points of the OpenMP runtime libtorch loaded (and of the MKL linked into it).</summary>
    private sealed class ThreadControls
    {
        public static readonly Lazy<ThreadControls?> Instance = new(Resolve);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate void SetThreads(int threads);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int GetThreads();

        /// <summary>
        /// MKL's thread-local count. libtorch-cpu exports MKL's Fortran-style entry point under the C name too (the
        /// same address as <c>mkl_set_num_threads_local_</c>), which takes the count by reference and returns the
        /// previous thread-local value (0: the thread follows the global setting).
        /// </summary>
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int SetThreadsLocal(ref int threads);

        public required SetThreads OmpSetNumThreads { get; init; }

        public required GetThreads OmpGetMaxThreads { get; init; }

        public SetThreadsLocal? MklSetNumThreadsLocal { get; set; }

        public GetThreads? MklGetMaxThreads { get; init; }

        /// <summary>Sets MKL's count for this thread (0: back to the global one); returns the previous value, 0 when MKL cannot be reached.</summary>
        public int SetMklLocal(int threads)
        {
            if (MklSetNumThreadsLocal is not SetThreadsLocal set)
            {
                return 0;
            }

            int value = threads;
            int previous = set(ref value);
            if (threads > 0 && MklGetMaxThreads is GetThreads get && get() != threads)
            {
                // Not the convention this build exports: put the previous value back and leave MKL alone from now on.
                int back = previous;
                set(ref back);
                MklSetNumThreadsLocal = null;
                return 0;
            }

            return previous;
        }

        private static ThreadControls? Resolve()
        {
            if (!OperatingSystem.IsLinux() || LoadedLibrary("libgomp") is not string gomp)
            {
                return null;
            }

            if (!NativeLibrary.TryLoad(gomp, out IntPtr handle)
                || !NativeLibrary.TryGetExport(handle, "omp_set_num_threads", out IntPtr set)
                || !NativeLibrary.TryGetExport(handle, "omp_get_max_threads", out IntPtr get))
            {
                return null;
            }

            SetThreadsLocal? mklSet = null;
            GetThreads? mklGet = null;
            if (LoadedLibrary("libtorch_cpu") is string torchCpu && NativeLibrary.TryLoad(torchCpu, out IntPtr torchHandle)
                && NativeLibrary.TryGetExport(torchHandle, "mkl_set_num_threads_local_", out IntPtr local)
                && NativeLibrary.TryGetExport(torchHandle, "mkl_get_max_threads", out IntPtr max))
            {
                mklSet = Marshal.GetDelegateForFunctionPointer<SetThreadsLocal>(local);
                mklGet = Marshal.GetDelegateForFunctionPointer<GetThreads>(max);
            }

            return new ThreadControls
            {
                OmpSetNumThreads = Marshal.GetDelegateForFunctionPointer<SetThreads>(set),
                OmpGetMaxThreads = Marshal.GetDelegateForFunctionPointer<GetThreads>(get),
                MklSetNumThreadsLocal = mklSet,
                MklGetMaxThreads = mklGet,
            };
        }
    }

    /// <summary>The path of a loaded shared library whose file name starts with <paramref name="prefix"/> (from /proc/self/maps), or null.</summary>
    internal static string? LoadedLibrary(string prefix)
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.LastIndexOf('/');
                if (slash >= 0 && line.AsSpan(slash + 1).StartsWith(prefix, StringComparison.Ordinal))
                {
                    return line[(line.IndexOf('/', StringComparison.Ordinal))..];
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>The C environment's value of <paramref name="name"/> (not .NET's copy).</summary>
    internal static string? CGetEnv(string name)
    {
        try
        {
            return Marshal.PtrToStringUTF8(getenv(name));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    private static bool CSetEnv(string name, string value)
    {
        try
        {
            return setenv(name, value, 1) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "setenv", SetLastError = true)]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr getenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
