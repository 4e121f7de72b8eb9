namespace InseqBridge.Data;

/// <summary>Inseq's <c>out[i]</c>, <c>out[a:b]</c> and <c>len(out)</c> on an attribution output.</summary>
public sealed partial record FeatureAttributionOutput
{
    /// <summary>The attribution of input <paramref name="index"/> (Inseq's <c>out[i]</c>; <c>^1</c> is the last).</summary>
    /// <param name="index">Sequence index.</param>
    public FeatureAttributionSequenceOutput this[Index index] => SequenceAttributions[index.GetOffset(SequenceAttributions.Count)];

    /// <summary>
    /// The sequences in <paramref name="range"/> (Inseq's <c>out[a:b]</c>, which gives the list
    /// <c>sequence_attributions[a:b]</c>), as an output with the same <see cref="Info"/>; step attributions, which
    /// hold every sequence's rows, are dropped.
    /// </summary>
    /// <param name="range">Sequence range.</param>
    public FeatureAttributionOutput this[Range range]
    {
        get
        {
            (int start, int length) = range.GetOffsetAndLength(SequenceAttributions.Count);
            return this with { SequenceAttributions = SequenceAttributions.Skip(start).Take(length).ToList(), StepAttributions = null };
        }
    }

    /// <summary>Number of sequences (Inseq's <c>len(out)</c>).</summary>
    public int Count => SequenceAttributions.Count;

    /// <summary>Sequence-by-sequence <c>a[i] - b[i]</c> (see
    /// <see cref="FeatureAttributionSequenceOutput.op_Subtraction"/>: values are <c>b - a</c>, as Inseq's pair
    /// aggregator); the info of <paramref name="left"/> is kept.</summary>
    /// <param name="left">The starting attributions.</param>
    /// <param name="right">The paired attributions, one per sequence of <paramref name="left"/>.</param>
    /// <exception cref="ArgumentException">The outputs hold different numbers of sequences or shapes.</exception>
    public static FeatureAttributionOutput operator -(FeatureAttributionOutput left, FeatureAttributionOutput right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        if (left.Count != right.Count)
        {
            throw new ArgumentException($"Cannot pair {left.Count} sequences with {right.Count}; give outputs of equal length.", nameof(right));
        }

        return left with
        {
            SequenceAttributions = left.SequenceAttributions.Zip(right.SequenceAttributions, (a, b) => a - b).ToList(),
            StepAttributions = null,
        };
    }

    /// <summary>Named alternative of <see cref="op_Subtraction"/> (CA2225).</summary>
    /// <param name="left">The starting attributions.</param>
    /// <param name="right">The paired attributions.</param>
    public static FeatureAttributionOutput Subtract(FeatureAttributionOutput left, FeatureAttributionOutput right) => left - right;
}
