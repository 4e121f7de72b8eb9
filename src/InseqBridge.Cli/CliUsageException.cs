namespace InseqBridge.Cli;

/// <summary>A flag value the command cannot use (exit code 2, like a parse error).</summary>
public sealed class CliUsageException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CliUsageException(string message) : base(message) { }
}
