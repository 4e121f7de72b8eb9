using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary><c>Aggregate</c> and <c>WeightAttributions</c> on outputs, as Inseq's methods of the same names.</summary>
public static class AggregationExtensions
{
    /// <summary>Applies <paramref name="aggregators"/> in order, or the kind's default pipeline when none are given.</summary>
    public static FeatureAttributionSequenceOutput Aggregate(this FeatureAttributionSequenceOutput sequence, params IAggregator[] aggregators)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        IReadOnlyList<IAggregator> pipeline = aggregators is { Length: > 0 } ? aggregators : DefaultAggregation.For(sequence);
        return pipeline.Aggregate(sequence, (current, aggregator) => aggregator.Aggregate(current));
    }

    /// <summary>Aggregates every sequence; info and step attributions are kept.</summary>
    public static FeatureAttributionOutput Aggregate(this FeatureAttributionOutput output, params IAggregator[] aggregators)
    {
        ArgumentNullException.ThrowIfNull(output);
        return output with { SequenceAttributions = output.SequenceAttributions.Select(s => s.Aggregate(aggregators)).ToList() };
    }

    /// <summary>Multiplies each step column of the (default-aggregated, 2-D) attributions by step score
    /// <paramref name="stepScoreId"/>; the result is not aggregated further by default (Inseq sets <c>_aggregator = []</c>),
    /// which is expressed by returning a <see cref="AttributionKind.Coarse"/> output.</summary>
    public static FeatureAttributionSequenceOutput WeightAttributions(this FeatureAttributionSequenceOutput sequence, string stepScoreId)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if (!sequence.StepScores.TryGetValue(stepScoreId, out NdArray? weights))
        {
            throw new ArgumentException($"Step score '{stepScoreId}' not found.", nameof(stepScoreId));
        }

        FeatureAttributionSequenceOutput aggregated = sequence.Aggregate();
        NdArray? Weigh(NdArray? a) => a is null ? null : new NdArray(
            a.ToArray().Select((v, i) => v * weights.Span[(i / Inner(a)) % a.Shape[1]]).ToArray(), a.Shape.ToArray());
        return aggregated with
        {
            SourceAttributions = Weigh(aggregated.SourceAttributions),
            TargetAttributions = Weigh(aggregated.TargetAttributions),
            Kind = AttributionKind.Coarse,
            NumDimensions = null,
        };
    }

    /// <summary><see cref="WeightAttributions(FeatureAttributionSequenceOutput, string)"/> on every sequence.</summary>
    public static FeatureAttributionOutput WeightAttributions(this FeatureAttributionOutput output, string stepScoreId)
    {
        ArgumentNullException.ThrowIfNull(output);
        return output with { SequenceAttributions = output.SequenceAttributions.Select(s => s.WeightAttributions(stepScoreId)).ToList() };
    }

    private static int Inner(NdArray a)
    {
        int inner = 1;
        for (int i = 2; i < a.Rank; i++)
        {
            inner *= a.Shape[i];
        }

        return inner;
    }
}
