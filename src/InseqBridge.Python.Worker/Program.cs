namespace InseqBridge.Python.Worker;

/// <summary>Entry point of the Python worker process.</summary>
public static class Program
{
    /// <summary>Serves the worker protocol on stdin/stdout until the host closes the channel.</summary>
    public static int Main(string[] args) => WorkerServer.Run(args);
}
