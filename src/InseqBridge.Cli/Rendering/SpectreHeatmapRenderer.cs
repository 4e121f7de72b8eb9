using System.Globalization;
using InseqBridge.Visualization;
using Spectre.Console;

namespace InseqBridge.Cli.Rendering;

/// <summary>
/// Draws heatmaps as coloured Spectre.Console tables (red negative, blue positive, symmetric range per sequence),
/// split into column blocks that fit the console width.
/// </summary>
public static class SpectreHeatmapRenderer
{
    private const int CellWidth = 6;

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
                    .Select(kv => (Label: kv.Key, Values: kv.Value, Scale: DivergingColorScale.For(kv.Value)))
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
        var headers = columns.Select(TokenDisplay.Readable).ToList();
        int labelWidth = rows.Select(r => r.Label.Length).DefaultIfEmpty(1).Max();
        int perColumn = Math.Max(CellWidth, headers.Select(h => h.Length).DefaultIfEmpty(1).Max()) + 3;
        int fit = Math.Max(1, (console.Profile.Width - labelWidth - 4) / perColumn);
        for (int start = 0; start < columns.Count; start += fit)
        {
            int end = Math.Min(columns.Count, start + fit);
            var grid = new Table { Title = new TableTitle(start == 0 ? title : $"{title} (continued)") };
            grid.Border(TableBorder.Simple);
            grid.AddColumn(new TableColumn(string.Empty));
            for (int c = start; c < end; c++)
            {
                grid.AddColumn(new TableColumn(Markup.Escape(headers[c])).RightAligned());
            }

            foreach (var (label, values, scale) in rows)
            {
                var cells = new List<Markup> { new(Markup.Escape(label)) };
                for (int c = start; c < end; c++)
                {
                    cells.Add(Cell(c < values.Count ? values[c] : float.NaN, scale));
                }

                grid.AddRow(cells);
            }

            console.Write(grid);
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
