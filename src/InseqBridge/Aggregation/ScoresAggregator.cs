using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>
/// Inseq's <c>scores</c> aggregator: reduces the last dimension of the attributions (and of the sequence scores)
/// with <see cref="Fn"/>, then L1-normalises each step column over source and target together (NaN cells ignored
/// and kept), or rescales by the largest magnitude instead.
/// </summary>
/// <param name="Fn">Reduction; null uses the kind's default (vnorm for granular outputs, mean otherwise).</param>
/// <param name="SelectIndex">Keep only this unit of the last dimension (no reduction), like <c>select_idx=int</c>.</param>
/// <param name="SelectIndices">Reduce only these units of the last dimension, like <c>select_idx=[...]</c>.</param>
/// <param name="Normalize">Normalise columns to sum to 1 in absolute value (ignored when <paramref name="Rescale"/>).</param>
/// <param name="Rescale">Divide by the largest absolute value instead of normalising.</param>
public sealed record ScoresAggregator(
    AggregationFunction? Fn = null,
    int? SelectIndex = null,
    IReadOnlyList<int>? SelectIndices = null,
    bool Normalize = true,
    bool Rescale = false) : IAggregator
{
    /// <inheritdoc />
    public string Id => "scores";

    /// <inheritdoc />
    public FeatureAttributionSequenceOutput Aggregate(FeatureAttributionSequenceOutput sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        AggregationFunction fn = Fn ?? (sequence.Kind == AttributionKind.Granular ? AggregationFunction.VNorm : AggregationFunction.Mean);
        NdArray? src = sequence.SourceAttributions is null ? null : Process(sequence.SourceAttributions, fn);
        NdArray? tgt = sequence.TargetAttributions is null ? null : Process(sequence.TargetAttributions, fn);
        if (Rescale)
        {
            (src, tgt) = RescaleJointly(src, tgt);
        }
        else if (Normalize)
        {
            (src, tgt) = NormalizeJointly(src, tgt);
        }

        var sequenceScores = sequence.SequenceScores.ToDictionary(p => p.Key, p => Process(p.Value, Fn ?? AggregationFunction.Mean));
        int? rank = (src ?? tgt)?.Rank;
        return sequence with
        {
            SourceAttributions = src,
            TargetAttributions = tgt,
            SequenceScores = sequenceScores,
            NumDimensions = sequence.Kind == AttributionKind.MultiDimensional && rank is not null ? Math.Max(0, rank.Value - 2) : sequence.NumDimensions,
        };
    }

    private NdArray Process(NdArray scores, AggregationFunction fn)
    {
        if (SelectIndex is int index)
        {
            return NdArrayOps.Index(scores, -1, index);
        }

        NdArray filtered = SelectIndices is null ? scores : NdArrayOps.Select(scores, -1, SelectIndices);
        return fn.Reduce(filtered, -1);
    }

    /// <summary>Torch's <c>F.normalize(p=1, dim=0)</c> over source and target rows together, NaN masked to 0 and restored.</summary>
    internal static (NdArray? Source, NdArray? Target) NormalizeJointly(NdArray? src, NdArray? tgt)
    {
        NdArray? any = src ?? tgt;
        if (any is null)
        {
            return (src, tgt);
        }

        int columns = any.Rank == 0 ? 1 : any.Length / Math.Max(1, any.Shape[0]);
        var norms = new double[columns];
        foreach (NdArray? part in new[] { src, tgt })
        {
            if (part is null)
            {
                continue;
            }

            ReadOnlySpan<float> data = part.Span;
            for (int i = 0; i < data.Length; i++)
            {
                if (!float.IsNaN(data[i]))
                {
                    norms[i % columns] += Math.Abs(data[i]);
                }
            }
        }

        NdArray? Scale(NdArray? part)
        {
            if (part is null)
            {
                return null;
            }

            var result = part.ToArray();
            for (int i = 0; i < result.Length; i++)
            {
                if (!float.IsNaN(result[i]))
                {
                    // F.normalize divides by max(norm, 1e-12) in float32.
                    float norm = (float)Math.Max(norms[i % columns], 1e-12);
                    result[i] /= norm;
                }
            }

            return new NdArray(result, part.Shape.ToArray());
        }

        return (Scale(src), Scale(tgt));
    }

    private static (NdArray?, NdArray?) RescaleJointly(NdArray? src, NdArray? tgt)
    {
        float max = new[] { src, tgt }.Where(p => p is not null)
            .SelectMany(p => p!.ToArray()).Where(v => !float.IsNaN(v)).Select(Math.Abs).DefaultIfEmpty(1f).Max();
        Func<float, float> scale = v => v / max;
        return (src?.Map(scale), tgt?.Map(scale));
    }
}
