using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>One aggregation step over a sequence attribution (an Inseq <c>Aggregator</c> with its arguments).</summary>
public interface IAggregator
{
    /// <summary>Inseq's aggregator id (<c>scores</c>, <c>spans</c>, <c>subwords</c>, <c>split</c>, <c>pair</c>, <c>slices</c>).</summary>
    string Id { get; }

    /// <summary>Returns the aggregated copy of <paramref name="sequence"/>.</summary>
    FeatureAttributionSequenceOutput Aggregate(FeatureAttributionSequenceOutput sequence);
}
