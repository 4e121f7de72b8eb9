namespace InseqBridge.Cli;

/// <summary>Exit codes of <c>inseq-bridge</c>.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Success = 0;

    /// <summary>The command ran and failed (bad model folder, unreadable file, refused overwrite, ...).</summary>
    public const int Failure = 1;

    /// <summary>The command line itself is wrong (unknown command or flag, missing or malformed value).</summary>
    public const int Usage = 2;

    /// <summary>Stopped by Ctrl+C (or the host's cancellation) before the work was done.</summary>
    public const int Interrupted = 130;
}
