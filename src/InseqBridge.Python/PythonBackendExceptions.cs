using InseqBridge.Errors;

namespace InseqBridge.Python;

/// <summary>Base class of the Python backend's errors.</summary>
public class PythonBackendException : InseqBridgeException
{
    /// <summary>Creates the exception.</summary>
    public PythonBackendException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// No usable Python was found, or it lacks a required module (torch, transformers, inseq). The message lists every
/// place that was tried and points to <c>environment.yml</c>.
/// </summary>
public sealed class PythonEnvironmentException : PythonBackendException
{
    /// <summary>Creates the exception.</summary>
    public PythonEnvironmentException(string message, IReadOnlyList<string> tried, IReadOnlyList<string>? missingModules = null)
        : base(message)
    {
        Tried = tried;
        MissingModules = missingModules ?? [];
    }

    /// <summary>Each candidate that was tried, with why it was rejected.</summary>
    public IReadOnlyList<string> Tried { get; }

    /// <summary>Python modules that could not be imported (empty when Python itself was not found).</summary>
    public IReadOnlyList<string> MissingModules { get; }
}

/// <summary>Python raised an exception; <see cref="PythonTraceback"/> carries the formatted Python traceback.</summary>
public sealed class PythonExecutionException : PythonBackendException
{
    /// <summary>Creates the exception.</summary>
    public PythonExecutionException(string pythonType, string pythonMessage, string pythonTraceback)
        : base($"Python raised {pythonType}: {pythonMessage}")
    {
        PythonType = pythonType;
        PythonMessage = pythonMessage;
        PythonTraceback = pythonTraceback;
    }

    /// <summary>The Python exception's class name (e.g. <c>ValueError</c>).</summary>
    public string PythonType { get; }

    /// <summary>The Python exception's message.</summary>
    public string PythonMessage { get; }

    /// <summary>The formatted Python traceback (<c>traceback.format_exception</c>).</summary>
    public string PythonTraceback { get; }

    /// <inheritdoc />
    public override string ToString() => base.ToString() + Environment.NewLine + "--- Python traceback ---" + Environment.NewLine + PythonTraceback;
}

/// <summary>
/// The worker process died (crash, abort, killed) or stopped answering within its time limit. The host is unaffected;
/// the next call starts a new worker.
/// </summary>
public sealed class PythonWorkerException : PythonBackendException
{
    /// <summary>Creates the exception.</summary>
    public PythonWorkerException(string message, int? exitCode, string standardErrorTail, bool timedOut, Exception? inner = null)
        : base(message, inner)
    {
        ExitCode = exitCode;
        StandardErrorTail = standardErrorTail;
        TimedOut = timedOut;
    }

    /// <summary>The worker's exit code (negative or 128+n for signals, as the OS reports it); null when unknown.</summary>
    public int? ExitCode { get; }

    /// <summary>The last lines the worker wrote to stderr.</summary>
    public string StandardErrorTail { get; }

    /// <summary>True when the worker was stopped because it exceeded a time limit.</summary>
    public bool TimedOut { get; }
}

/// <summary>A malformed or oversized message on the worker channel.</summary>
public sealed class PythonProtocolException : PythonBackendException
{
    /// <summary>Creates the exception.</summary>
    public PythonProtocolException(string message) : base(message) { }
}
