namespace InseqBridge.Python;

/// <summary>Where the Python backend runs Python.</summary>
public enum PythonExecution
{
    /// <summary>In a child worker process (default). Required whenever TorchSharp (the native backend) may be loaded in
    /// the calling process: libtorch and Python's torch crash when they share a process.</summary>
    Worker,

    /// <summary>In the calling process, for hosts that only use Python (never load the native backend in them).</summary>
    InProcess,
}

/// <summary>Options of the Python backend.</summary>
public sealed record PythonBackendOptions
{
    /// <summary>A Python executable or a libpython shared library to use; null: discover (see <see cref="PythonLocator"/>).</summary>
    public string? Python { get; init; }

    /// <summary>Worker process (default) or in-process.</summary>
    public PythonExecution Execution { get; init; } = PythonExecution.Worker;

    /// <summary>Time allowed for a worker to start Python and answer its first message (default 2 minutes).</summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Time allowed for one call (load, attribute) in the worker; null: no limit. On expiry the worker is
    /// stopped and a <see cref="PythonWorkerException"/> with <see cref="PythonWorkerException.TimedOut"/> is thrown.</summary>
    public TimeSpan? CallTimeout { get; init; }

    /// <summary>After a cancellation request, how long Python may take to stop before the worker is killed (default 5 s).</summary>
    public TimeSpan CancellationGracePeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest message body accepted on the worker channel, in bytes (default 1 GiB).</summary>
    public int MaxMessageBytes { get; init; } = 1 << 30;

    /// <summary>The worker assembly (<c>InseqBridge.Python.Worker.dll</c>); null: next to this assembly or the application.</summary>
    public string? WorkerPath { get; init; }

    /// <summary>Folder holding <c>inseq_bridge_worker.py</c> to use instead of the copy embedded in the assembly.</summary>
    public string? ModuleDirectory { get; init; }

    /// <summary>Receives each line the worker writes to stderr (Python warnings, logging); null: kept only for error reports.</summary>
    public Action<string>? StandardErrorLine { get; init; }

    /// <summary>
    /// Allows the bridge's self-test operations (<see cref="PythonBackend.RunSelfTest"/>, <see cref="PythonBackend.ScaleWithTorch"/>:
    /// Python errors, hangs and crashes on purpose). Off by default; the worker is then started without them and refuses them.
    /// </summary>
    public bool EnableTestOperations { get; init; }

    /// <summary>Python modules that must import for the backend to start (default torch, transformers, inseq).</summary>
    public IReadOnlyList<string> RequiredModules { get; init; } = ["torch", "transformers", "inseq"];
}
