namespace InseqBridge.Data;

/// <summary>
/// The attribution of one sequence, shaped like Inseq's <c>FeatureAttributionSequenceOutput</c>.
/// </summary>
/// <remarks>
/// Shapes (S = source length, T = full target length including prompt / decoder start token, N = attributed
/// steps = <see cref="AttrPosEnd"/> - <see cref="AttrPosStart"/>):
/// <list type="bullet">
/// <item><see cref="SourceAttributions"/>: [S, N, ...] (encoder-decoder models only).</item>
/// <item><see cref="TargetAttributions"/>: [T, N, ...] (decoder-only models, or encoder-decoders with
/// attribute_target); NaN where a target position is at or after the predicted token.</item>
/// <item><see cref="StepScores"/>: id → [N].</item>
/// </list>
/// The trailing dimensions are [hidden] for granular methods, none for coarse ones, [layers, heads] for attention
/// and [layers] for value zeroing.
/// </remarks>
public sealed partial record FeatureAttributionSequenceOutput
{
    /// <summary>Source tokens (encoder input; for decoder-only models the prompt, as Inseq stores it).</summary>
    public required IReadOnlyList<TokenWithId> Source { get; init; }

    /// <summary>Target tokens: decoder start / prompt tokens followed by the generated ones.</summary>
    public required IReadOnlyList<TokenWithId> Target { get; init; }

    /// <summary>Attributions to source tokens, [S, N, ...], or null.</summary>
    public NdArray? SourceAttributions { get; init; }

    /// <summary>Attributions to target tokens, [T, N, ...], or null.</summary>
    public NdArray? TargetAttributions { get; init; }

    /// <summary>Per-step scores, id → [N].</summary>
    public IReadOnlyDictionary<string, NdArray> StepScores { get; init; } = new Dictionary<string, NdArray>();

    /// <summary>Per-sequence scores (e.g. encoder self-attention for the attention method), id → array.</summary>
    public IReadOnlyDictionary<string, NdArray> SequenceScores { get; init; } = new Dictionary<string, NdArray>();

    /// <summary>Index in <see cref="Target"/> of the first attributed token.</summary>
    public int AttrPosStart { get; init; }

    /// <summary>Index in <see cref="Target"/> one past the last attributed token.</summary>
    public int AttrPosEnd { get; init; }

    /// <summary>The Inseq class of this output (decides the default aggregation).</summary>
    public AttributionKind Kind { get; init; } = AttributionKind.Base;

    /// <summary>Number of extra dimensions after the step dimension (MultiDimensional only: 2 for attention
    /// [layers, heads], 1 for value zeroing). Null when not applicable.</summary>
    public int? NumDimensions { get; init; }

    /// <summary>Number of attributed steps.</summary>
    public int StepCount => AttrPosEnd - AttrPosStart;
}
