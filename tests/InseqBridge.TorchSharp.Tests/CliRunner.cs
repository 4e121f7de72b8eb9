using InseqBridge.Cli;

namespace InseqBridge.Native.Tests;

/// <summary>Runs <c>inseq-bridge</c> in-process with captured stdout and stderr.</summary>
public static class CliRunner
{
    public static CliResult Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = CommandLine.Run(args, output, error);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }
}

/// <summary>Exit code and captured streams of one run.</summary>
public sealed record CliResult(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Output}\nstderr: {Error}";
}
