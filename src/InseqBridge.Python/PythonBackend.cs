using System.Text.Json.Nodes;
using InseqBridge.Attribution;

namespace InseqBridge.Python;

/// <summary>Versions reported by the Python side.</summary>
/// <param name="PythonVersion">Interpreter version.</param>
/// <param name="Executable">sys.executable as the embedded interpreter sees it.</param>
/// <param name="Modules">Module name -> version (null when the import failed).</param>
/// <param name="ImportErrors">Module name -> import error, for the modules that failed.</param>
public sealed record PythonProbe(string PythonVersion, string Executable, IReadOnlyDictionary<string, string?> Modules, IReadOnlyDictionary<string, string> ImportErrors);

/// <summary>
/// The Python backend: one Python interpreter (in a worker process by default, see <see cref="PythonExecution"/>)
/// that loads models with <c>inseq.load_model</c> and attributes with <c>model.attribute</c>. Thread-safe: calls are
/// serialised (Python runs one at a time).
/// </summary>
public sealed class PythonBackend : IDisposable
{
    private readonly IPythonChannel _channel;
    private int _nextHandle;

    private PythonBackend(PythonEnvironment environment, PythonBackendOptions options, IPythonChannel channel)
    {
        Environment = environment;
        Options = options;
        _channel = channel;
    }

    /// <summary>The Python in use.</summary>
    public PythonEnvironment Environment { get; }

    /// <summary>The options it was started with.</summary>
    public PythonBackendOptions Options { get; }

    /// <summary>Worker process id (worker mode, while one runs); null otherwise. For diagnostics and tests.</summary>
    public int? WorkerProcessId => (_channel as WorkerChannel)?.ProcessId;

    /// <summary>
    /// Finds Python (see <see cref="PythonLocator"/>), starts it and checks that <see cref="PythonBackendOptions.RequiredModules"/>
    /// import.
    /// </summary>
    /// <exception cref="PythonEnvironmentException">No Python, or a required module is missing (message lists what was tried and points to environment.yml).</exception>
    public static PythonBackend Start(PythonBackendOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PythonBackendOptions();
        PythonEnvironment environment = PythonLocator.Locate(options.Python, options.RequiredModules);
        IPythonChannel channel = options.Execution == PythonExecution.InProcess
            ? new InProcessChannel(environment, options)
            : new WorkerChannel(environment, options);
        var backend = new PythonBackend(environment, options, channel);
        try
        {
            if (options.RequiredModules.Count > 0)
            {
                PythonProbe probe = backend.Probe(options.RequiredModules, startup: true, cancellationToken);
                var missing = options.RequiredModules.Where(m => probe.Modules.GetValueOrDefault(m) is null).ToList();
                if (missing.Count > 0)
                {
                    string details = string.Join("; ", missing.Select(m => $"{m}: {probe.ImportErrors.GetValueOrDefault(m, "not importable")}"));
                    throw new PythonEnvironmentException(
                        $"Python {probe.PythonVersion} at {environment.Executable ?? environment.LibraryPath} ({environment.Source}) cannot import {string.Join(", ", missing)} ({details}). {PythonLocator.EnvironmentHint}",
                        [$"{environment.Source}: {environment.Executable ?? environment.LibraryPath} (Python {probe.PythonVersion}); missing {string.Join(", ", missing)}"],
                        missing);
                }
            }
        }
        catch
        {
            backend.Dispose();
            throw;
        }

        return backend;
    }

    /// <summary>Reports the interpreter and the versions of <paramref name="modules"/> (null version: import failed).</summary>
    public PythonProbe Probe(IEnumerable<string> modules, CancellationToken cancellationToken = default) =>
        Probe(modules, startup: false, cancellationToken);

    private PythonProbe Probe(IEnumerable<string> modules, bool startup, CancellationToken cancellationToken)
    {
        JsonNode? args = WorkerJson.ToNode(new ProbeArguments([.. modules]));
        PythonReply reply = _channel.CallAsync(WorkerOperation.Probe, args, [], startup, cancellationToken).GetAwaiter().GetResult();
        ProbeResult result = WorkerJson.Read<ProbeResult>(reply.Result, "probe result");
        var versions = new Dictionary<string, string?>();
        var errors = new Dictionary<string, string>();
        foreach (var (name, info) in result.Modules)
        {
            versions[name] = info.Version;
            if (info.Error is { } error)
            {
                errors[name] = error;
            }
        }

        return new PythonProbe(result.Python, result.Executable, versions, errors);
    }

    /// <summary>Loads a model with <c>inseq.load_model(model, method.Id, **loadArguments)</c>.</summary>
    /// <param name="model">A local checkpoint folder or a Hub id (as Inseq accepts).</param>
    /// <param name="method">Default attribution method (null: saliency).</param>
    /// <param name="loadArguments">Extra keyword arguments of <c>inseq.load_model</c>, e.g. <c>tokenizer_kwargs</c>.</param>
    public PythonAttributionModel LoadModel(string model, AttributionMethod? method = null, JsonObject? loadArguments = null) =>
        new(this, model, method ?? new Saliency(), loadArguments ?? []);

    internal string NewHandle() => "m" + Interlocked.Increment(ref _nextHandle).ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal int Generation => _channel.Generation;

    internal PythonReply Call(WorkerOperation op, JsonNode? args, byte[] body, CancellationToken cancellationToken) =>
        _channel.CallAsync(op, args, body, startup: false, cancellationToken).GetAwaiter().GetResult();

    internal Task<PythonReply> CallAsync(WorkerOperation op, JsonNode? args, byte[] body, CancellationToken cancellationToken) =>
        _channel.CallAsync(op, args, body, startup: false, cancellationToken);

    /// <summary>Multiplies a float32 buffer by <paramref name="factor"/> in Python with torch (buffer transfer check).
    /// A self test: needs <see cref="PythonBackendOptions.EnableTestOperations"/>.</summary>
    /// <exception cref="PythonProtocolException">The backend was started without test operations.</exception>
    public float[] ScaleWithTorch(ReadOnlySpan<float> values, double factor, CancellationToken cancellationToken = default)
    {
        byte[] body = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray();
        PythonReply reply = Call(WorkerOperation.TestScale, WorkerJson.ToNode(new TestScaleArguments(factor)), body, cancellationToken);
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(reply.Body).ToArray();
    }

    /// <summary>Diagnostics: runs one of the bridge's self-test operations (<c>test.fail</c>, <c>test.sleep</c>,
    /// <c>test.hang_native</c>, <c>test.crash</c>) with its JSON arguments; returns its JSON result. Needs
    /// <see cref="PythonBackendOptions.EnableTestOperations"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="op"/> is not a test operation.</exception>
    /// <exception cref="PythonProtocolException">The backend was started without test operations, or bad arguments.</exception>
    public JsonNode? RunSelfTest(string op, JsonObject args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(op);
        if (WorkerOperations.FromWireName(op) is not { } operation || !operation.IsTest())
        {
            string tests = string.Join(", ", Enum.GetValues<WorkerOperation>().Where(o => o.IsTest()).Select(o => o.WireName()));
            throw new ArgumentException($"'{op}' is not a self-test operation; use one of {tests}.", nameof(op));
        }

        return Call(operation, args, [], cancellationToken).Result;
    }

    /// <summary>Stops the worker (or releases the in-process channel; the embedded interpreter stays for the process).</summary>
    public void Dispose() => _channel.Dispose();
}
