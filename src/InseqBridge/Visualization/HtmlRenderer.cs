using System.Globalization;
using System.Net;
using System.Text;
using InseqBridge.Data;

namespace InseqBridge.Visualization;

/// <summary>
/// Renders attributions as a self-contained HTML page (inline CSS, no scripts, no network): one section per
/// sequence with a source × target and a target × target table and the step scores. Cells are coloured on a
/// diverging scale centred at zero (red negative, blue positive); each cell carries its exact value in
/// <c>data-value</c> and in a <c>title</c> tooltip.
/// </summary>
public static class HtmlRenderer
{
    private const string Style = """
        body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
        h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 2em; } h3 { font-size: 1em; color: #555; }
        table.heatmap { border-collapse: collapse; margin-bottom: 1.2em; font-size: 0.85em; }
        table.heatmap th, table.heatmap td { border: 1px solid #ddd; padding: 3px 6px; text-align: center; white-space: nowrap; }
        table.heatmap th { background: #f6f6f6; font-family: ui-monospace, monospace; font-weight: normal; }
        table.heatmap th.row-token { text-align: right; }
        td.cell.empty { background: #fafafa; }
        tr.step-score th { font-style: italic; font-family: system-ui, sans-serif; }
        .legend { font-size: 0.85em; color: #555; }
        .scale { display: flex; align-items: center; gap: 0.5em; font-size: 0.8em; color: #555; margin-bottom: 0.5em; }
        .scale-bar { display: inline-block; width: 12em; height: 0.9em; border: 1px solid #ccc; background: linear-gradient(to right, #ff0000, #ffffff, #0000ff); }
        """;

    /// <summary>Renders the page.</summary>
    /// <param name="output">The attribution output (aggregated to 2-D, or aggregated here by default).</param>
    /// <param name="title">Page title.</param>
    /// <param name="forceAggregation">Apply the default aggregation even to 2-D outputs.</param>
    public static string Render(FeatureAttributionOutput output, string title = "Feature attributions", bool forceAggregation = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        IReadOnlyList<SequenceHeatmaps> sequences = HeatmapBuilder.Build(output, forceAggregation);
        var html = new StringBuilder();
        html.AppendLine("<!DOCTYPE html>")
            .AppendLine("<html lang=\"en\">")
            .AppendLine("<head>")
            .AppendLine("<meta charset=\"utf-8\">")
            .Append("<title>").Append(Escape(title)).AppendLine("</title>")
            .Append("<style>").Append(Style).AppendLine("</style>")
            .AppendLine("</head>")
            .AppendLine("<body>")
            .Append("<h1>").Append(Escape(title)).AppendLine("</h1>")
            .Append("<p class=\"legend\">Columns: attributed target tokens. Colour: ")
            .Append("<span style=\"color:#d00\">red negative</span>, <span style=\"color:#00d\">blue positive</span>, ")
            .Append("symmetric range per sequence. ").Append(Escape(TokenDisplay.VisibleSpace.ToString()))
            .AppendLine(" marks a space, ⏎ a line break. Hover a cell for its exact value.</p>");
        foreach (SequenceHeatmaps sequence in sequences)
        {
            AppendSequence(html, sequence);
        }

        html.AppendLine("</body>").AppendLine("</html>");
        return html.ToString();
    }

    /// <summary>Writes the page to <paramref name="path"/> (UTF-8).</summary>
    /// <param name="output">The attribution output.</param>
    /// <param name="path">Destination file.</param>
    /// <param name="overwrite">Replace an existing file.</param>
    /// <param name="forceAggregation">Apply the default aggregation even to 2-D outputs.</param>
    /// <exception cref="Serialization.OutputFileExistsException">The file exists and <paramref name="overwrite"/> is false.</exception>
    public static void Save(FeatureAttributionOutput output, string path, bool overwrite = false, bool forceAggregation = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        string page = Render(output, forceAggregation: forceAggregation);
        OutputFile.WriteAllText(path, page, overwrite);
    }

