using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>Inseq's <c>slices</c> aggregator: keeps only the source tokens in <see cref="SourceSpan"/> and the target
/// tokens in <see cref="TargetSpan"/> (start inclusive, end exclusive, full-target indices); target slicing also
/// keeps only the generation steps inside the span.</summary>
/// <param name="SourceSpan">Source tokens to keep, or null for all.</param>
/// <param name="TargetSpan">Target tokens to keep, or null for all.</param>
public sealed record SliceAggregator((int Start, int End)? SourceSpan = null, (int Start, int End)? TargetSpan = null) : IAggregator
{
    /// <inheritdoc />
    public string Id => "slices";

    /// <inheritdoc />
    public FeatureAttributionSequenceOutput Aggregate(FeatureAttributionSequenceOutput sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        var result = sequence;
        if (SourceSpan is var (ss, se))
        {
            result = result with
            {
                Source = result.Source.Skip(ss).Take(se - ss).ToList(),
                SourceAttributions = result.SourceAttributions is null ? null : NdArrayOps.Range(result.SourceAttributions, 0, ss, se),
            };
        }

        if (TargetSpan is var (ts, te))
        {
            int newStart = Math.Max(ts, sequence.AttrPosStart);
            int newEnd = Math.Min(te, sequence.AttrPosEnd);
            int c0 = newStart - sequence.AttrPosStart, c1 = Math.Max(c0, newEnd - sequence.AttrPosStart);
            result = result with
            {
                Target = result.Target.Skip(ts).Take(te - ts).ToList(),
                SourceAttributions = result.SourceAttributions is null ? null : NdArrayOps.Range(result.SourceAttributions, 1, c0, c1),
                TargetAttributions = result.TargetAttributions is null ? null
                    : NdArrayOps.Range(NdArrayOps.Range(result.TargetAttributions, 1, c0, c1), 0, ts, Math.Min(te, result.TargetAttributions.Shape[0])),
                StepScores = result.StepScores.ToDictionary(p => p.Key, p => NdArrayOps.Range(p.Value, 0, c0, c1)),
                AttrPosStart = newStart - ts,
                AttrPosEnd = Math.Max(newStart, newEnd) - ts,
            };
        }

        return result;
    }
}
