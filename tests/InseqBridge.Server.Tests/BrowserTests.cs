using System.Globalization;
using System.Text.Json.Nodes;
using InseqBridge.Serialization;
using InseqBridge.Visualization;
using Microsoft.Playwright;

namespace InseqBridge.Server.Tests;

/// <summary>The web page at <c>/</c> driven in Debian's Chromium (Playwright for .NET with the system browser).</summary>
[Collection("Kestrel")]
public sealed class BrowserTests
{
    private static readonly string? ChromiumPath = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    [SkippableFactIfNoChromium]
    public async Task The_page_renders_the_heatmap_of_the_json_result()
    {
        await using TestHost host = await TestHost.StartAsync(kestrel: true);
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // CI runs as root (no sandbox); nothing here needs a GPU or the network.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"],
        });
        IPage page = await browser.NewPageAsync();
        var foreign = new List<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(host.Address.ToString(), StringComparison.Ordinal) && !request.Url.StartsWith("blob:", StringComparison.Ordinal)
                && !request.Url.StartsWith("data:", StringComparison.Ordinal))
            {
                foreign.Add(request.Url);
            }
        };
        await page.GotoAsync(host.Address.ToString());
        await page.WaitForSelectorAsync("#model option[value=w2d]", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
        await page.SelectOptionAsync("#model", "w2d");
        await page.SelectOptionAsync("#method", "integrated_gradients");
        await page.FillAsync("#input", "seven two nine four");
        await page.FillAsync("#step-scores", "probability");
        await page.FillAsync("#max-new-tokens", "8");
        await page.ClickAsync("#submit");
        await page.WaitForSelectorAsync("#result[data-ready=true]", new PageWaitForSelectorOptions { Timeout = 120_000 });

        string[] cells = await page.EvalOnSelectorAllAsync<string[]>("#result table.heatmap td.cell", "cells => cells.map(c => c.dataset.value)");
        string[] scores = await page.EvalOnSelectorAllAsync<string[]>("#result tr.step-score[data-step-score=probability] td", "cells => cells.map(c => c.dataset.value)");
        Assert.True(await page.IsVisibleAsync("#download"));
        Assert.Empty(foreign);

        // The same call as plain JSON (deterministic), through the same renderer's table builder.
        const string body = """{"model": "w2d", "method": "integrated_gradients", "input_texts": ["seven two nine four"], "step_scores": ["probability"], "max_new_tokens": 8}""";
        using HttpResponseMessage response = await host.Client.SendAsync(Json.Post(body));
        var output = InseqJson.Parse(await response.Content.ReadAsStringAsync());
        SequenceHeatmaps expected = HeatmapBuilder.Build(output).Single();
        string[] expectedCells = [.. expected.Tables.SelectMany(t => t.Values).Select(ValueText.Exact)];
        Assert.Equal(expectedCells, cells);
        Assert.Equal(expected.StepScores["probability"].Select(ValueText.Exact), scores);
        // 4 words + <s> + </s> source rows x the generated digits: a real heatmap, not an empty table.
        Assert.True(cells.Length >= 6 * 4, $"{cells.Length} cells");
        Assert.All(cells, c => Assert.True(float.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out _), c));

        // The downloadable JSON is the API's answer.
        string? downloaded = await page.GetAttributeAsync("#result", "data-json");
        Assert.Equal(Json.Canonical(InseqJson.Serialize(output)), Json.Canonical(downloaded!));
    }

    /// <summary>Skips (with the reason) when Debian's chromium is not installed.</summary>
    private sealed class SkippableFactIfNoChromiumAttribute : FactAttribute
    {
        public SkippableFactIfNoChromiumAttribute()
        {
            if (ChromiumPath is null)
            {
                Skip = "chromium is not installed: the browser test of the web page needs it (Debian: apt-get install -y chromium; .ci/run installs it)";
            }
        }
    }
}
