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
                error.WriteLine($"error: {exists.Path} already exists.");
                error.WriteLine("Pass --overwrite to replace it.");
                return ExitCodes.Failure;
            case InseqBridgeException or TokenizerLoadException or InseqJsonException or ChatTemplateException:
                WriteWithCause(error, exception.Message, exception.InnerException);
                return ExitCodes.Failure;
            case FileNotFoundException notFound:
                error.WriteLine($"error: file not found: {notFound.FileName ?? notFound.Message}");
                return ExitCodes.Failure;
            case DirectoryNotFoundException or IOException or UnauthorizedAccessException:
                error.WriteLine($"error: {exception.Message}");
                return ExitCodes.Failure;
            case OperationCanceledException:
                error.WriteLine("error: cancelled.");
                return ExitCodes.Failure;
            default:
                WriteWithCause(error, $"unexpected {exception.GetType().Name}: {exception.Message}", exception.InnerException);
                return ExitCodes.Failure;
        }
    }

    private static void WriteWithCause(TextWriter error, string message, Exception? cause)
    {
        error.WriteLine($"error: {FirstLine(message)}");
        if (cause is not null && !message.Contains(cause.Message, StringComparison.Ordinal))
        {
            error.WriteLine($"  caused by: {FirstLine(cause.Message)}");
        }
    }

    private static string FirstLine(string text)
    {
        int newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }
}
