using InseqBridge.Errors;
using InseqBridge.Serialization;
using InseqBridge.Tokenizers;
using InseqBridge.Tokenizers.Chat;

namespace InseqBridge.Cli;

/// <summary>Turns exceptions into one or two <c>error: ...</c> lines on stderr and an exit code; never a stack trace.</summary>
public static class CliErrors
{
    /// <summary>Reports <paramref name="exception"/> on <paramref name="error"/> and returns the exit code.</summary>
    public static int Report(Exception exception, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(error);
        switch (exception)
        {
            case CliUsageException usage:
                error.WriteLine($"error: {usage.Message}");
                return ExitCodes.Usage;
            case OutputFileExistsException exists:
                error.WriteLine($"error: {TerminalText.Escape(exists.Path)} already exists.");
                error.WriteLine("Pass --overwrite to replace it.");
                return ExitCodes.Failure;
            case InseqBridgeException or TokenizerLoadException or InseqJsonException or ChatTemplateException:
                WriteWithCause(error, exception.Message, exception.InnerException);
                return ExitCodes.Failure;
            case FileNotFoundException notFound:
                error.WriteLine($"error: file not found: {TerminalText.Escape(notFound.FileName ?? notFound.Message)}; check the path.");
                return ExitCodes.Failure;
            case DirectoryNotFoundException:
                error.WriteLine($"error: {TerminalText.Escape(FirstLine(exception.Message))} Check the path (a folder in it does not exist).");
                return ExitCodes.Failure;
            case UnauthorizedAccessException:
                error.WriteLine($"error: {TerminalText.Escape(FirstLine(exception.Message))} Check that the path is a file you may read or write (not a folder).");
                return ExitCodes.Failure;
            case IOException:
                error.WriteLine($"error: {TerminalText.Escape(FirstLine(exception.Message))}");
                return ExitCodes.Failure;
            case OperationCanceledException:
                error.WriteLine("error: cancelled (Ctrl+C); files already written are complete, nothing else was written.");
                return ExitCodes.Interrupted;
            case OutOfMemoryException or InsufficientExecutionStackException:
                error.WriteLine("error: the request needs more memory than is available; lower --batch-size, --internal-batch-size, --n-steps or the input length.");
                return ExitCodes.Failure;
            case System.Runtime.InteropServices.ExternalException:
                // libtorch failures (shape errors, bad indices) are bugs in the checkpoint's config or ours: say which.
                WriteWithCause(
                    error,
                    $"the model computation failed ({FirstLine(exception.Message)}); the checkpoint's config.json may not match its weights (check hidden_size, num_attention_heads, vocab_size), or this is a bug to report.",
                    null);
                return ExitCodes.Failure;
            default:
                WriteWithCause(error, $"internal error: {FirstLine(exception.Message)} (this is a bug; please report it with the command line).", exception.InnerException);
                return ExitCodes.Failure;
        }
    }

    private static void WriteWithCause(TextWriter error, string message, Exception? cause)
    {
        error.WriteLine($"error: {TerminalText.Escape(FirstLine(message))}");
        if (cause is not null && !message.Contains(cause.Message, StringComparison.Ordinal))
        {
            error.WriteLine($"  caused by: {TerminalText.Escape(FirstLine(cause.Message))}");
        }
    }

    private static string FirstLine(string text)
    {
        int newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }
}
