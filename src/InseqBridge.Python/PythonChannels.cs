using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace InseqBridge.Python;

/// <summary>How the backend reaches Python: in this process or in a worker process.</summary>
internal interface IPythonChannel : IDisposable
{
    /// <summary>Increases each time a new interpreter is started (models loaded before must be loaded again).</summary>
    int Generation { get; }

    /// <summary>Runs one operation; see <see cref="WorkerOperation"/> for the operations.</summary>
    /// <param name="op">The operation.</param>
    /// <param name="args">Its arguments record as JSON (null: none).</param>
    /// <param name="body">Raw bytes.</param>
    /// <param name="startup">True for the start-up check: limited by the startup timeout instead of the call timeout.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<PythonReply> CallAsync(WorkerOperation op, JsonNode? args, byte[] body, bool startup, CancellationToken cancellationToken);
}

/// <summary>Python embedded in the calling process (for hosts that never load TorchSharp).</summary>
internal sealed class InProcessChannel(PythonEnvironment environment, PythonBackendOptions options) : IPythonChannel
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private PythonSession? _session;

    public int Generation => 1;

    public async Task<PythonReply> CallAsync(WorkerOperation op, JsonNode? args, byte[] body, bool startup, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _session ??= PythonSession.Start(environment, options.ModuleDirectory);
            TimeSpan? limit = startup ? options.StartupTimeout : options.CallTimeout;
            using var timeout = limit is TimeSpan t ? new CancellationTokenSource(t) : new CancellationTokenSource();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            PythonSession session = _session;
            try
            {
                // Arguments take the same shape as on the wire (numbers as JSON numbers, not CLR values).
                JsonNode? wire = args is null ? null : JsonNode.Parse(args.ToJsonString());
                return await Task.Run(() => session.Dispatch(op, wire, body, options.EnableTestOperations, linked.Token), CancellationToken.None).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new PythonWorkerException($"The in-process Python call '{op.WireName()}' exceeded its time limit of {limit} and was interrupted.", null, string.Empty, timedOut: true);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}

/// <summary>
/// Python in a child process running <c>InseqBridge.Python.Worker</c>. One call at a time; a crashed, killed or hung
/// worker fails the call in flight with <see cref="PythonWorkerException"/> and is replaced on the next call.
/// </summary>
internal sealed class WorkerChannel(PythonEnvironment environment, PythonBackendOptions options) : IPythonChannel
{
    private const int StderrLines = 60;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Lock _pendingLock = new();
    private readonly Queue<string> _stderr = new();
    private Process? _process;
    private Task? _readerTask;
    private long _nextId;
    private long _pendingId = -1;
    private TaskCompletionSource<WorkerMessage>? _pending;
    private Process? _pendingProcess;
    private int _generation;
    private bool _disposed;

    public int Generation => _generation;

    /// <summary>The worker's process id (null when none is running); for tests and diagnostics.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public async Task<PythonReply> CallAsync(WorkerOperation op, JsonNode? args, byte[] body, bool startup, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_process is null || _process.HasExited)
            {
                await StartAsync(cancellationToken).ConfigureAwait(false);
            }

            return await SendAsync(op, args, body, startup ? options.StartupTimeout : options.CallTimeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        Stop();
        string worker = LocateWorker();
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        string runtimeConfig = Path.ChangeExtension(worker, ".runtimeconfig.json");
        start.ArgumentList.Add("--runtimeconfig");
        start.ArgumentList.Add(File.Exists(runtimeConfig) ? runtimeConfig : WriteRuntimeConfig());
        start.ArgumentList.Add(worker);
        start.ArgumentList.Add("--max-message-bytes");
        start.ArgumentList.Add(options.MaxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.Environment["PYTHONUNBUFFERED"] = "1";
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        if (options.EnableTestOperations)
        {
            start.Environment[WorkerServer.TestOperationsVariable] = "1";
        }
        else
        {
            start.Environment.Remove(WorkerServer.TestOperationsVariable);
        }
        lock (_stderr)
        {
            _stderr.Clear();
        }

        Process process = Process.Start(start) ?? throw new PythonBackendException($"Could not start the Python worker ({worker}).");
        _process = process;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (_stderr)
            {
                _stderr.Enqueue(e.Data);
                while (_stderr.Count > StderrLines)
                {
                    _stderr.Dequeue();
                }
            }

            options.StandardErrorLine?.Invoke(e.Data);
        };
        process.BeginErrorReadLine();
        Stream reader = process.StandardOutput.BaseStream;
        _readerTask = Task.Run(() => ReadLoopAsync(process, reader), CancellationToken.None);
        var init = new InitArguments(WorkerEnvironment.From(environment), options.ModuleDirectory);
        try
        {
            await SendAsync(WorkerOperation.Init, WorkerJson.ToNode(init), [], options.StartupTimeout, cancellationToken).ConfigureAwait(false);

            // Import the required modules now, under the startup limit, so a restarted worker is as ready as the first.
            var probe = new ProbeArguments([.. options.RequiredModules]);
            await SendAsync(WorkerOperation.Probe, WorkerJson.ToNode(probe), [], options.StartupTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Stop();
            throw;
        }

        _generation++;
    }

    private async Task<PythonReply> SendAsync(WorkerOperation op, JsonNode? args, byte[] body, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        Process process = _process!;
        long id = Interlocked.Increment(ref _nextId);
        var completion = new TaskCompletionSource<WorkerMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_pendingLock)
        {
            _pendingId = id;
            _pending = completion;
            _pendingProcess = process;
        }

        try
        {
            await WriteAsync(process, new WorkerRequest(id, op, args?.DeepClone()), body).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // The worker died before reading the request: wait for the reader to report how.
            if (await Task.WhenAny(completion.Task, Task.Delay(2000, CancellationToken.None)).ConfigureAwait(false) != completion.Task)
            {
                throw Died(process, $"The Python worker stopped accepting requests ({e.Message}).", timedOut: false, e);
            }
        }

        using var timeoutSource = timeout is TimeSpan t ? new CancellationTokenSource(t) : new CancellationTokenSource();
        Task cancelled = Task.Delay(Timeout.Infinite, cancellationToken);
        Task timedOut = Task.Delay(Timeout.Infinite, timeoutSource.Token);
        Task first = await Task.WhenAny(completion.Task, cancelled, timedOut).ConfigureAwait(false);
        if (first == timedOut)
        {
            Discard(process);
            throw Died(process, $"The Python worker did not answer '{op.WireName()}' within {timeout} and was stopped; the next call starts a new worker.", timedOut: true);
        }

        if (first == cancelled)
        {
            // Ask Python to stop (KeyboardInterrupt at its next bytecode); kill the worker if it does not within the grace period.
            try
            {
                var cancel = new WorkerRequest(Interlocked.Increment(ref _nextId), WorkerOperation.Cancel, WorkerJson.ToNode(new CancelArguments(id)));
                await WriteAsync(process, cancel, []).ConfigureAwait(false);
            }
            catch (IOException)
            {
            }

            if (await Task.WhenAny(completion.Task, Task.Delay(options.CancellationGracePeriod, CancellationToken.None)).ConfigureAwait(false) != completion.Task)
            {
                Discard(process);
            }

            throw new OperationCanceledException($"The Python call '{op.WireName()}' was cancelled.", cancellationToken);
        }

        WorkerMessage message = await completion.Task.ConfigureAwait(false);
        WorkerReply reply = WorkerJson.Read<WorkerReply>(message.Header, "reply header");
        if (reply.Ok)
        {
            return new PythonReply(reply.Result?.DeepClone(), message.Body);
        }

        throw ToException(reply.Error ?? new WorkerError(WorkerErrorKind.Internal, "Exception", "The worker reported a failure without details."), cancellationToken);
    }

    private async Task WriteAsync(Process process, WorkerRequest request, byte[] body)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await WorkerProtocol.WriteAsync(process.StandardInput.BaseStream, new WorkerMessage(WorkerJson.Header(request), body), options.MaxMessageBytes).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadLoopAsync(Process process, Stream stream)
    {
        Exception? failure = null;
        try
        {
            while (true)
            {
                WorkerMessage? message = await WorkerProtocol.ReadAsync(stream, options.MaxMessageBytes).ConfigureAwait(false);
                if (message is null)
                {
                    break;
                }

                long id = WorkerJson.Read<WorkerReply>(message.Header, "reply header").Id;
                lock (_pendingLock)
                {
                    if (_pending is not null && _pendingProcess == process && (id == _pendingId || id == -1))
                    {
                        _pending.TrySetResult(message);
                        _pending = null;
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or PythonProtocolException or ObjectDisposedException)
        {
            failure = e;
        }

        // End of stream: the worker exited (or closed its channel). Fail whatever is waiting.
        TaskCompletionSource<WorkerMessage>? pending = null;
        lock (_pendingLock)
        {
            if (_pendingProcess == process)
            {
                pending = _pending;
                _pending = null;
            }
        }

        if (pending is not null)
        {
            try
            {
                await process.WaitForExitAsync(new CancellationTokenSource(2000).Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            pending.TrySetException(Died(process, failure is PythonProtocolException p
                ? $"The Python worker sent a malformed message ({p.Message}) and was stopped; the next call starts a new worker."
                : "The Python worker exited unexpectedly; the next call starts a new worker.", timedOut: false, failure));
            if (failure is PythonProtocolException)
            {
                Kill(process);
            }
        }
    }

    private PythonWorkerException Died(Process process, string message, bool timedOut, Exception? inner = null)
    {
        int? exit = null;
        try
        {
            if (process.WaitForExit(2000))
            {
                exit = process.ExitCode;
                process.WaitForExit(); // flush the stderr pump
            }
        }
        catch (InvalidOperationException)
        {
        }

        string tail;
        lock (_stderr)
        {
            tail = string.Join(Environment.NewLine, _stderr);
        }

        string detail = exit is int code ? $" (exit code {code}{SignalName(code)})" : string.Empty;
        string lastLines = tail.Length > 0 ? $"{Environment.NewLine}Last worker stderr lines:{Environment.NewLine}{Tail(tail, 12)}" : string.Empty;
        return new PythonWorkerException(message + detail + lastLines, exit, tail, timedOut, inner);
    }

    private static string Tail(string text, int lines) =>
        string.Join(Environment.NewLine, text.Split(Environment.NewLine).TakeLast(lines));

    private static string SignalName(int exitCode) => exitCode switch
    {
        134 => ", SIGABRT",
        137 => ", SIGKILL",
        139 => ", SIGSEGV",
        _ => string.Empty,
    };

    internal static Exception ToException(WorkerError error, CancellationToken cancellationToken) => error.Kind switch
    {
        WorkerErrorKind.Python => new PythonExecutionException(error.Type, error.Message, error.Traceback ?? string.Empty),
        WorkerErrorKind.Cancelled => new OperationCanceledException(error.Message, cancellationToken),
        WorkerErrorKind.Environment => new PythonEnvironmentException(error.Message, error.Tried ?? [], error.Missing),
        WorkerErrorKind.Protocol => new PythonProtocolException(error.Message),
        _ => new PythonBackendException($"The Python worker failed: {error.Type}: {error.Message}"),
    };

    /// <summary>Kills a worker that can no longer be trusted and forgets it; the next call starts a new one.</summary>
    private void Discard(Process process)
    {
        Kill(process);
        try
        {
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }

        lock (_pendingLock)
        {
            if (_pendingProcess == process)
            {
                _pending = null;
                _pendingProcess = null;
            }
        }

        if (_process == process)
        {
            _process = null;
            try
            {
                _readerTask?.Wait(2000);
            }
            catch (AggregateException)
            {
            }

            process.Dispose();
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    private void Stop()
    {
        Process? process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        if (!process.HasExited)
        {
            try
            {
                var shutdown = new WorkerRequest(Interlocked.Increment(ref _nextId), WorkerOperation.Shutdown);
                if (!WriteAsync(process, shutdown, []).Wait(1000) || !process.WaitForExit(3000))
                {
                    Kill(process);
                }
            }
            catch (Exception e) when (e is IOException or AggregateException or InvalidOperationException)
            {
                Kill(process);
            }
        }

        try
        {
            _readerTask?.Wait(2000);
        }
        catch (AggregateException)
        {
        }

        process.Dispose();
    }

    private string LocateWorker()
    {
        const string name = "InseqBridge.Python.Worker.dll";
        var candidates = new List<string>();
        if (options.WorkerPath is { } explicitPath)
        {
            candidates.Add(Path.GetFullPath(explicitPath));
        }
        else
        {
            candidates.Add(Path.Combine(AppContext.BaseDirectory, name));
            if (Path.GetDirectoryName(typeof(WorkerChannel).Assembly.Location) is { Length: > 0 } own)
            {
                candidates.Add(Path.Combine(own, name));
            }
        }

        return candidates.FirstOrDefault(File.Exists) ?? throw new PythonBackendException(
            $"The Python worker ({name}) was not found (looked in {string.Join(", ", candidates.Distinct())}). Reference the " +
            "InseqBridge.Python.Worker project from the application, or set PythonBackendOptions.WorkerPath.");
    }

    /// <summary>The dotnet host that runs this process's runtime (the worker runs on the same runtime).</summary>
    private static string DotnetHost()
    {
        string exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.ProcessPath is { } self && Path.GetFileName(self) == exe)
        {
            return self;
        }

        // <root>/shared/Microsoft.NETCore.App/<version>/ -> <root>/dotnet
        string runtimeDir = RuntimeEnvironment.GetRuntimeDirectory();
        string fromRuntime = Path.GetFullPath(Path.Combine(runtimeDir, "..", "..", "..", exe));
        foreach (string? candidate in new[] { fromRuntime, Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"), Environment.GetEnvironmentVariable("DOTNET_ROOT") is { } root ? Path.Combine(root, exe) : null })
        {
            if (candidate is not null && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return PythonLocator.FindOnPath(exe) ?? throw new PythonBackendException("The dotnet host was not found to start the Python worker (set DOTNET_ROOT).");
    }

    private static string WriteRuntimeConfig()
    {
        Version v = Environment.Version;
        string path = Path.Combine(Path.GetTempPath(), $"inseq-bridge-worker-{v}.runtimeconfig.json");
        if (!File.Exists(path))
        {
            var config = new JsonObject
            {
                ["runtimeOptions"] = new JsonObject
                {
                    ["tfm"] = $"net{v.Major}.{v.Minor}",
                    ["framework"] = new JsonObject { ["name"] = "Microsoft.NETCore.App", ["version"] = $"{v.Major}.{v.Minor}.0" },
                },
            };
            File.WriteAllText(path, config.ToJsonString());
        }

        return path;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_gate.Wait(TimeSpan.FromSeconds(5)))
        {
            // A call is still running: end it by stopping the worker (the call fails with PythonWorkerException).
            if (_process is { } running)
            {
                Kill(running);
            }

            _gate.Wait();
        }

        try
        {
            Stop();
        }
        finally
        {
            _gate.Release();
            _gate.Dispose();
        }
    }
}
