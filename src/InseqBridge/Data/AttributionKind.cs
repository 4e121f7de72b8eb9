namespace InseqBridge.Data;

/// <summary>
/// Which Inseq sequence-output class a result belongs to; it decides the default aggregation and the class name
/// written to JSON.
/// </summary>
public enum AttributionKind
{
    /// <summary><c>FeatureAttributionSequenceOutput</c>: already 2-D (e.g. after aggregation) or step scores only.</summary>
    Base,

    /// <summary><c>GranularFeatureAttributionSequenceOutput</c>: one score per hidden unit (gradient methods);
    /// default aggregation: L2 norm over the hidden dimension, then normalisation.</summary>
    Granular,

    /// <summary><c>CoarseFeatureAttributionSequenceOutput</c>: one score per token (occlusion); not aggregated by default.</summary>
    Coarse,

    /// <summary><c>MultiDimensionalFeatureAttributionSequenceOutput</c>: extra dimensions such as layers and heads
    /// (attention, value zeroing); default aggregation: mean over each extra dimension, then normalisation.</summary>
    MultiDimensional,
}
