using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>The aggregator pipeline Inseq applies by default to each output class.</summary>
public static class DefaultAggregation
{
    /// <summary>Granular: vnorm + normalisation; MultiDimensional: mean (+ normalisation) once per extra dimension;
    /// Coarse: nothing; Base: <c>scores</c> with mean.</summary>
    public static IReadOnlyList<IAggregator> For(FeatureAttributionSequenceOutput sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        return sequence.Kind switch
        {
            AttributionKind.Granular => [new ScoresAggregator(AggregationFunction.VNorm)],
            AttributionKind.Coarse => [],
            AttributionKind.MultiDimensional => Enumerable
                .Repeat<IAggregator>(new ScoresAggregator(AggregationFunction.Mean), ExtraDimensions(sequence))
                .ToList(),
            _ => [new ScoresAggregator()],
        };
    }

    private static int ExtraDimensions(FeatureAttributionSequenceOutput sequence) =>
        sequence.NumDimensions ?? Math.Max(0, ((sequence.SourceAttributions ?? sequence.TargetAttributions)?.Rank ?? 2) - 2);
}
