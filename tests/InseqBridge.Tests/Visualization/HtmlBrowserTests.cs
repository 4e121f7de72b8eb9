using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Visualization;

namespace InseqBridge.Tests.Visualization;

/// <summary>
/// The HTML pages as a browser sees them: headless Chromium loads pages rendered from Python Inseq's files, a probe
/// script reads the DOM and computed colours, and the assertions compare them with the attribution data.
/// </summary>
public sealed partial class HtmlBrowserTests : IDisposable
{
    private const string Probe = """
        <script>
        const out = [];
        for (const table of document.querySelectorAll('table.heatmap')) {
          out.push({
            sequence: Number(table.closest('section').dataset.sequence),
            kind: table.dataset.kind,
            rowTokens: [...table.querySelectorAll('th.row-token')].map(th => th.textContent),
            columnTokens: [...table.querySelectorAll('th.column-token')].map(th => th.textContent),
            cells: [...table.querySelectorAll('td.cell')].map(td => ({ value: td.dataset.value, title: td.title, background: getComputedStyle(td).backgroundColor })),
            stepScoreRows: [...table.querySelectorAll('tr.step-score')].map(tr => tr.dataset.stepScore),
          });
        }
        const pre = document.createElement('pre');
        pre.id = 'probe';
        pre.textContent = JSON.stringify({ sections: document.querySelectorAll('section.sequence').length, external: [...document.querySelectorAll('[src],[href]')].length, tables: out });
        document.body.appendChild(pre);
        </script>
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("inseq-bridge-html-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [ChromiumTheory]
    [InlineData(RenderingFixtures.BartAggregated)]
    [InlineData(RenderingFixtures.Gpt2Aggregated)]
    [InlineData(RenderingFixtures.BartGranular)]
    [InlineData("bart__saliency__forced__attribute_target.json")]
    public void Browser_sees_one_cell_per_token_pair_and_colours_that_follow_the_values(string file)
    {
        FeatureAttributionOutput output = RenderingFixtures.Load(file);
        ProbeResult page = Load(HtmlRenderer.Render(output));
        Assert.Equal(output.SequenceAttributions.Count, page.Sections);
        Assert.Equal(0, page.External);
        int tables = 0;
        foreach (FeatureAttributionSequenceOutput raw in output.SequenceAttributions)
        {
            FeatureAttributionSequenceOutput sequence = raw.SourceAttributions is { Rank: > 2 } || raw.TargetAttributions is { Rank: > 2 } ? raw.Aggregate() : raw;
            int index = output.SequenceAttributions.ToList().IndexOf(raw);
            var columns = Enumerable.Range(sequence.AttrPosStart, sequence.StepCount).Select(p => TokenDisplay.Readable(sequence.Target[p].Token)).ToList();
            foreach ((string kind, NdArray? scores, IReadOnlyList<TokenWithId> tokens) in new[] { ("source", sequence.SourceAttributions, sequence.Source), ("target", sequence.TargetAttributions, sequence.Target) })
            {
                if (scores is null)
                {
                    continue;
                }

                tables++;
                TableProbe table = Assert.Single(page.Tables, t => t.Sequence == index && t.Kind == kind);
                Assert.Equal(tokens.Take(scores.Shape[0]).Select(t => TokenDisplay.Readable(t.Token)), table.RowTokens);
                Assert.Equal(columns, table.ColumnTokens);
                Assert.Equal(table.RowTokens.Count * table.ColumnTokens.Count, table.Cells.Count);
                Assert.Equal(scores.ToArray().Select(ValueText.Exact), table.Cells.Select(c => c.Value));
                Assert.All(table.RowTokens.Concat(table.ColumnTokens), t => Assert.DoesNotContain('\u0120', t));
                AssertColoursFollowValues(table, page.Tables.Where(t => t.Sequence == index).SelectMany(t => t.Cells));
            }

            TableProbe last = page.Tables.Last(t => t.Sequence == index);
            Assert.Equal(sequence.StepScores.Keys, last.StepScoreRows);
        }

        Assert.Equal(tables, page.Tables.Count);
    }

    [ChromiumFact]
    public void Hand_made_extremes_are_pure_red_white_and_blue()
    {
        ProbeResult page = Load(HtmlRenderer.Render(RenderingFixtures.HandMade()));
        var all = page.Tables.SelectMany(t => t.Cells).ToList();
        Assert.Equal("rgb(255, 0, 0)", all.Single(c => c.Value == "-1").Background);
        Assert.Equal("rgb(0, 0, 255)", all.Single(c => c.Value == "1").Background);
        Assert.Equal("rgb(255, 255, 255)", all.Single(c => c.Value == "0").Background);
        Assert.Equal(["<b>", "a&b", "\"q\""], page.Tables[0].RowTokens); // escaped in the HTML, text in the DOM
        Assert.Equal(["\u2423x", "\u2423y"], page.Tables[0].ColumnTokens);
    }

    [ChromiumFact]
    public void Screenshot_is_a_png_of_the_requested_size()
    {
        string html = Path.Combine(_dir, "page.html"), png = Path.Combine(_dir, "page.png");
        HtmlRenderer.Save(RenderingFixtures.Load(RenderingFixtures.Gpt2Aggregated), html);
        Chromium.Screenshot(html, png, 1000, 700);
        byte[] bytes = File.ReadAllBytes(png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        int width = (bytes[16] << 24) | (bytes[17] << 16) | (bytes[18] << 8) | bytes[19];
        int height = (bytes[20] << 24) | (bytes[21] << 16) | (bytes[22] << 8) | bytes[23];
        Assert.Equal((1000, 700), (width, height));
        Assert.True(bytes.Length > 5000, $"{bytes.Length} bytes: the page looks empty");
    }

    private static void AssertColoursFollowValues(TableProbe table, IEnumerable<CellProbe> sequenceCells)
    {
        var scored = table.Cells.Where(c => c.Value != "NaN").Select(c => (Value: double.Parse(c.Value, CultureInfo.InvariantCulture), Rgb: Rgb(c.Background))).ToList();
        foreach (var (value, (r, g, b)) in scored)
        {
            if (value > 0)
            {
                Assert.True(b == 255 && r == g, $"{value} -> rgb({r}, {g}, {b}) is not blue");
            }
            else if (value < 0)
            {
                Assert.True(r == 255 && g == b, $"{value} -> rgb({r}, {g}, {b}) is not red");
            }
        }

        // Saturation grows with |value| (one shared scale per sequence), and the largest |value| of the sequence
        // gets full saturation.
        var ordered = scored.OrderBy(s => Math.Abs(s.Value)).ToList();
        for (int i = 1; i < ordered.Count; i++)
        {
            Assert.True(Saturation(ordered[i].Rgb) >= Saturation(ordered[i - 1].Rgb), $"|{ordered[i].Value}| is paler than |{ordered[i - 1].Value}|");
        }

        double max = sequenceCells.Where(c => c.Value != "NaN").Max(c => Math.Abs(double.Parse(c.Value, CultureInfo.InvariantCulture)));
        if (ordered.Count > 0 && Math.Abs(ordered[^1].Value) == max && max > 0)
        {
            Assert.Equal(255, Saturation(ordered[^1].Rgb));
        }

        Assert.All(table.Cells.Where(c => c.Value != "NaN"), c => Assert.Equal(c.Value, c.Title));
    }

    private static int Saturation((int R, int G, int B) c) => Math.Max(c.R, Math.Max(c.G, c.B)) - Math.Min(c.R, Math.Min(c.G, c.B));

    private static (int R, int G, int B) Rgb(string css)
    {
        Match m = RgbPattern().Match(css);
        Assert.True(m.Success, css);
        return (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture));
    }

    private ProbeResult Load(string html)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".html");
        File.WriteAllText(path, html.Replace("</body>", Probe + "</body>", StringComparison.Ordinal));
        string dom = Chromium.DumpDom(path);
        Match m = ProbePattern().Match(dom);
        Assert.True(m.Success, "the probe script did not run");
        return JsonSerializer.Deserialize<ProbeResult>(WebUtility.HtmlDecode(m.Groups[1].Value), new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
    }

    [GeneratedRegex("<pre id=\"probe\">(.*?)</pre>", RegexOptions.Singleline)]
    private static partial Regex ProbePattern();

    [GeneratedRegex(@"rgb\((\d+), (\d+), (\d+)\)")]
    private static partial Regex RgbPattern();

    public sealed record ProbeResult(int Sections, int External, List<TableProbe> Tables);

    public sealed record TableProbe(int Sequence, string Kind, List<string> RowTokens, List<string> ColumnTokens, List<CellProbe> Cells, List<string> StepScoreRows);

    public sealed record CellProbe(string Value, string Title, string Background);
}
