using InseqBridge.Tests.Datasets;

namespace InseqBridge.Tests;

/// <summary>Entry point of the test assembly when started as a process (the test runner does not use it).</summary>
public static class Program
{
    /// <summary><c>dataset-crash-target DIR ROWS jsonl|files</c> runs <see cref="DatasetCrashTarget"/>.</summary>
    public static int Main(string[] args) =>
        args.Length > 0 && args[0] == DatasetCrashTarget.Command ? DatasetCrashTarget.Run(args[1..]) : 0;
}
