namespace InseqBridge.Cli;

/// <summary>Entry point of the <c>inseq-bridge</c> command.</summary>
public static class Program
{
    /// <summary>Runs the command line.</summary>
    public static int Main(string[] args)
    {
        // Before anything can load libtorch: OpenMP reads its wait policy from the C environment when it loads.
        try
        {
            InseqBridge.Native.NativeRuntime.ConfigureEnvironment();
        }
        catch (InseqBridge.Errors.InseqBridgeException e)
        {
            return CliErrors.Report(e, Console.Error);
        }

        return CommandLine.Run(args);
    }
}
