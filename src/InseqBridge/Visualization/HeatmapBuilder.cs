using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Errors;

namespace InseqBridge.Visualization;

/// <summary>
/// Turns an attribution output into the tables the renderers draw. Outputs that are not yet 2-D (granular,
/// multi-dimensional) get their default aggregation first, as Inseq's <c>show</c> does.
/// </summary>
public static class HeatmapBuilder
{
    /// <summary>Builds the tables of every sequence.</summary>
    /// <param name="output">Aggregated or raw attribution output.</param>
    /// <param name="forceAggregation">Apply the default aggregation even to outputs that are already 2-D.</param>
    /// <exception cref="InvalidInputException">The output is not 2-D even after aggregation.</exception>
    public static IReadOnlyList<SequenceHeatmaps> Build(FeatureAttributionOutput output, bool forceAggregation = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        var result = new List<SequenceHeatmaps>(output.SequenceAttributions.Count);
        for (int i = 0; i < output.SequenceAttributions.Count; i++)
        {
            FeatureAttributionSequenceOutput sequence = output.SequenceAttributions[i];
            if (forceAggregation || !IsTwoDimensional(sequence))
            {
                sequence = sequence.Aggregate();
            }

            result.Add(Build(sequence, i));
        }

        return result;
    }

    /// <summary>Builds the tables of one 2-D sequence.</summary>
    /// <param name="sequence">A sequence whose attributions are [rows, steps].</param>
    /// <param name="index">Its position in the output.</param>
    /// <exception cref="InvalidInputException">The sequence is not 2-D.</exception>
    public static SequenceHeatmaps Build(FeatureAttributionSequenceOutput sequence, int index)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if (!IsTwoDimensional(sequence))
        {
            throw new InvalidInputException(
                $"Sequence {index} is not 2-D after aggregation (shape {Describe(sequence)}); aggregate it to [tokens, steps] first.");
        }

        int start = sequence.AttrPosStart;
        int steps = sequence.StepCount;
        var columns = Enumerable.Range(start, steps)
            .Select(p => p < sequence.Target.Count ? sequence.Target[p].Token : "?")
            .ToList();
        var stepScores = sequence.StepScores.ToDictionary(
            kv => kv.Key,
            kv => (IReadOnlyList<float>)kv.Value.ToArray());
        return new SequenceHeatmaps(
            index,
            columns,
            start,
            Table(HeatmapKind.Source, sequence.SourceAttributions, sequence.Source, columns, index),
            Table(HeatmapKind.Target, sequence.TargetAttributions, sequence.Target, columns, index),
            stepScores);
    }

    private static AttributionHeatmap? Table(
        HeatmapKind kind,
        NdArray? scores,
        IReadOnlyList<TokenWithId> tokens,
        IReadOnlyList<string> columns,
        int index)
    {
        if (scores is null)
        {
            return null;
        }

        if (scores.Shape[1] != columns.Count)
        {
            throw new InvalidInputException(
                $"Sequence {index}: {kind.ToString().ToLowerInvariant()} attributions have {scores.Shape[1]} steps, expected {columns.Count}.");
        }

        var rows = Enumerable.Range(0, scores.Shape[0])
            .Select(r => r < tokens.Count ? tokens[r].Token : "?")
            .ToList();
        return new AttributionHeatmap(kind, rows, columns, scores.ToArray());
    }

    private static bool IsTwoDimensional(FeatureAttributionSequenceOutput sequence) =>
        sequence.SourceAttributions is null or { Rank: 2 } && sequence.TargetAttributions is null or { Rank: 2 };

    private static string Describe(FeatureAttributionSequenceOutput sequence) =>
        string.Join(
            ", ",
            new[] { ("source", sequence.SourceAttributions), ("target", sequence.TargetAttributions) }
                .Where(x => x.Item2 is not null)
                .Select(x => $"{x.Item1} [{string.Join(", ", x.Item2!.Shape)}]"));
}
