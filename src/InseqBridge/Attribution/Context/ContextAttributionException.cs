using InseqBridge.Errors;

namespace InseqBridge.Attribution.Context;

/// <summary>A context attribution (PECoRe) request that cannot run as given: a bad template, a missing context
/// text, an output that does not match its template. The message names the problem and the fix.</summary>
public sealed class ContextAttributionException : InseqBridgeException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">One line naming the problem and the fix.</param>
    public ContextAttributionException(string message)
        : base(message)
    {
    }
}
