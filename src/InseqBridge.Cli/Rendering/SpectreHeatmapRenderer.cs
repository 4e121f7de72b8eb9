using System.Globalization;
using InseqBridge.Visualization;
using Spectre.Console;

namespace InseqBridge.Cli.Rendering;

/// <summary>
/// Draws heatmaps as coloured Spectre.Console tables (red negative, blue positive, white zero, symmetric range per
/// sequence), split into column blocks that fit the console width; long tokens are cut with '…'.
/// </summary>
public static class SpectreHeatmapRenderer
{
    private const int CellWidth = 5; // "-0.00"

    /// <summary>Writes every sequence to <paramref name="console"/>.</summary>
    public static void Render(IAnsiConsole console, IReadOnlyList<SequenceHeatmaps> sequences)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(sequences);
        foreach (SequenceHeatmaps sequence in sequences)
        {
            console.Write(new Rule($"Sequence {sequence.Index.ToString(CultureInfo.InvariantCulture)}").LeftJustified());
            DivergingColorScale scale = sequence.Scale;
            foreach (AttributionHeatmap table in sequence.Tables)
            {
                var rows = table.RowTokens
                    .Select((token, r) => (Label: TokenDisplay.Readable(token), Values: (IReadOnlyList<float>)Enumerable.Range(0, table.ColumnTokens.Count).Select(c => table[r, c]).ToList(), Scale: scale))
                    .ToList();
                WriteBlocks(console, table.Kind == HeatmapKind.Source ? "Source × target" : "Target × target", table.ColumnTokens, rows);
            }

            if (sequence.StepScores.Count > 0)
            {
                var rows = sequence.StepScores
                    .Select(kv => (Label: TokenDisplay.Printable(kv.Key), Values: kv.Value, Scale: DivergingColorScale.For(kv.Value)))
                    .ToList();
                WriteBlocks(console, "Step scores", sequence.ColumnTokens, rows);
            }
        }
    }

    private static void WriteBlocks(
        IAnsiConsole console,
        string title,
        IReadOnlyList<string> columns,
        IReadOnlyList<(string Label, IReadOnlyList<float> Values, DivergingColorScale Scale)> rows)
    {
        int width = Math.Max(30, console.Profile.Width);
        int maxToken = Math.Clamp(width / 4, 6, 16);
        var headers = columns.Select(c => TokenDisplay.Fit(TokenDisplay.Readable(c), maxToken)).ToList();
        var labels = rows.Select(r => TokenDisplay.Fit(r.Label, maxToken)).ToList();
        int labelWidth = labels.Select(l => l.Length).DefaultIfEmpty(1).Max();

        // Simple border: one space of padding each side of every cell plus a one-character column separator.
        int start = 0;
        while (start < columns.Count)
        {
            int used = labelWidth + 3, end = start;
            while (end < columns.Count)
            {
                int column = Math.Max(CellWidth, headers[end].Length) + 3;
                if (end > start && used + column > width)
                {
                    break;
                }

                used += column;
                end++;
            }

            var grid = new Table { Title = new TableTitle(start == 0 ? title : $"{title} (continued)") };
            grid.Border(TableBorder.Simple);
            grid.AddColumn(new TableColumn(string.Empty).NoWrap());
            for (int c = start; c < end; c++)
            {
                grid.AddColumn(new TableColumn(Markup.Escape(headers[c])).RightAligned().NoWrap());
            }

            for (int r = 0; r < rows.Count; r++)
            {
                var (_, values, scale) = rows[r];
                var cells = new List<Markup> { new(Markup.Escape(labels[r])) };
                for (int c = start; c < end; c++)
                {
                    cells.Add(Cell(c < values.Count ? values[c] : float.NaN, scale));
                }

                grid.AddRow(cells);
            }

            console.Write(grid);
            start = end;
        }
    }

    private static Markup Cell(float value, DivergingColorScale scale)
    {
        RgbColor? rgb = scale.ColorOf(value);
        if (rgb is null)
        {
            return new Markup(string.Empty);
        }

        var background = new Color(rgb.Value.R, rgb.Value.G, rgb.Value.B);
        Color ink = rgb.Value.Luminance < 0.5 ? Color.White : Color.Black;
        return new Markup(ValueText.Short(value), new Style(ink, background));
    }
}
