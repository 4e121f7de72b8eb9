using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Python.Runtime;

namespace InseqBridge.Python;

/// <summary>A reply of the Python side: a JSON result and/or a raw byte body.</summary>
/// <param name="Result">JSON result (null when the operation returns only bytes).</param>
/// <param name="Body">Raw bytes (e.g. Inseq JSON, float32 blobs); empty when none.</param>
internal sealed record PythonReply(JsonNode? Result, byte[] Body);

/// <summary>
/// The embedded interpreter of this process (pythonnet) and the operations the bridge runs in it. One per process:
/// pythonnet hosts a single interpreter. Both execution modes go through <see cref="Dispatch"/>: in-process callers
/// directly, the worker for each message it receives. Buffers cross as whole byte arrays (one copy each way).
/// </summary>
internal sealed class PythonSession
{
    private static readonly Lock Gate = new();
    private static readonly BlockingCollection<Action> Work = [];
    private static PythonSession? _current;
    private static Thread? _thread;
    private static ulong _pythonThreadId;

    private readonly PyObject _module;

    private PythonSession(PythonEnvironment environment, PyObject module)
    {
        Environment = environment;
        _module = module;
    }

    /// <summary>The environment the interpreter was started from.</summary>
    public PythonEnvironment Environment { get; }

    /// <summary>Starts the interpreter of this process (once) and imports the bridge module.</summary>
    /// <exception cref="PythonEnvironmentException">Python could not start, or another Python was already started.</exception>
    public static PythonSession Start(PythonEnvironment environment, string? moduleDirectory)
    {
        lock (Gate)
        {
            if (_current is not null)
            {
                if (_current.Environment.LibraryPath != environment.LibraryPath)
                {
                    throw new PythonEnvironmentException(
                        $"This process already hosts Python from {_current.Environment.LibraryPath}; one process can embed only one Python " +
                        $"(asked for {environment.LibraryPath}). Use the worker execution mode to run several.",
                        [environment.Source + ": " + environment.LibraryPath]);
                }

                return _current;
            }

            EnsureThread();
            return OnPythonThread(() => Initialize(environment, moduleDirectory));
        }
    }

    private static PythonSession Initialize(PythonEnvironment environment, string? moduleDirectory)
    {
        try
        {
            Runtime.PythonDLL = environment.LibraryPath;
            if (environment.Executable is not null)
            {
                PythonEngine.ProgramName = environment.Executable;
            }

            if (environment.Home is not null)
            {
                PythonEngine.PythonHome = environment.Home;
            }

            PythonEngine.Initialize();
            using (Py.GIL())
            {
                _pythonThreadId = PythonEngine.GetPythonThreadID();
            }

            PythonEngine.BeginAllowThreads();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new PythonEnvironmentException(
                $"Python from {environment.LibraryPath} ({environment.Source}) failed to start: {e.Message}. {PythonLocator.EnvironmentHint}",
                [$"{environment.Source}: {environment.LibraryPath} failed to start ({e.GetType().Name}: {e.Message})"]);
        }

        string directory = moduleDirectory ?? ExtractModule();
        using (Py.GIL())
        {
            try
            {
                using PyObject sys = Py.Import("sys");
                using PyObject path = sys.GetAttr("path");
                var existing = new HashSet<string>(path.As<string[]>(), StringComparer.Ordinal);
                int insertAt = 0;
                foreach (string entry in environment.SysPath.Where(p => !existing.Contains(p)))
                {
                    using var e = new PyString(entry);
                    path.InvokeMethod("insert", new PyInt(insertAt++), e).Dispose();
                }

                using var dir = new PyString(directory);
                path.InvokeMethod("insert", new PyInt(0), dir).Dispose();
                PyObject module = Py.Import("inseq_bridge_worker");
                _current = new PythonSession(environment, module);
                return _current;
            }
            catch (PythonException e)
            {
                throw ToExecutionException(e);
            }
        }
    }

