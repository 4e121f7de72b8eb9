using InseqBridge.Native.Attribution;

namespace InseqBridge.Native.Tests.Runtime;

/// <summary>
/// The test assembly's entry point (the test SDK's generated empty one is turned off in the project file), so tests
/// can run library code in a fresh process: <c>dotnet exec InseqBridge.TorchSharp.Tests.dll load-model DIR</c> loads
/// a model the way a library user's first call would (no TorchSharp call before it) and prints the thread status.
/// </summary>
public static class ChildProgram
{
    /// <summary>Runs one child action; exit code 2 for unknown arguments.</summary>
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "load-model")
        {
            using NativeAttributionModel model = NativeAttributionModel.Load(args[1]);
            NativeRuntimeStatus status = NativeRuntime.Status!;
            Console.WriteLine($"threads={status.Threads} source={status.ThreadsSource} applied={status.WaitPolicyApplied} policy={status.WaitPolicy}");
            return 0;
        }

        Console.Error.WriteLine("usage: load-model DIR");
        return 2;
    }
}
