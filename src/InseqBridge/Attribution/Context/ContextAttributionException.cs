using InseqBridge.Errors;

namespace InseqBridge.Attribution.Context;

/// <summary>A context attribution (PECoRe) request that cannot run as given: a bad template, a missing context
/// text, an output that does not match its template. The message names the problem and the fix.</summary>
public sealed class ContextAttributionException : InseqBridgeException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">One line naming the problem and the fix.</param>
    /// <remarks>Line breaks and tabs in the texts it quotes (templates, separators, generated outputs) are written as
    /// <c>\n</c>, <c>\r</c> and <c>\t</c>, so that the message stays one line.</remarks>
    public ContextAttributionException(string message)
        : base(OneLine(message))
    {
    }

    private static string OneLine(string message) =>
        message is null ? string.Empty : message.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);
}