    /// <summary>Runs one operation. <paramref name="cancellationToken"/> interrupts the Python thread (KeyboardInterrupt),
    /// which takes effect at the next Python bytecode; the call then throws <see cref="OperationCanceledException"/>.</summary>
    /// <param name="op">The operation (<see cref="WorkerOperation.Init"/>, cancel and shutdown are the channel's own).</param>
    /// <param name="args">Its arguments record as JSON.</param>
    /// <param name="body">Raw bytes.</param>
    /// <param name="testOperations">Whether the <c>test.*</c> operations may run (the backend's explicit test switch).</param>
    /// <param name="cancellationToken">Interrupts the call.</param>
    /// <exception cref="PythonExecutionException">Python raised.</exception>
    /// <exception cref="PythonProtocolException">An operation this dispatcher does not run, or malformed arguments.</exception>
    public PythonReply Dispatch(WorkerOperation op, JsonNode? args, byte[] body, bool testOperations, CancellationToken cancellationToken)
    {
        if (op.IsTest() && !testOperations)
        {
            throw new PythonProtocolException(
                $"'{op.WireName()}' is a test operation; start the backend with PythonBackendOptions.EnableTestOperations to run it.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        CancellationTokenRegistration registration = cancellationToken.Register(static id => Interrupt((ulong)id!), _pythonThreadId);
        try
        {
            return OnPythonThread(() =>
            {
                using (Py.GIL())
                {
                    try
                    {
                        return op.IsTest() ? PythonTestOperations.Run(this, op, args, body) : Run(op, args, body);
                    }
                    catch (PythonException e) when (cancellationToken.IsCancellationRequested && e.Type.Name == "KeyboardInterrupt")
                    {
                        throw new OperationCanceledException("The Python call was cancelled.", e, cancellationToken);
                    }
                    catch (PythonException e)
                    {
                        throw ToExecutionException(e);
                    }
                }
            });
        }
        finally
        {
            // An interrupt that arrived after Python returned would surface in an unrelated later call: drop it.
            registration.Dispose();
            if (cancellationToken.IsCancellationRequested)
            {
                OnPythonThread(() =>
                {
                    using (Py.GIL())
                    {
                        ClearPendingInterrupt();
                    }

                    return 0;
                });
            }
        }
    }

    /// <summary>
    /// Starts the one thread that runs all Python code of this process. Python's own thread state for it lives as long
    /// as the process: extension modules (torch's pybind11) cache per-thread states, and thread-pool threads whose
    /// states are created and destroyed around each call crash them.
    /// </summary>
    private static void EnsureThread()
    {
        if (_thread is not null)
        {
            return;
        }

        _thread = new Thread(
            () =>
            {
                foreach (Action work in Work.GetConsumingEnumerable())
                {
                    work();
                }
            },
            maxStackSize: 16 << 20)
        {
            IsBackground = true,
            Name = "InseqBridge Python",
        };
        _thread.Start();
    }

    private static T OnPythonThread<T>(Func<T> function)
    {
        if (Thread.CurrentThread == _thread)
        {
            return function();
        }

        T result = default!;
        ExceptionDispatchInfo? error = null;
        using var done = new ManualResetEventSlim();
        Work.Add(() =>
        {
            try
            {
                result = function();
            }
            catch (Exception e)
            {
                error = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                done.Set();
            }
        });
        done.Wait();
        error?.Throw();
        return result;
    }

    /// <summary>The production operations.</summary>
    private PythonReply Run(WorkerOperation op, JsonNode? args, byte[] body)
    {
        switch (op)
        {
            case WorkerOperation.Probe:
                var probe = WorkerJson.Read<ProbeArguments>(args, "probe arguments");
                return Json(Invoke("probe", new PyString(JsonSerializer.Serialize(probe.Modules.ToArray(), WorkerJsonContext.Default.StringArray))));
            case WorkerOperation.Load:
                var load = WorkerJson.Read<LoadArguments>(args, "load arguments");
                return Json(Invoke(
                    "load_model",
                    new PyString(load.Handle),
                    new PyString(load.Model),
                    new PyString(load.Method),
                    new PyString(load.LoadKwargs?.ToJsonString() ?? "{}")));
            case WorkerOperation.Unload:
                Invoke("unload_model", new PyString(WorkerJson.Read<UnloadArguments>(args, "unload arguments").Handle)).Dispose();
                return new PythonReply(null, []);
            case WorkerOperation.Attribute:
                var attribute = WorkerJson.Read<AttributeArguments>(args, "attribute arguments");
                return Bytes(Invoke(
                    "attribute",
                    new PyString(attribute.Handle),
                    new PyString(attribute.Kwargs.ToJsonString()),
                    new PyInt(attribute.Seed),
                    new PyString(WorkerJson.ToNode(attribute.Load)!.ToJsonString())));
            default:
                throw new PythonProtocolException($"The Python session does not run '{op.WireName()}'.");
        }
    }

    /// <summary>Calls a function of the bridge module (disposing the arguments); needs the GIL.</summary>
    internal PyObject Invoke(string function, params PyObject[] args)
    {
        try
        {
            return _module.InvokeMethod(function, args);
        }
        finally
        {
            foreach (PyObject a in args)
            {
                a.Dispose();
            }
        }
    }

    internal static PythonReply Json(PyObject value, bool asString = false)
    {
        using (value)
        {
            string text = value.As<string>();
            return new PythonReply(asString ? JsonValue.Create(text) : JsonNode.Parse(text), []);
        }
    }

    /// <summary>Copies a Python bytes-like object into a .NET array through the buffer protocol (one memcpy).</summary>
    internal static PythonReply Bytes(PyObject value)
    {
        using (value)
        {
            using PyBuffer buffer = value.GetBuffer(PyBUF.SIMPLE);
            var bytes = new byte[checked((int)buffer.Length)];
            buffer.Read(bytes, 0, bytes.Length, IntPtr.Zero);
            return new PythonReply(null, bytes);
        }
    }

    /// <summary>A Python <c>bytearray</c> holding a copy of <paramref name="data"/>, written through the buffer protocol.</summary>
    internal static PyObject ToByteArray(byte[] data)
    {
        using PyObject builtins = Py.Import("builtins");
        using var length = new PyInt(data.Length);
        PyObject array = builtins.InvokeMethod("bytearray", length);
        if (data.Length > 0)
        {
            using PyBuffer buffer = array.GetBuffer(PyBUF.WRITABLE);
            buffer.Write(data, 0, data.Length, IntPtr.Zero);
        }

        return array;
    }

    /// <summary>Raises KeyboardInterrupt in the Python thread (at its next bytecode); needs the GIL on the calling thread.</summary>
    private static void Interrupt(ulong pythonThreadId)
    {
        using (Py.GIL())
        {
            PythonEngine.Interrupt(pythonThreadId);
        }
    }

    private static void ClearPendingInterrupt()
    {
        try
        {
            // Runs a trivial statement so a KeyboardInterrupt still pending for this thread is raised and dropped here.
            PythonEngine.Exec("pass");
        }
        catch (PythonException)
        {
        }
    }

    internal static PythonExecutionException ToExecutionException(PythonException e)
    {
        string type = "Exception", message = e.Message, traceback = string.Empty;
        try
        {
            type = e.Type.Name;
            traceback = e.Format();
        }
        catch (Exception inner) when (inner is PythonException or InvalidOperationException)
        {
            traceback = e.StackTrace ?? string.Empty;
        }

        return new PythonExecutionException(type, message, traceback);
    }

    /// <summary>Writes the embedded Python module to a per-content cache folder and returns that folder.</summary>
    private static string ExtractModule()
    {
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("inseq_bridge_worker.py")
            ?? throw new PythonProtocolException("The embedded Python module inseq_bridge_worker.py is missing from the assembly.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string source = reader.ReadToEnd();
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(source)))[..16];
        string directory = Path.Combine(Path.GetTempPath(), $"inseq-bridge-python-{hash}");
        string file = Path.Combine(directory, "inseq_bridge_worker.py");
        if (!File.Exists(file) || File.ReadAllText(file) != source)
        {
            Directory.CreateDirectory(directory);
            string temporary = file + "." + System.Environment.ProcessId + ".tmp";
            File.WriteAllText(temporary, source);
            File.Move(temporary, file, overwrite: true);
        }

        return directory;
    }
}