    private static void AppendSequence(StringBuilder html, SequenceHeatmaps sequence)
    {
        DivergingColorScale scale = sequence.Scale;
        html.Append("<section class=\"sequence\" data-sequence=\"").Append(sequence.Index.ToString(CultureInfo.InvariantCulture)).AppendLine("\">")
            .Append("<h2>Sequence ").Append(sequence.Index.ToString(CultureInfo.InvariantCulture)).AppendLine("</h2>");
        string max = ValueText.Short((float)scale.MaxAbs);
        html.Append("<div class=\"scale\"><span>−").Append(max).Append("</span><span class=\"scale-bar\"></span><span>+")
            .Append(max).AppendLine("</span></div>");
        var tables = sequence.Tables.ToList();
        for (int t = 0; t < tables.Count; t++)
        {
            bool last = t == tables.Count - 1;
            AppendTable(html, tables[t], scale, last ? sequence.StepScores : null);
        }

        if (tables.Count == 0 && sequence.StepScores.Count > 0)
        {
            var empty = new AttributionHeatmap(HeatmapKind.Target, [], sequence.ColumnTokens, []);
            AppendTable(html, empty, scale, sequence.StepScores);
        }

        html.AppendLine("</section>");
    }

    private static void AppendTable(
        StringBuilder html,
        AttributionHeatmap table,
        DivergingColorScale scale,
        IReadOnlyDictionary<string, IReadOnlyList<float>>? stepScores)
    {
        string kind = table.Kind == HeatmapKind.Source ? "source" : "target";
        html.Append("<h3>").Append(table.Kind == HeatmapKind.Source ? "Source × target" : "Target × target").AppendLine("</h3>")
            .Append("<table class=\"heatmap\" data-kind=\"").Append(kind).AppendLine("\">")
            .Append("<thead><tr><th></th>");
        foreach (string column in table.ColumnTokens)
        {
            html.Append("<th class=\"column-token\">").Append(Escape(TokenDisplay.Readable(column))).Append("</th>");
        }

        html.AppendLine("</tr></thead>").AppendLine("<tbody>");
        for (int r = 0; r < table.RowTokens.Count; r++)
        {
            html.Append("<tr><th class=\"row-token\">").Append(Escape(TokenDisplay.Readable(table.RowTokens[r]))).Append("</th>");
            for (int c = 0; c < table.ColumnTokens.Count; c++)
            {
                AppendCell(html, "cell", table[r, c], scale);
            }

            html.AppendLine("</tr>");
        }

        html.AppendLine("</tbody>");
        if (stepScores is { Count: > 0 })
        {
            html.AppendLine("<tbody class=\"step-scores\">");
            foreach (var (id, values) in stepScores)
            {
                DivergingColorScale ownScale = DivergingColorScale.For(values);
                html.Append("<tr class=\"step-score\" data-step-score=\"").Append(Escape(id)).Append("\"><th>").Append(Escape(id)).Append("</th>");
                for (int c = 0; c < table.ColumnTokens.Count; c++)
                {
                    AppendCell(html, "score-cell", c < values.Count ? values[c] : float.NaN, ownScale);
                }

                html.AppendLine("</tr>");
            }

            html.AppendLine("</tbody>");
        }

        html.AppendLine("</table>");
    }

    private static void AppendCell(StringBuilder html, string cssClass, float value, DivergingColorScale scale)
    {
        string exact = ValueText.Exact(value);
        RgbColor? color = scale.ColorOf(value);
        html.Append("<td class=\"").Append(cssClass);
        if (color is null)
        {
            html.Append(" empty\" data-value=\"").Append(exact).Append("\" title=\"no score\"></td>");
            return;
        }

        string ink = color.Value.Luminance < 0.5 ? "#fff" : "#000";
        html.Append("\" data-value=\"").Append(exact).Append("\" title=\"").Append(exact)
            .Append("\" style=\"background:").Append(color.Value.ToHex()).Append(";color:").Append(ink).Append("\">")
            .Append(ValueText.Short(value)).Append("</td>");
    }

    private static string Escape(string text) => WebUtility.HtmlEncode(text);
}
