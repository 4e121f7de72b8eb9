namespace InseqBridge.Attribution.Context;

/// <summary>
/// How the output context is separated from the current output when the model generates both (Inseq's
/// <c>handle_output_context_strategy</c>).
/// </summary>
public enum OutputContextStrategy
{
    /// <summary>Ask the user to confirm or give the output context (<c>manual</c>, Inseq's default).</summary>
    Manual,

    /// <summary>Use the automatically found split without asking (<c>auto</c>).</summary>
    Auto,

    /// <summary>The output context must be given up front; nothing is asked (<c>pre</c>).</summary>
    Pre,
}
