namespace InseqBridge.Aggregation;

/// <summary>Reductions along one dimension, as Inseq's aggregation functions (ids in <see cref="AggregationFunctions.Id"/>).</summary>
public enum AggregationFunction
{
    /// <summary><c>mean</c>.</summary>
    Mean,

    /// <summary><c>max</c> (NaN propagates, as in torch).</summary>
    Max,

    /// <summary><c>min</c> (NaN propagates, as in torch).</summary>
    Min,

    /// <summary><c>sum</c>.</summary>
    Sum,

    /// <summary><c>prod</c>.</summary>
    Prod,

    /// <summary><c>absmax</c>: the value with the largest magnitude, sign kept; NaN counts as 0 when choosing.</summary>
    AbsMax,

    /// <summary><c>vnorm</c>: the L2 vector norm.</summary>
    VNorm,
}
