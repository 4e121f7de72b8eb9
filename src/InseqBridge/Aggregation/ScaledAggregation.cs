using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>
/// A pipeline whose <c>scores</c> steps normalise or rescale as asked (Inseq's <c>aggregate(..., normalize=...,
/// rescale=...)</c>, the CLI's <c>--normalize-attributions</c> / <c>--rescale-attributions</c>); an empty
/// <see cref="Pipeline"/> stands for the kind's default pipeline, chosen per sequence.
/// </summary>
/// <param name="Pipeline">The aggregators; empty for <see cref="DefaultAggregation"/>.</param>
/// <param name="Normalize">Normalise each step column to sum 1 in absolute value (Inseq's default).</param>
/// <param name="Rescale">Divide by the largest absolute value instead (Inseq 0.7).</param>
public sealed record ScaledAggregation(IReadOnlyList<IAggregator> Pipeline, bool Normalize, bool Rescale) : IAggregator
{
    /// <inheritdoc />
    public string Id => "scores";

    /// <inheritdoc />
    public FeatureAttributionSequenceOutput Aggregate(FeatureAttributionSequenceOutput sequence) =>
        sequence.Aggregate(AggregatorArguments.WithScaling(Pipeline, sequence, Normalize, Rescale));
}
