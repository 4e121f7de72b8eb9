using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>Inseq's <c>pair</c> aggregator: compares an attribution with a paired one (e.g. a minimal-pair edit),
/// by default as <c>paired - this</c>; differing tokens are shown as <c>"a → b"</c> with id -1.</summary>
/// <param name="PairedAttribution">The other attribution, with the same shapes.</param>
/// <param name="Combine">Elementwise function of (this, paired); null means <c>paired - this</c>.</param>
public sealed record PairAggregator(FeatureAttributionSequenceOutput PairedAttribution, Func<float, float, float>? Combine = null) : IAggregator
{
    /// <inheritdoc />
    public string Id => "pair";

    /// <inheritdoc />
    public FeatureAttributionSequenceOutput Aggregate(FeatureAttributionSequenceOutput sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        FeatureAttributionSequenceOutput other = PairedAttribution;
        if (sequence.Source.Count != other.Source.Count || sequence.Target.Count != other.Target.Count)
        {
            throw new ArgumentException("Paired attributions must have sources and targets of the same lengths.");
        }

        Func<float, float, float> f = Combine ?? ((x, y) => y - x);
        NdArray? Pair(NdArray? a, NdArray? b) => a is null ? null
            : NdArrayOps.Zip(a, b ?? throw new ArgumentException("The paired attribution lacks a tensor present in this one."), f);
        return sequence with
        {
            Source = PairTokens(sequence.Source, other.Source),
            Target = PairTokens(sequence.Target, other.Target),
            SourceAttributions = Pair(sequence.SourceAttributions, other.SourceAttributions),
            TargetAttributions = Pair(sequence.TargetAttributions, other.TargetAttributions),
            StepScores = sequence.StepScores.ToDictionary(p => p.Key, p => Pair(p.Value, other.StepScores.GetValueOrDefault(p.Key))!),
            SequenceScores = sequence.SequenceScores.ToDictionary(p => p.Key, p => Pair(p.Value, other.SequenceScores.GetValueOrDefault(p.Key))!),
        };
    }

    private static IReadOnlyList<TokenWithId> PairTokens(IReadOnlyList<TokenWithId> a, IReadOnlyList<TokenWithId> b) =>
        a.Zip(b, (x, y) => x.Token == y.Token ? x : new TokenWithId($"{x.Token} → {y.Token}", -1)).ToList();
}
