using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>
/// Inseq's <c>spans</c> aggregator: merges each contiguous (start, end) token span (end exclusive, at least two
/// tokens, ascending, non-overlapping) of the source and/or target into one token, in the attributions (both
/// token rows and generated-step columns), step scores, sequence scores and attributed positions.
/// </summary>
/// <param name="SourceSpans">Source spans to merge.</param>
/// <param name="TargetSpans">Target spans to merge (full-target indices, prompt included).</param>
/// <param name="Fn">Reduction for every field; null uses absmax for attributions and <see cref="DefaultStepScoreFunctions"/>
/// for step scores.</param>
public sealed record SpansAggregator(
    IReadOnlyList<(int Start, int End)>? SourceSpans = null,
    IReadOnlyList<(int Start, int End)>? TargetSpans = null,
    AggregationFunction? Fn = null) : IAggregator
{
    /// <summary>Per-step-score reductions Inseq uses when merging spans; other scores use absmax.</summary>
    public static IReadOnlyDictionary<string, AggregationFunction> DefaultStepScoreFunctions { get; } =
        new Dictionary<string, AggregationFunction>
        {
            ["probability"] = AggregationFunction.Prod,
            ["entropy"] = AggregationFunction.Sum,
            ["crossentropy"] = AggregationFunction.Sum,
            ["perplexity"] = AggregationFunction.Prod,
            ["contrast_prob_diff"] = AggregationFunction.Prod,
            ["contrast_prob"] = AggregationFunction.Prod,
            ["pcxmi"] = AggregationFunction.Sum,
            ["kl_divergence"] = AggregationFunction.Sum,
            ["mc_dropout_prob_avg"] = AggregationFunction.Prod,
        };

    /// <inheritdoc />
    public string Id => "spans";

    /// <inheritdoc />
    public FeatureAttributionSequenceOutput Aggregate(FeatureAttributionSequenceOutput sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        var src = SourceSpans ?? [];
        var tgt = TargetSpans ?? [];
        Validate(src, sequence.Source.Count, nameof(SourceSpans));
        Validate(tgt, sequence.Target.Count, nameof(TargetSpans));
        AggregationFunction fn = Fn ?? AggregationFunction.AbsMax;
        var gen = Relativize(tgt, sequence.AttrPosStart);

        NdArray? Sequential(NdArray? scores, IReadOnlyList<(int, int)> rows, IReadOnlyList<(int, int)> cols, AggregationFunction f) =>
            scores is null ? null : NdArrayOps.AggregateContiguous(NdArrayOps.AggregateContiguous(scores, cols, f, 1), rows, f, 0);

        var stepScores = sequence.StepScores.ToDictionary(
            p => p.Key,
            p => NdArrayOps.AggregateContiguous(p.Value, gen, Fn ?? DefaultStepScoreFunctions.GetValueOrDefault(p.Key, AggregationFunction.AbsMax), 0));
        var sequenceScores = sequence.SequenceScores.ToDictionary(
            p => p.Key,
            p => p.Key.StartsWith("decoder", StringComparison.Ordinal) ? Sequential(p.Value, gen, gen, fn)!
                : p.Key.StartsWith("encoder", StringComparison.Ordinal) ? Sequential(p.Value, src, src, fn)!
                : Sequential(p.Value, src, gen, fn)!);

        int newStart = NewStart(tgt, sequence.AttrPosStart);
        int newEnd = tgt.Count == 0
            ? sequence.AttrPosEnd
            : newStart + (sequence.StepCount - gen.Sum(s => s.End - s.Start - 1));
        return sequence with
        {
            Source = MergeTokens(sequence.Source, src),
            Target = MergeTokens(sequence.Target, tgt),
            SourceAttributions = Sequential(sequence.SourceAttributions, src, gen, fn),
            TargetAttributions = Sequential(sequence.TargetAttributions, tgt, gen, fn),
            StepScores = stepScores,
            SequenceScores = sequenceScores,
            AttrPosStart = newStart,
            AttrPosEnd = newEnd,
        };
    }

    /// <summary>Merges the tokens of each span into one token (concatenated text, id -1).</summary>
    internal static IReadOnlyList<TokenWithId> MergeTokens(IReadOnlyList<TokenWithId> tokens, IReadOnlyList<(int Start, int End)> spans)
    {
        if (spans.Count == 0)
        {
            return tokens;
        }

        var result = new List<TokenWithId>();
        int i = 0;
        while (i < tokens.Count)
        {
            int spanIndex = -1;
            for (int k = 0; k < spans.Count; k++)
            {
                if (spans[k].Start == i)
                {
                    spanIndex = k;
                    break;
                }
            }

            if (spanIndex >= 0)
            {
                var (start, end) = spans[spanIndex];
                result.Add(new TokenWithId(string.Concat(tokens.Skip(start).Take(end - start).Select(t => t.Token)), -1));
                i = end;
            }
            else
            {
                result.Add(tokens[i++]);
            }
        }

        return result;
    }

    /// <summary>Target spans in generated-step coordinates (Inseq's <c>_relativize_target_spans</c>).</summary>
    internal static IReadOnlyList<(int Start, int End)> Relativize(IReadOnlyList<(int Start, int End)> spans, int start)
    {
        if (start == 0 || spans.Count == 0)
        {
            return spans;
        }

        return spans.Where(s => s.End > start).Select(s => (s.Start > start ? s.Start - start : 0, s.End - start)).ToList();
    }

    private static int NewStart(IReadOnlyList<(int Start, int End)> spans, int start)
    {
        if (spans.Count == 0)
        {
            return start;
        }

        int merged = spans.Where(s => s.End <= start).Sum(s => s.End - s.Start - 1);
        int result = start - merged;
        var overlapping = spans.Where(s => s.Start < start && start < s.End).ToList();
        if (overlapping.Count == 1)
        {
            result -= start - overlapping[0].Start;
        }
        else if (overlapping.Count > 1)
        {
            throw new InvalidOperationException($"Multiple spans overlap the starting position {start}.");
        }

        return result;
    }

    private static void Validate(IReadOnlyList<(int Start, int End)> spans, int length, string name)
    {
        int previousEnd = -1;
        foreach (var (start, end) in spans)
        {
            if (end <= start + 1)
            {
                throw new ArgumentException($"Spans must cover at least two tokens, got ({start}, {end}).", name);
            }

            if (start < previousEnd || start < 0)
            {
                throw new ArgumentException("Spans must be non-negative, non-overlapping and in ascending order.", name);
            }

            if (end > length)
            {
                throw new ArgumentException($"Span ({start}, {end}) exceeds the {length} tokens.", name);
            }

            previousEnd = end;
        }
    }
}
