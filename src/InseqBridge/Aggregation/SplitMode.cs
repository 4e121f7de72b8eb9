namespace InseqBridge.Aggregation;

/// <summary>Where a token matching the split pattern goes (Inseq's <c>split_mode</c>).</summary>
public enum SplitMode
{
    /// <summary>The matching token is a group of its own.</summary>
    Single,

    /// <summary>The matching token starts the next group.</summary>
    Start,

    /// <summary>The matching token ends the current group.</summary>
    End,
}
