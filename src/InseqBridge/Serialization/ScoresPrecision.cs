namespace InseqBridge.Serialization;

/// <summary>Precision of the attribution tensors in a saved file (Inseq's <c>scores_precision</c>).</summary>
public enum ScoresPrecision
{
    /// <summary>32-bit IEEE floats (lossless).</summary>
    Float32,

    /// <summary>16-bit IEEE half floats.</summary>
    Float16,

    /// <summary>8-bit float e4m3fn (experimental in Inseq; saturating, no infinities).</summary>
    Float8,
}
