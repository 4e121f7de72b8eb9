namespace InseqBridge.Visualization;

/// <summary>
/// One 2-D table of scores: rows are attributed-to tokens (source or target), columns are the attributed target
/// tokens (generation steps). NaN marks cells without a score (a target position at or after the predicted token).
/// </summary>
/// <param name="Kind">Whether rows are source or target tokens.</param>
/// <param name="RowTokens">Raw row tokens.</param>
/// <param name="ColumnTokens">Raw column tokens (the attributed target tokens).</param>
/// <param name="Values">Scores, row-major: <c>Values[row * ColumnTokens.Count + column]</c>.</param>
public sealed record AttributionHeatmap(
    HeatmapKind Kind,
    IReadOnlyList<string> RowTokens,
    IReadOnlyList<string> ColumnTokens,
    IReadOnlyList<float> Values)
{
    /// <summary>The score of a cell.</summary>
    public float this[int row, int column] => Values[(row * ColumnTokens.Count) + column];
}

/// <summary>What the rows of an <see cref="AttributionHeatmap"/> are.</summary>
public enum HeatmapKind
{
    /// <summary>Source tokens (encoder input, or the prompt of a decoder-only model as Inseq stores it).</summary>
    Source,

    /// <summary>Target tokens (the prefix of the generated sequence).</summary>
    Target,
}
