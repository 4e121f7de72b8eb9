namespace InseqBridge.Visualization;

/// <summary>How a piece of a context attribution view is shown.</summary>
public enum ContextSpanStyle
{
    /// <summary>Ordinary text.</summary>
    Plain,

    /// <summary>A label (bold).</summary>
    Label,

    /// <summary>A contextual cue: a context token cited by the attribution (bold green).</summary>
    Cue,

    /// <summary>A context-sensitive output token (bold blue).</summary>
    Sensitive,
}

/// <summary>A piece of text of a context attribution view with its style.</summary>
/// <param name="Text">The text (may hold line breaks and tabs).</param>
/// <param name="Style">How it is shown.</param>
public sealed record ContextSpan(string Text, ContextSpanStyle Style);
