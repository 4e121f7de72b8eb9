using System.Globalization;
using System.Text;
using InseqBridge.Data;

namespace InseqBridge.Visualization;

/// <summary>
/// Exports attributions as long-format CSV: one row per (attributed target token, attributed-to token) pair with
/// columns <c>sequence, target_position, target_token, source_position, source_token, score, kind</c>.
/// <c>kind</c> is <c>source</c> for attributions to source tokens and <c>target</c> for attributions to target
/// tokens (then <c>source_position</c>/<c>source_token</c> name a target-prefix token). Positions index the
/// sequence's source or target tokens; tokens are raw pieces. Cells without a score (NaN) are left out.
/// </summary>
public static class CsvExporter
{
    /// <summary>The header line.</summary>
    public const string Header = "sequence,target_position,target_token,source_position,source_token,score,kind";

    /// <summary>Renders the CSV text (RFC 4180 quoting, <c>\n</c> line ends).</summary>
    /// <param name="output">The attribution output (aggregated to 2-D, or aggregated here by default).</param>
    /// <param name="forceAggregation">Apply the default aggregation even to 2-D outputs.</param>
    public static string Export(FeatureAttributionOutput output, bool forceAggregation = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        var csv = new StringBuilder(Header).Append('\n');
        foreach (SequenceHeatmaps sequence in HeatmapBuilder.Build(output, forceAggregation))
        {
            foreach (AttributionHeatmap table in sequence.Tables)
            {
                string kind = table.Kind == HeatmapKind.Source ? "source" : "target";
                for (int c = 0; c < table.ColumnTokens.Count; c++)
                {
                    for (int r = 0; r < table.RowTokens.Count; r++)
                    {
                        float score = table[r, c];
                        if (float.IsNaN(score))
                        {
                            continue;
                        }

                        csv.Append(sequence.Index.ToString(CultureInfo.InvariantCulture)).Append(',')
                            .Append((sequence.FirstColumnPosition + c).ToString(CultureInfo.InvariantCulture)).Append(',')
                            .Append(Quote(table.ColumnTokens[c])).Append(',')
                            .Append(r.ToString(CultureInfo.InvariantCulture)).Append(',')
                            .Append(Quote(table.RowTokens[r])).Append(',')
                            .Append(ValueText.Exact(score)).Append(',')
                            .Append(kind).Append('\n');
                    }
                }
            }
        }

        return csv.ToString();
    }

    /// <summary>Writes the CSV to <paramref name="path"/> (UTF-8).</summary>
    /// <param name="output">The attribution output.</param>
    /// <param name="path">Destination file.</param>
    /// <param name="overwrite">Replace an existing file.</param>
    /// <param name="forceAggregation">Apply the default aggregation even to 2-D outputs.</param>
    /// <exception cref="Serialization.OutputFileExistsException">The file exists and <paramref name="overwrite"/> is false.</exception>
    public static void Save(FeatureAttributionOutput output, string path, bool overwrite = false, bool forceAggregation = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        OutputFile.WriteAllText(path, Export(output, forceAggregation), overwrite);
    }

    private static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
}
