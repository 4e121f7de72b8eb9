namespace InseqBridge.Data;

/// <summary>
/// One generation step of a batch, as Inseq's <c>FeatureAttributionStepOutput</c> keeps it when
/// <c>output_step_attributions</c> is requested: the tokens of every batch row (prefix, source, the attributed target
/// token) and the step's tensors with the batch as first dimension. Rows that had finished at this step hold NaN.
/// </summary>
public sealed record FeatureAttributionStepOutput
{
    /// <summary>Source tokens per batch row (encoder-decoder models; null for decoder-only).</summary>
    public IReadOnlyList<IReadOnlyList<TokenWithId>>? Source { get; init; }

    /// <summary>The target prefix before this step, per batch row (padding included).</summary>
    public IReadOnlyList<IReadOnlyList<TokenWithId>> Prefix { get; init; } = [];

    /// <summary>The attributed target token, per batch row (a one-token list each).</summary>
    public IReadOnlyList<IReadOnlyList<TokenWithId>> Target { get; init; } = [];

    /// <summary>Source attributions [batch, source length, ...] (null when not computed).</summary>
    public NdArray? SourceAttributions { get; init; }

    /// <summary>Target attributions [batch, prefix length, ...] (null when not computed).</summary>
    public NdArray? TargetAttributions { get; init; }

    /// <summary>Step scores [batch] by id.</summary>
    public IReadOnlyDictionary<string, NdArray> StepScores { get; init; } = new Dictionary<string, NdArray>();

    /// <summary>Sequence scores by name.</summary>
    public IReadOnlyDictionary<string, NdArray> SequenceScores { get; init; } = new Dictionary<string, NdArray>();

    /// <summary>The output class (granular, multi-dimensional, ...), as for sequences.</summary>
    public AttributionKind Kind { get; init; } = AttributionKind.Granular;
}
