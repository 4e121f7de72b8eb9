using System.Globalization;
using System.Text;
using InseqBridge.Data;

namespace InseqBridge.Visualization;

/// <summary>
/// Renders attributions as plain-text tables (no colour), for logs and redirected output. Tables wider than
/// <c>maxWidth</c> are split into column blocks.
/// </summary>
public static class PlainTextHeatmap
{
    /// <summary>Renders every sequence.</summary>
    /// <param name="output">The attribution output (aggregated to 2-D, or aggregated here by default).</param>
    /// <param name="maxWidth">Maximum line width in characters.</param>
    /// <param name="forceAggregation">Apply the default aggregation even to 2-D outputs.</param>
    public static string Render(FeatureAttributionOutput output, int maxWidth = 120, bool forceAggregation = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        return Render(HeatmapBuilder.Build(output, forceAggregation), maxWidth);
    }

    /// <summary>Renders tables already built by <see cref="HeatmapBuilder"/>.</summary>
    /// <param name="sequences">The tables of each sequence.</param>
    /// <param name="maxWidth">Maximum line width in characters (row labels longer than a third of it are cut).</param>
    public static string Render(IReadOnlyList<SequenceHeatmaps> sequences, int maxWidth = 120)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var text = new StringBuilder();
        foreach (SequenceHeatmaps sequence in sequences)
        {
            text.Append("Sequence ").Append(sequence.Index.ToString(CultureInfo.InvariantCulture)).Append('\n');
            foreach (AttributionHeatmap table in sequence.Tables)
            {
                text.Append(table.Kind == HeatmapKind.Source ? "Source x target" : "Target x target").Append('\n');
                var rows = table.RowTokens.Select((token, r) => (Label: TokenDisplay.Readable(token), Values: Row(table, r))).ToList();
                AppendBlocks(text, table.ColumnTokens, rows, maxWidth);
            }

            if (sequence.StepScores.Count > 0)
            {
                text.Append("Step scores").Append('\n');
                var rows = sequence.StepScores.Select(kv => (Label: TokenDisplay.Printable(kv.Key), Values: kv.Value)).ToList();
                AppendBlocks(text, sequence.ColumnTokens, rows, maxWidth);
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    private static IReadOnlyList<float> Row(AttributionHeatmap table, int row) =>
        Enumerable.Range(0, table.ColumnTokens.Count).Select(c => table[row, c]).ToList();

    private static void AppendBlocks(
        StringBuilder text,
        IReadOnlyList<string> columns,
        IReadOnlyList<(string Label, IReadOnlyList<float> Values)> rows,
        int maxWidth)
    {
        int maxLabel = Math.Max(8, maxWidth / 3);
        rows = rows.Select(r => (Label: TokenDisplay.Fit(r.Label, maxLabel), r.Values)).ToList();
        int labelWidth = Math.Max(1, rows.Select(r => r.Label.Length).DefaultIfEmpty(1).Max());
        var headers = columns.Select(c => TokenDisplay.Fit(TokenDisplay.Readable(c), Math.Max(6, maxWidth - labelWidth - 1))).ToList();
        var widths = headers.Select(h => Math.Max(h.Length, 6)).ToList();
        int start = 0;
        while (start < columns.Count)
        {
            int width = labelWidth;
            int end = start;
            while (end < columns.Count && (end == start || width + 1 + widths[end] <= maxWidth))
            {
                width += 1 + widths[end];
                end++;
            }

            text.Append(new string(' ', labelWidth));
            for (int c = start; c < end; c++)
            {
                text.Append(' ').Append(headers[c].PadLeft(widths[c]));
            }

            text.Append('\n');
            foreach (var (label, values) in rows)
            {
                text.Append(label.PadRight(labelWidth));
                for (int c = start; c < end; c++)
                {
                    string cell = c < values.Count ? ValueText.Short(values[c]) : string.Empty;
                    text.Append(' ').Append(cell.PadLeft(widths[c]));
                }

                text.Append('\n');
            }

            start = end;
        }
    }
}
