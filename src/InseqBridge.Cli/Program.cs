namespace InseqBridge.Cli;

/// <summary>Entry point of the <c>inseq-bridge</c> command.</summary>
public static class Program
{
    /// <summary>Runs the command line.</summary>
    public static int Main(string[] args) => CommandLine.Run(args);
}
