namespace InseqBridge.Visualization;

/// <summary>What the renderers show for one sequence: its source and target tables and its step scores.</summary>
/// <param name="Index">Position of the sequence in the output.</param>
/// <param name="ColumnTokens">The attributed target tokens (the columns).</param>
/// <param name="FirstColumnPosition">Position in the target sequence of the first column.</param>
/// <param name="Source">Source × target table, or null.</param>
/// <param name="Target">Target × target table, or null.</param>
/// <param name="StepScores">Step score id → one value per column.</param>
public sealed record SequenceHeatmaps(
    int Index,
    IReadOnlyList<string> ColumnTokens,
    int FirstColumnPosition,
    AttributionHeatmap? Source,
    AttributionHeatmap? Target,
    IReadOnlyDictionary<string, IReadOnlyList<float>> StepScores)
{
    /// <summary>The tables present, source first.</summary>
    public IEnumerable<AttributionHeatmap> Tables =>
        new[] { Source, Target }.OfType<AttributionHeatmap>();

    /// <summary>The colour scale shared by both tables (symmetric around zero).</summary>
    public DivergingColorScale Scale => DivergingColorScale.For(Tables.SelectMany(t => t.Values));
}
