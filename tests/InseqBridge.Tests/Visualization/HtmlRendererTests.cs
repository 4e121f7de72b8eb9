using System.Globalization;
using System.Text.RegularExpressions;
using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Visualization;

namespace InseqBridge.Tests.Visualization;

public partial class HtmlRendererTests
{
    [GeneratedRegex("<td class=\"cell[^\"]*\" data-value=\"([^\"]+)\"[^>]*?(?:style=\"background:#([0-9a-f]{6})[^\"]*\")?>")]
    private static partial Regex CellPattern();

    [Theory]
    [InlineData(RenderingFixtures.BartAggregated)]
    [InlineData(RenderingFixtures.Gpt2Aggregated)]
    public void One_cell_per_token_pair(string file)
    {
        FeatureAttributionOutput output = RenderingFixtures.Load(file);
        string html = HtmlRenderer.Render(output);
        int expected = output.SequenceAttributions.Sum(s =>
            (s.SourceAttributions?.Length ?? 0) + (s.TargetAttributions?.Length ?? 0));
        Assert.Equal(expected, CellPattern().Matches(html).Count);
        Assert.Equal(output.SequenceAttributions.Count, Regex.Matches(html, "<section class=\"sequence\"").Count);
        Assert.DoesNotContain("http", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Granular_output_is_aggregated_first()
    {
        FeatureAttributionOutput granular = RenderingFixtures.Load(RenderingFixtures.BartGranular);
        Assert.Equal(HtmlRenderer.Render(granular.Aggregate()), HtmlRenderer.Render(granular));
    }

    [Theory]
    [InlineData(RenderingFixtures.BartAggregated)]
    [InlineData(RenderingFixtures.Gpt2Aggregated)]
    public void Colours_follow_the_sign(string file)
    {
        string html = HtmlRenderer.Render(RenderingFixtures.Load(file));
        int coloured = 0;
        foreach (Match m in CellPattern().Matches(html))
        {
            float value = float.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            if (float.IsNaN(value))
            {
                Assert.False(m.Groups[2].Success);
                continue;
            }

            string hex = m.Groups[2].Value;
            int r = Convert.ToInt32(hex[..2], 16), b = Convert.ToInt32(hex[4..], 16);
            if (value > 0)
            {
                Assert.True(b == 255 && r <= b, $"{value} -> #{hex}");
            }
            else if (value < 0)
            {
                Assert.True(r == 255 && b <= r, $"{value} -> #{hex}");
            }

            coloured++;
        }

        Assert.True(coloured > 0);
    }

    [Fact]
    public void Hand_made_output_has_symmetric_scale_escaping_and_readable_tokens()
    {
        string html = HtmlRenderer.Render(RenderingFixtures.HandMade());
        Assert.Contains("&lt;b&gt;", html, StringComparison.Ordinal);
        Assert.Contains("a&amp;b", html, StringComparison.Ordinal);
        Assert.Contains("&quot;q&quot;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>", html, StringComparison.Ordinal);
        Assert.Contains("\u2423x", html, StringComparison.Ordinal);
        Assert.Contains("\u2423y", html, StringComparison.Ordinal);
        Assert.Contains("data-value=\"-1\" title=\"-1\" style=\"background:#ff0000", html, StringComparison.Ordinal);
        Assert.Contains("data-value=\"1\" title=\"1\" style=\"background:#0000ff", html, StringComparison.Ordinal);
        Assert.Contains("data-value=\"0\" title=\"0\" style=\"background:#ffffff", html, StringComparison.Ordinal);
        Assert.Contains("data-step-score=\"probability\"", html, StringComparison.Ordinal);
        Assert.Equal(12, CellPattern().Matches(html).Count);
    }
}
