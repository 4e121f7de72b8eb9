using System.CommandLine;

namespace InseqBridge.Cli;

/// <summary>Builds the command tree.</summary>
public static class CommandLine
{
    /// <summary>Parses and runs <paramref name="args"/>; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        var root = new RootCommand("inseq-bridge: feature attribution for Hugging Face sequence generation models.");
        return root.Parse(args).Invoke();
    }
}
