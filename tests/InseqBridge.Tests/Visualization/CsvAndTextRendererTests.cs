using System.Globalization;
using InseqBridge.Data;
using InseqBridge.Visualization;

namespace InseqBridge.Tests.Visualization;

public class CsvAndTextRendererTests
{
    [Theory]
    [InlineData(RenderingFixtures.BartAggregated)]
    [InlineData(RenderingFixtures.Gpt2Aggregated)]
    public void Csv_has_one_row_per_scored_cell(string file)
    {
        FeatureAttributionOutput output = RenderingFixtures.Load(file);
        string[] lines = CsvExporter.Export(output).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(CsvExporter.Header, lines[0]);
        int expected = output.SequenceAttributions.Sum(s =>
            Finite(s.SourceAttributions) + Finite(s.TargetAttributions));
        Assert.Equal(expected, lines.Length - 1);
    }

    [Fact]
    public void Csv_rows_name_positions_tokens_and_kind()
    {
        string[] lines = CsvExporter.Export(RenderingFixtures.HandMade()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("0,1,\u0120x,0,<b>,-0.5,source", lines[1]);
        Assert.Contains("0,2,\u2581y,2,\"\"\"q\"\"\",0.5,source", lines);
        Assert.Contains("0,2,\u2581y,0,<s>,0.1,target", lines);
        Assert.Equal(6 + 3, lines.Length - 1);
        foreach (string line in lines.Skip(1))
        {
            Assert.DoesNotContain("NaN", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Plain_text_lists_every_row_token()
    {
        string text = PlainTextHeatmap.Render(RenderingFixtures.Load(RenderingFixtures.BartAggregated), maxWidth: 60);
        FeatureAttributionSequenceOutput first = RenderingFixtures.Load(RenderingFixtures.BartAggregated).SequenceAttributions[0];
        foreach (TokenWithId token in first.Source)
        {
            Assert.Contains(TokenDisplay.Readable(token.Token), text, StringComparison.Ordinal);
        }

        Assert.All(text.Split('\n'), line => Assert.True(line.Length <= 60 || !line.Contains(' ', StringComparison.Ordinal), line));
    }

    [Fact]
    public void Tokens_are_made_readable()
    {
        Assert.Equal("\u2423world", TokenDisplay.Readable("\u0120world"));
        Assert.Equal("\u2423le", TokenDisplay.Readable("\u2581le"));
        Assert.Equal("a", TokenDisplay.Readable("a"));
        Assert.Equal("caf\u00e9", TokenDisplay.Readable("caf\u00c3\u00a9")); // byte-level UTF-8 decoded
        Assert.Equal("\u23CE\u23CE", TokenDisplay.Readable("\u010A\u010A")); // 'ĊĊ': two line breaks
        Assert.Equal("\u21E5x", TokenDisplay.Readable("\u0109x"));
        Assert.Equal("\u00c3", TokenDisplay.Readable("\u00c3")); // half a character: kept raw
        Assert.Equal("<s>", TokenDisplay.Readable("<s>"));
        Assert.Equal("ab\u2026", TokenDisplay.Fit("abcdef", 3));
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{0.5f:0.00}"), ValueText.Short(0.5f));
    }

    private static int Finite(NdArray? array) => array is null ? 0 : array.ToArray().Count(v => !float.IsNaN(v));
}
