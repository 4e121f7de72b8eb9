using InseqBridge.Aggregation;

namespace InseqBridge.Data;

/// <summary>Inseq 0.7's <c>__getitem__</c> (a slice) and <c>__sub__</c> on a sequence attribution.</summary>
public sealed partial record FeatureAttributionSequenceOutput
{
    /// <summary>
    /// Inseq's <c>seq[start:end]</c>: the <c>slices</c> aggregator on the source tokens when there are source
    /// attributions (encoder-decoders; the target then keeps its generated tokens
    /// [<see cref="AttrPosStart"/>, <see cref="AttrPosEnd"/>) only, as Inseq's slicing does), otherwise on the
    /// target (decoder-only; the span is extended to the last generated token and the prompt tokens in the span stay
    /// in <see cref="Source"/>).
    /// </summary>
    /// <param name="range">Token range; for decoder-only outputs it must reach past <see cref="AttrPosStart"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the tokens, or (decoder-only) ends in the prompt.</exception>
    public FeatureAttributionSequenceOutput this[Range range]
    {
        get
        {
            bool bySource = SourceAttributions is not null;
            (int start, int length) = range.GetOffsetAndLength(bySource ? Source.Count : Target.Count);
            int end = start + length;
            if (length == 0)
            {
                throw new ArgumentOutOfRangeException(nameof(range), "The slice is empty; give start < end.");
            }

            if (bySource)
            {
                return new SliceAggregator((start, end), (AttrPosStart, AttrPosEnd)).Aggregate(this);
            }

            if (end <= AttrPosStart)
            {
                throw new ArgumentOutOfRangeException(nameof(range), $"A decoder-only slice must reach the generated tokens (end > {AttrPosStart}).");
            }

            FeatureAttributionSequenceOutput sliced = new SliceAggregator(TargetSpan: (start, AttrPosEnd)).Aggregate(this);
            return start < AttrPosStart ? sliced with { Source = Source.Skip(start).Take(Math.Min(end, AttrPosStart) - start).ToList() } : sliced;
        }
    }

    /// <summary>
    /// Inseq's <c>a - b</c>, which is <c>a.aggregate("pair", paired_attr=b)</c>: the values are <b>b - a</b>
    /// elementwise (Inseq's pair default, kept so results match), tokens that differ are shown as "a → b".
    /// </summary>
    /// <param name="left">The starting attribution.</param>
    /// <param name="right">The paired attribution (same shapes).</param>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public static FeatureAttributionSequenceOutput operator -(FeatureAttributionSequenceOutput left, FeatureAttributionSequenceOutput right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        return new PairAggregator(right).Aggregate(left);
    }

    /// <summary>Named alternative of <see cref="op_Subtraction"/> (CA2225).</summary>
    /// <param name="left">The starting attribution.</param>
    /// <param name="right">The paired attribution.</param>
    public static FeatureAttributionSequenceOutput Subtract(FeatureAttributionSequenceOutput left, FeatureAttributionSequenceOutput right) => left - right;
}
